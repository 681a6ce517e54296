/**
 * The dashboard's files as they go over the wire: minified, and compressed
 * once for each encoding a browser may accept. The sources in `static/` stay
 * readable (comments say why, no build step); the server pays the cost once
 * per file version, not per request.
 *
 * - JavaScript goes through terser (a parser, so a `//` inside a string or a
 *   regex is never taken for a comment): comments and layout go, names stay,
 *   so a stack trace in the browser still reads.
 * - CSS and HTML lose comments and indentation only (neither holds
 *   whitespace-sensitive text: no `<pre>`, no `<textarea>` content).
 * - A file that fails to minify is served as it is (and the failure logged
 *   once): a page that works beats a smaller page that does not.
 *
 * @module
 */
import { minify } from "terser";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

/** Content encodings the server offers, best first. */
export const ENCODINGS = ["br", "gzip"] as const;
export type Encoding = typeof ENCODINGS[number];

/** Bytes a response body takes as they are. */
type Bytes = Uint8Array<ArrayBuffer>;

/** One file ready to serve: the minified body and its compressed forms. */
export interface PreparedAsset {
  readonly identity: Bytes;
  readonly br: Bytes;
  readonly gzip: Bytes;
}

/** Below this a compressed body saves less than its header costs. */
const MIN_COMPRESS = 512;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Strips CSS comments and indentation. */
export function minifyCss(css: string): string {
  return css.replace(/\/\*[\s\S]*?\*\//g, "").split("\n").map((l) => l.trim()).filter(Boolean)
    .join("\n");
}

/** Strips HTML comments and indentation. */
export function minifyHtml(html: string): string {
  return html.replace(/<!--[\s\S]*?-->/g, "").split("\n").map((l) => l.trim()).filter(Boolean)
    .join("\n");
}

/** Minifies an ES module; throws on a syntax error. */
export async function minifyJs(js: string): Promise<string> {
  const out = await minify(js, {
    module: true,
    compress: false,
    mangle: false,
    format: { comments: false },
  });
  if (out.code === undefined) throw new Error("terser returned no code");
  return out.code;
}

async function minified(bytes: Bytes, ext: string): Promise<Bytes> {
  const text = decoder.decode(bytes);
  switch (ext) {
    case ".js":
    case ".mjs":
      return encoder.encode(await minifyJs(text));
    case ".css":
      return encoder.encode(minifyCss(text));
    case ".html":
      return encoder.encode(minifyHtml(text));
    default:
      return bytes;
  }
}

/** Text formats worth compressing (images like PNG already are). */
const COMPRESSIBLE = new Set([".js", ".mjs", ".css", ".html", ".json", ".svg", ".txt"]);

/**
 * Prepares one file. `onMinifyError` hears a file served unminified.
 *
 * @example
 * ```ts
 * const asset = await prepareAsset(await Deno.readFile("static/app.js"), ".js");
 * ```
 */
export async function prepareAsset(
  bytes: Bytes,
  ext: string,
  onMinifyError: (error: unknown) => void = () => {},
): Promise<PreparedAsset> {
  let identity = bytes;
  try {
    identity = await minified(bytes, ext);
  } catch (error) {
    onMinifyError(error);
  }
  if (!COMPRESSIBLE.has(ext) || identity.length < MIN_COMPRESS) {
    return { identity, br: identity, gzip: identity };
  }
  return {
    identity,
    // Copied out of node's Buffer pool: each body owns its bytes.
    br: new Uint8Array(brotliCompressSync(identity, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: 11,
        [constants.BROTLI_PARAM_SIZE_HINT]: identity.length,
      },
    })),
    gzip: new Uint8Array(gzipSync(identity, { level: 9 })),
  };
}

/**
 * The encoding to send for an `Accept-Encoding` header: the best one offered
 * with a non-zero q-value, else identity (null).
 */
export function pickEncoding(accept: string | undefined): Encoding | null {
  if (!accept) return null;
  const q = new Map<string, number>();
  for (const part of accept.split(",")) {
    const [name, ...params] = part.trim().toLowerCase().split(";");
    const qParam = params.map((p) => p.trim()).find((p) => p.startsWith("q="));
    const value = qParam ? Number(qParam.slice(2)) : 1;
    q.set(name.trim(), Number.isFinite(value) ? value : 0);
  }
  for (const encoding of ENCODINGS) {
    const value = q.get(encoding) ?? q.get("*");
    if (value !== undefined && value > 0) return encoding;
  }
  return null;
}
