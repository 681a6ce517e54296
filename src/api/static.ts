/**
 * Serves the dashboard (`static/`) at `/`: a small read-only file server. It
 * refuses path traversal twice over: `..`, backslashes and NUL never reach the
 * file system, and the resolved real path must still lie inside the root (so a
 * symlink cannot lead out). A strict Content-Security-Policy means that even a
 * rendering bug could not run injected inline script.
 *
 * @module
 */
import { Hono } from "hono";

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

/**
 * `GET`/`HEAD` for the files under `dir`, with `/` → `index.html`. Unknown
 * paths fall through (404 from the app), so mount it after the API routes.
 *
 * @example
 * ```ts
 * app.route("/", staticRoutes(STATIC_DIR));
 * ```
 */
export function staticRoutes(dir: string): Hono {
  const app = new Hono();
  let rootReal: Promise<string> | null = null;
  const root = () => rootReal ??= Deno.realPath(dir);

  app.on(["GET", "HEAD"], "/*", async (c, next) => {
    const asked = safeRelativePath(new URL(c.req.url).pathname);
    if (asked === null) return c.text("bad path", 400);
    // Browsers and bookmark tools ask for /favicon.ico whatever the page links: the SVG icon.
    const rel = asked === "favicon.ico" ? "favicon.svg" : asked;
    const type = TYPES[extname(rel)];
    if (!type) return await next();
    let base: string;
    let real: string;
    try {
      base = await root();
      real = await Deno.realPath(`${base}/${rel}`);
    } catch {
      return await next();
    }
    if (!real.startsWith(base + "/")) return await next();
    let file: Deno.FsFile;
    try {
      file = await Deno.open(real, { read: true });
    } catch {
      return await next();
    }
    const info = await file.stat();
    if (!info.isFile) {
      file.close();
      return await next();
    }
    const headers: Record<string, string> = {
      ...DASHBOARD_SECURITY_HEADERS,
      "content-type": type,
      "content-length": String(info.size),
      // Small files, no build step: always revalidate so a deploy shows at once.
      "cache-control": "no-cache",
    };
    if (info.mtime) headers["last-modified"] = info.mtime.toUTCString();
    const since = c.req.header("if-modified-since");
    if (
      since && info.mtime && Math.floor(info.mtime.getTime() / 1000) <= Date.parse(since) / 1000
    ) {
      file.close();
      return c.body(null, 304, headers);
    }
    if (c.req.method === "HEAD") {
      file.close();
      return c.body(null, 200, headers);
    }
    return c.body(file.readable, 200, headers);
  });
  return app;
}
