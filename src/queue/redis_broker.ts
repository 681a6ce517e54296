/**
 * The Redis implementation of `Broker`. Every state change is one Lua script
 * (see `scripts.ts`); this class validates inputs, picks connections, and turns
 * replies into the shapes of `job.ts`.
 *
 * @module
 */
import type { Broker, ClaimOptions, ReleaseOptions } from "./broker.ts";
import { BlockingPool } from "./blocking.ts";
import { decodeJob } from "./record.ts";
import { connect, duplicate, type RedisClient, toQueueError, whenReady } from "./connect.ts";
import {
  InvalidInputError,
  LeaseLostError,
  PayloadTooLargeError,
  StorageFormatError,
} from "./errors.ts";
import {
  type CancelOutcome,
  type ClaimedJob,
  type Completion,
  DEFAULTS,
  type EnqueueInput,
  type EnqueueResult,
  type FailInput,
  type FailOutcome,
  FINISHED_STATES,
  type Job,
  JOB_STATES,
  type JobPage,
  type Lease,
  LIMITS,
  type ListQuery,
  type MaintenanceResult,
  type RenewStatus,
  type StateCounts,
  type Stats,
} from "./job.ts";
import type { LifecycleEvent, StoredEvent } from "../events/lifecycle.ts";
import { afterMicrotasks } from "../timing/after_microtasks.ts";
import { type QueueKeys, queueKeys } from "./keys.ts";
import { JobListing } from "./job_listing.ts";
import { ENQUEUE_CHUNK, QueueScripts, SCRIPT_COMMANDS, type ScriptConfig } from "./scripts.ts";
import { parseStream } from "./stream_events.ts";
import { WorkWaiter } from "./work_waiter.ts";
import { isOwnerId, LIVENESS, newOwnerId } from "./liveness.ts";
import { encodeBatch, type EncodedJob, encodeJob, isUuid, oversizeBytes } from "./validate.ts";

/** Options of a `RedisBroker`. Give `url` or an existing `client`. */
export interface RedisBrokerOptions {
  /** `redis://host:port` or `redis-cluster://h:p,h:p`. */
  url?: string;
  /** An existing client; the broker then does not quit it on close. */
  client?: RedisClient;
  queue?: string;
  prefix?: string;
  /** How long finished jobs (and results) are kept. Default 24 h. */
  retentionMs?: number;
  /** Approximate cap of the events stream; 0 disables events. Default 10 000. */
  eventsMaxLen?: number;
  /** Time source (epoch ms); tests inject a fake clock. */
  clock?: () => number;
  /** Per-command deadline for `url` connections. Default 3000 ms. */
  commandTimeoutMs?: number;
  /** Jobs per step of one `maintain` call. Default 1000. */
  maintainBatch?: number;
  /**
   * Receives the lifecycle events of this broker's own calls (the same events
   * the scripts write to the stream), in order, after the call that caused
   * them has resolved: the process's observers (logs, worker metrics).
   */
  onEvents?: (events: LifecycleEvent[]) => void;
  /**
   * This process's lease-owner id (`liveness.ts`); default a fresh one. A
   * supervised worker gets it from its supervisor, which reaps its leases
   * when it dies.
   */
  owner?: string;
}

/**
 * The storage format this version reads and writes (records, lists, stream
 * entries). Bump it with any incompatible change, together with a migration:
 * a broker refuses a queue whose meta key names another format.
 */
export const STORAGE_FORMAT = "1";

/** Longest error message kept per attempt: the record must stay small. */
const MAX_ERROR_CHARS = 4096;
/** Finished records also get a TTL this far past retention, in case maintain never runs. */
const EXPIRY_SLACK_MS = 60 * 60 * 1000;

function emptyCounts(): StateCounts {
  return { pending: 0, scheduled: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0 };
}

