/**
 * Bounding a wait: `withTimeout` races a promise against a timer that is
 * always cleared, so a settled race leaves no timer keeping the process alive.
 *
 * @module
 */

/** Rejection of `withTimeout` when the time ran out first. */
export class TimeoutError extends Error {
  /** Always "TimeoutError". */
  override name = "TimeoutError";
  /** `ms`: the timeout that ran out. */
  constructor(readonly ms: number) {
    super(`timed out after ${ms} ms`);
  }
}

/**
 * `promise`, or a `TimeoutError` after `ms`. The promise itself is not
 * cancelled: callers decide what a late result means.
 *
 * @example
 * ```ts
 * const stats = await withTimeout(broker.stats(), 2000);
 * ```
 */
export function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(ms)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
