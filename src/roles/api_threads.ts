/**
 * Extra isolates for the API role (`API_THREADS` > 1). One Deno isolate runs
 * its HTTP server, JSON and validation work on one core; the others are Web
 * Workers, each with its own app, broker and event loop, all listening on the
 * same port with SO_REUSEPORT so the kernel spreads connections across them.
 *
 * Everything an isolate serves is stateless or read from Redis, except its
 * HTTP metrics: `/metrics` on the first isolate sums every isolate's HTTP
 * figures (asked for at scrape time), and the other isolates relay a scrape
 * to it, so any connection sees one consistent set of counters.
 *
 * @module
 */
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import type { HttpMetricsJson } from "../metrics/api_metrics.ts";

/** Main isolate -> API thread. */
export type ToApiThread =
  | { kind: "start"; config: Config; redisUrl: string; port: number; index: number }
  | { kind: "http_metrics"; id: number }
  | { kind: "metrics_text"; id: number; text?: string; error?: string }
  | { kind: "stop" };

/** API thread -> main isolate. */
export type FromApiThread =
  | { kind: "listening" }
  | { kind: "failed"; error: string }
  | { kind: "http_metrics"; id: number; metrics: HttpMetricsJson }
  | { kind: "metrics_text"; id: number }
  | { kind: "stopped" };

/** How long an isolate waits for a peer's answer before leaving it out. */
export const PEER_TIMEOUT_MS = 2000;

const THREAD_URL = new URL("./api_thread.ts", import.meta.url).href;

/** Settings for `ApiThreads.start`. */
export interface ApiThreadsOptions {
  /** Extra isolates to start. */
  count: number;
  config: Config;
  redisUrl: string;
  /** The port the first isolate bound (known even when PORT was 0). */
  port: number;
  log: Logger;
  /** The first isolate's full `/metrics` text, which the others relay. */
  metricsText(): Promise<string>;
}

interface Peer {
  worker: Worker;
  index: number;
  alive: boolean;
  stopped?: () => void;
}

/**
 * Request/response over postMessage: ids, a timeout, and the pending table.
 *
 * @example
 * ```ts
 * const calls = new PendingCalls<string>();
 * const { id, reply } = calls.open(1000);
 * calls.settle(id, "answer");
 * ```
 */
export class PendingCalls<T> {
  #next = 0;
  readonly #pending = new Map<number, { resolve(v: T): void; reject(e: Error): void }>();

  /** A new call id and the promise of its answer (rejected after `timeoutMs`). */
  open(timeoutMs: number): { id: number; reply: Promise<T> } {
    const id = this.#next++;
    const reply = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.#pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
    });
    return { id, reply };
  }

  /** Delivers an answer (ignored when the call already timed out). */
  settle(id: number, value: T): void {
    const call = this.#pending.get(id);
    this.#pending.delete(id);
    call?.resolve(value);
  }

  /** Fails an open call. */
  fail(id: number, error: Error): void {
    const call = this.#pending.get(id);
    this.#pending.delete(id);
    call?.reject(error);
  }
}

/**
 * The extra API isolates of one process.
 *
 * @example
 * ```ts
 * const threads = await ApiThreads.start({ count: 1, config, redisUrl, port, log, metricsText });
 * const peerMetrics = await threads.httpMetrics();
 * await threads.stop();
 * ```
 */
export class ApiThreads {
  readonly #o: ApiThreadsOptions;
  readonly #peers: Peer[] = [];
  readonly #metrics = new PendingCalls<HttpMetricsJson>();

  private constructor(options: ApiThreadsOptions) {
    this.#o = options;
  }

  /**
   * Starts `count` isolates and waits until each listens. One that fails to
   * start is logged and left out: the process keeps serving with the others.
   */
  static async start(options: ApiThreadsOptions): Promise<ApiThreads> {
    const threads = new ApiThreads(options);
    await Promise.all(
      Array.from({ length: options.count }, (_, i) => threads.#spawn(i + 1)),
    );
    return threads;
  }

  #spawn(index: number): Promise<void> {
    const { config, redisUrl, port, log } = this.#o;
    const worker = new Worker(THREAD_URL, { type: "module", name: `api-${index}` });
    const peer: Peer = { worker, index, alive: false };
    this.#peers.push(peer);
    return new Promise<void>((started) => {
      const timer = setTimeout(() => {
        log.warn("api isolate did not start in time; serving without it", { isolate: index });
        this.#drop(peer);
        started();
      }, 30_000);
      worker.onmessage = (event: MessageEvent<FromApiThread>) => {
        const m = event.data;
        switch (m.kind) {
          case "listening":
            clearTimeout(timer);
            peer.alive = true;
            started();
            break;
          case "failed":
            clearTimeout(timer);
            log.warn("api isolate failed to start; serving without it", {
              isolate: index,
              error: m.error,
            });
            this.#drop(peer);
            started();
            break;
          case "http_metrics":
            this.#metrics.settle(m.id, m.metrics);
            break;
          case "metrics_text":
            this.#o.metricsText().then(
              (text) => this.#send(peer, { kind: "metrics_text", id: m.id, text }),
              (error) => this.#send(peer, { kind: "metrics_text", id: m.id, error: String(error) }),
            );
            break;
          case "stopped":
            peer.stopped?.();
            break;
        }
      };
      worker.onerror = (event) => {
        event.preventDefault(); // one isolate's crash must not take the process down
        clearTimeout(timer);
        log.error("api isolate crashed; serving without it", {
          isolate: index,
          error: event.message,
        });
        this.#drop(peer);
        started();
      };
      this.#send(peer, { kind: "start", config, redisUrl, port, index });
    });
  }

  #send(peer: Peer, message: ToApiThread): void {
    try {
      peer.worker.postMessage(message);
    } catch {
      // terminated meanwhile
    }
  }

  /** Terminates an isolate (its listener closes with it) and forgets it. */
  #drop(peer: Peer): void {
    peer.alive = false;
    peer.worker.terminate();
    peer.stopped?.();
  }

  /** Every live isolate's HTTP metrics; one that does not answer in time is left out. */
  async httpMetrics(): Promise<HttpMetricsJson[]> {
    const answers = await Promise.allSettled(
      this.#peers.filter((p) => p.alive).map((peer) => {
        const { id, reply } = this.#metrics.open(PEER_TIMEOUT_MS);
        this.#send(peer, { kind: "http_metrics", id });
        return reply;
      }),
    );
    return answers.flatMap((a) => a.status === "fulfilled" ? [a.value] : []);
  }

  /**
   * Stops every isolate gracefully (each finishes its in-flight requests and
   * closes its Redis connections), terminating any that takes over `timeoutMs`.
   */
  async stop(timeoutMs = 10_000): Promise<void> {
    await Promise.all(
      this.#peers.filter((p) => p.alive).map((peer) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, timeoutMs);
          peer.stopped = () => {
            clearTimeout(timer);
            resolve();
          };
          this.#send(peer, { kind: "stop" });
        })
      ),
    );
    for (const peer of this.#peers) {
      peer.alive = false;
      peer.worker.terminate();
    }
  }
}
