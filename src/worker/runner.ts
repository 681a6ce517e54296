/**
 * The claim loop of one worker process: claims jobs in batches while slots are
 * free, feeds them to the thread pool, renews every held lease in one call per
 * interval, enforces deadlines, reacts to cancels and decides when the process
 * must end (signal, hard timeout, job or memory limits).
 *
 * The loop is pipelined: a slot is taken by a running handler and freed as
 * soon as its result arrives, while the ack is still on its way; the lease
 * stays held (and renewed) until the ack is done. So the next claim overlaps
 * the previous batch's acks instead of waiting for them. Jobs held at once
 * (running plus acking) are capped at `MAX_HELD_FACTOR` x concurrency, so a
 * slow Redis throttles claims instead of piling up leases. While jobs turn
 * around fast, a claim for part of the slots waits (briefly) for the other
 * running jobs of the batch, so the slots refill with one claim, not two.
 *
 * A handler that ignores its AbortSignal past the grace period cannot be
 * stopped inside this process (a busy Web Worker cannot be terminated), so the
 * runner fails that job, hands the others back without charging an attempt,
 * and `run()` resolves with `EXIT_RECYCLE` for the supervisor to restart us.
 *
 * @module
 */
import { DeadlineTimer } from "../timing/deadline_timer.ts";
import { OutageLog } from "./outage_log.ts";
import type { Broker } from "../queue/broker.ts";
import { type ClaimedJob, DEFAULTS } from "../queue/job.ts";
import type { JobDefinition } from "../jobs/definition.ts";
import type { Logger } from "../log.ts";
import { Acker } from "./acks.ts";
import { sleep } from "../timing/sleep.ts";
import { LIVENESS } from "../queue/liveness.ts";
import { PRESENCE, type WorkerReport } from "../queue/worker_presence.ts";
import { VERSION } from "../version.ts";
import { TimeoutError, withTimeout } from "../timing/timeout.ts";
import type { AbortReason, LogLine, ProgressUpdate, RunRequest, RunResult } from "./messages.ts";
import type { PoolEvents, PoolStats } from "./pool.ts";
import type { AttemptSpan, WorkerTracing } from "../tracing/attempt_spans.ts";
import { decodeTrace, type TraceIds } from "../tracing/trace_context.ts";
import { afterMicrotasks } from "../timing/after_microtasks.ts";

/**
 * Whether a failed attempt of `job` runs again: a retryable error with
 * attempts left (what fail.lua decides; the span says it before the ack).
 */
function willRetry(job: ClaimedJob, retryable: boolean): boolean {
  return retryable && job.attempt < job.max_attempts;
}

/** Exit code asking the supervisor for a fresh process (EX_TEMPFAIL). */
export const EXIT_RECYCLE = 75;
/** Exit code after a fatal error (a thread could not load the registry, ...). */
export const EXIT_CRASH = 1;
/** Leases held at once (running + waiting for their ack), as a multiple of concurrency. */
export const MAX_HELD_FACTOR = 2;
/**
 * Average claim-to-result time (ms) under which jobs count as fast: the loop
 * then lets the rest of a batch come back (at most this long) before claiming,
 * so claims stay whole batches instead of one per thread's share.
 */
export const FAST_TURNAROUND_MS = 2;

/** Closest two due-time maintenance calls of one process (`#armDue`). */
export const MIN_DUE_GAP_MS = 40;

/** Due times further off than this are left to the beats. */
const MAX_DUE_TIMER_MS = 60_000;
/** Weight of the newest result in that average. */
const TURNAROUND_WEIGHT = 0.05;

/** What the runner needs from a thread pool. */
export interface JobPool {
  /** Starts the threads most jobs need before the first claim (optional). */
  warm?(): Promise<void>;
  dispatch(job: RunRequest): void;
  /** Sends dispatched jobs to their threads now instead of at the end of the task. */
  flush(): void;
  abort(ids: string[], reason: AbortReason): void;
  threadmates(id: string): string[];
  stats(): PoolStats;
  close(): void;
}

