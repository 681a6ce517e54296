/**
 * The job record as the rest of the system sees it, and the inputs and outputs
 * of the queue operations. Pure types and small pure helpers: no Redis here.
 *
 * @module
 */

/**
 * Every state a job can be in. `failed` is the dead-letter state; `waiting`
 * holds a job whose dependencies are not all done (not claimable). The
 * index is the state's code in records, so new states are appended.
 */
export const JOB_STATES = [
  "pending",
  "scheduled",
  "running",
  "completed",
  "failed",
  "cancelled",
  "waiting",
] as const;

/** A job's lifecycle state. */
export type JobState = typeof JOB_STATES[number];

/** States a job never leaves by itself (only `requeue` moves a failed job back). */
export const FINISHED_STATES: readonly JobState[] = ["completed", "failed", "cancelled"];

/** Bounds shared by the core, the API schemas and the docs. */
export const LIMITS = {
  /** Highest priority; higher runs first. */
  maxPriority: 100,
  minPriority: 0,
  maxAttempts: 100,
  /** 1 MB: the required maximum job payload size, measured on the JSON text in UTF-8 bytes. */
  maxPayloadBytes: 1024 * 1024,
  /**
   * 1 MB: the largest result a job may store (its JSON text in UTF-8 bytes).
   * Results stay in Redis for the retention period; bigger outputs belong in
   * a destination the job writes to, with a reference as the result.
   */
  maxResultBytes: 1024 * 1024,
  minTimeoutMs: 1,
  /** The required job execution timeout is 5 minutes (the default); a job may ask for up to 24 h. */
  maxTimeoutMs: 24 * 60 * 60 * 1000,
  /** Attempt errors kept per job, newest last. */
  errorHistory: 10,
  maxTypeLength: 128,
  maxIdempotencyKeyLength: 256,
  /** Longest `group`, in bytes of UTF-8 (flow control). */
  maxGroupBytes: 256,
  /** Most dependencies one job may list (`depends_on`). */
  maxDependencies: 1000,
  /** Most jobs one flow (`POST /flows`) may create. */
  maxFlowJobs: 1000,
} as const;

/**
 * What a job does when one of its dependencies ends failed or cancelled:
 * `fail` (default: it fails, non-retryable, and so do its own dependents
 * under the same policy), `cancel` (it is cancelled, also propagating), or
 * `ignore` (it runs once every dependency has finished, however).
 */
export const DEPENDENCY_POLICIES = ["fail", "cancel", "ignore"] as const;

/** A job's `on_dependency_failure` policy. */
export type DependencyPolicy = typeof DEPENDENCY_POLICIES[number];

/** Defaults applied when neither the job nor its type says otherwise. */
export const DEFAULTS = {
  priority: 0,
  maxAttempts: 3,
  /** Job execution timeout: 5 minutes (the requirement). */
  timeoutMs: 5 * 60 * 1000,
  /** Result retention: 24 hours in Redis (the requirement). */
  retentionMs: 24 * 60 * 60 * 1000,
  leaseMs: 30_000,
} as const;

/**
 * Retry delay policy. `polynomial`: `base_ms * attempts^factor` (the required
 * `attempts²` seconds is `{kind: "polynomial", base_ms: 1000, factor: 2}`);
 * `exponential`: `base_ms * factor^(attempts-1)`. Capped at `max_ms`, then
 * spread by ±`jitter` (a fraction, 0..1) so retries of a burst don't align.
 */
export interface BackoffPolicy {
  kind: "polynomial" | "exponential";
  base_ms: number;
  factor: number;
  max_ms: number;
  jitter: number;
}

/** The required retry backoff: attempts² seconds, capped at one hour, no jitter. */
export const DEFAULT_BACKOFF: BackoffPolicy = {
  kind: "polynomial",
  base_ms: 1000,
  factor: 2,
  max_ms: 60 * 60 * 1000,
  jitter: 0,
};

/** One attempt's failure, as kept in the job's error history. */
export interface AttemptError {
  attempt: number;
  message: string;
  /** ISO-8601 UTC. */
  at: string;
}

