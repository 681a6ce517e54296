/**
 * The only module that calls the Lua scripts in `scripts/`: typed wrappers
 * that build each call's KEYS and ARGV from its contract
 * (`script_contract.ts`), run it with EVALSHA (ioredis `defineCommand` falls
 * back to EVAL/SCRIPT LOAD on NOSCRIPT), turn the reply into the shapes of
 * `job.ts`, hand the lifecycle events the script wrote to the caller's
 * `onEvents`, and map the scripts' error codes to the typed errors of
 * `errors.ts`.
 *
 * Batch operations (enqueueMany, completeMany, claim, renew, release) are one
 * script call each: inside Redis every `redis.call` costs ~1.5 µs of overhead,
 * so the scripts touch each job as few times as they can and move set members
 * and counters once per batch.
 *
 * @module
 */
import { joinWithLibrary } from "./script_lib.ts";
import { Cluster } from "ioredis";
import type { RedisClient } from "./connect.ts";
import { type SentWrite, toQueueError, toWriteError, whenReady } from "./connect.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
  UnknownDependencyError,
} from "./errors.ts";
import { type GlobalKeys, type QueueKeys, queueKeys, workerDrainKey, workerKey } from "./keys.ts";
import type { CancelOutcome, EnqueueResult, FailOutcome, Lease, RenewStatus } from "./job.ts";
import type { EncodedJob } from "./validate.ts";
import { Embedded, pack, type Packable } from "./msgpack.ts";
import { newRecord } from "./record.ts";
import {
  type Arg,
  type ArgsOf,
  buildCall,
  type CallKeysOf,
  constantsArgv,
  globalConstantsArgv,
  SCRIPT_NAMES,
  type ScriptName,
  SCRIPTS,
  type ScriptSpec,
} from "./script_contract.ts";
import type { LifecycleEvent } from "../events/lifecycle.ts";
import { decodeEntry, type WireValue } from "../events/wire.ts";

/** The ioredis command each script is defined as. */
function commandOf(name: ScriptName): string {
  return `jq_${name}`;
}

/** Every script's ioredis command name (see `ConnectOptions.notAutoPipelined`). */
export const SCRIPT_COMMANDS: readonly string[] = SCRIPT_NAMES.map(commandOf);

/** Most jobs per enqueue.lua call; bigger batches take several calls. */
export const ENQUEUE_CHUNK = 1000;
type ScriptCall = (...args: Arg[]) => Promise<unknown>;

let sources: Promise<Record<ScriptName, string>> | null = null;

/**
 * Reads the scripts once per process, each prefixed with what it uses of
 * `_lib.lua`, `_webhooks.lua` and `_flow.lua` (claim.lua also of
 * `_limits.lua`): `joinWithLibrary` drops the definitions a script never
 * reaches, which Redis would otherwise rebuild on every call. Paths are
 * relative to this module, so it works from any cwd and from Web Workers.
 */
export function loadScriptSources(): Promise<Record<ScriptName, string>> {
  sources ??= (async () => {
    const read = (name: string) =>
      Deno.readTextFile(new URL(`./scripts/${name}.lua`, import.meta.url));
    const lib = `${await read("_lib")}\n${await read("_webhooks")}\n${await read("_flow")}`;
    // Flow control's functions only where they run (claim.lua).
    const limits = await read("_limits");
    const entries = await Promise.all(
      SCRIPT_NAMES.map(async (name) =>
        [
          name,
          joinWithLibrary(name === "claim" ? `${lib}\n${limits}` : lib, await read(name)),
        ] as const
      ),
    );
    return Object.fromEntries(entries) as Record<ScriptName, string>;
  })();
  return sources;
}

/** Settings the scripts need besides keys (sent as the queue constants). */
export interface ScriptConfig {
  retentionMs: number;
  /** Backstop expiry of finished job hashes (retention + slack). */
  finishedTtlMs: number;
  eventsMaxLen: number;
  errorHistory: number;
  /**
   * Receives the lifecycle events each script call wrote, decoded, in order.
   * Absent: the scripts do not send them back (they still write the stream).
   */
  onEvents?: (events: LifecycleEvent[]) => void;
}

/** One enqueue outcome: created, matched an idempotency key, or refused (taken id). */
export type EnqueueOutcome = EnqueueResult | { id: string; exists: true };