/** Runner settings. Durations in ms. */
export interface RunnerOptions {
  /** The queue; its `onEvents` (if any) is where this runner's transitions are observed. */
  broker: Broker;
  log: Logger;
  /** Builds the pool, wiring its reports to the runner. */
  pool(events: PoolEvents): JobPool;
  /** The definition of a type, or undefined when unknown (its jobs fail non-retryably). */
  definitionOf(type: string): JobDefinition | undefined;
  /** Most jobs in flight at once. */
  concurrency: number;
  leaseMs?: number;
  /** On SIGTERM: how long running jobs may still finish. */
  drainMs?: number;
  /** After a hard timeout: how long jobs on other threads may still finish before release. */
  hardDrainMs?: number;
  /** After an abort, how long the handler has to return before the process recycles. */
  hardTimeoutGraceMs?: number;
  /** Used when neither the job nor its type sets a timeout. */
  defaultTimeoutMs?: number;
  /** Recycle after this many jobs (0: never). */
  maxJobs?: number;
  /** Recycle above this resident set size in MiB (0: never). */
  maxRssMb?: number;
  /**
   * How often the runner beats (`broker.heartbeat()`, or `broker.maintain()`,
   * which beats too): `LIVENESS.heartbeatMs`; keep it well under
   * `LIVENESS.claimFreshMs`. Maintenance runs at this pace while jobs run
   * anywhere or one is due, else every `idleMaintainMs`.
   */
  maintainIntervalMs?: number;
  /** Maintenance period while nothing runs anywhere and nothing is due soon. */
  idleMaintainMs?: number;
  /** Longest idle wait on Redis. */
  idleWaitMs?: number;
  /**
   * How often the runner's heartbeat also writes this process's record in the
   * worker registry (`broker.beatWorker`, whose reply carries a drain
   * request): `PRESENCE.beatMs`, and `presenceBusyMs` while it holds jobs.
   */
  presenceMs?: number;
  /** `presenceMs` while jobs are held: `PRESENCE.busyBeatMs`. */
  presenceBusyMs?: number;
  /** Attempt spans, when the process traces (`src/tracing/attempt_spans.ts`). */
  tracing?: WorkerTracing;
}

interface Held {
  job: ClaimedJob;
  startedAt: number;
  timeoutMs: number;
  /** Epoch ms at which the job times out (checked by the runner's one deadline timer). */
  deadlineAt: number;
  grace?: ReturnType<typeof setTimeout>;
  aborted: AbortReason | null;
  /** A result arrived (or the job was handed back): its slot is free, the ack is on its way. */
  settled: boolean;
  lost: boolean;
  /** The attempt's span, when the process traces. */
  span?: AttemptSpan;
}

type StopMode = "graceful" | "recycle" | "hard" | "crash";

/** Snapshot for gauges (the shape the metrics module reads). */
export interface RunnerSnapshot {
  threads: number;
  busy_threads: number;
  in_flight: number;
  concurrency: number;
}

/**
 * The runner.
 *
 * @example
 * ```ts
 * const runner = new Runner({ broker, log, pool: (ev) => new ThreadPool({ ...o, events: ev }),
 *   definitionOf: (t) => registry.get(t), concurrency: 50 });
 * Deno.addSignalListener("SIGTERM", () => runner.stop());
 * Deno.exit(await runner.run());
 * ```
 */