/** A job as returned by `Broker.get` and `Broker.list`. Timestamps are ISO-8601 UTC. */
export interface Job {
  /** The job's id; it names the job's queue (`job_id.ts`). */
  id: string;
  queue: string;
  type: string;
  payload: unknown;
  priority: number;
  attempts: number;
  max_attempts: number;
  status: JobState;
  created_at: string;
  scheduled_for: string | null;
  started_at: string | null;
  completed_at: string | null;
  result: unknown;
  /** The last attempt's error message, or null. */
  error: string | null;
  error_history: AttemptError[];
  timeout_ms: number;
  progress: number | null;
  /** Set while running: when the current lease runs out. */
  lease_expires_at: string | null;
  /** True when a cancel was requested while the job was running. */
  cancel_requested: boolean;
  backoff: BackoffPolicy | null;
  /** Its dependencies' tally, or null when it has none. */
  dependencies: DependencyCounts | null;
  /** Its policy when a dependency fails (only when it has dependencies). */
  on_dependency_failure: DependencyPolicy | null;
  /** True when other jobs depend on it (list them with `Broker.dependents`). */
  has_dependents: boolean;
  /** Its flow-control group, or null. */
  group: string | null;
  /** Its completion webhook's URL, or null (`src/webhooks/`). */
  callback_url: string | null;
  /** The events its completion webhook is sent for, or null without one. */
  callback_events: CallbackEvent[] | null;
  /** The trace its submit belongs to (W3C trace id, 32 hex digits), or null when none was recorded. */
  trace_id: string | null;
}

/** The job ends a completion webhook can be sent for (`failed`: dead, attempts exhausted). */
export const CALLBACK_EVENTS = ["completed", "failed", "cancelled"] as const;

/** One of `CALLBACK_EVENTS`. */
export type CallbackEvent = typeof CALLBACK_EVENTS[number];

/** How many of a job's dependencies completed, failed (or were cancelled), or are pending. */
export interface DependencyCounts {
  total: number;
  completed: number;
  failed: number;
  pending: number;
}

/** One dependency as a dependent sees it (`ctx.dependencies`, `Broker.dependencies`). */
export interface DependencyInfo {
  id: string;
  /** The dependency's type, once known (it finished), else null. */
  type: string | null;
  status: "pending" | "completed" | "failed" | "cancelled";
  /** Its result when completed, its error message when failed, else null. */
  result: unknown;
}

/** What a caller supplies to enqueue one job. */
export interface EnqueueInput {
  type: string;
  /** The queue; default the broker's default queue (the API resolves a type's own default first). */
  queue?: string;
  payload: unknown;
  /**
   * The JSON text of `payload`, when the caller already has it (the API and
   * the typed client serialize the payload for their size check): the broker
   * stores it verbatim instead of serializing `payload` a second time, still
   * within the payload size limit. When given it must be the JSON text of
   * `payload`; nothing checks that they agree.
   */
  payload_json?: string;
  priority?: number;
  max_attempts?: number;
  timeout_ms?: number;
  /** Run no earlier than this many ms from now. Exclusive with `run_at`. */
  delay_ms?: number;
  /** Run no earlier than this instant. Exclusive with `delay_ms`. */
  run_at?: Date;
  /** Per-job retry policy; null/absent means the type's (or the default) policy. */
  backoff?: BackoffPolicy;
  /** The same key within retention returns the first job's id instead of a new job. */
  idempotency_key?: string;
  /**
   * Flow control: the job's group (a tenant, a customer, a target domain),
   * at most `LIMITS.maxGroupBytes` bytes of UTF-8; a `per_group` limit of
   * its type applies to each group apart, and claims rotate between groups.
   */
  group?: string;
  /**
   * Completion webhook: an http(s) URL POSTed (Standard Webhooks, signed with
   * the deployment's secret) when the job ends in one of `callback_events`.
   */
  callback_url?: string;
  /** The ends `callback_url` is sent for; default all of `CALLBACK_EVENTS`. */
  callback_events?: CallbackEvent[];
  /**
   * Caller-chosen id: a UUID, or `<queue>:<uuid>` naming this job's queue;
   * generated when absent. The job's id names its queue either way.
   */
  id?: string;
  /**
   * `id` is a random UUID the caller generated for this very job, in its
   * queue's form (`jobIdFor`; the typed client does, so it can retry with
   * it): stored like an id the broker generates, without the check a chosen id gets for a job that already has
   * it. A retry sends it without this flag, so a job an earlier attempt
   * stored is found.
   */
  fresh_id?: boolean;
  /**
   * Refuse the job (`QueueFullError`; in a batch, `full: true`) when its queue
   * already holds this many jobs pending or scheduled: checked in the
   * enqueue's own script, so concurrent submits cannot pass it together.
   * Absent: no limit (and no cost).
   */
  waiting_limit?: number;
  /**
   * Ids of jobs this one waits for (`waiting` until every one has finished):
   * up to `LIMITS.maxDependencies`, all existing. See `DependencyPolicy`.
   */
  depends_on?: string[];
  /** What a failed or cancelled dependency does to this job; default `fail`. */
  on_dependency_failure?: DependencyPolicy;
  /**
   * W3C `traceparent` of the span the job's attempts continue (the submit
   * span): stored with the job, so each attempt's span is its child. Absent:
   * the attempts start traces of their own (when the worker traces).
   */
  traceparent?: string;
  /** W3C `tracestate` going with `traceparent` (ignored without it). */
  tracestate?: string;
}

