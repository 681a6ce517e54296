/**
 * Confinement of `data_process`'s file:// destinations to one directory
 * (DATA_PROCESS_OUTPUT_DIR). Checked twice: at submit, on the path as
 * written (percent-decoding and `..` resolved), so a job that could never be
 * written is refused before it is stored; and in the handler, on the real
 * path (symlinks resolved) just before writing, because the threads' Deno
 * permissions are checked on the path as given and a symlink inside the
 * folder would otherwise lead out of it.
 *
 * Not covered: someone who can create symlinks inside the output folder
 * between the handler's check and its write (a local user of the worker's
 * machine, not a caller of the API).
 *
 * @module
 */
import { basename, dirname, resolve } from "node:path";
import { NonRetryableError } from "./definition.ts";

/** True when `path` is `dir` or below it (both absolute and normalized). */
export function isWithin(dir: string, path: string): boolean {
  const base = dir.endsWith("/") ? dir : `${dir}/`;
  return path === dir || path.startsWith(base);
}

/**
 * The absolute path a file:// destination names, or why it is refused: not
 * local, not decodable, the folder itself, or outside `dir`.
 */
export function destinationPath(url: URL, dir: string): { path: string } | { error: string } {
  if (url.hostname !== "" && url.hostname !== "localhost") {
    return { error: `file destination must be local, got host ${url.hostname}` };
  }
  let decoded: string;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    return { error: "file destination has a malformed percent-encoding" };
  }
  if (decoded.includes("\0")) return { error: "file destination contains a NUL byte" };
  // Percent-encoded slashes and dots decode into segments the URL parser kept
  // as names; resolving again removes them before the comparison.
  const path = resolve("/", decoded);
  if (!isWithin(dir, path) || path === dir || decoded.endsWith("/")) {
    return {
      error: `file destination ${path} is not a file inside DATA_PROCESS_OUTPUT_DIR (${dir})`,
    };
  }
  return { path };
}

async function realPathOfExisting(path: string): Promise<string> {
  let candidate = path;
  for (;;) {
    try {
      return await Deno.realPath(candidate);
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound) || candidate === "/") throw error;
      candidate = dirname(candidate);
    }
  }
}

function escaped(path: string, real: string, dir: string): NonRetryableError {
  return new NonRetryableError(
    `file destination ${path} leads outside DATA_PROCESS_OUTPUT_DIR (${dir}) through a symlink (to ${real})`,
  );
}

/**
 * Creates the destination's folder inside `dir` and checks, with symlinks
 * resolved, that it really is inside `dir` (before creating anything and
 * after). Resolves with the path to write.
 */
export async function prepareConfinedFile(path: string, dir: string): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  const realDir = await Deno.realPath(dir);
  const parent = dirname(path);
  const before = await realPathOfExisting(parent);
  if (!isWithin(realDir, before)) throw escaped(path, before, dir);
  await Deno.mkdir(parent, { recursive: true });
  const after = await Deno.realPath(parent);
  if (!isWithin(realDir, after)) throw escaped(path, after, dir);
  // The path as given, under the folder the thread may write (its permission
  // names the configured path, which may itself be a symlink).
  return `${parent}/${basename(path)}`;
}