function jsonText(value: unknown, field: string): string {
  try {
    return JSON.stringify(value === undefined ? null : value) ?? "null";
  } catch (error) {
    throw new InvalidInputError(`${field} is not JSON-serializable: ${String(error)}`, field);
  }
}

/** `text`, or PayloadTooLargeError over the result limit (then the whole call writes nothing). */
function resultText(text: string): string {
  const bytes = oversizeBytes(text, LIMITS.maxResultBytes);
  if (bytes > 0) throw new PayloadTooLargeError(bytes, LIMITS.maxResultBytes, "result");
  return text;
}

/**
 * A `Broker` backed by Redis (standalone or Cluster).
 *
 * @example
 * ```ts
 * const broker = new RedisBroker({ url: "redis://127.0.0.1:6379", queue: "default" });
 * const { id } = await broker.enqueue({ type: "email", payload: { to: "a@b.c" } });
 * await broker.close();
 * ```
 */
export class RedisBroker implements Broker {
  readonly queue: string;
  readonly owner: string;
  /** Claims made so far: with the owner, it makes every lease token unique. */
  #claims = 0;
  /** `performance.now()` of the last heartbeat Redis recorded (`heartbeat` or `maintain`). */
  #lastBeatAt = -Infinity;
  /** Broker-clock ms the last recorded heartbeat was sent at. */
  #lastBeatSentAt = -Infinity;
  /** Since when (broker-clock ms) this owner's heartbeats have reached Redis without a gap. */
  #streakFrom = -Infinity;
  readonly keys: QueueKeys;
  readonly #client: RedisClient;
  readonly #ownsClient: boolean;
  readonly #clock: () => number;
  readonly #retentionMs: number;
  readonly #eventsMaxLen: number;
  readonly #maintainBatch: number;
  readonly #scripts: Promise<QueueScripts>;
  readonly #scriptConfig: ScriptConfig;
  readonly #commandTimeoutMs: number | undefined;
  #formatChecked: Promise<void> | null = null;
  /** The ack lane (see `#acks`), opened on the first ack. */
  #ackLane: { client: RedisClient; scripts: Promise<QueueScripts> } | null = null;
  readonly #blocking: BlockingPool;
  readonly #waiter: WorkWaiter;
  #subscriber: RedisClient | null = null;
  /** Epoch ms before which no finished job can be past retention (see maintain). */
  #nextTrimAt = 0;
  #cancelListeners = new Set<(jobId: string) => void>();
  /** Single enqueues waiting for the next shared script call (see `enqueue`). */
  #enqueueQueue: PendingEnqueue[] = [];
  readonly #listing: JobListing;
  /** Events waiting for `onEvents` (see `#report`). */
  #reported: LifecycleEvent[] = [];

