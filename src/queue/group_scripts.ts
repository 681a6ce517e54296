/**
 * The group scripts, claim and maintain: one call serves several queues
 * where their keys share a slot (on standalone Redis all of them, so a worker
 * serving 20 queues still pays one claim and one maintenance call; on
 * Cluster each queue is its own group). See `queue_groups.ts` for how queues
 * are grouped and which owners key each group reads.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import type { BackoffPolicy, ClaimedJob, RecoveredJob } from "./job.ts";
import type { QueueKeys } from "./keys.ts";
import { F, unpackRecord } from "./record.ts";
import { type Arg, buildGroupCall, constantsArgv } from "./script_contract.ts";
import { defineScripts, runScript, type ScriptConfig, toNumber } from "./scripts.ts";
import type { LifecycleEvent } from "../events/lifecycle.ts";

const utf8 = new TextDecoder();

/** What maintain.lua did; times are epoch ms. */
export interface MaintainReply {
  promoted: number;
  reaped: number;
  trimmed: number;
  /** Earliest scheduled due time or lease expiry, or null. */
  nextDueAt: number | null;
  /** Oldest finish time left after trimming (null when none or trimming skipped). */
  oldestFinishedAt: number | null;
  /** The jobs whose expired leases were reaped, and where each went. */
  recovered: RecoveredJob[];
  /** Some job is running (held by any owner) after this call. */
  running: boolean;
  /** The queue's flow outbox holds entries to drain (`flow_outbox.ts`). */
  outbox: boolean;
}

/** What claim.lua answers. */
export interface ClaimReply {
  jobs: ClaimedJob[];
  /** False when the liveness check refused the claim. */
  alive: boolean;
  /**
   * Epoch ms (the caller's clock) when a rate lets held-back ready work
   * start; null when nothing was held back by a rate.
   */
  retryAt: number | null;
  /**
   * Wake keys of the queues claimed from where a concurrency limit applies:
   * the end of any job there should wake a claimer waiting for the slot.
   */
  capped: string[];
  /** (wake key, type) of the types with a circuit breaker in the queues claimed from. */
  circuits: Array<[string, string]>;
}

/** What maintain.lua needs to record a heartbeat and judge silent owners. */
export interface OwnerHeartbeat {
  /** The calling process; "" records none and judges none from the owners key. */
  owner: string;
  /** Epoch ms since when the caller's heartbeats have reached Redis without a gap. */
  streakFrom: number;
  /** Silence after which another owner is dead (its leases are reaped). */
  deadAfterMs: number;
  /**
   * Owners the caller judged dead itself (Cluster, where heartbeats live in
   * the deployment's owners key, out of a queue script's reach); default none.
   */
  judged?: readonly string[];
}

/** One queue of a maintenance call, and whether to trim its finished sets this time. */
export interface MaintainQueue {
  keys: QueueKeys;
  trim: boolean;
}

/**
 * A claimed job whose payload is parsed only when read: the worker passes
 * `payload_json` to its threads as text, so the claim path never parses it.
 */
class Claimed implements ClaimedJob {
  #payload: unknown = undefined;
  #parsed = false;

  constructor(
    readonly id: string,
    readonly type: string,
    readonly payload_json: string,
    readonly priority: number,
    readonly attempt: number,
    readonly max_attempts: number,
    readonly timeout_ms: number,
    readonly token: string,
    readonly lease_expires_at: number,
    readonly backoff: BackoffPolicy | null,
    readonly created_at: number,
    readonly dependency_count: number,
    readonly group: string | null,
    readonly trace: string | null,
  ) {}

  get payload(): unknown {
    if (!this.#parsed) {
      this.#payload = JSON.parse(this.payload_json);
      this.#parsed = true;
    }
    return this.#payload;
  }
}

/** Typed wrappers around claim.lua and maintain.lua, bound to one client. */
export class GroupScripts {
  readonly #client: RedisClient;
  readonly #constants: Arg[];
  readonly #onEvents: ((events: LifecycleEvent[]) => void) | null;

