/**
 * Refuses the state-changing requests a browser sends cross-site without a
 * CORS preflight: a form post (`application/x-www-form-urlencoded`,
 * `multipart/form-data`, `text/plain`) or a bodiless `fetch` POST. Any such
 * request lacks both a JSON content type and an `Authorization` header
 * (setting either makes the browser ask first, and this server never says
 * yes to another origin). DELETE always needs a preflight, GET changes
 * nothing. So with auth off on a laptop, a page on another site still cannot
 * retry, pause or submit through the visitor's browser.
 *
 * @module
 */
import type { Context } from "hono";
import { isJsonContentType } from "../body.ts";
import { HttpError } from "../errors.ts";

/** The message of the refusal: what to send instead. */
export const CROSS_SITE_MESSAGE = "a POST needs Content-Type: application/json or an " +
  "Authorization header (without either, a browser may send it from another site)";

/**
 * Throws the 415 for a POST that carries neither a JSON content type nor an
 * `Authorization` header (its body, if any, is left unread).
 *
 * @example
 * ```ts
 * if (c.req.method === "POST") refuseCrossSite(c);
 * ```
 */
export function refuseCrossSite(c: Context): void {
  const headers = c.req.raw.headers;
  if (isJsonContentType(headers.get("content-type")) || headers.has("authorization")) return;
  c.req.raw.body?.cancel().catch(() => {});
  throw new HttpError(415, "unsupported_media_type", CROSS_SITE_MESSAGE);
}