/** enqueue.lua's arguments for `jobs`. */
function enqueueArgs(jobs: EncodedJob[], strict: boolean, now: number): ArgsOf<"enqueue"> {
  // One argument for the whole batch: per-argument client costs stay flat.
  // Each record is packed in place (Embedded), not into a buffer of its own.
  const batch = jobs.map(enqueueTuple);
  // Sized from the first job so a uniform batch fits without regrowing.
  const packed = pack(batch, 64 + jobs.length * (160 + (jobs[0]?.payload.length ?? 0)));
  return { now, strict: strict ? "1" : "0", jobs: packed };
}

/** enqueue.lua's reply for `jobs`, one outcome each. */
function enqueueOutcomes(jobs: EncodedJob[], reply: Array<string | number>): EnqueueOutcome[] {
  return jobs.map((job, i) => {
    const r = reply[i];
    if (typeof r === "string") return { id: r, created: false };
    const code = toNumber(r);
    if (code === 2) return { id: job.id, exists: true };
    return code === 3 ? { id: job.id, created: false, full: true } : { id: job.id, created: true };
  });
}

/** A script call built but not sent (`QueueScripts.enqueueCall`), and how to read its reply. */
export interface PreparedCall<T> {
  client: RedisClient;
  name: ScriptName;
  argv: Arg[];
  onEvents: ((events: LifecycleEvent[]) => void) | null;
  read(reply: unknown): T;
}

/**
 * Runs `calls` (all on one client: standalone Redis) in one MULTI/EXEC, so
 * they apply together or, when the connection fails first, not at all; no
 * other client's command runs between them. A script error in one of them
 * (its own refusal, e.g. JQ_EXISTS) does not undo the others: callers check
 * what can refuse before. Replies in order.
 */
export async function runAtomically<T>(calls: PreparedCall<T>[]): Promise<T[]> {
  const client = calls[0].client;
  if (calls.some((c) => c.client !== client)) throw new Error("runAtomically: one client only");
  let status = "";
  let replies: Array<[Error | null, unknown]>;
  try {
    if (client.status !== "ready") await whenReady(client);
    status = client.status;
    const multi = client.multi() as unknown as Record<string, ScriptCall> & {
      exec(): Promise<Array<[Error | null, unknown]> | null>;
    };
    for (const call of calls) multi[commandOf(call.name)].apply(multi, call.argv);
    const answer = await multi.exec();
    if (answer === null) throw new Error("MULTI was discarded");
    replies = answer;
  } catch (error) {
    throw mapScriptError(error, "", calls[0].name, { client, status });
  }
  return calls.map((call, i) => {
    const [error, raw] = replies[i];
    if (error) throw mapScriptError(error, "", call.name, { client, status });
    const reply = raw as [unknown, WireValue[][]];
    if (call.onEvents && reply[1] && reply[1].length > 0) {
      const events: LifecycleEvent[] = [];
      for (const entry of reply[1]) events.push(...decodeEntry(entry));
      if (events.length > 0) call.onEvents(events);
    }
    return call.read(reply[0]);
  });
}

function enqueueTuple(job: EncodedJob): Packable[] {
  const tuple: Packable[] = [
    job.id,
    job.type,
    job.priority,
    job.dueAt,
    job.idempotencyKey,
    job.callerId,
    new Embedded(newRecord(job)),
  ];
  // Only a job with dependencies or a waiting limit carries the 8th and 9th
  // fields: any other costs the script nothing.
  if (job.dependsOn.length > 0) tuple.push(job.dependsOn);
  if (job.waitingLimit >= 0) {
    if (job.dependsOn.length === 0) tuple.push(false);
    tuple.push(job.waitingLimit);
  }
  return tuple;
}

/** One webhook attempt's outcome as webhook_done.lua takes it. */
export interface WebhookOutcomeCall {
  delivery: string;
  token: string;
  outcome: "delivered" | "retry" | "failed" | "dropped";
  retryAt?: number;
  error?: string;
  status?: number;
  keepFailedMs: number;
  maxFailed: number;
  /** The latency histogram's upper bounds, seconds. */
  buckets: readonly number[];
}