export class Runner {
  readonly #o: Required<Omit<RunnerOptions, "pool" | "tracing">>;
  readonly #tracing: WorkerTracing | null;
  readonly #pool: JobPool;
  readonly #acker: Acker;
  /** Every lease this process holds, from claim until acked or released. */
  readonly #held = new Map<string, Held>();
  /** Held jobs not settled yet: the handlers taking a slot. */
  #active = 0;
  /** Moving average of claim-to-result time (ms); starts "slow". */
  #turnaroundMs = FAST_TURNAROUND_MS;
  /** One timer for every held job's deadline, armed for the earliest one. */
  readonly #deadlines = new DeadlineTimer(() => this.#checkDeadlines());
  /** Aborts blocking waits when the runner must stop claiming. */
  readonly #stopClaiming = new AbortController();
  #stopMode: StopMode | null = null;
  #slotWaiters: Array<() => void> = [];
  #claimedTotal = 0;
  #renewTimer?: ReturnType<typeof setInterval>;
  #beatTimer?: ReturnType<typeof setInterval>;
  /** The heartbeat in flight, if any: a slow Redis must not pile them up. */
  #beating: Promise<void> | null = null;
  /** `Date.now()` of the last maintenance call that succeeded or failed. */
  #lastMaintain = -Infinity;
  /** From the last maintenance: some job runs somewhere (a dead owner may need reaping). */
  #leasesHeld = false;
  /** From the last maintenance: the earliest scheduled job or lease expiry. */
  #nextDueAt: number | null = null;
  /** The one-shot timer of the earliest due time known, and that time. */
  #dueTimer?: ReturnType<typeof setTimeout>;
  #dueTimerAt = Infinity;
  /** Trace ids of the jobs dropped in this task (`#keepTraceIds`). */
  readonly #recentTraceIds = new Map<string, TraceIds>();
  /** Redis outages are logged once per streak, not per retry. */
  readonly #outages: OutageLog;
  /** `Date.now()` of the last worker-registry beat sent. */
  #lastPresence = -Infinity;
  /** When a drain was requested through the registry (null: never). */
  #drainRequestedAt: number | null = null;
  readonly #startedAt = Date.now();

