/**
 * Messages between a worker process (the pool) and its Web Worker threads.
 * Every message that can come in bursts carries an array: one `postMessage`
 * per job costs ~20x more than one per batch of 100 (measured: ~21k round
 * trips/s one at a time vs ~480k jobs/s batched), so both sides queue items
 * and flush once per task.
 *
 * @module
 */

/** One job for a thread to run. */
export interface RunRequest {
  id: string;
  type: string;
  payload: unknown;
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
  | { id: string; ok: true; result: unknown }
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

/**
 * Collects items and hands them over as one array per macrotask, so a burst
 * of results (or runs) becomes a single message.
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

  constructor(flush: (items: T[]) => void) {
    this.#flush = flush;
  }

  /** Queues one item; the flush runs after the current task's microtasks. */
  push(item: T): void {
    this.#items.push(item);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // A macrotask, not a microtask: handlers that finish in the same tick
    // through chains of awaits all land in the same batch.
    setTimeout(() => this.flushNow(), 0);
  }

  /** Sends what is queued now. */
  flushNow(): void {
    this.#scheduled = false;
    if (this.#items.length === 0) return;
    const items = this.#items;
    this.#items = [];
    this.#flush(items);
  }
}
