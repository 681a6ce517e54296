/**
 * Headers on every JSON answer of the API: `X-Content-Type-Options: nosniff`
 * (a browser never reads a JSON answer as HTML or script) and
 * `Cache-Control: no-store` (answers carry job data and key listings that no
 * shared or browser cache should keep).
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";

/**
 * Sets them on `c` before the handler runs: Hono puts them on the answer it
 * builds (`c.json`, `c.body`), and on `onError`'s, on the same context.
 */
export function setJsonResponseHeaders(c: Context): void {
  c.header("x-content-type-options", "nosniff");
  c.header("cache-control", "no-store");
}

/**
 * The same as a middleware, for apps that mount routes of their own.
 *
 * @example
 * ```ts
 * app.use(jsonResponseHeaders);
 * ```
 */
export const jsonResponseHeaders: MiddlewareHandler = async (c, next) => {
  setJsonResponseHeaders(c);
  await next();
};
