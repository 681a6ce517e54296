/**
 * The one interface between the queue core and everything else (API, runner,
 * client, dashboard). Only `redis_broker.ts` implements it against Redis; every
 * implementation must pass the shared behaviour suite in
 * `test/queue/broker_suite.ts`.
 *
 * Delivery is at-least-once: a job whose lease runs out (its process died) runs
 * again. Fencing tokens make sure a stale holder's ack changes nothing.
 *
 * @module
 */
import type { RedisInfo } from "./redis_info.ts";
import type { WorkerRecord, WorkerReport } from "./worker_presence.ts";
import type {
  CancelOutcome,
  ClaimedJob,
  Completion,
  DependencyInfo,
  DurationSeries,
  EnqueueInput,
  EnqueueResult,
  FailInput,
  FailOutcome,
  IdSearch,
  Job,
  JobPage,
  Lease,
  ListQuery,
  MaintenanceResult,
  QueueInfo,
  RenewStatus,
  Stats,
} from "./job.ts";
import type { StoredEvent } from "../events/lifecycle.ts";
import type { HistoryMinute } from "./history.ts";
import type { DependencyPage } from "./dependency_reads.ts";
import type { LimitEntry } from "../limits/limit_store.ts";
import type { Limit, LimitScope } from "../limits/limit.ts";

/** Options for a claim. */
export interface ClaimOptions {
  /** Lease length; the runner renews before it runs out. */
  leaseMs?: number;
  /**
   * When no job is ready, wait up to this long for one (0, the default: do
   * not wait). The wait blocks on Redis (no polling) and claims the moment
   * work arrives.
   */
  waitMs?: number;
  /** Ends a wait early: the claim then resolves with []. */
  signal?: AbortSignal;
  /**
   * For a claim that does not wait: try only the queues that may have work,
   * those woken since a claim found them empty (on Redis Cluster, where each
   * queue tried is a call; a worker that just got a full batch passes it).
   * Work whose wake has not reached this process yet is then missed by this
   * claim, not lost: its wake ends the next wait. Standalone Redis tries
   * every queue in one call anyway. Default false.
   */
  onlyWoken?: boolean;
}

/** Options for releasing leases without finishing the jobs. */
export interface ReleaseOptions {
  /**
   * True (default): the attempt the claim consumed is given back, because the
   * job never got a fair run (shutdown drain, a co-running job's hard timeout).
   */
  restoreAttempt?: boolean;
  /** Recorded in the job's error history when the attempt is not restored. */
  reason?: string;
}

/** Options of `Broker.maintain`. */
export interface MaintainOptions {
  /**
   * Visit only the queues known to need it: on Redis Cluster, where each
   * queue is its own call, the queues with something due by what this broker
   * heard and saw, plus one in turn now and then; all of them when an owner
   * is found dead. A worker's periodic maintenance passes it. On standalone
   * Redis one call serves every queue anyway. Default false: every queue.
   */
  onlyDue?: boolean;
}

/**
 * Durable job storage with an atomic, lease-based lifecycle, over named
 * queues. A job belongs to one queue, and its id names it (`job_id.ts`), so
 * operations on one job need no queue. Claims and maintenance serve the
 * queues the broker was built to serve (`RedisBrokerOptions.serve`: every
 * known queue by default). Every
 * transition writes its lifecycle event to the queue's events stream, in the
 * script that makes it (`readEvents`); an implementation may also hand the
 * events of its own calls to an in-process observer (RedisBroker's `onEvents`).
 *
 * @example
 * ```ts
 * const { id } = await broker.enqueue({ type: "email", payload: { to: "a@b.c" } });
 * const [job] = await broker.claim(1);
 * await broker.complete(job.id, job.token, { sent: true });
 * ```
 */
export interface Broker {
  /** The queue of submits that name none. */
  readonly defaultQueue: string;

  /** The home queue: its job ids are plain UUIDs, every other queue's `<queue>:<uuid>`. */
  homeQueue(): Promise<string>;

  /**
   * The lease owner this broker claims as (see `liveness.ts`): its tokens
   * name it, and its `maintain` calls are its heartbeat.
   */
  readonly owner: string;

  /**
   * Adds one job to `input.queue` (default `defaultQueue`). Throws
   * `InvalidInputError`/`PayloadTooLargeError` before writing anything.
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult>;

  /**
   * Adds many jobs: one script call per queue and 1000 jobs
   * (`ENQUEUE_CHUNK`), so a huge batch never holds Redis for long. Inputs are
   * validated first; when any is invalid nothing is written and the error
   * names its index. Each call is all or nothing; a batch that takes several
   * (over 1000 jobs, or several queues) and fails midway (Redis down, a
   * taken caller-chosen id) keeps the calls written before the failure.
   */
  enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueResult[]>;

