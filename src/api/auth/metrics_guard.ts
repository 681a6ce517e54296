/**
 * `/metrics` on the API process: with `METRICS_TOKEN` set, a scrape must
 * send it as a bearer token (401 `unauthorized` otherwise); without it,
 * `/metrics` is open, as before.
 *
 * @module
 */
import type { MiddlewareHandler } from "hono";
import { METRICS_CHALLENGE, metricsTokenCheck } from "../../auth/metrics_token.ts";
import { HttpError } from "../errors.ts";

/**
 * @example
 * ```ts
 * app.on("GET", "/metrics", metricsGuard(config.METRICS_TOKEN));
 * ```
 */
export function metricsGuard(token: string | undefined): MiddlewareHandler {
  const allowed = metricsTokenCheck(token);
  return async (c, next) => {
    if (!allowed(c.req.header("authorization") ?? null)) {
      throw new HttpError(
        401,
        "unauthorized",
        "/metrics needs Authorization: Bearer <METRICS_TOKEN>",
        undefined,
        { "WWW-Authenticate": METRICS_CHALLENGE },
      );
    }
    await next();
  };
}
