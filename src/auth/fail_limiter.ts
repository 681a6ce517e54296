/**
 * Limits failed key attempts per client address: after `max` failures within
 * `windowMs`, that address is refused (429) until the window ends. It only
 * sees requests whose key missed the cache, so a client with a good key is
 * never slowed down; a guesser gets `max` tries per window.
 *
 * Per process and in memory: behind a load balancer every API process limits
 * on its own (the bound is `max` × processes per window), and the address is
 * the socket's peer (a proxy's address when there is one in front).
 *
 * @module
 */

/** Options of `FailLimiter`. */
export interface FailLimiterOptions {
  /** Failures allowed per window and address. Default 20. */
  max?: number;
  /** Window length. Default 60 s. */
  windowMs?: number;
  /** Addresses tracked at once; past it the oldest windows are forgotten. Default 10 000. */
  maxAddresses?: number;
  now?: () => number;
}

interface Window {
  start: number;
  failures: number;
}

/**
 * @example
 * ```ts
 * const limiter = new FailLimiter({ max: 5 });
 * if (limiter.retryAfter(address) > 0) refuse(); else if (!ok) limiter.fail(address);
 * ```
 */
export class FailLimiter {
  readonly max: number;
  readonly windowMs: number;
  readonly #maxAddresses: number;
  readonly #now: () => number;
  readonly #windows = new Map<string, Window>();

  constructor(options: FailLimiterOptions = {}) {
    this.max = options.max ?? 20;
    this.windowMs = options.windowMs ?? 60_000;
    this.#maxAddresses = options.maxAddresses ?? 10_000;
    this.#now = options.now ?? Date.now;
  }

  /** Seconds `address` must wait before its next attempt; 0 when it may try now. */
  retryAfter(address: string): number {
    const w = this.#windows.get(address);
    if (!w || w.failures < this.max) return 0;
    const left = w.start + this.windowMs - this.#now();
    if (left <= 0) {
      this.#windows.delete(address);
      return 0;
    }
    return Math.ceil(left / 1000);
  }

  /** Counts a failed attempt of `address`. */
  fail(address: string): void {
    const now = this.#now();
    const w = this.#windows.get(address);
    if (w && now - w.start < this.windowMs) {
      w.failures++;
      return;
    }
    this.#windows.delete(address);
    if (this.#windows.size >= this.#maxAddresses) this.#evict(now);
    this.#windows.set(address, { start: now, failures: 1 });
  }

  /** Drops ended windows; if none ended, the oldest (Map order is insertion order). */
  #evict(now: number): void {
    for (const [address, w] of this.#windows) {
      if (now - w.start >= this.windowMs) this.#windows.delete(address);
    }
    if (this.#windows.size >= this.#maxAddresses) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
  }
}