  /**
   * Moves up to `max` ready jobs of the served queues to running (queues in
   * the weighted or strict order served, paused ones skipped; highest
   * priority first and FIFO within a queue), each with a fresh lease token. When none is ready it
   * waits up to `waitMs` for one (blocking on Redis, no polling): [] means
   * none came in time, or `signal` aborted the wait (jobs claimed while that
   * abort raced the wake are handed back without charging an attempt).
   */
  claim(max: number, options?: ClaimOptions): Promise<ClaimedJob[]>;

  /**
   * Marks a running job completed with its result. Completing again with the
   * token that completed it is a success that changes nothing (an ack whose
   * reply was lost can be retried). Throws `LeaseLostError` on a stale token, `PayloadTooLargeError` for a result over
   * `LIMITS.maxResultBytes` (nothing written; fail the job instead).
   */
  complete(id: string, token: string, result: unknown): Promise<void>;

  /**
   * Completes many jobs in one round trip. Returns, per lease, true when acked
   * and false when the lease was lost (nothing changed for that job). A result
   * over `LIMITS.maxResultBytes` refuses the whole call (`PayloadTooLargeError`).
   */
  completeMany(acks: Completion[]): Promise<boolean[]>;

  /**
   * Records a failed attempt: schedules a retry after `retry_delay_ms`, or moves
   * the job to `failed` (dead) when attempts are exhausted or the error is not
   * retryable, or to `cancelled` when a cancel was requested. Failing again
   * with the same token returns the outcome the first call reached and
   * changes nothing. Throws `LeaseLostError`.
   */
  fail(id: string, token: string, failure: FailInput): Promise<FailOutcome>;

  /** Extends every given lease by `leaseMs` in one call; reports lost or cancel-flagged ones. */
  renew(leases: Lease[], leaseMs: number): Promise<RenewStatus[]>;

  /** Gives leases back: the jobs return to pending. Returns per lease whether it was released. */
  release(leases: Lease[], options?: ReleaseOptions): Promise<boolean[]>;

  /** Records a running job's progress (0..100). Returns false when the lease was lost. */
  progress(id: string, token: string, percent: number): Promise<boolean>;

  /**
   * Housekeeping any process may run, safely concurrent: records this owner's
   * heartbeat, promotes due scheduled jobs, reaps expired leases and the
   * leases of owners that stopped heartbeating (retry or dead), and drops
   * finished jobs past retention. A worker calls it every second while jobs
   * run anywhere, every few seconds otherwise.
   */
  maintain(options?: MaintainOptions): Promise<MaintenanceResult>;

  /**
   * Records this owner's heartbeat (one command). A worker beats every
   * second; its `maintain` calls beat too (see `liveness.ts`).
   */
  heartbeat(): Promise<void>;

  /**
   * Takes back at once every lease `owner` holds (its supervisor saw it die,
   * or it is leaving): the jobs go back to pending with the attempt charged,
   * as for any crash, or end failed/cancelled. Returns how many.
   */
  reapOwner(owner: string, reason: string): Promise<number>;

  /**
   * Writes this owner's record in the worker registry (`worker_presence.ts`):
   * one command; its queues come from what the broker serves. Returns the
   * epoch ms a drain was requested (`drainWorker`), or null.
   */
  beatWorker(report: WorkerReport): Promise<number | null>;

  /**
   * Redis's health figures for the operator (`redis_info.ts`): a whitelist
   * of INFO fields, per master on Cluster.
   */
  redisInfo(): Promise<RedisInfo>;

  /** The registered worker processes (at most `MAX_LISTED_WORKERS`), oldest registration first. */
  workers(): Promise<WorkerRecord[]>;

  /**
   * Asks worker `owner` to drain (graceful stop) at its next beat. True when
   * asked now, false when it already was; `JobNotFoundError` for a worker
   * not registered.
   */
  drainWorker(owner: string): Promise<boolean>;

  /**
   * Cancels a job. Pending/scheduled: cancelled at once. Running: flagged, and
   * runners are notified so the handler's AbortSignal fires. Throws
   * `JobNotFoundError`, or `InvalidStateError` for a finished job.
   */
  cancel(id: string): Promise<CancelOutcome>;

  /**
   * Moves a failed (dead) or cancelled job back to pending with fresh
   * attempts. Its dependents that its end took down stay ended, unless
   * `revive_dependents`: then they wait for it again (and theirs for them).
   */
  requeue(id: string, options?: { revive_dependents?: boolean }): Promise<void>;

  /**
   * Makes a scheduled job (a delayed one, or a retry waiting out its
   * backoff) pending now. Throws `JobNotFoundError`, or `InvalidStateError`
   * when it is not scheduled.
   */
  runNow(id: string): Promise<void>;

  /**
   * Deletes finished jobs of one state (e.g. purge the dead set), in `queue`
   * or in every queue. Returns how many.
   */
  purge(state: "failed" | "completed" | "cancelled", queue?: string): Promise<number>;

