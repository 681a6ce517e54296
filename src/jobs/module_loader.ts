/**
 * Loading job definitions from user modules (`JOB_MODULES`). Kept apart from
 * the registry so the registry stays a plain map.
 *
 * @module
 */
import type { JobDefinition } from "./definition.ts";

/** Structural check for values coming out of user modules. */
export function isJobDefinition(value: unknown): value is JobDefinition {
  if (typeof value !== "object" || value === null) return false;
  const v = value as Record<string, unknown>;
  const schema = v.schema as Record<string, unknown> | null | undefined;
  return typeof v.type === "string" && v.type.length > 0 && v.type.length <= 128 &&
    typeof v.handler === "function" && typeof schema === "object" && schema !== null &&
    typeof schema.safeParse === "function";
}

const URL_SCHEME = /^[a-zA-Z][a-zA-Z0-9+.-]*:/;

/**
 * Turns a module path into an import specifier: URLs (`file:`, `https:`,
 * `npm:`...) pass through, paths resolve against the working directory. The
 * cwd is only read for relative paths, so restricted threads given absolute
 * URLs need no read permission.
 */
export function resolveModuleSpecifier(spec: string, base?: string): string {
  const trimmed = spec.trim();
  if (trimmed === "") throw new Error("empty job module path");
  // A Windows drive letter ("C:\x") is a path, not a scheme.
  if (URL_SCHEME.test(trimmed) && !/^[a-zA-Z]:[\\/]/.test(trimmed)) return trimmed;
  if (trimmed.startsWith("/")) return new URL(`file://${encodePath(trimmed)}`).href;
  let dir = base;
  if (dir === undefined) {
    try {
      dir = Deno.cwd();
    } catch (error) {
      throw new Error(
        `cannot resolve job module ${spec}: relative path and no access to the working directory`,
        { cause: error },
      );
    }
  }
  const baseUrl = new URL(`file://${encodePath(dir.endsWith("/") ? dir : dir + "/")}`);
  return new URL(encodePath(trimmed), baseUrl).href;
}

function encodePath(path: string): string {
  return path.split("/").map((part) => encodeURIComponent(part)).join("/");
}

/** Imports `url` and collects its definitions (default export and named exports, deduplicated). */
export async function loadJobModule(url: string): Promise<JobDefinition[]> {
  let mod: Record<string, unknown>;
  try {
    mod = await import(url);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new Error(`cannot load job module ${url}: ${reason}`, { cause: error });
  }
  const found: JobDefinition[] = [];
  for (const [name, value] of Object.entries(mod)) {
    const items = Array.isArray(value) ? value : [value];
    items.forEach((item, i) => {
      if (isJobDefinition(item)) {
        // `export default x` next to `export const x` is one definition, not two.
        if (!found.includes(item)) found.push(item);
      } else if (name === "default") {
        const where = Array.isArray(value) ? `default export [${i}]` : "default export";
        throw new Error(`job module ${url}: ${where} is not a job definition`);
      }
    });
  }
  if (found.length === 0) throw new Error(`job module ${url} exports no job definitions`);
  const seen = new Set<string>();
  for (const def of found) {
    if (seen.has(def.type)) {
      throw new Error(`job module ${url}: type ${JSON.stringify(def.type)} defined twice`);
    }
    seen.add(def.type);
  }
  return found;
}
