/**
 * `METRICS_TOKEN`: the bearer token Prometheus sends to `/metrics` (the
 * API's and every worker's), apart from API keys so that a scraper holds
 * nothing that could read jobs. Unset: `/metrics` asks for nothing.
 *
 * @module
 */
import { bearerToken } from "./bearer.ts";
import { hashKey, sameHash } from "./secret.ts";

/**
 * A checker of `Authorization` headers against `token`; with no token,
 * everything passes. Hashing both sides first makes the comparison constant
 * time whatever the lengths.
 *
 * @example
 * ```ts
 * const allowed = metricsTokenCheck(config.METRICS_TOKEN);
 * if (!allowed(req.headers.get("authorization"))) return new Response(null, { status: 401 });
 * ```
 */
export function metricsTokenCheck(token: string | undefined): (header: string | null) => boolean {
  if (!token) return () => true;
  const expected = hashKey(token);
  return (header) => {
    const presented = bearerToken(header);
    return presented !== null && sameHash(hashKey(presented), expected);
  };
}

/** The `WWW-Authenticate` of a refused scrape. */
export const METRICS_CHALLENGE = 'Bearer realm="metrics"';
