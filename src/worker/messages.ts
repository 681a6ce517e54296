/**
 * Messages between a worker process (the pool) and its Web Worker threads.
 * Every message that can come in bursts carries an array: one `postMessage`
 * per job costs ~20x more than one per batch of 100 (measured: ~21k round
 * trips/s one at a time vs ~480k jobs/s batched), so both sides queue items
 * and flush once per task (`Batcher`, in `src/timing/batcher.ts`).
 *
 * @module
 */
import type { JobSettings } from "../jobs/job_settings.ts";
import type { SpanLimits } from "@opentelemetry/sdk-trace";
import type { WireSpan } from "../tracing/span_wire.ts";

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
  /**
   * The job's dependencies as they ended (`DependencyInfo[]`) as JSON
   * text, for a job that has any (`ctx.dependencies`); absent otherwise.
   */
  dependencies_json?: string;
  /**
   * The attempt span's context (`src/tracing/trace_context.ts`) when the
   * process traces: the handler's spans are its children.
   */
  trace?: string;
}

/** Why the runner aborted a job; the thread passes it on as the signal's reason. */
export type AbortReason = "timeout" | "cancel" | "shutdown" | "lease_lost";

/** Pool -> thread. */
export type ToThread =
  /** First message: the extra job modules to load (absolute URLs). */
  // `settings`: what the built-in types obey (the thread cannot read env).
  // `tracing`: present when the process traces (the span limits it read from env).
  | { kind: "init"; modules: string[]; settings: JobSettings; tracing?: { spanLimits: SpanLimits } }
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
    /** A RateLimitedError: back to scheduled after `delay_ms`, no attempt charged. */
    rate_limited?: { delay_ms: number; scope: "type" | "queue" | "group" | null };
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
  | { kind: "log"; lines: LogLine[] }
  /** Finished handler spans (`span_wire.ts`), for the process to export. */
  | { kind: "spans"; spans: WireSpan[] };
