/**
 * Whether Redis accepts writes, for `/ready`. A PING answers while Redis
 * refuses every write (out of memory under `noeviction`, a read-only
 * replica, a failed snapshot with `stop-writes-on-bgsave-error`), so a
 * process whose every submit fails would stay in its load balancer.
 *
 * The check is one small write: `SET` of one key with a 60 s expiry (a
 * write Redis refuses in each of those states; under `maxmemory` it is
 * refused like any write that may grow memory). It runs only when `/ready`
 * is asked, at most once per `cacheMs` however often it is asked (concurrent
 * asks share one probe), so an idle or unprobed process writes nothing. A
 * write refused on the request path (`refused`) turns the answer false at
 * once, without waiting for a probe; the next probe after `cacheMs` finds
 * out when Redis accepts writes again, so `/ready` recovers on its own.
 *
 * On Cluster the key lives on the deployment keys' slot: a shard refusing
 * writes elsewhere shows through `refused` (the requests it fails), not
 * through the probe.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";

/** What `/ready` asks (and the write path tells). */
export interface WriteCheck {
  /** True when Redis accepted the latest probe write (at most `cacheMs` old). */
  writable(): Promise<boolean>;
  /** A write was just refused: `writable` is false until a probe passes. */
  refused(): void;
}

/** Options of a `WriteProbe`. */
export interface WriteProbeOptions {
  /** How long one probe's answer holds. Default 1000 ms. */
  cacheMs?: number;
}

/**
 * The write check of one API process, on a client of its own.
 *
 * @example
 * ```ts
 * const probe = new WriteProbe(connect(url), globalKeys().writeProbe);
 * if (!await probe.writable()) console.log("redis refuses writes");
 * ```
 */
export class WriteProbe implements WriteCheck {
  readonly #client: RedisClient;
  readonly #key: string;
  readonly #cacheMs: number;
  #last: { at: number; ok: boolean } | null = null;
  #probing: Promise<boolean> | null = null;

  constructor(client: RedisClient, key: string, options: WriteProbeOptions = {}) {
    this.#client = client;
    this.#key = key;
    this.#cacheMs = options.cacheMs ?? 1000;
  }

  writable(): Promise<boolean> {
    const last = this.#last;
    if (last && performance.now() - last.at < this.#cacheMs) return Promise.resolve(last.ok);
    this.#probing ??= this.#probe().finally(() => (this.#probing = null));
    return this.#probing;
  }

  refused(): void {
    this.#last = { at: performance.now(), ok: false };
  }

  async #probe(): Promise<boolean> {
    let ok: boolean;
    try {
      await this.#client.set(this.#key, String(Date.now()), "PX", 60_000);
      ok = true;
    } catch {
      // Refused, or unreachable (PING's to report): either way nothing can be written now.
      ok = false;
    }
    this.#last = { at: performance.now(), ok };
    return ok;
  }

  /** Closes the client. */
  close(): void {
    this.#client.disconnect();
  }
}