/** Result of one enqueue. `created` is false when an idempotency key matched an earlier job. */
export interface EnqueueResult {
  id: string;
  created: boolean;
  /** Not written: the job's `waiting_limit` was reached (batches only; a single enqueue throws). */
  full?: true;
}

/** A job handed to a runner by `claim`: everything needed to run and ack it. */
export interface ClaimedJob {
  id: string;
  type: string;
  /** The payload, parsed from `payload_json` on first read. */
  readonly payload: unknown;
  /** The payload's JSON text as stored: the worker hands it to a thread unparsed. */
  payload_json: string;
  priority: number;
  /** This attempt's number, starting at 1. */
  attempt: number;
  max_attempts: number;
  timeout_ms: number;
  /** Fencing token: acks and renewals must present it. */
  token: string;
  /** Epoch ms when the lease runs out unless renewed. */
  lease_expires_at: number;
  backoff: BackoffPolicy | null;
  /** Epoch ms the job was created (for latency metrics). */
  created_at: number;
  /** How many dependencies it had (0: none; the runner reads their results when > 0). */
  dependency_count: number;
  /** Its flow-control group, or null. */
  group?: string | null;
  /** The stored trace context (`src/tracing/trace_context.ts`), or null. */
  trace?: string | null;
}

/** A lease the runner holds: job id + fencing token. */
export interface Lease {
  id: string;
  token: string;
}

/**
 * One completion for `completeMany`: the result as a value, or already as
 * JSON text (`result_json`, stored verbatim: the worker's threads serialize
 * results themselves, so the runner never parses and re-serializes them).
 */
export type Completion = Lease & ({ result: unknown } | { result_json: string });

/** Per-lease answer from `renew`. */
export type RenewStatus = "ok" | "lost" | "cancel_requested";

/** How a failure should be treated. */
export interface FailInput {
  message: string;
  /** False for errors that must not be retried (e.g. a webhook's 4xx). */
  retryable: boolean;
  /** Delay before the retry; the runner computes it from the backoff policy. */
  retry_delay_ms: number;
  /**
   * The attempt passed its deadline: `soft` when the handler stopped on its
   * abort signal, `hard` when it did not (its process recycles). Recorded as a
   * `timed_out` event before the outcome's.
   */
  timed_out?: "soft" | "hard";
}

/** Where a failed attempt sent the job. */
export type FailOutcome = "scheduled" | "failed" | "cancelled";

/** Where a cancel request left the job. */
export type CancelOutcome = "cancelled" | "cancel_requested";

/** A page of jobs, newest first for finished states. */
export interface JobPage {
  jobs: Job[];
  /** Pass back as `cursor` for the next page; null when there is none. */
  next_cursor: string | null;
  /**
   * A group's list only (`ListQuery.group`): true when the page stopped at
   * its scan budget with fewer than `limit` jobs; `next_cursor` goes on from
   * where it stopped.
   */
  truncated?: boolean;
}

/** Jobs of one queue whose id starts with a prefix (`Broker.findByIdPrefix`). */
export interface IdSearch {
  jobs: Job[];
  /** True when the search stopped at its budget before looking at every job of the queue. */
  truncated: boolean;
}