/** A failed attempt as fail.lua takes it. */
export interface FailCall {
  message: string;
  retryable: boolean;
  retryDelayMs: number;
  /** The attempt passed its deadline: soft (the handler stopped) or hard (it did not). */
  timedOut?: "soft" | "hard";
}

/**
 * Maps a script's error reply (`JQ_<CODE> detail`) to a typed error. Every
 * script writes, so a connection failure is classified by `sent` (how the
 * call was handed to ioredis): unavailable only when it certainly never ran,
 * else outcome unknown (`toWriteError`).
 */
export function mapScriptError(
  error: unknown,
  id: string,
  operation: string,
  sent?: SentWrite,
): unknown {
  const message = error instanceof Error ? error.message : "";
  const match = /JQ_([A-Z_]+)(?: (\S+))?/.exec(message);
  if (!match) return sent ? toWriteError(error, sent) : toQueueError(error);
  switch (match[1]) {
    case "NOT_FOUND":
      return new JobNotFoundError(id);
    case "INVALID_STATE":
      return new InvalidStateError(id, match[2] ?? "unknown", operation);
    case "PINNED":
      // Finished, but a waiting job still depends on it: its outcome is not delivered yet.
      return new InvalidStateError(
        id,
        `${match[2] ?? "finished"}, needed by a waiting job`,
        operation,
      );
    case "EXISTS":
      return new InvalidInputError(`a job with id ${id || match[2]} already exists`, "id");
    case "UNKNOWN_DEPENDENCY":
      return new UnknownDependencyError((match[2] ?? "").split(",").filter(Boolean));
    default:
      return error;
  }
}

const utf8 = new TextDecoder();

/** A script reply value as a number (replies may be strings or buffers). */
export function toNumber(value: unknown): number {
  if (typeof value === "number") return value;
  return Number(value instanceof Uint8Array ? utf8.decode(value) : value);
}

/** Typed wrappers around the queue's Lua scripts, bound to one client and queue. */
export class QueueScripts {
  readonly #client: RedisClient;
  readonly #keys: QueueKeys;
  readonly #constants: Arg[];
  readonly #onEvents: ((events: LifecycleEvent[]) => void) | null;

