/**
 * Serves the dashboard (`static/`) at `/`: a small read-only file server. It
 * refuses path traversal twice over: `..`, backslashes and NUL never reach the
 * file system, and the resolved real path must still lie inside the root (so a
 * symlink cannot lead out). A strict Content-Security-Policy means that even a
 * rendering bug could not run injected inline script. Files go out minified
 * and compressed (`static_assets.ts`).
 *
 * @module
 */
import { Hono } from "hono";
import { pickEncoding, prepareAsset, type PreparedAsset } from "./static_assets.ts";

const TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
};

/** Headers on every dashboard file. */
export const DASHBOARD_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  "content-security-policy": "default-src 'self'; script-src 'self'; style-src 'self'; " +
    "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; " +
    "frame-ancestors 'none'; form-action 'self'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

function extname(path: string): string {
  const slash = path.lastIndexOf("/");
  const dot = path.lastIndexOf(".");
  return dot > slash ? path.slice(dot).toLowerCase() : "";
}

/** The repo's dashboard folder, served when no other folder is given. */
export const STATIC_DIR = new URL("../../static", import.meta.url).pathname;

/** The safe relative file path for a URL path, or null when it must be refused. */
export function safeRelativePath(urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const parts = decoded.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === ".." || p.startsWith("."))) return null; // no dotfiles either
  if (parts.length === 0) return "index.html";
  return parts.join("/");
}

/** Files larger than this are streamed as they are (the dashboard has none). */
const MAX_PREPARED = 1024 * 1024;
/** Prepared files kept in memory (the dashboard has ~20). */
const MAX_CACHED = 64;

interface CachedAsset {
  readonly version: string;
  readonly asset: Promise<PreparedAsset>;
}

/**
 * `GET`/`HEAD` for the files under `dir`, with `/` → `index.html`. Unknown
 * paths fall through (404 from the app), so mount it after the API routes.
 * Files are served minified and, when the client accepts it, compressed
 * (`static_assets.ts`); each file is prepared once per version (mtime and
 * size), so a deploy shows at once.
 *
 * @example
 * ```ts
 * app.route("/", staticRoutes(STATIC_DIR));
 * ```
 */
export function staticRoutes(
  dir: string,
  onMinifyError: (path: string, error: unknown) => void = () => {},
): Hono {
  const app = new Hono();
  let rootReal: Promise<string> | null = null;
  const root = () => rootReal ??= Deno.realPath(dir);
  const cache = new Map<string, CachedAsset>();

  const prepared = (real: string, ext: string, version: string): Promise<PreparedAsset> => {
    const hit = cache.get(real);
    if (hit && hit.version === version) return hit.asset;
    const asset = Deno.readFile(real).then((bytes) =>
      prepareAsset(bytes, ext, (error) => onMinifyError(real, error))
    );
    // A failed read is not kept: the next request tries again.
    asset.catch(() => cache.get(real)?.asset === asset && cache.delete(real));
    cache.delete(real);
    if (cache.size >= MAX_CACHED) cache.delete(cache.keys().next().value!);
    cache.set(real, { version, asset });
    return asset;
  };

  app.on(["GET", "HEAD"], "/*", async (c, next) => {
    const asked = safeRelativePath(new URL(c.req.url).pathname);
    if (asked === null) return c.text("bad path", 400);
    // Browsers and bookmark tools ask for /favicon.ico whatever the page links: the SVG icon.
    const rel = asked === "favicon.ico" ? "favicon.svg" : asked;
    const ext = extname(rel);
    const type = TYPES[ext];
    if (!type) return await next();
    let base: string;
    let real: string;
    let info: Deno.FileInfo;
    try {
      base = await root();
      real = await Deno.realPath(`${base}/${rel}`);
      info = await Deno.stat(real);
    } catch {
      return await next();
    }
    if (!real.startsWith(base + "/") || !info.isFile) return await next();
    const headers: Record<string, string> = {
      ...DASHBOARD_SECURITY_HEADERS,
      "content-type": type,
      // Small files, no build step: always revalidate so a deploy shows at once.
      "cache-control": "no-cache",
      "vary": "accept-encoding",
    };
    if (info.mtime) headers["last-modified"] = info.mtime.toUTCString();
    const since = c.req.header("if-modified-since");
    if (
      since && info.mtime && Math.floor(info.mtime.getTime() / 1000) <= Date.parse(since) / 1000
    ) {
      return c.body(null, 304, headers);
    }
    if (info.size > MAX_PREPARED) {
      headers["content-length"] = String(info.size);
      if (c.req.method === "HEAD") return c.body(null, 200, headers);
      const file = await Deno.open(real, { read: true });
      return c.body(file.readable, 200, headers);
    }
    let asset: PreparedAsset;
    try {
      asset = await prepared(real, ext, `${info.mtime?.getTime()}:${info.size}`);
    } catch {
      return await next(); // removed between the stat and the read
    }
    const encoding = pickEncoding(c.req.header("accept-encoding"));
    let body = asset.identity;
    if (encoding !== null && asset[encoding] !== asset.identity) {
      body = asset[encoding];
      headers["content-encoding"] = encoding;
    }
    headers["content-length"] = String(body.length);
    if (c.req.method === "HEAD") return c.body(null, 200, headers);
    return c.body(body, 200, headers);
  });
  return app;
}