/** Listing query. */
export interface ListQuery {
  state: JobState;
  /** The queue listed; default the broker's default queue. */
  queue?: string;
  type?: string;
  /**
   * Only jobs of this flow-control group (`EnqueueInput.group`). No index
   * holds a state's jobs by group: its pending held lists are read as they
   * are, every other list is filtered with bounded work (`JobPage.truncated`).
   */
  group?: string;
  limit?: number;
  cursor?: string | null;
}

/** Counts per state. */
export interface StateCounts {
  pending: number;
  scheduled: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  waiting: number;
  /** pending + scheduled + running + completed + failed + cancelled + waiting. */
  total: number;
}

/**
 * Lifetime counts: every job that ever reached a finished state. They never go
 * down: not when retention or a purge removes the jobs, not when a retry takes
 * one out of the dead set (the state counts say what is there now).
 */
export interface LifetimeCounts {
  /** Attempts ever started (a job retried twice counts 3), counted by the claim. */
  started_total: number;
  completed_total: number;
  failed_total: number;
  cancelled_total: number;
}

/**
 * One series of the attempt-duration histogram kept in Redis (summed over
 * queues): how the attempts of `type` that ended as `status` (`completed`,
 * `retry_scheduled`, `failed`, `cancelled`) were spread over
 * `DURATION_BUCKETS`. Counts only grow.
 */
export interface DurationSeries {
  type: string;
  status: string;
  /** Attempts per bucket, NOT cumulative: `counts[i]` ran for at most bound i (and more than bound i-1); the last entry is past every bound. */
  counts: number[];
  /** Their summed run time, ms. */
  sum_ms: number;
}

/** The counts of one queue or type: what each state holds now, and the lifetime totals. */
export type StatsCounts = StateCounts & LifetimeCounts;

/**
 * Queue statistics. The state counts are the jobs in each state now (a
 * finished job leaves its state when retention or a purge removes it, or a
 * retry takes it back); the `_total` counts never go down.
 */
export interface Stats extends StatsCounts {
  /** Retry attempts scheduled after a failure or an expired lease (never goes down). */
  retried: number;
  /** The same as `retried`, named as the lifetime count it is. */
  retried_total: number;
  by_type: Record<string, StatsCounts>;
  /** The same counts per queue (only the one asked for, when a queue was). */
  by_queue: Record<string, StatsCounts>;
}

/** One queue's summary (`Broker.queues`). */
export interface QueueInfo extends Omit<StateCounts, "total"> {
  name: string;
  paused: boolean;
  /** Age of the oldest pending job (since it became ready), ms; 0 when none is pending. */
  latency_ms: number;
}

/** A job whose expired lease `maintain` reaped, and where it went. */
export interface RecoveredJob {
  id: string;
  type: string;
  /** The attempt whose lease expired. */
  attempt: number;
  /** pending: it runs again; failed: that was its last attempt; cancelled: a cancel was requested. */
  outcome: "pending" | "failed" | "cancelled";
}

/** What `maintain` did: promoted due jobs, reaped leases, and when to look again. */
export interface MaintenanceResult {
  promoted: number;
  reaped: number;
  /** The jobs reaped in this call (`reaped` of them), for `recovered` lifecycle events. */
  recovered: RecoveredJob[];
  /** Epoch ms of the earliest scheduled job or lease expiry still ahead, or null. */
  next_due_at: number | null;
  /** Some job is running, held by any owner (so a dead owner may need reaping soon). */
  running: boolean;
}

/** Epoch ms to ISO-8601 UTC, or null for absent values. */
export function isoOrNull(ms: number | null | undefined): string | null {
  return ms === null || ms === undefined || !Number.isFinite(ms)
    ? null
    : new Date(ms).toISOString();
}

/**
 * The retry delay for a failed attempt under `policy`.
 *
 * @example
 * ```ts
 * backoffDelayMs(DEFAULT_BACKOFF, 3); // 9000: attempts² seconds
 * ```
 */
export function backoffDelayMs(
  policy: BackoffPolicy,
  attempts: number,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, attempts);
  const raw = policy.kind === "polynomial"
    ? policy.base_ms * Math.pow(n, policy.factor)
    : policy.base_ms * Math.pow(policy.factor, n - 1);
  const capped = Math.min(policy.max_ms, raw);
  const spread = capped * policy.jitter * (random() * 2 - 1);
  return Math.max(0, Math.round(capped + spread));
}