  constructor(options: RedisBrokerOptions) {
    this.queue = options.queue ?? "default";
    this.owner = options.owner ?? newOwnerId();
    if (!isOwnerId(this.owner)) {
      throw new Error(`invalid owner id: ${JSON.stringify(this.owner)}`);
    }
    this.keys = queueKeys(this.queue, options.prefix ?? "jq");
    this.#listing = new JobListing(this.keys, (run) => this.#cmd(run));
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else if (options.url) {
      this.#client = connect(options.url, {
        commandTimeoutMs: options.commandTimeoutMs,
        connectionName: `jq:${this.queue}`,
        notAutoPipelined: SCRIPT_COMMANDS,
      });
      this.#ownsClient = true;
    } else {
      throw new Error("RedisBroker needs a url or a client");
    }
    this.#clock = options.clock ?? Date.now;
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#retentionMs = options.retentionMs ?? DEFAULTS.retentionMs;
    this.#eventsMaxLen = options.eventsMaxLen ?? 10_000;
    this.#maintainBatch = options.maintainBatch ?? 1000;
    this.#scriptConfig = {
      retentionMs: this.#retentionMs,
      finishedTtlMs: this.#retentionMs + EXPIRY_SLACK_MS,
      eventsMaxLen: this.#eventsMaxLen,
      errorHistory: LIMITS.errorHistory,
      onEvents: options.onEvents && ((events) => this.#report(events, options.onEvents!)),
    };
    this.#scripts = QueueScripts.create(this.#client, this.keys, this.#scriptConfig);
    // Surfaced on first use; avoid an unhandled rejection in between.
    this.#scripts.catch(() => {});
    this.#blocking = new BlockingPool(this.#client, `jq:${this.queue}:block`);
    this.#waiter = new WorkWaiter({
      keys: this.keys,
      blocking: this.#blocking,
      scriptConfig: this.#scriptConfig,
      clock: this.#clock,
      tokenBase: () => this.#tokenBase(),
      owner: this.owner,
      lastBeatAt: () => this.#lastBeatAt,
      beat: () => this.heartbeat(),
      checkFormat: () => this.#checkFormat(),
      run: (command) => this.#raw(command),
      release: (leases) => this.release(leases, { restoreAttempt: true, reason: "wait abandoned" }),
    });
  }

  /**
   * Queues events for `onEvents`, delivered once the current task and its
   * microtasks are done: after the caller has acted on the reply (a claim's
   * jobs are dispatched before their `started` events are observed), in the
   * order the calls resolved.
   */
  #report(events: LifecycleEvent[], onEvents: (events: LifecycleEvent[]) => void): void {
    if (this.#reported.length === 0) {
      afterMicrotasks(() => {
        const batch = this.#reported;
        this.#reported = [];
        try {
          onEvents(batch);
        } catch {
          // An observer's failure is the observer's (EventBus isolates them).
        }
      });
    }
    for (const event of events) this.#reported.push(event);
  }

  /**
   * Scripts on a second connection, for acks (complete, fail). Redis writes
   * a client's replies only after running every command it read from it, so
   * on a shared connection a claim pipelined next to a batch of acks would
   * wait for the acks' script too: the worker would sit idle while Redis
   * acks, then Redis would sit idle while the worker runs. On its own
   * connection the claim's reply leaves first and the acks run in Redis while
   * the worker already runs the claimed jobs (measured: claim replies ~2x
   * sooner at concurrency 50). Ordering is unaffected: a job is acked only
   * after its claim's reply arrived.
   */
  async #acks(): Promise<QueueScripts> {
    await this.#checkFormat();
    if (!this.#ackLane) {
      const client = duplicate(this.#client, {
        commandTimeoutMs: this.#commandTimeoutMs,
        connectionName: `jq:${this.queue}:ack`,
        notAutoPipelined: SCRIPT_COMMANDS,
      });
      const scripts = QueueScripts.create(client, this.keys, this.#scriptConfig);
      scripts.catch(() => {});
      this.#ackLane = { client, scripts };
    }
    return this.#ackLane.scripts;
  }

  /** Runs a plain Redis command, mapping connection failures to QueueUnavailableError. */
  async #cmd<T>(run: (client: RedisClient) => Promise<T>): Promise<T> {
    await this.#checkFormat();
    return await this.#raw(run);
  }

  /** `#cmd` without the storage-format check. */
  async #raw<T>(run: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      // No offline queue (connect.ts): wait out a (re)connection first.
      if (this.#client.status !== "ready") await whenReady(this.#client);
      return await run(this.#client);
    } catch (error) {
      throw toQueueError(error);
    }
  }

  /** The scripts, once the queue's storage format is known to be ours. */
  async #ours(): Promise<QueueScripts> {
    await this.#checkFormat();
    return await this.#scripts;
  }

  /**
   * Claims the queue for this storage format on first use (the meta key's
   * `format`), or finds it written by another one: then every call fails with
   * StorageFormatError rather than misread records. Checked once per broker;
   * a connection failure is not an answer, so the next call checks again.
   */
  #checkFormat(): Promise<void> {
    this.#formatChecked ??= (async () => {
      const meta = this.keys.meta;
      const found = await this.#raw(async (c) => {
        await c.hsetnx(meta, "format", STORAGE_FORMAT);
        return await c.hget(meta, "format");
      });
      if (found !== STORAGE_FORMAT) {
        throw new StorageFormatError(this.queue, String(found), STORAGE_FORMAT);
      }
    })().catch((error) => {
      if (!(error instanceof StorageFormatError)) this.#formatChecked = null;
      throw error;
    });
    return this.#formatChecked;
  }

  /**
   * Validates at once, then joins the other enqueues issued in the same
   * microtask turn: concurrent producers share one script call (one round
   * trip, one Lua entry) instead of paying one each. Each job still succeeds
   * or fails on its own (a taken caller-chosen id refuses only that job).
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    let job: EncodedJob;
    try {
      job = encodeJob(input, this.#clock());
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise((resolve, reject) => {
      this.#enqueueQueue.push({ job, resolve, reject });
      if (this.#enqueueQueue.length === 1) queueMicrotask(() => this.#flushEnqueues());
    });
  }

  #flushEnqueues(): void {
    const queued = this.#enqueueQueue;
    this.#enqueueQueue = [];
    for (let i = 0; i < queued.length; i += ENQUEUE_CHUNK) {
      this.#sendEnqueues(queued.slice(i, i + ENQUEUE_CHUNK));
    }
  }

  async #sendEnqueues(items: PendingEnqueue[]): Promise<void> {
    try {
      const scripts = await this.#ours();
      const out = await scripts.enqueueEach(items.map((item) => item.job), this.#clock());
      items.forEach((item, i) => {
        const r = out[i];
        if (!r) item.reject(new Error("enqueue: missing reply"));
        else if ("exists" in r) {
          item.reject(new InvalidInputError(`a job with id ${r.id} already exists`, "id"));
        } else item.resolve(r);
      });
    } catch (error) {
      for (const item of items) item.reject(error);
    }
  }

  async enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueResult[]> {
    const now = this.#clock();
    const jobs = encodeBatch(inputs, now);
    return await (await this.#ours()).enqueueMany(jobs, now);
  }

  async claim(max: number, options: ClaimOptions = {}): Promise<ClaimedJob[]> {
    const n = Math.floor(max);
    if (!(n >= 1)) return [];
    const leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
    const waitMs = options.waitMs ?? 0;
    if (waitMs > 0) return await this.#waiter.claim(n, leaseMs, waitMs, options.signal);
    return (await (await this.#ours()).claim(n, this.#clock(), leaseMs, this.#tokenBase())).jobs;
  }

  async complete(id: string, token: string, result: unknown): Promise<void> {
    const [ok] = await (await this.#acks()).completeMany(
      [{ id, token, resultJson: resultText(jsonText(result, "result")) }],
      this.#clock(),
    );
    if (!ok) throw new LeaseLostError(id);
  }

  async completeMany(acks: Completion[]): Promise<boolean[]> {
    const encoded = acks.map((a) => ({
      id: a.id,
      token: a.token,
      resultJson: resultText(
        "result_json" in a ? String(a.result_json) : jsonText(a.result, "result"),
      ),
    }));
    return await (await this.#acks()).completeMany(encoded, this.#clock());
  }

  async fail(id: string, token: string, failure: FailInput): Promise<FailOutcome> {
    const delay = Math.max(0, Math.round(Number(failure.retry_delay_ms) || 0));
    const message = String(failure.message ?? "").slice(0, MAX_ERROR_CHARS);
    const outcome = await (await this.#acks()).fail(id, token, this.#clock(), {
      message,
      retryable: failure.retryable,
      retryDelayMs: delay,
      timedOut: failure.timed_out,
    });
    if (outcome === null) throw new LeaseLostError(id);
    return outcome;
  }

  async renew(leases: Lease[], leaseMs: number): Promise<RenewStatus[]> {
    return await (await this.#ours()).renew(leases, leaseMs, this.#clock());
  }

  async release(leases: Lease[], options: ReleaseOptions = {}): Promise<boolean[]> {
    return await (await this.#ours()).release(
      leases,
      this.#clock(),
      options.restoreAttempt ?? true,
      (options.reason ?? "released").slice(0, MAX_ERROR_CHARS),
    );
  }

  async progress(id: string, token: string, percent: number): Promise<boolean> {
    if (typeof percent !== "number" || !Number.isFinite(percent)) {
      throw new InvalidInputError("percent must be a number", "percent");
    }
    const clamped = Math.min(100, Math.max(0, percent));
    return await (await this.#ours()).progress(id, token, clamped, this.#clock());
  }

  /** A token base no other claim of this or any owner uses: "<owner>.<claim number>". */
  #tokenBase(): string {
    return `${this.owner}.${(this.#claims++).toString(36)}`;
  }

  async maintain(): Promise<MaintenanceResult> {
    const now = this.#clock();
    // Finished sets only grow at the new end, so nothing can pass retention before
    // the oldest member does: skip the trim step until then (idle cost). Another
    // process trimming meanwhile only makes our estimate early, never late.
    const trim = now >= this.#nextTrimAt;
    const sent = performance.now();
    const r = await (await this.#ours()).maintain(now, this.#maintainBatch, trim, {
      owner: this.owner,
      streakFrom: this.#streakAt(now),
      deadAfterMs: LIVENESS.deadAfterMs,
    });
    this.#beatRecorded(now, sent);
    if (trim) {
      this.#nextTrimAt = r.trimmed >= this.#maintainBatch
        ? now // more left than one batch: keep trimming on the next call
        : r.oldestFinishedAt === null
        ? now + Math.min(this.#retentionMs, 60_000)
        : r.oldestFinishedAt + this.#retentionMs;
    }
    return {
      promoted: r.promoted,
      reaped: r.reaped,
      recovered: r.recovered,
      next_due_at: r.nextDueAt,
      running: r.running,
    };
  }

  async heartbeat(): Promise<void> {
    const now = this.#clock();
    const sent = performance.now();
    await this.#cmd((c) => c.zadd(this.keys.owners, now, this.owner));
    this.#beatRecorded(now, sent);
  }

  /** What the streak's start is for a heartbeat sent at `now`: a gap starts a new one. */
  #streakAt(now: number): number {
    return now - this.#lastBeatSentAt > LIVENESS.streakGapMs ? now : this.#streakFrom;
  }

  /** A heartbeat sent at `now` (broker clock; `sent`, performance.now()) reached Redis. */
  #beatRecorded(now: number, sent: number): void {
    this.#streakFrom = this.#streakAt(now);
    this.#lastBeatSentAt = Math.max(this.#lastBeatSentAt, now);
    this.#lastBeatAt = Math.max(this.#lastBeatAt, sent);
  }

  async reapOwner(owner: string, reason: string): Promise<number> {
    if (!isOwnerId(owner)) throw new InvalidInputError("invalid owner id", "owner");
    return await (await this.#ours()).reapOwner(
      owner,
      reason.slice(0, MAX_ERROR_CHARS),
      this.#clock(),
    );
  }

  async cancel(id: string): Promise<CancelOutcome> {
    return await (await this.#ours()).cancel(id.toLowerCase(), this.#clock());
  }

  async requeue(id: string): Promise<void> {
    await (await this.#ours()).requeue(id.toLowerCase(), this.#clock());
  }

  async purge(state: "failed" | "completed" | "cancelled"): Promise<number> {
    if (!FINISHED_STATES.includes(state)) {
      throw new InvalidInputError("only finished states can be purged", "state");
    }
    const scripts = await this.#ours();
    let total = 0;
    // Bounded batches keep each script call short; other clients run in between.
    for (;;) {
      const n = await scripts.purge(state, 1000);
      total += n;
      if (n < 1000) return total;
    }
  }

  async get(id: string): Promise<Job | null> {
    if (!isUuid(id)) return null;
    const key = id.toLowerCase();
    const record = await this.#cmd((c) => c.getBuffer(this.keys.jobPrefix + key));
    return decodeJob(key, record);
  }

  list(query: ListQuery): Promise<JobPage> {
    return this.#listing.list(query);
  }

  async stats(): Promise<Stats> {
    const raw = await this.#cmd((c) => c.hgetall(this.keys.stats));
    const stats: Stats = { ...emptyCounts(), retried: Number(raw.retried ?? 0), by_type: {} };
    for (const [field, value] of Object.entries(raw)) {
      const bar = field.indexOf("|");
      const state = (bar < 0 ? field : field.slice(0, bar)) as keyof StateCounts;
      if (!JOB_STATES.includes(state as typeof JOB_STATES[number])) continue;
      const n = Number(value) || 0;
      if (bar < 0) {
        stats[state] = n;
      } else {
        const type = field.slice(bar + 1);
        const counts = stats.by_type[type] ??= emptyCounts();
        counts[state] = n;
      }
    }
    const total = (c: StateCounts) =>
      c.pending + c.scheduled + c.running + c.completed + c.failed + c.cancelled;
    stats.total = total(stats);
    for (const counts of Object.values(stats.by_type)) counts.total = total(counts);
    return stats;
  }

  async onCancelRequested(onCancel: (jobId: string) => void): Promise<() => Promise<void>> {
    this.#cancelListeners.add(onCancel);
    if (!this.#subscriber) {
      const sub = duplicate(this.#client, {
        blocking: true,
        connectionName: `jq:${this.queue}:sub`,
      });
      this.#subscriber = sub;
      sub.on("message", (channel: string, message: string) => {
        if (channel !== this.keys.cancelChannel) return;
        for (const listener of this.#cancelListeners) {
          try {
            listener(message);
          } catch {
            // One listener's failure must not starve the others.
          }
        }
      });
      try {
        await sub.subscribe(this.keys.cancelChannel);
      } catch (error) {
        this.#cancelListeners.delete(onCancel);
        this.#subscriber = null;
        sub.disconnect();
        throw toQueueError(error);
      }
    }
    return async () => {
      this.#cancelListeners.delete(onCancel);
      if (this.#cancelListeners.size === 0 && this.#subscriber) {
        const sub = this.#subscriber;
        this.#subscriber = null;
        await sub.quit().catch(() => sub.disconnect());
      }
    };
  }

  async readEvents(cursor: string, blockMs: number, count = 100): Promise<StoredEvent[]> {
    const key = this.keys.events;
    const n = Math.max(1, Math.floor(count));
    let reply: unknown;
    if (blockMs > 0) {
      const result = await this.#blocking.run(
        (c) => c.xread("COUNT", n, "BLOCK", blockMs, "STREAMS", key, cursor),
        blockMs,
      );
      if (result.kind === "error") throw toQueueError(result.error);
      if (result.kind === "aborted") return [];
      reply = result.value;
    } else {
      reply = await this.#cmd((c) => c.xread("COUNT", n, "STREAMS", key, cursor));
    }
    return parseStream(reply);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#raw((c) => c.ping())) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.#blocking.close();
    await this.#waiter.idle();
    this.#cancelListeners.clear();
    const sub = this.#subscriber;
    this.#subscriber = null;
    sub?.disconnect();
    const lane = this.#ackLane;
    this.#ackLane = null;
    if (lane) await lane.client.quit().catch(() => lane.client.disconnect());
    if (this.#ownsClient) await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

/** A single enqueue waiting for its shared script call. */
interface PendingEnqueue {
  job: EncodedJob;
  resolve: (result: EnqueueResult) => void;
  reject: (error: unknown) => void;
}
