/**
 * An HTTP `Retry-After` header as a delay: delta-seconds or an HTTP date
 * (RFC 9110 §10.2.3). The built-in HTTP types turn a 429 carrying one into a
 * RateLimitedError, so the job waits as long as asked without losing an attempt.
 *
 * @module
 */
import { RateLimitedError } from "../limits/rate_limited_error.ts";

/** The delay `value` asks for in ms (0 for a date already past), or null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  // An HTTP date names its weekday and month; a bare "-1" is no date.
  if (!/^[A-Za-z]{3}, /.test(text)) return null;
  const at = Date.parse(text);
  return Number.isNaN(at) ? null : Math.max(0, at - now);
}

/** A RateLimitedError for a 429 with a readable Retry-After, else null. */
export function rateLimitedByResponse(
  response: Response,
  message: string,
): RateLimitedError | null {
  if (response.status !== 429) return null;
  const ms = retryAfterMs(response.headers.get("retry-after"));
  return ms === null ? null : new RateLimitedError(ms, { message });
}
