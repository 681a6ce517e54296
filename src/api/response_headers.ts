/**
 * Headers on every JSON answer of the API: `X-Content-Type-Options: nosniff`
 * (a browser never reads a JSON answer as HTML or script) and
 * `Cache-Control: no-store` (answers carry job data and key listings that no
 * shared or browser cache should keep).
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";

/**
 * @example
 * ```ts
 * app.use(jsonResponseHeaders);
 * ```
 */
export const jsonResponseHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  const type = c.res.headers.get("content-type");
  if (type === null || !type.includes("json")) return;
  c.res.headers.set("x-content-type-options", "nosniff");
  c.res.headers.set("cache-control", "no-store");
};
