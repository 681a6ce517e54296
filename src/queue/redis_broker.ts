/**
 * The Redis implementation of `Broker`. Every state change is one Lua script
 * (see `scripts.ts` and `group_scripts.ts`); this class validates inputs,
 * routes each job to its queue (its id names it), picks connections, and
 * turns replies into the shapes of `job.ts`. Reads that summarise queues
 * (stats, queue list, events) live in `queue_reads.ts`.
 *
 * @module
 */
import { readRedisInfo, type RedisInfo } from "./redis_info.ts";
import { Cluster } from "ioredis";
import type { Broker, ClaimOptions, MaintainOptions, ReleaseOptions } from "./broker.ts";
import { BlockingPool } from "./blocking.ts";
import { decodeJob } from "./record.ts";
import { connect, duplicate, type RedisClient, toQueueError, whenReady } from "./connect.ts";
import {
  InvalidInputError,
  JobNotFoundError,
  LeaseLostError,
  PayloadTooLargeError,
  QueueFullError,
  QueueNotFoundError,
  StorageFormatError,
  UnknownDependencyError,
} from "./errors.ts";
import {
  type CancelOutcome,
  type ClaimedJob,
  type Completion,
  DEFAULTS,
  type DependencyInfo,
  type DurationSeries,
  type EnqueueInput,
  type EnqueueResult,
  type FailInput,
  type FailOutcome,
  FINISHED_STATES,
  type IdSearch,
  type Job,
  type JobPage,
  type Lease,
  LIMITS,
  type ListQuery,
  type MaintenanceResult,
  type QueueInfo,
  type RenewStatus,
  type Stats,
} from "./job.ts";
import type { HistoryMinute } from "./history.ts";
import type { LifecycleEvent, StoredEvent } from "../events/lifecycle.ts";
import { afterMicrotasks } from "../timing/after_microtasks.ts";
import { globalKeys, isValidQueueName, type QueueKeys, queueKeys } from "./keys.ts";
import { JobListing } from "./job_listing.ts";
import { checkGroup } from "./group_listing.ts";
import {
  ENQUEUE_CHUNK,
  QueueScripts,
  runAtomically,
  SCRIPT_COMMANDS,
  type ScriptConfig,
} from "./scripts.ts";
import { GroupScripts, type MaintainReply, type OwnerHeartbeat } from "./group_scripts.ts";
import { ClusterSignals } from "./cluster_signals.ts";
import { WorkWaiter } from "./work_waiter.ts";
import { isOwnerId, judgeSilent, LIVENESS, newOwnerId } from "./liveness.ts";
import { encodeBatch, type EncodedJob, encodeJob, oversizeBytes, queueOf } from "./validate.ts";
import { parseJobId, queueInId } from "./job_id.ts";
import { groupQueues, type QueueGroup } from "./queue_groups.ts";
import { KNOWN_QUEUES_TTL_MS, QueueRegistry } from "./queue_registry.ts";
import { type LimitEntry, LimitStore } from "../limits/limit_store.ts";
import { type Limit, limitField, type LimitScope } from "../limits/limit.ts";
import { clampRetryAfter } from "../limits/rate_limited_error.ts";
import { claimOrder, type QueueSelection, type WeightedQueue } from "./queue_selection.ts";
import { QueueReads } from "./queue_reads.ts";
import { WorkerRegistry } from "./worker_registry.ts";
import type { WorkerRecord, WorkerReport } from "./worker_presence.ts";
import { FlowOutbox } from "./flow_outbox.ts";
import { externalDependencies, orderByDependencies } from "./dependency_order.ts";
import {
  type DependencyPage,
  readDependencies,
  readDependents,
  withResults,
} from "./dependency_reads.ts";

