/**
 * Messages between a worker process (the pool) and its Web Worker threads.
 * Every message that can come in bursts carries an array: one `postMessage`
 * per job costs ~20x more than one per batch of 100 (measured: ~21k round
 * trips/s one at a time vs ~480k jobs/s batched), so both sides queue items
 * and flush once per task.
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
 */
export function afterMicrotasks(fn: () => void): void {
  setImmediate(fn);
}

/** `afterMicrotasks` as a promise. */
export function nextTask(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** One job for a thread to run. */
export interface RunRequest {
  id: string;
  type: string;
  /**
   * The payload's JSON text as stored. Text, not a value: cloning a string
   * across threads is a copy, cloning an object graph is a walk on the busy
   * runner thread; the thread parses it (in parallel with the runner).
   */
  payload_json: string;
  attempt: number;
  max_attempts: number;
}

/** Why the runner aborted a job; the thread passes it on as the signal's reason. */
export type AbortReason = "timeout" | "cancel" | "shutdown" | "lease_lost";

/** Pool -> thread. */
export type ToThread =
  /** First message: the extra job modules to load (absolute URLs). */
  | { kind: "init"; modules: string[] }
  | { kind: "run"; jobs: RunRequest[] }
  | { kind: "abort"; ids: string[]; reason: AbortReason };

/** How one job ended inside the thread. */
export type RunResult =
  /** `result_json`: the handler's value as JSON text, serialized on the thread. */
  | { id: string; ok: true; result_json: string }
  | {
    id: string;
    ok: false;
    error: string;
    /** False for NonRetryableError, `retryable === false` errors and invalid payloads. */
    retryable: boolean;
  };

/** A throttled progress report. */
export interface ProgressUpdate {
  id: string;
  percent: number;
}

/** A line a handler logged through `ctx.log`. */
export interface LogLine {
  id: string;
  level: "debug" | "info" | "warn" | "error";
  message: string;
  fields?: Record<string, unknown>;
}

/** Thread -> pool. */
export type FromThread =
  /** The registry loaded; the thread accepts `run` messages. */
  | { kind: "ready"; types: string[] }
  /** The registry failed to load; the thread is useless. */
  | { kind: "init_error"; error: string }
  | { kind: "results"; results: RunResult[] }
  | { kind: "progress"; updates: ProgressUpdate[] }
  | { kind: "log"; lines: LogLine[] };

/** Most items per batch by default: a bigger burst is sent in several messages. */
export const MAX_BATCH_ITEMS = 1000;

/**
 * Collects items and hands them over as one array per task, so a burst of
 * results (or runs) becomes a single message. A batch that reaches its size
 * cap is sent at once.
 *
 * @example
 * ```ts
 * const out = new Batcher<number>((items) => port.postMessage({ kind: "n", items }));
 * out.push(1); out.push(2); // one postMessage with [1, 2]
 * ```
 */
export class Batcher<T> {
  #items: T[] = [];
  #scheduled = false;
  readonly #flush: (items: T[]) => void;
  readonly #maxItems: number;
  readonly #onTask = () => {
    this.#scheduled = false;
    this.flushNow();
  };

  constructor(flush: (items: T[]) => void, maxItems = MAX_BATCH_ITEMS) {
    this.#flush = flush;
    this.#maxItems = Math.max(1, maxItems);
  }

  /** Queues one item; the flush runs once the current task's microtasks are done. */
  push(item: T): void {
    this.#items.push(item);
    if (this.#items.length >= this.#maxItems) {
      this.flushNow();
      return;
    }
    if (this.#scheduled) return;
    this.#scheduled = true;
    // After the microtasks, not in one: handlers that finish in the same tick
    // through chains of awaits all land in the same batch.
    afterMicrotasks(this.#onTask);
  }

  /** Sends what is queued now. */
  flushNow(): void {
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#flush(items);
  }
}
