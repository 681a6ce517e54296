/**
 * The cheapest wait that lets a burst of same-tick work finish: the end of
 * the current task, after every microtask it queued.
 *
 * @module
 */
import { setImmediate } from "node:timers";

/**
 * Runs `fn` as soon as the current task and every microtask it queued are
 * done: the point where a burst of same-tick work is complete. It is a
 * `setImmediate` macrotask, ~1–3 µs per hop on Deno 2.9.6, where a
 * `setTimeout(0)` hop costs ~2.1 ms (timers have a 1 ms floor and tick
 * granularity) and a MessageChannel hop ~3.5–5 µs (and keeps a port open).
 * A microtask would be cheaper still (~0.3 µs) but runs before results that
 * settle a few awaits later in the same tick, splitting their batch.
 *
 * @example
 * ```ts
 * afterMicrotasks(() => flush()); // once this task's promise chains have settled
 * ```
 */
export function afterMicrotasks(fn: () => void): void {
  setImmediate(fn);
}

/**
 * `afterMicrotasks` as a promise.
 *
 * @example
 * ```ts
 * await nextTask(); // results settled in this task have joined their batch
 * ```
 */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
