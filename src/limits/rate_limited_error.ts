/**
 * Back-pressure from a handler: `throw new RateLimitedError(retryAfterMs)`
 * (say on an HTTP 429) puts the job back to run after `retryAfterMs` without
 * charging an attempt; with `{ scope: "type" }` (or `"queue"`) every job of
 * its type (or its whole queue) waits that long too, on every worker.
 *
 * @example
 * ```ts
 * if (res.status === 429) throw new RateLimitedError(retryAfterMs(res) ?? 1000, { scope: "type" });
 * ```
 *
 * @module
 */

/** Shortest delay a RateLimitedError asks for, in ms (smaller, negative or NaN ones are raised to it). */
export const MIN_RATE_LIMITED_MS = 10;
/** Longest delay, in ms (larger ones are cut to it): an hour. */
export const MAX_RATE_LIMITED_MS = 60 * 60 * 1000;

/** What a RateLimitedError may pause besides its job (`group`: its type's jobs of its group). */
export type RateLimitedScope = "type" | "queue" | "group";

function isScope(value: unknown): value is RateLimitedScope {
  return value === "type" || value === "queue" || value === "group";
}

/** `retryAfterMs` brought into the documented bounds. */
export function clampRetryAfter(ms: number): number {
  if (!(ms >= MIN_RATE_LIMITED_MS)) return MIN_RATE_LIMITED_MS; // also NaN
  return Math.min(MAX_RATE_LIMITED_MS, Math.round(ms));
}

/** Thrown by a handler whose downstream said "slow down". */
export class RateLimitedError extends Error {
  /** The delay, clamped to [MIN_RATE_LIMITED_MS, MAX_RATE_LIMITED_MS]. */
  readonly retryAfterMs: number;
  /** What else waits as long: null, the job alone. */
  readonly scope: RateLimitedScope | null;

  constructor(retryAfterMs: number, options: { scope?: RateLimitedScope; message?: string } = {}) {
    const ms = clampRetryAfter(retryAfterMs);
    super(options.message ?? `rate limited: retry in ${ms} ms`);
    this.name = "RateLimitedError";
    this.retryAfterMs = ms;
    this.scope = isScope(options.scope) ? options.scope : null;
  }
}

/**
 * The back-pressure a thrown value asks for, or null. Recognised by shape
 * as well as class: a job module may load its own copy of this file.
 */
export function rateLimitOf(
  error: unknown,
): { delay_ms: number; scope: RateLimitedScope | null } | null {
  if (error instanceof RateLimitedError) {
    return { delay_ms: error.retryAfterMs, scope: error.scope };
  }
  if (
    error instanceof Error && error.name === "RateLimitedError" &&
    typeof (error as { retryAfterMs?: unknown }).retryAfterMs === "number"
  ) {
    const scope = (error as { scope?: unknown }).scope;
    return {
      delay_ms: clampRetryAfter((error as unknown as { retryAfterMs: number }).retryAfterMs),
      scope: isScope(scope) ? scope : null,
    };
  }
  return null;
}