  /**
   * Deletes one finished job (completed, dead or cancelled) and everything
   * that indexes it, atomically; answers the state it was deleted from.
   * Throws `JobNotFoundError`, or `InvalidStateError` when it is not finished
   * (a worker may hold it: cancel it first) or a waiting job still depends on it.
   */
  deleteJob(id: string): Promise<"completed" | "failed" | "cancelled">;

  /** One job, or null when unknown or expired. */
  get(id: string): Promise<Job | null>;

  /**
   * A job's dependencies with what each became (a completed one's result
   * included), or null when it has none (or is unknown). What a handler sees
   * as `ctx.dependencies`.
   */
  dependencies(id: string): Promise<DependencyInfo[] | null>;

  /** A page of the ids of the jobs that depend on `id` (about `count`, default 100). */
  dependents(id: string, cursor?: string, count?: number): Promise<DependencyPage>;

  /**
   * Up to `limit` jobs of `queue` (default: the default queue) whose id
   * starts with `prefix` (UUID characters), in any state; bounded work
   * (`IdSearch.truncated`). An unknown queue finds nothing.
   */
  findByIdPrefix(prefix: string, limit: number, queue?: string): Promise<IdSearch>;

  /**
   * Jobs of one queue in one state, paginated. Finished states: newest first.
   * With `group`, pending jobs start with the group's own held lists (exact),
   * then the rest is filtered: a page may stop at its scan budget short of
   * `limit` (`JobPage.truncated`) and its cursor goes on from there.
   */
  list(query: ListQuery): Promise<JobPage>;

  /**
   * Counts per state, per type and per queue: over every queue (those `only`
   * accepts, when given: a tenant's), or of `queue` only
   * (`QueueNotFoundError` for an unknown one).
   */
  stats(queue?: string, only?: (queue: string) => boolean): Promise<Stats>;

  /**
   * The attempt-duration histogram over every queue, as the finishing
   * scripts keep it in Redis (so it covers every attempt, whoever reads).
   */
  durations(): Promise<DurationSeries[]>;

  /**
   * The per-minute history of `queue` as the transition scripts keep it in
   * Redis (`history.ts`): epoch minutes `fromMinute`..`toMinute` inclusive
   * (the last `HISTORY_MAX_MINUTES` of them at most), one entry per minute
   * in order, zeros where nothing happened; null for an unknown queue.
   */
  history(queue: string, fromMinute: number, toMinute: number): Promise<HistoryMinute[] | null>;

  /**
   * Calls `listener` when a job is announced due at `at` (epoch ms) ahead of
   * every other in its queue, as this broker's claims hear it (an idle wait
   * that ended on it, or on Cluster a published due time), so a runner can
   * promote it on time. Returns the unsubscribe.
   */
  onDue(listener: (at: number) => void): () => void;

  /** Every known queue's summary, by name. */
  queues(): Promise<QueueInfo[]>;

  /** One queue's summary, or null when the queue is unknown. */
  queueInfo(name: string): Promise<QueueInfo | null>;

  /**
   * Pauses (`true`) or resumes a queue: a paused queue accepts jobs, and no
   * worker claims from it (running jobs finish). Throws `QueueNotFoundError`.
   */
  setPaused(name: string, paused: boolean): Promise<QueueInfo>;

  /** Calls `onCancel(jobId)` whenever a cancel is requested for a running job. */
  onCancelRequested(onCancel: (jobId: string) => void): Promise<() => Promise<void>>;

  /**
   * Reads lifecycle events of every queue written after `cursor` (a
   * `StoredEvent.cursor`, or a stream id such as `<ms>-0` for all queues, or
   * "0" for all kept), blocking up to `blockMs`.
   */
  readEvents(cursor: string, blockMs: number, count?: number): Promise<StoredEvent[]>;

  /** True when Redis answers within the timeout. */
  /**
   * Back-pressure (RateLimitedError): the job goes back to scheduled for
   * `delayMs` without charging an attempt; `pause` also holds its type or
   * its queue that long on every worker. False when the lease was lost.
   */
  defer(
    id: string,
    token: string,
    delayMs: number,
    pause?: { scope: "type" | "queue" | "group"; type: string; group?: string } | null,
  ): Promise<boolean>;

  /** Flow control: every limit in force (`src/limits/`). */
  limits(): Promise<LimitEntry[]>;

  /**
   * Sets the runtime limit of a job type or a queue, effective on every
   * worker at its next claim; true when there was none (a declared one may apply).
   */
  setLimit(scope: LimitScope, name: string, limit: Limit): Promise<boolean>;

  /** Removes a runtime limit (a type's declared one applies again); false when none. */
  removeLimit(scope: LimitScope, name: string): Promise<boolean>;

  /** Records the limits job types declare in code (`defineJob({ limits })`; null: none). */
  declareLimits(declared: ReadonlyArray<{ type: string; limit: Limit | null }>): Promise<void>;

  ping(): Promise<boolean>;

  /** Closes every connection. */
  close(): Promise<void>;
}