  private constructor(client: RedisClient, keys: QueueKeys, config: ScriptConfig) {
    this.#client = client;
    this.#keys = keys;
    this.#onEvents = config.onEvents ?? null;
    this.#constants = constantsArgv({
      jobPrefix: keys.jobPrefix,
      pendingPrefix: keys.pendingPrefix,
      idempotencyPrefix: keys.idempotencyPrefix,
      eventsMaxLen: config.eventsMaxLen,
      returnEvents: this.#onEvents ? "1" : "0",
      finishedTtlMs: config.finishedTtlMs,
      errorHistory: config.errorHistory,
      retentionMs: config.retentionMs,
    });
  }

  /** Loads the script sources and defines them as commands on `client` (once per client). */
  static async create(
    client: RedisClient,
    keys: QueueKeys,
    config: ScriptConfig,
  ): Promise<QueueScripts> {
    await defineScripts(client);
    return new QueueScripts(client, keys, config);
  }

  /**
   * Runs script `name` and returns its result, after handing the events in
   * its reply (`{ result, events }`) to `onEvents`. `errorId` names the job
   * in a mapped error.
   */
  async #run<N extends ScriptName>(
    name: N,
    args: ArgsOf<N>,
    callKeys: CallKeysOf<N>,
    options: { rest?: readonly Arg[]; errorId?: string } = {},
  ): Promise<unknown> {
    const argv = buildCall(name, this.#keys, this.#constants, args, callKeys, options.rest);
    return await runScript(this.#client, name, argv, this.#onEvents, {
      errorId: options.errorId,
    });
  }

  /**
   * enqueue.lua for any number of jobs: one call, one round trip. `strict`:
   * a taken caller-chosen id refuses the whole call (JQ_EXISTS); otherwise
   * only that job is refused and reported as `{ id, exists: true }`.
   */
  async #enqueueCall(jobs: EncodedJob[], strict: boolean, now: number): Promise<EnqueueOutcome[]> {
    // JQ_EXISTS names the colliding id itself (a batch has many); nothing was written.
    const reply = await this.#run("enqueue", enqueueArgs(jobs, strict, now), {}) as Array<
      string | number
    >;
    return enqueueOutcomes(jobs, reply);
  }

  /**
   * enqueue.lua's strict call for `jobs` (at most `ENQUEUE_CHUNK`), not sent:
   * `runAtomically` sends the calls of several queues in one MULTI/EXEC.
   */
  enqueueCall(jobs: EncodedJob[], now: number): PreparedCall<EnqueueResult[]> {
    const argv = buildCall(
      "enqueue",
      this.#keys,
      this.#constants,
      enqueueArgs(jobs, true, now),
      {},
    );
    return {
      client: this.#client,
      name: "enqueue",
      argv,
      onEvents: this.#onEvents,
      read: (reply) => enqueueOutcomes(jobs, reply as Array<string | number>) as EnqueueResult[],
    };
  }

  /**
   * enqueue.lua for independent jobs (concurrent single enqueues sharing one
   * call): each job succeeds or is refused on its own.
   */
  async enqueueEach(jobs: EncodedJob[], now: number): Promise<EnqueueOutcome[]> {
    return await this.#enqueueCall(jobs, false, now);
  }

  /**
   * enqueue.lua for many jobs: one script call per chunk of `ENQUEUE_CHUNK`,
   * so a huge batch never holds Redis for long. Each chunk is all or nothing
   * (a colliding caller-chosen id refuses its chunk before any write).
   */
  async enqueueMany(jobs: EncodedJob[], now: number): Promise<EnqueueResult[]> {
    const out: EnqueueResult[] = [];
    for (let i = 0; i < jobs.length; i += ENQUEUE_CHUNK) {
      const chunk = jobs.slice(i, i + ENQUEUE_CHUNK);
      out.push(...await this.#enqueueCall(chunk, true, now) as EnqueueResult[]);
    }
    return out;
  }

  /**
   * complete.lua for many leases: one script call, one round trip. Per
   * lease: true when acked; `onOutbox` is called when a completion left its
   * outcome in the flow outbox (dependents in other queues).
   */
  async completeMany(
    acks: Array<Lease & { resultJson: string }>,
    now: number,
    onOutbox?: () => void,
  ): Promise<boolean[]> {
    if (acks.length === 0) return [];
    const rest: Arg[] = [];
    for (const a of acks) rest.push(a.id, a.token, a.resultJson);
    const reply = await this.#run(
      "complete",
      { now, historyPrefix: this.#keys.historyPrefix },
      {},
      {
        rest,
        errorId: acks.length === 1 ? acks[0].id : "",
      },
    ) as number[];
    return reply.map((code) => {
      const n = toNumber(code);
      if (n === 3) onOutbox?.();
      return n === 1 || n === 3;
    });
  }

  /**
   * fail.lua: the outcome, or null when the lease was lost; `onOutbox` is
   * called when the end went to the flow outbox (the caller drains it).
   */
  async fail(
    id: string,
    token: string,
    now: number,
    failure: FailCall,
    onOutbox?: () => void,
  ): Promise<FailOutcome | null> {
    const reply = await this.#run(
      "fail",
      {
        id,
        token,
        now,
        message: failure.message,
        retryable: failure.retryable ? "1" : "0",
        retryDelayMs: failure.retryDelayMs,
        timedOut: failure.timedOut ?? "",
        historyPrefix: this.#keys.historyPrefix,
      },
      { job: this.#keys.jobPrefix + id },
      { errorId: id },
    );
    if (Array.isArray(reply)) {
      onOutbox?.();
      return String(reply[0]) as FailOutcome;
    }
    return typeof reply === "string" ? reply as FailOutcome : null;
  }

  /**
   * defer.lua: a rate-limited job back to scheduled for `delayMs`, its
   * attempt given back; `pauseField` ("t:<type>", "q" or "") pauses that
   * scope as long. False when the lease was lost.
   */
  async defer(
    id: string,
    token: string,
    now: number,
    delayMs: number,
    pauseField: string,
  ): Promise<boolean> {
    const reply = await this.#run(
      "defer",
      { id, token, now, delayMs, pauseField },
      { job: this.#keys.jobPrefix + id },
      { errorId: id },
    );
    return toNumber(reply) === 1;
  }

  /** renew.lua for many leases in one call. */
  async renew(leases: Lease[], leaseMs: number, now: number): Promise<RenewStatus[]> {
    if (leases.length === 0) return [];
    const reply = await this.#run("renew", { now, leaseMs }, {}, {
      rest: leases.flatMap((l) => [l.id, l.token]),
    }) as number[];
    return reply.map((code) => code === 1 ? "ok" : code === 2 ? "cancel_requested" : "lost");
  }

  /** release.lua for many leases in one call. */
  async release(
    leases: Lease[],
    now: number,
    restoreAttempt: boolean,
    reason: string,
  ): Promise<boolean[]> {
    if (leases.length === 0) return [];
    const reply = await this.#run(
      "release",
      {
        now,
        restoreAttempt: restoreAttempt ? "1" : "0",
        reason,
      },
      {},
      { rest: leases.flatMap((l) => [l.id, l.token]) },
    ) as number[];
    return reply.map((code) => code === 1);
  }

  /** progress.lua: false when the lease was lost. */
  async progress(id: string, token: string, percent: number, now: number): Promise<boolean> {
    const reply = await this.#run(
      "progress",
      { id, token, now, percent: String(percent) },
      { job: this.#keys.jobPrefix + id },
      { errorId: id },
    );
    return toNumber(reply) === 1;
  }

  /** reap_owner.lua: takes back every lease `owner` holds; returns how many. */
  async reapOwner(owner: string, reason: string, now: number): Promise<number> {
    return toNumber(
      await this.#run("reap_owner", {
        now,
        owner,
        reason,
        historyPrefix: this.#keys.historyPrefix,
      }, {}),
    );
  }

  /** cancel.lua. Throws JobNotFoundError / InvalidStateError. */
  async cancel(id: string, now: number): Promise<CancelOutcome> {
    return await this.#run(
      "cancel",
      { id, now, cancelChannel: this.#keys.cancelChannel },
      { job: this.#keys.jobPrefix + id },
      { errorId: id },
    ) as CancelOutcome;
  }

  /**
   * requeue.lua; `revive`: also bring back the dependents its end took down.
   * Throws JobNotFoundError / InvalidStateError.
   */
  async requeue(id: string, now: number, revive = false): Promise<void> {
    await this.#run("requeue", { id, now, revive: revive ? "1" : "0" }, {
      job: this.#keys.jobPrefix + id,
    }, { errorId: id });
  }

  /**
   * run_now.lua: a scheduled job (delayed, or a retry in its backoff) made
   * pending now. Throws JobNotFoundError / InvalidStateError.
   */
  async runNow(id: string): Promise<void> {
    await this.#run("run_now", { id }, { job: this.#keys.jobPrefix + id }, { errorId: id });
  }

  /**
   * purge.lua: deletes up to `limit` jobs of a finished state; returns how
   * many were deleted and how many looked at (kept ones were needed by a flow).
   */
  async purge(
    state: "completed" | "failed" | "cancelled",
    limit: number,
  ): Promise<{ deleted: number; examined: number }> {
    const [deleted, examined] = await this.#run("purge", { state, limit }, {
      finished: this.#keys[state],
    }) as [number, number];
    return { deleted: toNumber(deleted), examined: toNumber(examined) };
  }

  /**
   * delete.lua: deletes one finished job (record, flow keys, idempotency
   * key, state index) and answers the state it was in. Throws
   * JobNotFoundError, or InvalidStateError unless it is finished and no
   * waiting job still depends on it.
   */
  async deleteJob(id: string, now: number): Promise<"completed" | "failed" | "cancelled"> {
    const state = await this.#run("delete", { id, now }, { job: this.#keys.jobPrefix + id }, {
      errorId: id,
    });
    return String(state) as "completed" | "failed" | "cancelled";
  }

  /**
   * resolve.lua: delivers `dependency`'s outcome to `dependents` of this
   * queue (`outcome`: "c", "f" or "x"; `value`: result JSON or error, or "").
   */
  async resolve(
    dependency: string,
    outcome: string,
    type: string,
    value: string,
    dependents: string[],
    now: number,
  ): Promise<void> {
    await this.#run("resolve", { now, dependency, outcome, dependencyType: type, value }, {}, {
      rest: dependents,
    });
  }

  /** outbox_done.lua: removes delivered outbox entries still as they were read. */
  async outboxDone(entries: Array<{ member: string; score: string }>): Promise<number> {
    if (entries.length === 0) return 0;
    return toNumber(
      await this.#run("outbox_done", {}, {}, {
        rest: entries.flatMap((e) => [e.member, e.score]),
      }),
    );
  }

  /**
   * link.lua: links `dependent` (another queue's) into `dependencies` of
   * this queue; per dependency null while it has not ended, else its packed
   * outcome (`[code, type, value]` MessagePack) to deliver. Mode `unpin`:
   * the dependent stopped waiting (every answer null).
   */
  async link(
    dependent: string,
    dependencies: string[],
    mode: "link" | "unpin" = "link",
  ): Promise<Array<Uint8Array | null>> {
    const argv = buildCall(
      "link",
      this.#keys,
      this.#constants,
      { dependent, mode },
      {},
      dependencies,
    );
    const reply = await runScript(this.#client, "link", argv, null, {
      buffers: true,
    }) as Uint8Array[];
    return reply.map((r) => r.length === 0 ? null : r);
  }

  /** pause.lua: true when the flag changed. */
  async setPaused(paused: boolean): Promise<boolean> {
    return toNumber(await this.#run("pause", { paused: paused ? "1" : "0" }, {})) === 1;
  }

  /** wake.lua: wakes one idle claimer (a concurrency slot was freed). */
  async wake(): Promise<void> {
    await this.#run("wake", {}, {});
  }

  /**
   * limits_sync.lua: the limits applying to this queue (field -> encoded
   * limit) as of deployment `version`; false when a newer one was there.
   */
  async syncLimits(version: number, limits: ReadonlyArray<[string, string]>): Promise<boolean> {
    const reply = await this.#run("limits_sync", { version }, {}, { rest: limits.flat() });
    return toNumber(reply) === 1;
  }

  /**
   * circuit.lua: outcomes of jobs of types with a circuit breaker (type ->
   * succeeded, failed); the breakers' transitions.
   */
  async circuit(
    now: number,
    outcomes: ReadonlyMap<string, { ok: number; failed: number }>,
  ): Promise<Array<{ type: string; from: string; to: string }>> {
    const rest = [...outcomes].flatMap(([type, o]) => [type, o.ok, o.failed]);
    const reply = await this.#run("circuit", { now, limitPrefix: this.#keys.limitPrefix }, {}, {
      rest,
    }) as string[];
    const out = [];
    for (let i = 0; i + 2 < reply.length; i += 3) {
      out.push({ type: String(reply[i]), from: String(reply[i + 1]), to: String(reply[i + 2]) });
    }
    return out;
  }

  /**
   * webhook_claim.lua: up to `max` due webhook deliveries, each claimed for
   * `leaseMs` under `token`; their MessagePack records and the earliest due
   * time left (null: none).
   */
  async webhookClaim(
    max: number,
    leaseMs: number,
    token: string,
    now: number,
  ): Promise<{ claimed: Array<{ id: string; record: Uint8Array }>; nextDue: number | null }> {
    const argv = buildCall(
      "webhook_claim",
      this.#keys,
      this.#constants,
      { now, max, leaseMs, token },
      {},
    );
    const [flat, next] = await runScript(this.#client, "webhook_claim", argv, null, {
      buffers: true,
    }) as [Uint8Array[], Uint8Array];
    const claimed = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      claimed.push({ id: utf8.decode(flat[i]), record: flat[i + 1] });
    }
    const due = toNumber(next);
    return { claimed, nextDue: due < 0 ? null : due };
  }

  /** webhook_done.lua: an attempt's outcome; false when its claim no longer held. */
  async webhookDone(outcome: WebhookOutcomeCall, now: number): Promise<boolean> {
    const reply = await this.#run("webhook_done", {
      now,
      delivery: outcome.delivery,
      token: outcome.token,
      outcome: outcome.outcome,
      retryAt: outcome.retryAt ?? 0,
      lastError: outcome.error ?? "",
      status: outcome.status ?? 0,
      keepFailedMs: outcome.keepFailedMs,
      maxFailed: outcome.maxFailed,
      buckets: outcome.buckets.join(","),
    }, {});
    return toNumber(reply) === 1;
  }

  /** webhook_redeliver.lua: a given-up delivery due again. Throws JobNotFoundError when it is not one. */
  async webhookRedeliver(delivery: string, now: number): Promise<void> {
    await this.#run("webhook_redeliver", { now, delivery }, {}, { errorId: delivery });
  }

  /** inspect.lua: the paused flag and since when the oldest pending job is ready. */
  async inspect(): Promise<{ paused: boolean; oldestReadyAt: number | null }> {
    const [paused, oldest] = await this.#run("inspect", {}, {}) as [number, string];
    const at = toNumber(oldest);
    return { paused: toNumber(paused) === 1, oldestReadyAt: at < 0 ? null : at };
  }
}

