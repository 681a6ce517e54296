/**
 * A pace that request bodies must keep. A client that declares a large body
 * and then sends it byte by byte (or not at all) would otherwise hold its
 * connection, and its share of the body budget, for as long as it likes.
 * Each body read gets a head start (`graceMs`, for the first bytes and for
 * small bodies on slow links), after which the bytes received must keep up
 * with `minBytesPerS` on average: by `t` ms after the read began, at least
 * `(t - graceMs) / 1000 * minBytesPerS` bytes. A body that falls behind has
 * its read cancelled, and the request is answered 408 (body.ts).
 *
 * One interval checks every body in flight, a few times per head start: no
 * timer per request on the submit path. By default it runs only while there
 * are bodies (nothing left running when idle, which tests rely on); the API
 * role drives `sweep` from an interval of its own instead (`external`):
 * starting and stopping the interval as the set of bodies empties and
 * refills cost ~6 % of `http_submit_per_s` (19.7–19.8k against 20.9–21.3k).
 *
 * @module
 */

/** Default head start of a body (`HTTP_BODY_TIMEOUT_MS`). */
export const DEFAULT_BODY_GRACE_MS = 10_000;

/** Default slowest pace past the head start (`HTTP_BODY_MIN_RATE`): 16 KiB/s. */
export const DEFAULT_BODY_MIN_BYTES_PER_S = 16 * 1024;

/** The reason a read is cancelled with when its body falls behind. */
export class BodyTooSlowError extends Error {
  constructor(readonly received: number, readonly elapsedMs: number) {
    super(`request body too slow: ${received} bytes in ${Math.round(elapsedMs)} ms`);
    this.name = "BodyTooSlowError";
  }
}

/** One body being read: report bytes as they arrive, `end` when done either way. */
export class BodyWatch {
  /** Bytes received so far. */
  received = 0;
  /** Set once the body fell behind and its read was cancelled. */
  tooSlow: BodyTooSlowError | null = null;
  readonly startedAt = performance.now();
  readonly #end: (watch: BodyWatch) => void;
  readonly cancel: (reason: BodyTooSlowError) => void;

  constructor(cancel: (reason: BodyTooSlowError) => void, end: (watch: BodyWatch) => void) {
    this.cancel = cancel;
    this.#end = end;
  }

  /** Stops watching (the body was read, refused or abandoned). */
  end(): void {
    this.#end(this);
  }
}

/**
 * The pace of one API process's request bodies.
 *
 * @example
 * ```ts
 * const deadlines = new BodyDeadlines(10_000, 16_384);
 * const reader = request.body!.getReader();
 * const watch = deadlines.watch((reason) => void reader.cancel(reason));
 * // ... watch.received += chunk.byteLength per chunk; watch.end() when done
 * ```
 */
export class BodyDeadlines {
  readonly #watches = new Set<BodyWatch>();
  readonly #sweepMs: number;
  #timer: ReturnType<typeof setInterval> | null = null;

  readonly #external: boolean;

  /**
   * @param graceMs head start of each body
   * @param minBytesPerS the pace past it
   * @param options `external`: the owner calls `sweep` every `sweepMs` itself
   */
  constructor(
    readonly graceMs: number,
    readonly minBytesPerS: number,
    options: { external?: boolean } = {},
  ) {
    if (!(graceMs > 0) || !(minBytesPerS > 0)) {
      throw new RangeError("body deadlines must be positive");
    }
    this.#sweepMs = Math.max(10, Math.min(250, Math.floor(graceMs / 4)));
    this.#external = options.external ?? false;
  }

  /** How often `sweep` should run (a few times per head start, at most every 250 ms). */
  get sweepMs(): number {
    return this.#sweepMs;
  }

  /** Bodies being read right now. */
  get watching(): number {
    return this.#watches.size;
  }

  /** Watches one body; `cancel` is called once, with the reason, if it falls behind. */
  watch(cancel: (reason: BodyTooSlowError) => void): BodyWatch {
    const watch = new BodyWatch(cancel, this.#unwatch);
    this.#watches.add(watch);
    if (!this.#external) this.#timer ??= setInterval(this.sweep, this.#sweepMs);
    return watch;
  }

  readonly #unwatch = (watch: BodyWatch): void => {
    this.#watches.delete(watch);
    if (this.#watches.size === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  };

  /** Cancels every body that fell behind (run by the interval, or by the owner when `external`). */
  readonly sweep = (): void => {
    const now = performance.now();
    for (const watch of this.#watches) {
      const elapsed = now - watch.startedAt;
      if (elapsed <= this.graceMs) continue;
      if (watch.received >= (elapsed - this.graceMs) / 1000 * this.minBytesPerS) continue;
      watch.tooSlow = new BodyTooSlowError(watch.received, elapsed);
      this.#unwatch(watch);
      watch.cancel(watch.tooSlow);
    }
  };
}