  private constructor(client: RedisClient, config: ScriptConfig) {
    this.#client = client;
    this.#onEvents = config.onEvents ?? null;
    // The prefixes are per queue in group scripts (each queue's tuple).
    this.#constants = constantsArgv({
      jobPrefix: "",
      pendingPrefix: "",
      idempotencyPrefix: "",
      eventsMaxLen: config.eventsMaxLen,
      returnEvents: this.#onEvents ? "1" : "0",
      finishedTtlMs: config.finishedTtlMs,
      errorHistory: config.errorHistory,
      retentionMs: config.retentionMs,
    });
  }

  /** Defines the scripts on `client` (once per client). */
  static async create(client: RedisClient, config: ScriptConfig): Promise<GroupScripts> {
    await defineScripts(client);
    return new GroupScripts(client, config);
  }

  /**
   * claim.lua: up to `max` jobs under fresh leases, from `queues` in the
   * order given (paused ones skipped). With `serverClockOffsetMs` (server
   * clock - caller clock) the script reads the time itself when it runs
   * instead of using `now`: for a claim queued behind a blocking wait. With
   * `liveness`, it takes jobs only while `owner`'s last heartbeat in
   * `ownersKey` is at most `freshMs` old (`alive` false when it refused for that).
   */
  async claim(
    ownersKey: string,
    queues: readonly QueueKeys[],
    max: number,
    now: number,
    leaseMs: number,
    tokenBase: string,
    serverClockOffsetMs?: number,
    liveness?: { owner: string; freshMs: number },
  ): Promise<ClaimReply> {
    const argv = buildGroupCall(
      "claim",
      { owners: ownersKey },
      queues.map((keys) => ({
        keys,
        rest: [keys.jobPrefix, keys.pendingPrefix, keys.limitPrefix, keys.historyPrefix],
      })),
      this.#constants,
      {
        max,
        now,
        leaseMs,
        tokenBase,
        clockOffsetMs: serverClockOffsetMs === undefined ? "" : Math.round(serverClockOffsetMs),
        owner: liveness?.owner ?? "",
        freshMs: liveness?.freshMs ?? 0,
      },
    );
    const [flat, alive, retryAt, capped, circuitPairs] = await runScript(
      this.#client,
      "claim",
      argv,
      this.#onEvents,
      { buffers: true },
    ) as [Uint8Array[], number, Uint8Array, Uint8Array[], Uint8Array[]];
    const jobs: ClaimedJob[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      const r = unpackRecord(flat[i + 1]);
      if (!r) continue;
      const bo = r[F.backoff];
      jobs.push(
        new Claimed(
          utf8.decode(flat[i]),
          String(r[F.type]),
          String(r[F.payload]),
          toNumber(r[F.priority]),
          toNumber(r[F.attempts]),
          toNumber(r[F.maxAttempts]),
          toNumber(r[F.timeoutMs]),
          String(r[F.token]),
          toNumber(r[F.leaseExpiresAt]),
          typeof bo === "string" && bo !== "" ? JSON.parse(bo) as BackoffPolicy : null,
          toNumber(r[F.createdAt]),
          typeof r[F.depsTotal] === "number" ? r[F.depsTotal] as number : 0,
          typeof r[F.group] === "string" ? r[F.group] as string : null,
          typeof r[F.trace] === "string" ? r[F.trace] as string : null,
        ),
      );
    }
    const retry = retryAt && retryAt.length > 0 ? Number(utf8.decode(retryAt)) : null;
    return {
      jobs,
      alive: toNumber(alive) === 1,
      retryAt: retry,
      capped: (capped ?? []).map((key) => utf8.decode(key)),
      circuits: pairsOf((circuitPairs ?? []).map((v) => utf8.decode(v))),
    };
  }

  /**
   * maintain.lua: `owner`'s heartbeat in `ownersKey`, then in each queue
   * promote, reap (expired leases and silent owners), trim; bounded by
   * `limit` per step. One reply per queue, in order.
   */
  async maintain(
    ownersKey: string,
    queues: readonly MaintainQueue[],
    now: number,
    limit: number,
    heartbeat: OwnerHeartbeat,
  ): Promise<MaintainReply[]> {
    const argv = buildGroupCall(
      "maintain",
      { owners: ownersKey },
      queues.map((q) => ({
        keys: q.keys,
        rest: [
          q.keys.jobPrefix,
          q.keys.pendingPrefix,
          q.keys.idempotencyPrefix,
          q.trim ? "1" : "0",
          q.keys.historyPrefix,
        ],
      })),
      this.#constants,
      {
        now,
        limit,
        owner: heartbeat.owner,
        streakFrom: heartbeat.streakFrom,
        deadAfterMs: heartbeat.deadAfterMs,
        judged: (heartbeat.judged ?? []).join(","),
      },
    );
    const replies = await runScript(this.#client, "maintain", argv, this.#onEvents) as Array<
      [number, number, number, string, string, Array<string | number>, number, number]
    >;
    return replies.map((reply) => {
      const next = toNumber(reply[3]);
      const oldest = toNumber(reply[4]);
      const flat = reply[5] ?? [];
      const recovered: RecoveredJob[] = [];
      for (let i = 0; i + 3 < flat.length; i += 4) {
        recovered.push({
          id: String(flat[i]),
          type: String(flat[i + 1]),
          attempt: toNumber(flat[i + 2]),
          outcome: String(flat[i + 3]) as RecoveredJob["outcome"],
        });
      }
      return {
        promoted: toNumber(reply[0]),
        reaped: toNumber(reply[1]),
        trimmed: toNumber(reply[2]),
        nextDueAt: next < 0 ? null : next,
        oldestFinishedAt: oldest < 0 ? null : oldest,
        recovered,
        running: toNumber(reply[6]) === 1,
        outbox: toNumber(reply[7]) === 1,
      };
    });
  }
}

/** [a, b, c, d] -> [[a, b], [c, d]]. */
function pairsOf(flat: string[]): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([flat[i], flat[i + 1]]);
  return out;
}