const defined = new WeakMap<RedisClient, Promise<void>>();

/** Defines every script as a command on `client`, once. */
export function defineScripts(client: RedisClient): Promise<void> {
  let done = defined.get(client);
  if (!done) {
    // What differs between deployments is fixed per connection, not sent per
    // call: on Cluster, wakes and due times are also published (_lib.lua).
    const prelude = `local PUBLISH_WAKES = ${client instanceof Cluster}`;
    done = loadScriptSources().then((src) => {
      for (const name of SCRIPT_NAMES) {
        const spec: ScriptSpec = SCRIPTS[name];
        // Group scripts take their number of keys as the first argument.
        client.defineCommand(commandOf(name), {
          numberOfKeys: spec.queueKeys ? undefined : spec.keys.length,
          lua: `${prelude}\n${src[name]}`,
        });
      }
    });
    defined.set(client, done);
  }
  return done;
}

/**
 * Runs script `name` with its built `argv` on `client`, hands the events in
 * its reply (`{ result, events }`) to `onEvents`, and returns the result.
 * `errorId` names the job in a mapped error; `buffers` asks for binary replies.
 */
export async function runScript(
  client: RedisClient,
  name: ScriptName,
  argv: readonly Arg[],
  onEvents: ((events: LifecycleEvent[]) => void) | null,
  options: { errorId?: string; buffers?: boolean } = {},
): Promise<unknown> {
  const method = options.buffers ? `${commandOf(name)}Buffer` : commandOf(name);
  const fn = (client as unknown as Record<string, ScriptCall>)[method];
  let reply: [unknown, WireValue[][]];
  // The client's status when the call is handed over tells whether it was written.
  let status = "";
  try {
    // No offline queue (connect.ts): wait out a (re)connection first.
    if (client.status !== "ready") await whenReady(client);
    status = client.status;
    reply = await fn.apply(client, argv as Arg[]) as [unknown, WireValue[][]];
  } catch (error) {
    throw mapScriptError(error, options.errorId ?? "", name, { client, status });
  }
  if (onEvents && reply[1] && reply[1].length > 0) {
    const events: LifecycleEvent[] = [];
    for (const entry of reply[1]) events.push(...decodeEntry(entry));
    if (events.length > 0) onEvents(events);
  }
  return reply[0];
}

