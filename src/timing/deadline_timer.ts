/**
 * One timer for many deadlines. A timer per job cost a setTimeout and a
 * clearTimeout each; this one is only re-armed when a deadline earlier than
 * the armed one arrives, and its owner re-arms it for the earliest deadline
 * left after each firing. The runner's job deadlines use it directly;
 * `Deadlines` (deadlines.ts) builds a per-call timeout on it.
 *
 * @module
 */

/** Longest delay setTimeout takes; longer ones would overflow and fire at once. */
const MAX_DELAY_MS = 0x7fffffff;

/**
 * Fires `onDue` no later than the earliest instant passed to `arm`.
 *
 * @example
 * ```ts
 * const timer = new DeadlineTimer(() => checkJobs());
 * timer.arm(Date.now() + 5000);
 * timer.arm(Date.now() + 1000); // re-armed: fires in 1 s
 * ```
 */
export class DeadlineTimer {
  readonly #onDue: () => void;
  #timer?: ReturnType<typeof setTimeout>;
  #at = Infinity;
  readonly #fire = () => {
    this.#timer = undefined;
    this.#at = Infinity;
    this.#onDue();
  };

  /** `onDue` runs each time the timer fires; it may call `arm` again. */
  constructor(onDue: () => void) {
    this.#onDue = onDue;
  }

  /** Makes sure the timer fires by `at` (epoch ms). */
  arm(at: number): void {
    if (at >= this.#at) return;
    clearTimeout(this.#timer);
    this.#at = at;
    // Clamped: an over-long delay fires early, finds nothing due and is re-armed; never spins.
    const delay = Math.min(Math.max(0, at - Date.now()), MAX_DELAY_MS);
    this.#timer = setTimeout(this.#fire, delay);
  }

  /** Disarms the timer. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#at = Infinity;
  }
}