/** Options of a `RedisBroker`. Give `url` or an existing `client`. */
export interface RedisBrokerOptions {
  /** `redis://host:port` or `redis-cluster://h:p,h:p`. */
  url?: string;
  /** An existing client; the broker then does not quit it on close. */
  client?: RedisClient;
  /**
   * The queue of submits that name none (`QUEUE`), and the home queue of a
   * deployment's first start (`queue_registry.ts`). Default "default".
   */
  queue?: string;
  /**
   * The queues claims and maintenance serve, and in what order. Default: the
   * default queue alone. Workers pass `WORKER_QUEUES` (or every known queue).
   */
  serve?: QueueSelection;
  prefix?: string;
  /** How long finished jobs (and results) are kept. Default 24 h. */
  retentionMs?: number;
  /** Approximate cap of each queue's events stream; 0 disables events. Default 10 000. */
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
/**
 * Cluster: how often maintenance that visits only due queues also visits one
 * more in turn, in case a published due time was missed (`cluster_signals.ts`).
 */
const RECHECK_MS = 20_000;

/** A maintenance result with nothing in it yet. */
function noMaintenance(): MaintenanceResult {
  return { promoted: 0, reaped: 0, recovered: [], next_due_at: null, running: false };
}

/** Adds one queue's maintain.lua reply to `total`. */
function addMaintenance(total: MaintenanceResult, r: MaintainReply): void {
  total.promoted += r.promoted;
  total.reaped += r.reaped;
  total.recovered.push(...r.recovered);
  if (r.nextDueAt !== null) {
    total.next_due_at = Math.min(total.next_due_at ?? Infinity, r.nextDueAt);
  }
  total.running ||= r.running;
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

/** One queue's keys, scripts and bookkeeping in this broker. */
interface QueueState {
  readonly name: string;
  readonly keys: QueueKeys;
  readonly scripts: Promise<QueueScripts>;
  readonly listing: JobListing;
  /** The ack lane's scripts for this queue (see `#acks`), made on the first ack. */
  ackScripts: Promise<QueueScripts> | null;
  formatChecked: Promise<void> | null;
  /** The format check passed (so hot paths need not await it again). */
  formatOk: boolean;
  /** Epoch ms before which no finished job can be past retention (see maintain). */
  nextTrimAt: number;
}

/** Items grouped by the queue their job id names, each with its index in the input. */
function byQueue<T extends { id: string }>(
  items: readonly T[],
  queueOfId: (id: string) => string,
): Map<string, Array<{ item: T; index: number }>> {
  const out = new Map<string, Array<{ item: T; index: number }>>();
  items.forEach((item, index) => {
    const queue = queueOfId(item.id);
    let list = out.get(queue);
    if (!list) out.set(queue, list = []);
    list.push({ item, index });
  });
  return out;
}

/**
 * A `Broker` backed by Redis (standalone or Cluster).
 *
 * @example
 * ```ts
 * const broker = new RedisBroker({ url: "redis://127.0.0.1:6379" });
 * const { id } = await broker.enqueue({ type: "email", queue: "mail", payload: { to: "a@b.c" } });
 * await broker.close();
 * ```
 */
export class RedisBroker implements Broker {
  readonly defaultQueue: string;
  readonly owner: string;
  /** Claims made so far: with the owner, it makes every lease token unique. */
  #claims = 0;
  /** `performance.now()` of the last heartbeat Redis recorded, per owners key. */
  readonly #lastBeatAt = new Map<string, number>();
  /** Broker-clock ms the last recorded heartbeat was sent at. */
  #lastBeatSentAt = -Infinity;
  /** Since when (broker-clock ms) this owner's heartbeats have reached Redis without a gap. */
  #streakFrom = -Infinity;
  readonly #prefix: string;
  readonly #cluster: boolean;
  readonly #client: RedisClient;
  readonly #ownsClient: boolean;
  readonly #clock: () => number;
  readonly #retentionMs: number;
  readonly #maintainBatch: number;
  readonly #scriptConfig: ScriptConfig;
  readonly #commandTimeoutMs: number | undefined;
  readonly #serve: QueueSelection;
  readonly #registry: QueueRegistry;
  readonly #reads: QueueReads;
  readonly #workers: WorkerRegistry;
  readonly #states = new Map<string, QueueState>();
  readonly #stateByKeys = new WeakMap<QueueKeys, QueueState>();
  readonly #groupScripts: Promise<GroupScripts>;
  /** Fires when serving every queue and a new one appeared: waits re-arm to include it. */
  #queuesChanged = new AbortController();
  #servedCount = -1;
  #configured: Promise<void> | null = null;
  /** The served queues as last read (see `#served`). */
  #lastServed: WeightedQueue[] | null = null;
  #defaultKnown = false;
  /** The ack lane (see `#acks`), opened on the first ack. */
  #ackClient: RedisClient | null = null;
  readonly #blocking: BlockingPool;
  readonly #waiter: WorkWaiter;
  /** Cluster only: published wakes and due times (`cluster_signals.ts`). */
  readonly #signals: ClusterSignals | null;
  /** Listeners of announced due times (`onDue`). */
  readonly #dueListeners = new Set<(at: number) => void>();
  /** Cluster: when maintenance last visited a queue in turn, and which is next. */
  #recheckedAt = 0;
  #recheck = 0;
  #subscriber: RedisClient | null = null;
  #cancelListeners = new Set<(jobId: string) => void>();
  /** Single enqueues waiting for the next shared script call (see `enqueue`). */
  #enqueueQueue: PendingEnqueue[] = [];
  /** Events waiting for `onEvents` (see `#report`). */
  #reported: LifecycleEvent[] = [];
  /** The flow outbox's drain (`flow_outbox.ts`). */
  readonly #flows: FlowOutbox;
  /** Flow control's limits (`src/limits/`). */
  readonly #limits: LimitStore;
  /** Queues with a concurrency limit, as the last claim there said: every job's end wakes them. */
  readonly #capped = new Set<string>();
  /** Types with a circuit breaker per queue, as the last claim there said. */
  readonly #circuitTypes = new Map<string, Set<string>>();
  /** Claimed jobs of those types (id -> type): their outcome feeds the breaker (`#outcomes`). */
  readonly #circuitJobs = new Map<string, string>();

  constructor(options: RedisBrokerOptions) {
    this.defaultQueue = options.queue ?? "default";
    if (!isValidQueueName(this.defaultQueue)) {
      throw new Error(`invalid queue name: ${JSON.stringify(this.defaultQueue)}`);
    }
    this.owner = options.owner ?? newOwnerId();
    if (!isOwnerId(this.owner)) {
      throw new Error(`invalid owner id: ${JSON.stringify(this.owner)}`);
    }
    this.#prefix = options.prefix ?? "jq";
    this.#serve = options.serve ??
      { queues: [{ name: this.defaultQueue, weight: 1 }], order: "strict" };
    if (options.client) {
      this.#client = options.client;
      this.#ownsClient = false;
    } else if (options.url) {
      this.#client = connect(options.url, {
        commandTimeoutMs: options.commandTimeoutMs,
        connectionName: "jq",
        notAutoPipelined: SCRIPT_COMMANDS,
      });
      this.#ownsClient = true;
    } else {
      throw new Error("RedisBroker needs a url or a client");
    }
    this.#cluster = this.#client instanceof Cluster;
    this.#clock = options.clock ?? Date.now;
    this.#workers = new WorkerRegistry({
      prefix: this.#prefix,
      clock: this.#clock,
      raw: (run) => this.#raw(run),
    });
    this.#commandTimeoutMs = options.commandTimeoutMs;
    this.#retentionMs = options.retentionMs ?? DEFAULTS.retentionMs;
    this.#maintainBatch = options.maintainBatch ?? 1000;
    this.#scriptConfig = {
      retentionMs: this.#retentionMs,
      finishedTtlMs: this.#retentionMs + EXPIRY_SLACK_MS,
      eventsMaxLen: options.eventsMaxLen ?? 10_000,
      errorHistory: LIMITS.errorHistory,
      onEvents: options.onEvents && ((events) => this.#report(events, options.onEvents!)),
    };
    this.#registry = new QueueRegistry({
      keys: globalKeys(this.#prefix),
      prefix: this.#prefix,
      defaultQueue: this.defaultQueue,
      cmd: (run) => this.#raw(run),
      client: () => this.#client,
    });
    this.#reads = new QueueReads({
      registry: this.#registry,
      // Callers settle the home queue first (stats, queues, queueInfo, readEvents).
      state: async (queue) => {
        const state = await this.#known(queue);
        if (state) await this.#checkFormat(state);
        return state;
      },
      cmd: (run) => this.#raw(run),
      blocking: () => this.#blocking,
      cluster: this.#cluster,
      clock: this.#clock,
    });
    this.#flows = new FlowOutbox({
      queue: async (name) => {
        const state = await this.#known(name);
        return state ? { keys: state.keys, scripts: await this.#ours(state) } : null;
      },
      cmd: (run) => this.#raw(run),
      queueOfId: (id) => this.#queueOfId(id),
      clock: this.#clock,
    });
    this.#groupScripts = GroupScripts.create(this.#client, this.#scriptConfig);
    // Surfaced on first use; avoid an unhandled rejection in between.
    this.#groupScripts.catch(() => {});
    this.#blocking = new BlockingPool(this.#client, "jq:block");
    const onDue = (at: number) => {
      for (const listener of this.#dueListeners) listener(at);
    };
    this.#signals = this.#cluster ? new ClusterSignals(this.#client, this.#prefix, onDue) : null;
    this.#waiter = new WorkWaiter({
      signals: this.#signals ?? undefined,
      blocking: this.#blocking,
      scriptConfig: this.#scriptConfig,
      clock: this.#clock,
      tokenBase: () => this.#tokenBase(),
      owner: this.owner,
      lastBeatAt: (key) => this.#lastBeatAt.get(key) ?? -Infinity,
      beat: (key) => this.#beat([key]),
      checkFormat: (group) => this.#checkGroup(group),
      run: (command) => this.#raw(command),
      main: this.#client,
      release: (leases) => this.release(leases, { restoreAttempt: true, reason: "wait abandoned" }),
      onCircuits: (keys, types) => {
        const { name } = this.#stateOfKeys(keys);
        if (types.length > 0) this.#circuitTypes.set(name, new Set(types));
        else this.#circuitTypes.delete(name);
      },
      onDue,
      onCapped: (keys, capped) => {
        const { name } = this.#stateOfKeys(keys);
        if (capped) this.#capped.add(name);
        else this.#capped.delete(name);
      },
    });
    this.#limits = new LimitStore({
      run: (command) => this.#raw(command),
      keys: globalKeys(this.#prefix),
      queues: () => this.#registry.list(),
      queueKeys: (queue) => this.#state(queue).keys,
      mirror: async (queue, version, limits, formatChecked) => {
        const state = this.#state(queue);
        const scripts = formatChecked ? await state.scripts : await this.#ours(state);
        await scripts.syncLimits(version, limits);
      },
    });
  }

  /**
   * Circuit breakers: the outcomes of ended jobs of types with a breaker go
   * to circuit.lua (after the acks; a lost call only delays a transition).
   * Nothing while no claimed job's type has one.
   */
  #outcomes(ended: ReadonlyArray<{ id: string; ok: boolean }>): void {
    if (this.#circuitJobs.size === 0) return;
    const byQueue = new Map<string, Map<string, { ok: number; failed: number }>>();
    for (const { id, ok } of ended) {
      const type = this.#circuitJobs.get(id);
      if (type === undefined) continue;
      this.#circuitJobs.delete(id);
      const queue = this.#queueOfId(id);
      let types = byQueue.get(queue);
      if (!types) byQueue.set(queue, types = new Map());
      const tally = types.get(type) ?? { ok: 0, failed: 0 };
      if (ok) tally.ok++;
      else tally.failed++;
      types.set(type, tally);
    }
    for (const [queue, types] of byQueue) {
      this.#ours(this.#state(queue)).then((s) => s.circuit(this.#clock(), types)).catch(() => {});
    }
  }

  /** A job that ends without an outcome (released, deferred) leaves the breaker's count. */
  #noOutcome(ids: readonly string[]): void {
    if (this.#circuitJobs.size === 0) return;
    for (const id of ids) this.#circuitJobs.delete(id);
  }

  /**
   * Flow control: jobs among `ids` ended in a queue with a concurrency
   * limit, so a claimer sleeping there for a slot is woken (once per queue;
   * any job's end, since a job claimed before the limit was set counts too).
   * Costs nothing while no queue this process claims from is capped.
   */
  #freeSlots(ids: readonly string[]): void {
    if (this.#capped.size === 0) return;
    const queues = new Set<string>();
    for (const id of ids) {
      const queue = this.#queueOfId(id);
      if (this.#capped.has(queue)) queues.add(queue);
    }
    for (const queue of queues) {
      // A lost wake only delays: the sleeping claimer's wait ends anyway.
      this.#ours(this.#state(queue)).then((s) => s.wake()).catch(() => {});
    }
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

  /** The state of `queue`, made on first use (only for queues known or served). */
  #state(queue: string): QueueState {
    let state = this.#states.get(queue);
    if (!state) {
      const own = queueKeys(queue, this.#prefix);
      // Standalone: one owners ZSET for every queue, so one heartbeat covers them all.
      const keys = this.#cluster ? own : { ...own, owners: globalKeys(this.#prefix).owners };
      const scripts = QueueScripts.create(this.#client, keys, this.#scriptConfig);
      scripts.catch(() => {});
      state = {
        name: queue,
        keys,
        scripts,
        listing: new JobListing(queue, keys, (run) => this.#cmdOn(state!, run)),
        ackScripts: null,
        formatChecked: null,
        formatOk: false,
        nextTrimAt: 0,
      };
      this.#states.set(queue, state);
      this.#stateByKeys.set(keys, state);
    }
    return state;
  }

  /** The state of a known queue, or null (an unknown name makes no state: ids are input). */
  async #known(queue: string): Promise<QueueState | null> {
    if (this.#states.has(queue)) return this.#states.get(queue)!;
    return await this.#registry.has(queue) ? this.#state(queue) : null;
  }

  /**
   * The home queue's name (plain ids are its jobs), once the registry is
   * settled: the home queue chosen, and this broker's default queue known
   * (a configured queue exists before any job is submitted to it).
   */
  async #home(): Promise<string> {
    if (this.#defaultKnown) return this.#registry.homeName!;
    const home = await this.#registry.home();
    await this.#registry.ensure(this.defaultQueue);
    this.#defaultKnown = true;
    return home;
  }

  homeQueue(): Promise<string> {
    return this.#home();
  }

  /** The queue a job id names; for ids this broker handed out (claims), no validation. */
  #queueOfId(id: string): string {
    return queueInId(id) ?? this.#registry.homeName ?? this.defaultQueue;
  }

  /**
   * The scripts on the ack connection, for acks (complete, fail). Redis
   * writes a client's replies only after running every command it read from
   * it, so on a shared connection a claim pipelined next to a batch of acks
   * would wait for the acks' script too: the worker would sit idle while
   * Redis acks, then Redis would sit idle while the worker runs. On its own
   * connection the claim's reply leaves first and the acks run in Redis while
   * the worker already runs the claimed jobs (measured: claim replies ~2x
   * sooner at concurrency 50). Ordering is unaffected: a job is acked only
   * after its claim's reply arrived.
   */
  async #acks(state: QueueState): Promise<QueueScripts> {
    await this.#checkFormat(state);
    if (!state.ackScripts) {
      this.#ackClient ??= duplicate(this.#client, {
        commandTimeoutMs: this.#commandTimeoutMs,
        connectionName: "jq:ack",
        notAutoPipelined: SCRIPT_COMMANDS,
      });
      state.ackScripts = QueueScripts.create(this.#ackClient, state.keys, this.#scriptConfig);
      state.ackScripts.catch(() => {});
    }
    return await state.ackScripts;
  }

  /** Runs a plain command on a queue's data, after its storage-format check. */
  async #cmdOn<T>(state: QueueState, run: (client: RedisClient) => Promise<T>): Promise<T> {
    await this.#checkFormat(state);
    return await this.#raw(run);
  }

  /** Runs a plain Redis command, mapping connection failures to QueueUnavailableError. */
  async #raw<T>(run: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      // No offline queue (connect.ts): wait out a (re)connection first.
      if (this.#client.status !== "ready") await whenReady(this.#client);
      return await run(this.#client);
    } catch (error) {
      throw toQueueError(error);
    }
  }

  /** A queue's scripts, once its storage format is known to be ours. */
  async #ours(state: QueueState): Promise<QueueScripts> {
    await this.#checkFormat(state);
    return await state.scripts;
  }

  /**
   * Claims a queue for this storage format on first use (the meta key's
   * `format`), or finds it written by another one: then every call on it
   * fails with StorageFormatError rather than misread records. Checked once
   * per queue; a connection failure is not an answer, so the next call
   * checks again. The home queue is settled first: it decides job ids.
   */
  #checkFormat(state: QueueState): Promise<void> {
    state.formatChecked ??= (async () => {
      await this.#home();
      const meta = state.keys.meta;
      const found = await this.#raw(async (c) => {
        await c.hsetnx(meta, "format", STORAGE_FORMAT);
        return await c.hget(meta, "format");
      });
      if (found !== STORAGE_FORMAT) {
        throw new StorageFormatError(state.name, String(found), STORAGE_FORMAT);
      }
      // A queue this process had not used: the deployment's type limits reach it too.
      await this.#limits.syncQueue(state.name);
      state.formatOk = true;
    })().catch((error) => {
      if (!(error instanceof StorageFormatError)) state.formatChecked = null;
      throw error;
    });
    return state.formatChecked;
  }

  /** `#checkFormat` of each queue in `group`; no await for the ones known good. */
  async #checkGroup(group: QueueGroup): Promise<void> {
    for (const keys of group.queues) {
      const state = this.#stateOfKeys(keys);
      if (!state.formatOk) await this.#checkFormat(state);
    }
  }

  #stateOfKeys(keys: QueueKeys): QueueState {
    const state = this.#stateByKeys.get(keys);
    if (!state) throw new Error("keys of no known queue");
    return state;
  }

  /** A queue jobs are about to be written to: known to the registry, format checked. */
  async #target(queue: string): Promise<QueueState> {
    await this.#registry.ensure(queue);
    const state = this.#state(queue);
    await this.#checkFormat(state);
    return state;
  }

  /**
   * Validates at once, then joins the other enqueues issued in the same
   * microtask turn: concurrent producers share one script call per queue (one
   * round trip, one Lua entry) instead of paying one each. Each job still
   * succeeds or fails on its own (a taken caller-chosen id refuses only that job).
   */
  enqueue(input: EnqueueInput): Promise<EnqueueResult> {
    // With dependencies: checked and written on its own (all or nothing, never shared).
    if (input?.depends_on !== undefined) return this.enqueueBatch([input]).then(([r]) => r);
    const home = this.#defaultKnown ? this.#registry.homeName : null;
    if (home === null) return this.#home().then(() => this.enqueue(input));
    let job: EncodedJob;
    try {
      const queue = queueOf(input, this.defaultQueue);
      job = encodeJob(input, this.#clock(), { queue, home });
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
    const first = queued[0].job.queue;
    const groups = queued.every((item) => item.job.queue === first)
      ? [queued]
      : [...Map.groupBy(queued, (item) => item.job.queue).values()];
    for (const items of groups) {
      for (let i = 0; i < items.length; i += ENQUEUE_CHUNK) {
        this.#sendEnqueues(items.slice(i, i + ENQUEUE_CHUNK));
      }
    }
  }

  async #sendEnqueues(items: PendingEnqueue[]): Promise<void> {
    try {
      const state = await this.#target(items[0].job.queue);
      const out = await (await state.scripts).enqueueEach(
        items.map((item) => item.job),
        this.#clock(),
      );
      items.forEach((item, i) => {
        const r = out[i];
        if (!r) item.reject(new Error("enqueue: missing reply"));
        else if ("exists" in r) {
          item.reject(new InvalidInputError(`a job with id ${r.id} already exists`, "id"));
        } else if (r.full) item.reject(new QueueFullError(item.job.queue, item.job.waitingLimit));
        else item.resolve(r);
      });
    } catch (error) {
      for (const item of items) item.reject(error);
    }
  }

  async enqueueBatch(inputs: EnqueueInput[]): Promise<EnqueueResult[]> {
    const now = this.#clock();
    const home = await this.#home();
    const jobs = encodeBatch(inputs, now, (input) => ({
      queue: queueOf(input, this.defaultQueue),
      home,
    }));
    const out = new Array<EnqueueResult>(jobs.length);
    let indexed = jobs.map((job, index) => ({ job, index }));
    const withDeps = jobs.some((job) => job.dependsOn.length > 0);
    if (withDeps) {
      // Dependencies first (enqueue.lua links to their records); every one
      // outside the batch must exist, checked before anything is written.
      indexed = orderByDependencies(jobs).order.map((index) => ({ job: jobs[index], index }));
      await this.#checkDependencies(externalDependencies(jobs));
    }
    const queues: string[] = [];
    const groups = [...Map.groupBy(indexed, (x) => x.job.queue)];
    if (groups.length > 1 && !this.#cluster && jobs.length <= ENQUEUE_CHUNK) {
      // Several queues on one Redis: one MULTI/EXEC, so a batch (a flow) across queues is
      // all or nothing too, as a one-queue batch is in its one script call.
      const calls = [];
      for (const [queue, items] of groups) {
        const state = await this.#target(queue);
        calls.push((await state.scripts).enqueueCall(items.map((x) => x.job), now));
        queues.push(queue);
      }
      const results = await runAtomically(calls);
      groups.forEach(([, items], g) => items.forEach((x, i) => out[x.index] = results[g][i]));
    } else {
      for (const [queue, items] of groups) {
        const state = await this.#target(queue);
        const results = await (await state.scripts).enqueueMany(items.map((x) => x.job), now);
        items.forEach((x, i) => out[x.index] = results[i]);
        queues.push(queue);
      }
    }
    // Links into other queues, and outcomes settled at once, go out now.
    if (withDeps) await this.#drain(queues);
    return out;
  }

  /** UnknownDependencyError naming every id of `ids` that no job has. */
  async #checkDependencies(ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    const found = await Promise.all(ids.map(async (id) => {
      const state = await this.#known(this.#queueOfId(id));
      if (!state) return false;
      return await this.#cmdOn(state, (c) => c.exists(state.keys.jobPrefix + id)) === 1;
    }));
    const missing = ids.filter((_, i) => !found[i]);
    if (missing.length > 0) throw new UnknownDependencyError(missing);
  }

  /**
   * Drains the flow outboxes of `queues` (`flow_outbox.ts`). A failure here
   * loses nothing: the entries stay for the next drain (maintenance).
   */
  async #drain(queues: Iterable<string>): Promise<void> {
    try {
      await this.#flows.drain(queues);
    } catch {
      // Left in the outbox; maintenance delivers it.
    }
  }

  async dependencies(id: string): Promise<DependencyInfo[] | null> {
    const parsed = parseJobId(id, await this.#home());
    const state = parsed && await this.#known(parsed.queue);
    if (!parsed || !state) return null;
    const deps = await this.#cmdOn(state, (c) => readDependencies(c, state.keys, parsed.id));
    if (!deps) return null;
    // Each completed dependency's result, from its own record (any queue: one command each).
    return await withResults(deps, async (dep) => {
      const owner = await this.#known(this.#queueOfId(dep));
      return owner ? await this.#raw((c) => c.getBuffer(owner.keys.jobPrefix + dep)) : null;
    });
  }

  async dependents(id: string, cursor?: string, count = 100): Promise<DependencyPage> {
    const parsed = parseJobId(id, await this.#home());
    const state = parsed && await this.#known(parsed.queue);
    if (!parsed || !state) return { ids: [], next_cursor: null };
    return await this.#cmdOn(
      state,
      (c) => readDependents(c, state.keys, parsed.id, cursor ?? "0", count),
    );
  }

  /** The queues served, with weights (every known queue, weight 1, when serving all). */
  async #served(): Promise<WeightedQueue[]> {
    // Configured queues exist from the start: the default queue, and the listed ones.
    this.#configured ??= (async () => {
      const listed = this.#serve.queues === "all" ? [] : this.#serve.queues.map((q) => q.name);
      for (const name of new Set([this.defaultQueue, ...listed])) {
        await this.#registry.ensure(name);
      }
    })().catch((error) => {
      this.#configured = null;
      throw error;
    });
    await this.#configured;
    if (this.#serve.queues !== "all") return this.#lastServed = this.#serve.queues;
    const names = await this.#registry.list(KNOWN_QUEUES_TTL_MS);
    if (this.#servedCount >= 0 && names.length !== this.#servedCount) {
      // A queue appeared: waits in progress end, and the next includes it.
      this.#queuesChanged.abort();
      this.#queuesChanged = new AbortController();
    }
    this.#servedCount = names.length;
    this.#lastServed = names.map((name) => ({ name, weight: 1 }));
    return this.#lastServed;
  }

  /** The served queues' groups, in this claim's order. */
  async #claimGroups(): Promise<QueueGroup[]> {
    if (!this.#defaultKnown) await this.#home();
    // The list the last heartbeat or maintenance read (they refresh it), else read now.
    const served = this.#lastServed ?? await this.#served();
    const order = claimOrder(served, this.#serve.order);
    return groupQueues(order.map((name) => this.#state(name).keys), this.#cluster);
  }

  async claim(max: number, options: ClaimOptions = {}): Promise<ClaimedJob[]> {
    const n = Math.floor(max);
    if (!(n >= 1)) return [];
    const leaseMs = options.leaseMs ?? DEFAULTS.leaseMs;
    const waitMs = options.waitMs ?? 0;
    const groups = await this.#claimGroups();
    let jobs: ClaimedJob[];
    if (waitMs > 0) {
      const signal = this.#serve.queues === "all"
        ? AbortSignal.any([this.#queuesChanged.signal, ...(options.signal ? [options.signal] : [])])
        : options.signal;
      jobs = await this.#waiter.claim(groups, n, leaseMs, waitMs, signal);
    } else {
      jobs = await this.#waiter.claimReady(groups, n, leaseMs, options.onlyWoken === true);
    }
    if (this.#circuitTypes.size > 0) {
      for (const job of jobs) {
        if (this.#circuitTypes.get(this.#queueOfId(job.id))?.has(job.type)) {
          this.#circuitJobs.set(job.id, job.type);
        }
      }
    }
    return jobs;
  }

  async complete(id: string, token: string, result: unknown): Promise<void> {
    const [ok] = await this.completeMany([{ id, token, result }]);
    if (!ok) throw new LeaseLostError(id);
  }

  async completeMany(acks: Completion[]): Promise<boolean[]> {
    if (acks.length === 0) return [];
    if (!this.#defaultKnown) await this.#home();
    const encoded = acks.map((a) => ({
      id: a.id,
      token: a.token,
      resultJson: resultText(
        "result_json" in a ? String(a.result_json) : jsonText(a.result, "result"),
      ),
    }));
    let outbox: Set<string> | null = null;
    const acked = await this.#perQueue(
      encoded,
      async (state, items) =>
        await (await this.#acks(state)).completeMany(
          items,
          this.#clock(),
          () => (outbox ??= new Set()).add(state.name),
        ),
    );
    // Flow control: nothing to build unless a queue is capped or a type has a breaker.
    if (this.#capped.size > 0) this.#freeSlots(acks.map((a) => a.id));
    if (this.#circuitJobs.size > 0) {
      this.#outcomes(acks.flatMap((a, i) => acked[i] ? [{ id: a.id, ok: true }] : []));
    }
    // Dependents in other queues hear of it right away (maintenance if this process dies now).
    if (outbox) await this.#drain(outbox);
    return acked;
  }

  /**
   * Runs `call` once per queue the items' ids name (in parallel) and puts
   * the answers back in input order. One queue (the usual case) is one call.
   */
  async #perQueue<T extends { id: string }, R>(
    items: T[],
    call: (state: QueueState, items: T[]) => Promise<R[]>,
  ): Promise<R[]> {
    const first = this.#queueOfId(items[0].id);
    if (items.every((item) => this.#queueOfId(item.id) === first)) {
      return await call(this.#state(first), items);
    }
    const out = new Array<R>(items.length);
    await Promise.all(
      [...byQueue(items, (id) => this.#queueOfId(id))].map(async ([queue, group]) => {
        const replies = await call(this.#state(queue), group.map((g) => g.item));
        group.forEach((g, i) => out[g.index] = replies[i]);
      }),
    );
    return out;
  }

  async fail(id: string, token: string, failure: FailInput): Promise<FailOutcome> {
    if (!this.#defaultKnown) await this.#home();
    const delay = Math.max(0, Math.round(Number(failure.retry_delay_ms) || 0));
    const message = String(failure.message ?? "").slice(0, MAX_ERROR_CHARS);
    const state = this.#state(this.#queueOfId(id));
    let outbox = false;
    const outcome = await (await this.#acks(state)).fail(id, token, this.#clock(), {
      message,
      retryable: failure.retryable,
      retryDelayMs: delay,
      timedOut: failure.timed_out,
    }, () => outbox = true);
    this.#freeSlots([id]);
    if (outcome === null) {
      this.#noOutcome([id]);
      throw new LeaseLostError(id);
    }
    this.#outcomes([{ id, ok: false }]);
    // The end reaches the job's flow through the outbox (maintenance if this process dies now).
    if (outbox) await this.#drain([state.name]);
    return outcome;
  }

  async renew(leases: Lease[], leaseMs: number): Promise<RenewStatus[]> {
    if (leases.length === 0) return [];
    if (!this.#defaultKnown) await this.#home();
    return await this.#perQueue(
      leases,
      async (state, items) => await (await this.#ours(state)).renew(items, leaseMs, this.#clock()),
    );
  }

  async release(leases: Lease[], options: ReleaseOptions = {}): Promise<boolean[]> {
    if (leases.length === 0) return [];
    if (!this.#defaultKnown) await this.#home();
    const reason = (options.reason ?? "released").slice(0, MAX_ERROR_CHARS);
    if (this.#capped.size > 0) this.#freeSlots(leases.map((l) => l.id));
    if (this.#circuitJobs.size > 0) this.#noOutcome(leases.map((l) => l.id));
    return await this.#perQueue(
      leases,
      async (state, items) =>
        await (await this.#ours(state)).release(
          items,
          this.#clock(),
          options.restoreAttempt ?? true,
          reason,
        ),
    );
  }

  async progress(id: string, token: string, percent: number): Promise<boolean> {
    if (typeof percent !== "number" || !Number.isFinite(percent)) {
      throw new InvalidInputError("percent must be a number", "percent");
    }
    if (!this.#defaultKnown) await this.#home();
    const clamped = Math.min(100, Math.max(0, percent));
    const state = this.#state(this.#queueOfId(id));
    return await (await this.#ours(state)).progress(id, token, clamped, this.#clock());
  }

  /** A token base no other claim of this or any owner uses: "<owner>.<claim number>". */
  #tokenBase(): string {
    return `${this.owner}.${(this.#claims++).toString(36)}`;
  }

  async maintain(options: MaintainOptions = {}): Promise<MaintenanceResult> {
    await this.#home();
    const served = await this.#served();
    const states = served.map((q) => this.#state(q.name));
    if (this.#signals) {
      return await this.#maintainCluster(this.#signals, states, options.onlyDue === true);
    }
    // Standalone: one call serves every queue (one group).
    const total = noMaintenance();
    for (const group of groupQueues(states.map((s) => s.keys), false)) {
      await this.#checkGroup(group);
      const now = this.#clock();
      const sent = performance.now();
      const replies = await this.#maintainCall(
        group.ownersKey,
        group.queues.map((keys) => this.#stateOfKeys(keys)),
        now,
        { owner: this.owner, streakFrom: this.#streakAt(now), deadAfterMs: LIVENESS.deadAfterMs },
      );
      this.#beatRecorded(group.ownersKey, now, sent);
      for (const reply of replies) addMaintenance(total, reply);
      // The fallback of the flow outbox: what a process that died left undelivered.
      const outboxes = group.queues.filter((_, i) => replies[i].outbox);
      if (outboxes.length > 0) await this.#drain(outboxes.map((k) => this.#stateOfKeys(k).name));
    }
    return total;
  }

  /**
   * One maintain.lua call over `members` (queues sharing a slot), trimming
   * those whose trim is due. Finished sets only grow at the new end, so
   * nothing can pass retention before the oldest member does: the trim step
   * is skipped until then (idle cost). Another process trimming meanwhile
   * only makes the estimate early, never late.
   */
  async #maintainCall(
    ownersKey: string,
    members: QueueState[],
    now: number,
    heartbeat: OwnerHeartbeat,
  ): Promise<MaintainReply[]> {
    const scripts = await this.#groupScripts;
    const trims = members.map((state) => now >= state.nextTrimAt);
    const replies = await scripts.maintain(
      ownersKey,
      members.map((state, i) => ({ keys: state.keys, trim: trims[i] })),
      now,
      this.#maintainBatch,
      heartbeat,
    ).catch((error) => {
      throw toQueueError(error);
    });
    // Empty finished sets: anything finishing from now on passes retention
    // a retention from now at the earliest. Standalone looks again within a
    // minute (its trim check rides along on the one call); on Cluster each
    // look is a call of its own.
    const emptyGap = this.#cluster ? this.#retentionMs : Math.min(this.#retentionMs, 60_000);
    replies.forEach((r, i) => {
      if (!trims[i]) return;
      members[i].nextTrimAt = r.trimmed >= this.#maintainBatch
        ? now // more left than one batch: keep trimming on the next call
        : r.oldestFinishedAt === null
        ? now + emptyGap
        : r.oldestFinishedAt + this.#retentionMs;
    });
    return replies;
  }

  /**
   * Maintenance on Cluster. Heartbeats live in the deployment's owners key
   * (one beat a second covers every queue), out of reach of a queue's
   * script: this call beats there and reads who fell silent, then visits the
   * queues, one call each, naming the dead. With `onlyDue` it visits only the
   * queues whose attention is due (`cluster_signals.ts`), those whose trim
   * is due, and one more in turn every `RECHECK_MS`; every queue when an
   * owner is dead (where it held leases is not known here).
   */
  async #maintainCluster(
    signals: ClusterSignals,
    states: QueueState[],
    onlyDue: boolean,
  ): Promise<MaintenanceResult> {
    // Subscribed first: a due time published after a visit is heard.
    await signals.start();
    const ownersKey = globalKeys(this.#prefix).owners;
    const now = this.#clock();
    const streakFrom = this.#streakAt(now);
    const sent = performance.now();
    const silent = await this.#raw(async (c) => {
      const [, found] = await Promise.all([
        c.zadd(ownersKey, now, this.owner),
        c.zrangebyscore(
          ownersKey,
          "-inf",
          `(${now - LIVENESS.deadAfterMs}`,
          "WITHSCORES",
          "LIMIT",
          0,
          10,
        ),
      ]);
      return found;
    });
    this.#beatRecorded(ownersKey, now, sent);
    const dead = judgeSilent(silent, this.owner, now, streakFrom, LIVENESS.deadAfterMs);
    let visit = states;
    if (onlyDue && dead.length === 0) {
      visit = states.filter((s) => signals.attentionAt(s.keys) <= now || now >= s.nextTrimAt);
      if (now - this.#recheckedAt >= RECHECK_MS && states.length > 0) {
        this.#recheckedAt = now;
        const next = states[this.#recheck++ % states.length];
        if (!visit.includes(next)) visit.push(next);
      }
    }
    const total = noMaintenance();
    for (const state of visit) {
      if (!state.formatOk) await this.#checkFormat(state);
      const sentAt = signals.seq;
      const at = this.#clock();
      const [reply] = await this.#maintainCall(state.keys.owners, [state], at, {
        owner: "",
        streakFrom: at,
        deadAfterMs: LIVENESS.deadAfterMs,
        judged: dead,
      });
      signals.visited(state.keys, sentAt, reply.nextDueAt, reply.running);
      addMaintenance(total, reply);
      if (reply.outbox) await this.#drain([state.name]);
    }
    // The dead are forgotten once their leases here are taken back.
    if (dead.length > 0) await this.#raw((c) => c.zrem(ownersKey, ...dead));
    if (visit !== states) {
      // What this broker knows of the queues it did not visit.
      const keys = states.map((s) => s.keys);
      total.running ||= signals.anyRunning(keys);
      for (const k of keys) {
        const at = signals.attentionAt(k);
        if (Number.isFinite(at)) total.next_due_at = Math.min(total.next_due_at ?? Infinity, at);
      }
    }
    return total;
  }

  async heartbeat(): Promise<void> {
    await this.#home();
    const served = await this.#served();
    // Cluster: the deployment's owners key (see `#maintainCluster`).
    if (this.#signals) return await this.#beat([globalKeys(this.#prefix).owners]);
    const owners = new Set(served.map((q) => this.#state(q.name).keys.owners));
    await this.#beat([...owners]);
  }

  /** One heartbeat in each of `ownersKeys` (standalone: the one key). */
  async #beat(ownersKeys: string[]): Promise<void> {
    const now = this.#clock();
    const sent = performance.now();
    await this.#raw((c) => Promise.all(ownersKeys.map((key) => c.zadd(key, now, this.owner))));
    for (const key of ownersKeys) this.#beatRecorded(key, now, sent);
  }

  /** What the streak's start is for a heartbeat sent at `now`: a gap starts a new one. */
  #streakAt(now: number): number {
    return now - this.#lastBeatSentAt > LIVENESS.streakGapMs ? now : this.#streakFrom;
  }

  /** A heartbeat sent at `now` (broker clock; `sent`, performance.now()) reached `ownersKey`. */
  #beatRecorded(ownersKey: string, now: number, sent: number): void {
    this.#streakFrom = this.#streakAt(now);
    this.#lastBeatSentAt = Math.max(this.#lastBeatSentAt, now);
    this.#lastBeatAt.set(ownersKey, Math.max(this.#lastBeatAt.get(ownersKey) ?? -Infinity, sent));
  }

  async reapOwner(owner: string, reason: string): Promise<number> {
    if (!isOwnerId(owner)) throw new InvalidInputError("invalid owner id", "owner");
    await this.#home();
    let total = 0;
    for (const q of await this.#served()) {
      const state = this.#state(q.name);
      total += await (await this.#ours(state)).reapOwner(
        owner,
        reason.slice(0, MAX_ERROR_CHARS),
        this.#clock(),
      );
    }
    await this.#drain((await this.#served()).map((q) => q.name));
    // Cluster: its heartbeats are in the deployment's key, not the queues'.
    if (this.#signals) {
      await this.#raw((c) => c.zrem(globalKeys(this.#prefix).owners, owner));
    }
    // Gone from the worker registry now, not when its record expires.
    await this.#workers.forget(owner);
    return total;
  }

  beatWorker(report: WorkerReport): Promise<number | null> {
    const serve = this.#serve;
    return this.#workers.beat({
      ...report,
      id: this.owner,
      queues: serve.queues,
      queue_order: serve.order,
      beat_at: this.#clock(),
    });
  }

  redisInfo(): Promise<RedisInfo> {
    return this.#raw(readRedisInfo);
  }

  workers(): Promise<WorkerRecord[]> {
    return this.#workers.list();
  }

  async drainWorker(owner: string): Promise<boolean> {
    if (!isOwnerId(owner)) throw new JobNotFoundError(owner);
    return await this.#workers.drain(owner);
  }

  /** The known queue of a job id given by a caller, or JobNotFoundError. */
  async #queueOfInput(id: string): Promise<{ state: QueueState; id: string }> {
    const parsed = parseJobId(id, await this.#home());
    const state = parsed && await this.#known(parsed.queue);
    if (!parsed || !state) throw new JobNotFoundError(id);
    return { state, id: parsed.id };
  }

  async cancel(id: string): Promise<CancelOutcome> {
    const job = await this.#queueOfInput(id);
    const outcome = await (await this.#ours(job.state)).cancel(job.id, this.#clock());
    // The cancel cascades to its dependents, per their policies.
    if (outcome === "cancelled") await this.#drain([job.state.name]);
    return outcome;
  }

  async requeue(id: string, options: { revive_dependents?: boolean } = {}): Promise<void> {
    const job = await this.#queueOfInput(id);
    const revive = options.revive_dependents === true;
    await (await this.#ours(job.state)).requeue(job.id, this.#clock(), revive);
    if (revive) await this.#drain([job.state.name]);
  }

  async runNow(id: string): Promise<void> {
    const job = await this.#queueOfInput(id);
    await (await this.#ours(job.state)).runNow(job.id);
  }

  async deleteJob(id: string): Promise<"completed" | "failed" | "cancelled"> {
    const job = await this.#queueOfInput(id);
    return await (await this.#ours(job.state)).deleteJob(job.id, this.#clock());
  }

  async purge(state: "failed" | "completed" | "cancelled", queue?: string): Promise<number> {
    if (!FINISHED_STATES.includes(state)) {
      throw new InvalidInputError("only finished states can be purged", "state");
    }
    const names = queue === undefined ? await this.#registry.list() : [queue];
    let total = 0;
    for (const name of names) {
      const known = await this.#known(name);
      if (!known) throw new QueueNotFoundError(name);
      const scripts = await this.#ours(known);
      // Bounded batches keep each script call short; other clients run in between.
      // Jobs a flow still needs are kept (and looked at again only after a retention).
      for (;;) {
        const { deleted, examined } = await scripts.purge(state, 1000);
        total += deleted;
        if (examined < 1000 || deleted === 0) break;
      }
    }
    return total;
  }

  async get(id: string): Promise<Job | null> {
    const parsed = parseJobId(id, await this.#home());
    const state = parsed && await this.#known(parsed.queue);
    if (!parsed || !state) return null;
    const record = await this.#cmdOn(state, (c) => c.getBuffer(state.keys.jobPrefix + parsed.id));
    return decodeJob(parsed.id, record, state.name);
  }

  async list(query: ListQuery): Promise<JobPage> {
    const queue = query.queue ?? this.defaultQueue;
    if (!isValidQueueName(queue)) throw new InvalidInputError("invalid queue name", "queue");
    if (query.group !== undefined) checkGroup(query.group);
    const state = await this.#known(queue);
    if (!state) return { jobs: [], next_cursor: null };
    return await state.listing.list(query);
  }

  async findByIdPrefix(prefix: string, limit: number, queue?: string): Promise<IdSearch> {
    const name = queue ?? this.defaultQueue;
    if (!isValidQueueName(name)) throw new InvalidInputError("invalid queue name", "queue");
    const state = await this.#known(name);
    if (!state) return { jobs: [], truncated: false };
    return await state.listing.findByIdPrefix(prefix, limit);
  }

  async stats(queue?: string, only?: (queue: string) => boolean): Promise<Stats> {
    await this.#home();
    return await this.#reads.stats(queue, only);
  }

  /**
   * The known queues, as this broker's registry last read them (at most
   * `KNOWN_QUEUES_TTL_MS` old): a list other parts of the process can share
   * instead of reading their own (the webhook dispatcher).
   */
  knownQueues(): Promise<string[]> {
    return this.#registry.list(KNOWN_QUEUES_TTL_MS);
  }

  onDue(listener: (at: number) => void): () => void {
    this.#dueListeners.add(listener);
    return () => this.#dueListeners.delete(listener);
  }

  async durations(): Promise<DurationSeries[]> {
    await this.#home();
    return await this.#reads.durations();
  }

  async history(
    queue: string,
    fromMinute: number,
    toMinute: number,
  ): Promise<HistoryMinute[] | null> {
    await this.#home();
    return await this.#reads.history(queue, fromMinute, toMinute);
  }

  async queues(): Promise<QueueInfo[]> {
    await this.#home();
    return await this.#reads.queues();
  }

  async queueInfo(name: string): Promise<QueueInfo | null> {
    await this.#home();
    return await this.#reads.queue(name);
  }

  /** The keys of the default queue (for tools and tests that look inside). */
  get keys(): QueueKeys {
    return this.#state(this.defaultQueue).keys;
  }

  async setPaused(name: string, paused: boolean): Promise<QueueInfo> {
    const state = await this.#known(name);
    if (!state) throw new QueueNotFoundError(name);
    await (await this.#ours(state)).setPaused(paused);
    const info = await this.#reads.queue(name);
    if (!info) throw new QueueNotFoundError(name);
    return info;
  }

  async onCancelRequested(onCancel: (jobId: string) => void): Promise<() => Promise<void>> {
    this.#cancelListeners.add(onCancel);
    if (!this.#subscriber) {
      const sub = duplicate(this.#client, { blocking: true, connectionName: "jq:sub" });
      this.#subscriber = sub;
      // Every queue's cancel channel: a runner holds jobs of any queue it serves.
      const pattern = `${this.#prefix}:{*}:cancel`;
      sub.on("pmessage", (matched: string, _channel: string, message: string) => {
        if (matched !== pattern) return;
        for (const listener of this.#cancelListeners) {
          try {
            listener(message);
          } catch {
            // One listener's failure must not starve the others.
          }
        }
      });
      try {
        await sub.psubscribe(pattern);
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
    await this.#home();
    return await this.#reads.events(cursor, blockMs, count);
  }

  async defer(
    id: string,
    token: string,
    delayMs: number,
    pause: { scope: "type" | "queue" | "group"; type: string; group?: string } | null = null,
  ): Promise<boolean> {
    if (!this.#defaultKnown) await this.#home();
    const state = this.#state(this.#queueOfId(id));
    const field = !pause
      ? ""
      : pause.scope === "group"
      ? `t:${pause.type}|${pause.group ?? ""}`
      : limitField(pause.scope, pause.type);
    const delay = clampRetryAfter(delayMs);
    const ok = await (await this.#ours(state)).defer(id, token, this.#clock(), delay, field);
    this.#freeSlots([id]);
    this.#noOutcome([id]);
    return ok;
  }

  async limits(): Promise<LimitEntry[]> {
    return await this.#limits.list();
  }

  async setLimit(scope: LimitScope, name: string, limit: Limit): Promise<boolean> {
    await this.#home();
    return await this.#limits.set(scope, name, limit);
  }

  async removeLimit(scope: LimitScope, name: string): Promise<boolean> {
    await this.#home();
    return await this.#limits.remove(scope, name);
  }

  async declareLimits(declared: ReadonlyArray<{ type: string; limit: Limit | null }>) {
    await this.#home();
    await this.#limits.declare(declared);
  }

  async ping(): Promise<boolean> {
    try {
      return (await this.#raw((c) => c.ping())) === "PONG";
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    this.#signals?.close();
    await this.#blocking.close();
    await this.#waiter.idle();
    this.#cancelListeners.clear();
    const sub = this.#subscriber;
    this.#subscriber = null;
    sub?.disconnect();
    const ack = this.#ackClient;
    this.#ackClient = null;
    if (ack) await ack.quit().catch(() => ack.disconnect());
    if (this.#ownsClient) await this.#client.quit().catch(() => this.#client.disconnect());
  }
}

/** A single enqueue waiting for its shared script call. */
interface PendingEnqueue {
  job: EncodedJob;
  resolve: (result: EnqueueResult) => void;
  reject: (error: unknown) => void;
}