/**
 * worker_drain.lua: asks worker `owner` to drain. True when the request was
 * written, false when one was already there; `JobNotFoundError` when no such
 * worker is registered.
 */
export async function drainWorkerScript(
  client: RedisClient,
  keys: GlobalKeys,
  prefix: string,
  owner: string,
  now: number,
): Promise<boolean> {
  await defineScripts(client);
  const argv = buildCall(
    "worker_drain",
    queueKeys("default", prefix),
    globalConstantsArgv(prefix, 0),
    { now },
    { worker: workerKey(keys, owner), workerDrain: workerDrainKey(keys, owner) },
  );
  return toNumber(await runScript(client, "worker_drain", argv, null, { errorId: owner })) === 1;
}

/** worker_prune.lua: drops `owner` from the worker index if its record is gone. */
export async function pruneWorkerScript(
  client: RedisClient,
  keys: GlobalKeys,
  prefix: string,
  owner: string,
): Promise<boolean> {
  await defineScripts(client);
  const argv = buildCall(
    "worker_prune",
    queueKeys("default", prefix),
    globalConstantsArgv(prefix, 0),
    { owner },
    { workers: keys.workers, worker: workerKey(keys, owner) },
  );
  return toNumber(await runScript(client, "worker_prune", argv, null)) === 1;
}
