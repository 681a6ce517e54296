/**
 * The lifecycle event vocabulary: every kind of event a job goes through, with
 * its fields under their real names and types, and the observer interface.
 *
 * Every event is written by the Lua script that makes the transition, in the
 * same atomic call (`EVENT_SOURCES` says which). The script appends it to the
 * queue's events stream (the cluster-wide record: SSE, the API's metrics) and
 * hands it back to the broker that ran it, which passes it to its own
 * process's observers (logs, the worker's metrics). Nothing else builds one:
 * a transition is reported once, in one shape, wherever it is observed.
 *
 * `failed` means one thing everywhere: the job reached the dead set (attempts
 * exhausted or a non-retryable error). A failed attempt that will run again
 * is `retry_scheduled`.
 *
 * @module
 */

/** Fields every event carries. */
interface EventBase {
  job_id: string;
  /** The job's type. */
  type: string;
  /** Epoch ms of the transition (the script's clock). */
  at: number;
}

/** Accepted: pending, or scheduled when it has a due time. */
export interface EnqueuedEvent extends EventBase {
  kind: "enqueued";
  priority: number;
}

/** A worker claimed the job; attempt `attempt` begins. */
export interface StartedEvent extends EventBase {
  kind: "started";
  attempt: number;
  /** ms from the job's creation to this start (includes any delay or retry wait). */
  queued_ms: number;
}

/** The handler reported progress. */
export interface ProgressEvent extends EventBase {
  kind: "progress";
  attempt: number;
  /** 0..100. */
  percent: number;
}

/** The attempt succeeded; the job is completed. */
export interface CompletedEvent extends EventBase {
  kind: "completed";
  attempt: number;
  /** How long the attempt ran. */
  duration_ms: number;
}

/** The attempt failed and the job will run again after `retry_in_ms`. */
export interface RetryScheduledEvent extends EventBase {
  kind: "retry_scheduled";
  attempt: number;
  duration_ms: number;
  error: string;
  retry_in_ms: number;
}

/** The job reached the dead set: attempts exhausted or a non-retryable error. */
export interface FailedEvent extends EventBase {
  kind: "failed";
  attempt: number;
  /** How long the last attempt ran; absent when it never reported (its lease expired). */
  duration_ms?: number;
  error: string;
}

/** The job was cancelled (while waiting, or its running handler stopped). */
export interface CancelledEvent extends EventBase {
  kind: "cancelled";
  /** Attempts made so far (0 when cancelled before it ever ran). */
  attempt: number;
  /** How long the cancelled attempt ran; absent when none was running or it never reported. */
  duration_ms?: number;
}

/** The attempt passed its deadline; a `retry_scheduled` or `failed` event follows. */
export interface TimedOutEvent extends EventBase {
  kind: "timed_out";
  attempt: number;
  duration_ms: number;
  /** True when the handler ignored its abort signal and its process had to recycle. */
  hard: boolean;
}

/**
 * A lease was given back without finishing the job: it is pending again (or
 * scheduled, when its handler was rate limited: defer.lua).
 */
export interface ReleasedEvent extends EventBase {
  kind: "released";
  /** Attempts counted after the release. */
  attempt: number;
  /** True when the attempt was given back (the job never got a fair run). */
  restored: boolean;
  reason: string;
}

/**
 * The job's holder is gone (its lease expired, its process died, or it
 * stopped heartbeating) and the job was taken back.
 */
export interface RecoveredEvent extends EventBase {
  kind: "recovered";
  /** The attempt whose lease expired. */
  attempt: number;
  /** Where the job went: pending (runs again), or failed/cancelled (whose event follows). */
  outcome: "pending" | "failed" | "cancelled";
}

/** A failed or cancelled job was put back to pending with fresh attempts. */
export interface RequeuedEvent extends EventBase {
  kind: "requeued";
}

/** A job's lifecycle event. */
export type LifecycleEvent =
  | EnqueuedEvent
  | StartedEvent
  | ProgressEvent
  | CompletedEvent
  | RetryScheduledEvent
  | FailedEvent
  | CancelledEvent
  | TimedOutEvent
  | ReleasedEvent
  | RecoveredEvent
  | RequeuedEvent;

/** Every event kind. */
export type LifecycleEventKind = LifecycleEvent["kind"];

/** The event of one kind. */
export type EventOf<K extends LifecycleEventKind> = Extract<LifecycleEvent, { kind: K }>;

/**
 * Which scripts (`src/queue/scripts/<name>.lua`) write each kind. The only
 * writers: no TypeScript code emits a lifecycle event of its own
 * (`test/queue/script_contract_test.ts` checks this table against the scripts).
 */
export const EVENT_SOURCES: { readonly [K in LifecycleEventKind]: readonly string[] } = {
  enqueued: ["enqueue"],
  started: ["claim"],
  progress: ["progress"],
  completed: ["complete"],
  retry_scheduled: ["fail"],
  failed: ["fail", "release", "maintain", "reap_owner", "enqueue", "resolve"],
  cancelled: ["cancel", "fail", "maintain", "reap_owner", "enqueue", "resolve"],
  timed_out: ["fail"],
  released: ["release", "defer"],
  recovered: ["maintain", "reap_owner"],
  requeued: ["requeue"],
};

/** Every kind, in lifecycle order. */
export const LIFECYCLE_EVENT_KINDS = Object.keys(EVENT_SOURCES) as LifecycleEventKind[];

/** A lifecycle event read from the events stream, with the entry id to resume after. */
export interface StoredEvent {
  /** Stream entry id: pass it back as the cursor to read what came after. */
  cursor: string;
  event: LifecycleEvent;
}

/** Receives events. May be async; its failures never reach the emitter. */
export interface Observer {
  readonly name: string;
  onEvent(event: LifecycleEvent): void | Promise<void>;
}
