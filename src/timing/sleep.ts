/**
 * An abortable sleep: waits `ms`, or less when `signal` aborts. It resolves
 * either way (waking up early is the point, not an error) and never leaves a
 * timer or an abort listener behind.
 *
 * @module
 */

/**
 * Resolves after `ms`, or as soon as `signal` aborts (at once when it already
 * has). The timer is cleared on abort and the listener removed on time-out,
 * so neither outlives the sleep.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * await sleep(30_000, stop.signal); // returns early once stop.abort() is called
 * ```
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const onAbort = () => {
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
