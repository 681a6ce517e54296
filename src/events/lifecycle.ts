/**
 * Lifecycle events and the observer interface (the spec's observer pattern).
 * Metrics, logs and the dashboard feed follow jobs through these events; the
 * runner and the API only emit them.
 *
 * @module
 */

/** Fields every event carries. */
interface EventBase {
  job_id: string;
  type: string;
  /** Epoch ms when it happened. */
  at: number;
}

/** A job's lifecycle event. */
export type LifecycleEvent =
  | EventBase & { kind: "enqueued"; priority: number }
  | EventBase & { kind: "started"; attempt: number; queued_ms: number }
  | EventBase & { kind: "progress"; attempt: number; percent: number }
  | EventBase & { kind: "completed"; attempt: number; duration_ms: number }
  /** A failed attempt that will be retried after `retry_in_ms`. */
  | EventBase & {
    kind: "failed";
    attempt: number;
    duration_ms: number;
    error: string;
    retry_in_ms: number;
  }
  /** Attempts exhausted or a non-retryable error: the job is in the dead set. */
  | EventBase & { kind: "dead"; attempt: number; duration_ms: number; error: string }
  | EventBase & { kind: "cancelled"; attempt: number; duration_ms: number }
  /** The deadline passed; a `failed` or `dead` event follows with the outcome. */
  | EventBase & { kind: "timed_out"; attempt: number; duration_ms: number; hard: boolean }
  /** A lease expired (its process died) and the reaper took the job back. */
  | EventBase & { kind: "recovered"; attempt: number };

/** Every event kind. */
export type LifecycleEventKind = LifecycleEvent["kind"];

/** Receives events. May be async; its failures never reach the emitter. */
export interface Observer {
  readonly name: string;
  onEvent(event: LifecycleEvent): void | Promise<void>;
}