  constructor(options: RunnerOptions) {
    this.#o = {
      leaseMs: DEFAULTS.leaseMs,
      drainMs: 30_000,
      hardDrainMs: 2_000,
      hardTimeoutGraceMs: 2_000,
      defaultTimeoutMs: DEFAULTS.timeoutMs,
      maxJobs: 0,
      maxRssMb: 0,
      maintainIntervalMs: LIVENESS.heartbeatMs,
      idleMaintainMs: 5_000,
      // Long: an idle worker's own timer keeps its heartbeat and maintenance
      // going, and work ends the wait at once; each end that finds nothing
      // costs Redis three commands (the idle budget is 2 a second, heartbeats
      // included).
      idleWaitMs: 20_000,
      presenceMs: PRESENCE.beatMs,
      presenceBusyMs: PRESENCE.busyBeatMs,
      // Absent and undefined both mean "use the default".
      ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)),
    } as Required<Omit<RunnerOptions, "pool" | "tracing">>;
    this.#tracing = options.tracing ?? null;
    this.#outages = new OutageLog(this.#o.log);
    this.#pool = options.pool({
      results: (r) => this.#onResults(r),
      progress: (u) => this.#onProgress(u),
      log: (l) => this.#onLog(l),
      spans: (s) => this.#tracing?.exportSpans(s),
      fatal: (error) => {
        this.#o.log.error("thread pool failed", { error });
        this.#stop("crash");
      },
    });
    this.#acker = new Acker({
      broker: options.broker,
      log: options.log,
      typeBackoff: (type) => this.#o.definitionOf(type)?.defaults?.backoff,
      done: (id) => this.#dropLease(id),
      // A deferred job or a retry is due then: promoted at that time (#armDue).
      due: (at) => this.#armDue(at),
    });
  }

  /** Gauges for metrics. */
  snapshot(): RunnerSnapshot {
    const s = this.#pool.stats();
    return {
      threads: s.threads,
      busy_threads: s.busy,
      in_flight: this.#held.size,
      concurrency: this.#o.concurrency,
    };
  }

  /** Starts the pool's common threads; call before `run()` so the first jobs do not wait for them. */
  async warm(timeoutMs = 30_000): Promise<void> {
    try {
      await withTimeout(this.#pool.warm?.() ?? Promise.resolve(), timeoutMs);
    } catch (error) {
      if (!(error instanceof TimeoutError)) throw error;
      // Claiming anyway: jobs then wait for the threads, as they would have without warming.
      this.#o.log.warn("threads not ready yet; claiming anyway", { timeoutMs });
    }
  }

  /** Graceful stop (SIGTERM): no more claims; running jobs get `drainMs` to finish. */
  stop(): void {
    this.#stop("graceful");
  }

  /**
   * Runs until stopped. Resolves with the process exit code: 0 after a
   * graceful stop, `EXIT_RECYCLE` when the process must be replaced,
   * `EXIT_CRASH` after a fatal error. The caller must exit with it: a stuck
   * thread keeps the process alive otherwise.
   */
  async run(): Promise<number> {
    const { broker, leaseMs } = this.#o;
    const unsubscribe = await broker.onCancelRequested((id) => {
      const held = this.#held.get(id);
      if (held) this.#abort(held, "cancel");
    });
    // A job scheduled ahead of every other (a delayed submit, a retry, made
    // anywhere): promoted at its time, not at the next idle beat.
    const unwatchDue = broker.onDue((at) => this.#armDue(at));
    this.#renewTimer = setInterval(() => void this.#renew(), Math.max(100, leaseMs / 3));
    // The first heartbeat before the first claim: a waiting claim is refused
    // to an owner Redis has not heard from.
    await this.#heartbeat();
    this.#beatTimer = setInterval(() => void this.#heartbeat(), this.#o.maintainIntervalMs);
    try {
      await this.#claimLoop();
      await this.#drain();
    } finally {
      unwatchDue();
      clearInterval(this.#renewTimer);
      clearInterval(this.#beatTimer);
      clearTimeout(this.#dueTimer);
      this.#dueTimerAt = -Infinity; // none armed from now on
      await this.#leave();
      this.#deadlines.clear();
      await unsubscribe().catch(() => {});
      this.#pool.close();
    }
    const mode = this.#stopMode;
    return mode === "graceful" ? 0 : mode === "crash" ? EXIT_CRASH : EXIT_RECYCLE;
  }

  #stop(mode: StopMode): void {
    // A signal wins over a recycle (the supervisor is stopping too); a crash wins over both.
    const rank: Record<StopMode, number> = { recycle: 0, hard: 1, graceful: 2, crash: 3 };
    if (this.#stopMode === null || rank[mode] > rank[this.#stopMode]) this.#stopMode = mode;
    if (!this.#stopClaiming.signal.aborted) {
      this.#o.log.info("stopping claims", { reason: mode, in_flight: this.#held.size });
      this.#stopClaiming.abort();
    }
    this.#wakeSlotWaiters();
  }

  /** Slots a claim may fill now: free handler slots, within the cap on held leases. */
  #freeSlots(): number {
    const { concurrency } = this.#o;
    return Math.min(
      concurrency - this.#active,
      concurrency * MAX_HELD_FACTOR - this.#held.size,
    );
  }

  /** How many jobs to claim now (free slots, within the job limit). */
  #claimable(): number {
    const { maxJobs } = this.#o;
    const free = this.#freeSlots();
    return maxJobs > 0 ? Math.min(free, maxJobs - this.#claimedTotal) : free;
  }

  async #claimLoop(): Promise<void> {
    const { broker, leaseMs } = this.#o;
    const signal = this.#stopClaiming.signal;
    // False after a claim that came back short: nothing more was ready when it
    // ran, so the next one waits for a wake instead of asking again at once.
    let moreMayBeReady = true;
    while (this.#stopMode === null) {
      let free = this.#claimable();
      if (free > 0 && this.#active >= free && this.#turnaroundMs < FAST_TURNAROUND_MS) {
        // Fast jobs, and at least as many still running as there are free
        // slots: the rest of the batch is about to come back. Refill with it.
        await this.#waitForSlot(Date.now() + FAST_TURNAROUND_MS);
        free = this.#claimable();
      }
      if (this.#stopMode !== null) break;
      if (free <= 0) {
        // Full: wake on a free slot (or look again in a while).
        await this.#waitForSlot(Date.now() + this.#o.maintainIntervalMs);
        continue;
      }
      // Waiting needs no deadline of its own: maintenance runs on its timer, and
      // what it makes ready (a due job, a reaped lease) wakes the wait.
      const waitMs = moreMayBeReady ? 0 : this.#o.idleWaitMs;
      let jobs: ClaimedJob[];
      try {
        jobs = await broker.claim(free, { leaseMs, waitMs, signal, onlyWoken: true });
        this.#outages.ok("claim");
      } catch (error) {
        if (this.#stopMode !== null) break;
        this.#outages.failed("claim", error);
        // A real pause: freed slots do not end it (a stop does).
        await sleep(1_000, signal);
        continue;
      }
      if (!this.#begin(jobs)) break;
      moreMayBeReady = jobs.length === free;
    }
  }

  /**
   * Runs a claimed batch. False once the job limit is reached: the process
   * then recycles and claims no more.
   */
  #begin(jobs: ClaimedJob[]): boolean {
    this.#claimedTotal += jobs.length;
    for (const job of jobs) this.#start(job);
    // The claim is the batch: send it now.
    this.#pool.flush();
    const { maxJobs } = this.#o;
    if (maxJobs > 0 && this.#claimedTotal >= maxJobs) {
      this.#o.log.info("job limit reached", { max_jobs: maxJobs });
      this.#stop("recycle");
      return false;
    }
    return true;
  }

  /**
   * Once a second: this process's heartbeat (see `liveness.ts`). While jobs
   * run anywhere (a dead owner's leases must come back fast), while one is
   * due, and every `idleMaintainMs` otherwise, the beat is a maintenance call
   * (promotions, reaping, retention), which beats too; else a bare heartbeat,
   * one command. Then the memory limit.
   */
  #heartbeat(): Promise<void> {
    this.#beating ??= (async () => {
      const now = Date.now();
      const busy = this.#held.size > 0 || this.#leasesHeld;
      const due = (this.#nextDueAt !== null && this.#nextDueAt <= now) ||
        now - this.#lastMaintain >= (busy ? this.#o.maintainIntervalMs : this.#o.idleMaintainMs) -
            50;
      try {
        if (due) {
          this.#lastMaintain = now;
          const result = await this.#o.broker.maintain({ onlyDue: true });
          this.#leasesHeld = result.running;
          this.#nextDueAt = result.next_due_at;
          if (result.next_due_at !== null) this.#armDue(result.next_due_at);
          this.#outages.ok("maintenance");
        } else {
          await this.#o.broker.heartbeat();
          this.#outages.ok("heartbeat");
        }
      } catch (error) {
        this.#outages.failed(due ? "maintenance" : "heartbeat", error);
      }
      // Every few beats (idle: 0.125 commands a second): the registry's record.
      const presenceMs = this.#held.size > 0 ? this.#o.presenceBusyMs : this.#o.presenceMs;
      if (now - this.#lastPresence >= presenceMs - 50) await this.#presence(now);
      const { maxRssMb } = this.#o;
      if (maxRssMb > 0) {
        const rss = Deno.memoryUsage().rss;
        if (rss > maxRssMb * 1024 * 1024) {
          this.#o.log.warn("memory limit reached", {
            rss_mb: Math.round(rss / 1048576),
            max_rss_mb: maxRssMb,
          });
          this.#stop("recycle");
        }
      }
    })().finally(() => (this.#beating = null));
    return this.#beating;
  }

  /**
   * Writes this process's record in the worker registry; a drain request in
   * the reply stops claims as SIGTERM would (running jobs finish, exit 0).
   */
  async #presence(now: number): Promise<void> {
    this.#lastPresence = now;
    const s = this.snapshot();
    const report: WorkerReport = {
      host: hostname(),
      pid: Deno.pid,
      concurrency: s.concurrency,
      threads: s.threads,
      in_flight: s.in_flight,
      rss_bytes: Deno.memoryUsage().rss,
      started_at: this.#startedAt,
      version: VERSION,
      draining: this.#stopMode !== null,
      drain_requested_at: this.#drainRequestedAt,
    };
    let requested: number | null;
    try {
      requested = await this.#o.broker.beatWorker(report);
      this.#outages.ok("worker registry");
    } catch (error) {
      this.#outages.failed("worker registry", error);
      return;
    }
    if (requested === null || this.#drainRequestedAt !== null) return;
    this.#drainRequestedAt = requested;
    this.#o.log.info("drain requested through the worker registry", {
      requested_at: new Date(requested).toISOString(),
      in_flight: this.#held.size,
    });
    this.#stop("graceful");
    // The record says so at once, not a beat later.
    this.#lastPresence = -Infinity;
  }

  /**
   * Runs maintenance at `at` (a delayed job's or a retry's due time, a lease's
   * expiry), so it becomes runnable then, not at the next beat up to a second
   * (or, idle, `idleMaintainMs`) later. One timer, for the earliest time
   * known; timers at least `MIN_DUE_GAP_MS` apart, so a stream of distinct
   * due times costs at most one maintenance call per gap. Promotion is one
   * atomic script: any number of processes may run it at once.
   */
  #armDue(at: number): void {
    if (this.#nextDueAt === null || at < this.#nextDueAt) this.#nextDueAt = at;
    const fireAt = Math.max(at, this.#lastMaintain + MIN_DUE_GAP_MS);
    if (fireAt >= this.#dueTimerAt || this.#stopMode !== null) return;
    // Far off: the beats get there (and a timer would hold the event loop for nothing).
    if (fireAt - Date.now() > MAX_DUE_TIMER_MS) return;
    clearTimeout(this.#dueTimer);
    this.#dueTimerAt = fireAt;
    this.#dueTimer = setTimeout(() => {
      this.#dueTimerAt = Infinity;
      // After a beat in flight (it may be a bare heartbeat): then one that maintains.
      void (async () => {
        await this.#beating;
        await this.#heartbeat();
      })();
    }, Math.max(0, fireAt - Date.now()));
  }

  /**
   * After the drain: this owner is gone. Anything still held (nothing, after
   * a drain that released what was left) is taken back, and the queue forgets
   * the owner instead of judging it dead later.
   */
  async #leave(): Promise<void> {
    await this.#beating;
    const { broker } = this.#o;
    try {
      await broker.reapOwner(broker.owner, "worker stopped");
    } catch (error) {
      this.#o.log.debug("leaving the queue failed; the owner entry expires", { error });
    }
  }

  #wakeSlotWaiters(): void {
    const waiters = this.#slotWaiters;
    this.#slotWaiters = [];
    for (const w of waiters) w();
  }

  #start(job: ClaimedJob): void {
    const definition = this.#o.definitionOf(job.type);
    const timeoutMs = job.timeout_ms > 0
      ? job.timeout_ms
      : definition?.defaults?.timeout_ms ?? this.#o.defaultTimeoutMs;
    const now = Date.now();
    const held: Held = {
      job,
      startedAt: now,
      timeoutMs,
      deadlineAt: now + timeoutMs,
      aborted: null,
      settled: false,
      lost: false,
    };
    this.#held.set(job.id, held);
    this.#active++;
    this.#deadlines.arm(held.deadlineAt);
    const request: RunRequest = {
      id: job.id,
      type: job.type,
      payload_json: job.payload_json,
      attempt: job.attempt,
      max_attempts: job.max_attempts,
    };
    // Tracing off: one check per job, nothing else.
    if (this.#tracing !== null) {
      held.span = this.#tracing.start(job);
      request.trace = held.span.trace;
    }
    if (job.dependency_count === 0) {
      this.#pool.dispatch(request);
      return;
    }
    // A job of a flow reads its dependencies' outcomes first (one read on its own slot).
    this.#o.broker.dependencies(job.id).then((deps) => {
      this.#pool.dispatch({ ...request, dependencies_json: JSON.stringify(deps ?? []) });
      this.#pool.flush();
    }, (error) => {
      this.#o.log.warn("reading a job's dependencies failed", { job_id: job.id, error });
      this.#pool.dispatch({ ...request, dependencies_json: "!" });
      this.#pool.flush();
    });
  }

  /** Times out every job whose deadline passed; the timer is re-armed for the earliest left. */
  #checkDeadlines(): void {
    const now = Date.now();
    let next = Infinity;
    for (const held of this.#held.values()) {
      if (held.settled || held.aborted !== null) continue;
      if (held.deadlineAt <= now) this.#abort(held, "timeout");
      else if (held.deadlineAt < next) next = held.deadlineAt;
    }
    if (next !== Infinity) this.#deadlines.arm(next);
  }

  /** Fires a job's AbortSignal; past the grace period a handler still running forces a recycle. */
  #abort(held: Held, reason: AbortReason): void {
    if (held.settled || held.aborted !== null) return;
    held.aborted = reason;
    this.#pool.abort([held.job.id], reason);
    if (reason === "shutdown") return; // the drain decides what happens next
    if (reason === "timeout") {
      this.#o.log.warn("job timed out; aborting", {
        job_id: held.job.id,
        timeout_ms: held.timeoutMs,
      });
    }
    held.grace = setTimeout(() => this.#hardStop(held), this.#o.hardTimeoutGraceMs);
  }

  /** The handler ignored its abort: fail it, free its thread's other jobs, and recycle. */
  #hardStop(held: Held): void {
    if (held.settled || !this.#held.has(held.job.id)) return;
    const { job } = held;
    this.#o.log.error("handler did not stop after abort; recycling the process", {
      job_id: job.id,
      type: job.type,
      reason: held.aborted,
      grace_ms: this.#o.hardTimeoutGraceMs,
    });
    // Jobs on the same thread can never finish now: hand them back at once.
    const mates = this.#pool.threadmates(job.id)
      .filter((id) => id !== job.id)
      .map((id) => this.#held.get(id))
      .filter((h): h is Held => h !== undefined && !h.settled);
    this.#settle(held);
    if (held.lost) {
      held.span?.end("lease_lost");
      this.#dropLease(job.id);
    } else if (held.aborted === "cancel") {
      held.span?.end("cancelled");
      this.#acker.fail(job, { message: "cancelled", retryable: false });
    } else {
      const message =
        `timed out after ${held.timeoutMs} ms (hard: the handler ignored its abort signal)`;
      held.span?.end("timed_out", message, { "job.will_retry": willRetry(job, true) });
      this.#acker.fail(job, { message, retryable: true, timedOut: "hard" });
    }
    void this.#giveBack(mates.filter((h) => !h.lost), "a co-running job's hard timeout");
    for (const mate of mates.filter((h) => h.lost)) {
      mate.span?.end("lease_lost");
      this.#dropLease(mate.job.id);
    }
    this.#stop("hard");
  }

  /** Releases leases without charging an attempt: these jobs never got a fair run. */
  async #giveBack(list: Held[], why: string): Promise<void> {
    if (list.length === 0) return;
    for (const h of list) {
      this.#settle(h);
      h.span?.end("released", undefined, { "job.will_retry": true });
    }
    try {
      // Each job's `released` event (with `why`) is logged by the log observer.
      await this.#o.broker.release(list.map((h) => ({ id: h.job.id, token: h.job.token })), {
        restoreAttempt: true,
        reason: why,
      });
    } catch (error) {
      this.#o.log.error("release failed; leases will expire", { error, count: list.length, why });
    }
    for (const h of list) this.#dropLease(h.job.id);
  }

  /** The handler is done (or given up on): frees its slot; the lease stays held until acked. */
  #settle(held: Held): void {
    if (held.settled) return;
    held.settled = true;
    this.#active--;
    clearTimeout(held.grace);
    this.#wakeSlotWaiters();
  }

  /**
   * Forgets a job's lease in this process once it is acked, released or given
   * up (in Redis nothing changes here; `broker.release` is what gives a lease back).
   */
  #dropLease(id: string): void {
    const held = this.#held.get(id);
    if (!held) return;
    this.#settle(held);
    // Every path ends its span first; one that did not is an attempt handed back.
    held.span?.end("released");
    this.#held.delete(id);
    this.#keepTraceIds(held);
    this.#wakeSlotWaiters();
  }

  #onResults(results: RunResult[]): void {
    const now = Date.now();
    for (const r of results) {
      const held = this.#held.get(r.id);
      if (!held || held.settled) continue; // already failed hard or released
      this.#turnaroundMs += (now - held.startedAt - this.#turnaroundMs) * TURNAROUND_WEIGHT;
      this.#settle(held);
      const { job } = held;
      if (held.lost) {
        held.span?.end("lease_lost");
        this.#dropLease(job.id);
      } else if (held.aborted === "timeout") {
        const message = `timed out after ${held.timeoutMs} ms`;
        held.span?.end("timed_out", message, { "job.will_retry": willRetry(job, true) });
        this.#acker.fail(job, { message, retryable: true, timedOut: "soft" });
      } else if (r.ok) {
        held.span?.end("completed");
        this.#acker.complete(job, r.result_json);
      } else if (held.aborted === "cancel") {
        held.span?.end("cancelled");
        this.#acker.fail(job, { message: "cancelled", retryable: false });
      } else if (r.rate_limited) {
        held.span?.end("deferred");
        this.#acker.defer(job, r.rate_limited);
      } else {
        held.span?.end(willRetry(job, r.retryable) ? "retried" : "failed", r.error);
        this.#acker.fail(job, { message: r.error, retryable: r.retryable });
      }
    }
  }

  #onProgress(updates: ProgressUpdate[]): void {
    for (const { id, percent } of updates) {
      const held = this.#held.get(id);
      if (!held || held.settled || held.lost) continue;
      const { job } = held;
      this.#o.broker.progress(id, job.token, percent).catch((error) => {
        this.#o.log.debug("progress update failed", { job_id: id, error });
      });
    }
  }

  #onLog(lines: LogLine[]): void {
    for (const line of lines) {
      const job = this.#held.get(line.id)?.job;
      const ids = line.id ? this.traceOf(line.id) : null;
      this.#o.log[line.level](line.message, {
        ...line.fields,
        job_id: line.id || undefined,
        type: job?.type,
        attempt: job?.attempt,
        ...(ids ? { trace_id: ids.trace_id, span_id: ids.span_id } : {}),
      });
    }
  }

  /**
   * The trace ids a held job's log lines carry: its attempt span's when the
   * process traces, else the submit span's it stored; null for a job not
   * held here or without trace context.
   */
  traceOf(id: string): TraceIds | null {
    const held = this.#held.get(id);
    if (!held) return this.#recentTraceIds.get(id) ?? null;
    return held.span?.ids ?? (held.job.trace ? decodeTrace(held.job.trace) : null);
  }

  /**
   * Keeps a dropped job's trace ids until the end of this task: the broker
   * hands the events of its last ack to observers then (after the ack's
   * caller has dropped the lease), and their log lines carry them.
   */
  #keepTraceIds(held: Held): void {
    if (held.span === undefined && !held.job.trace) return;
    const ids = held.span?.ids ?? decodeTrace(held.job.trace);
    if (ids === null) return;
    if (this.#recentTraceIds.size === 0) afterMicrotasks(() => this.#recentTraceIds.clear());
    this.#recentTraceIds.set(held.job.id, ids);
  }

  /** One `renew` for every lease this process holds. */
  async #renew(): Promise<void> {
    const list = [...this.#held.values()].filter((h) => !h.lost);
    if (list.length === 0) return;
    let statuses;
    try {
      statuses = await this.#o.broker.renew(
        list.map((h) => ({ id: h.job.id, token: h.job.token })),
        this.#o.leaseMs,
      );
      this.#outages.ok("lease renewal");
    } catch (error) {
      this.#outages.failed("lease renewal", error, { leases: list.length });
      return;
    }
    statuses.forEach((status, i) => {
      const held = list[i];
      if (status === "cancel_requested") this.#abort(held, "cancel");
      else if (status === "lost" && !held.settled) {
        held.lost = true;
        this.#o.log.warn("lease lost; aborting job", { job_id: held.job.id });
        this.#abort(held, "lease_lost");
      }
    });
  }

  /** After claims stop: let running jobs finish within the window, then hand the rest back. */
  async #drain(): Promise<void> {
    const mode = this.#stopMode;
    const window = mode === "hard" ? this.#o.hardDrainMs : mode === "crash" ? 0 : this.#o.drainMs;
    const deadline = Date.now() + window;
    while (this.#held.size > 0 && Date.now() < deadline) {
      await this.#waitForSlot(deadline);
    }
    const rest = [...this.#held.values()].filter((h) => !h.settled);
    if (rest.length > 0) {
      this.#pool.abort(rest.map((h) => h.job.id), "shutdown");
      await this.#giveBack(rest.filter((h) => !h.lost), "drain deadline passed");
      for (const h of rest) this.#dropLease(h.job.id);
    }
    await this.#acker.idle();
  }

  /** Waits for a slot to free up or `deadline`, whichever is first. */
  #waitForSlot(deadline: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, Math.max(0, deadline - Date.now()));
      this.#slotWaiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}

/** This machine's name, or "unknown" without the permission to read it. */
function hostname(): string {
  try {
    return Deno.hostname();
  } catch {
    return "unknown";
  }
}
