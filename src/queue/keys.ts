/**
 * Every Redis key of a queue, built in one place. All keys of one queue share
 * the hash tag `{queue}`, so each multi-key script touches a single Cluster slot.
 * Lua scripts never build key names: they receive them in KEYS, except keys
 * reached through an id or a value (job records, pending lists per priority,
 * idempotency keys), which use the documented prefixes passed in ARGV (the
 * same slot, thanks to the tag).
 *
 * @module
 */

/**
 * A tenant's name: letters, digits, `_`, `-`, `.`, starting with a letter or
 * digit (so never `.` or `..`: names travel in URL paths).
 */
export const TENANT_NAME_SOURCE = "[A-Za-z0-9][A-Za-z0-9_.-]{0,63}";

/**
 * Queue names: letters, digits, `_`, `-`, `.`, optionally behind a tenant and
 * one `/` (`acme/default`: a queue of tenant `acme`, see `src/tenants/`). No
 * braces, so the hash tag stays whole, and no `:`, which ends a job id's queue.
 */
export const QUEUE_NAME_SOURCE = `(?:${TENANT_NAME_SOURCE}/)?[A-Za-z0-9_.-]{1,64}`;

/** The rule of queue names, as errors state it. */
export const QUEUE_NAME_RULE =
  'a queue name is 1-64 letters, digits, "_", "-" or ".", optionally after "<tenant>/"';

const QUEUE_NAME = new RegExp(`^${QUEUE_NAME_SOURCE}$`);

/** True when `name` can be used as a queue name. */
export function isValidQueueName(name: string): boolean {
  return QUEUE_NAME.test(name);
}

/** Key names of one queue. */
export interface QueueKeys {
  /**
   * Prefix of job records: `${jobPrefix}${id}` is a STRING holding the job as
   * a MessagePack array (see `record.ts`).
   */
  jobPrefix: string;
  /**
   * Prefix of the pending LISTs, one per priority: `${pendingPrefix}${priority}`
   * holds ready job ids in FIFO order (RPUSH at the tail, LPOP at the head).
   */
  pendingPrefix: string;
  /** ZSET of the priorities whose pending LIST is non-empty; member = score = priority. */
  priorities: string;
  /** ZSET of job ids waiting for a time (delay or retry backoff); score = due epoch ms. */
  scheduled: string;
  /** ZSET of running job ids; score = lease expiry epoch ms. */
  running: string;
  /** ZSET of completed job ids; score = completion epoch ms. */
  completed: string;
  /** ZSET of dead job ids (attempts exhausted or fatal error); score = failure epoch ms. */
  failed: string;
  /** ZSET of cancelled job ids; score = cancel epoch ms. */
  cancelled: string;
  /**
   * ZSET of waiting job ids (dependencies not all done); score = epoch ms it
   * started waiting. A waiting job's dependencies are the HASH
   * `${jobPrefix}${id}:d` (dependency id -> "0" while pending, else the
   * MessagePack `[outcome, type, result]` delivered by `_flow.lua`); a job's
   * dependents are the SET `${jobPrefix}${id}:r` (ids of any queue), and
   * those of other queues still waiting the SET `${jobPrefix}${id}:w`.
   */
  waiting: string;
  /**
   * ZSET, the flow outbox: members `d:<id>` (a finished job of this queue
   * whose outcome its dependents in other queues, or ones a failure reaches,
   * still have to get), `l:<id>` (a waiting job of this queue whose links
   * into other queues' dependency sets are still to be made), `v:<id>` (a
   * requeued job whose dependents it took down come back) and `u:<id>` (a
   * job of this queue stopped waiting: its dependencies elsewhere need not
   * stay for it); score = epoch
   * ms written. Drained idempotently by the broker right after the
   * transition that wrote it, and by maintenance as a fallback
   * (`flow_outbox.ts`), so a crash in between loses nothing.
   */
  outbox: string;
  /**
   * HASH of counters: `<state>` and `<state>|<type>`, `<state>_gone` (a
   * finished state's departures), `started` (attempts ever started), plus
   * `retried`.
   */
  stats: string;
  /**
   * HASH, the attempt-duration histogram (counts only grow):
   * `<status>|<bucket>|<type>` -> attempts whose run time fell in bucket
   * (1-based index into `DURATION_BUCKETS`, one past the last = +Inf), and
   * `<status>|s|<type>` -> their summed run time, ms. Written by the scripts
   * that end an attempt (complete.lua, fail.lua).
   */
  durations: string;
  /**
   * Prefix of the per-minute history HASHes: `${historyPrefix}${epochMinute}`
   * (`historyKey`) holds what happened in that UTC minute: `c` attempts
   * completed, `f` jobs that ended failed, `r` failed attempts rescheduled,
   * `l|<bucket>` jobs started whose enqueue-to-start latency fell in the
   * bucket (1-based index into `LATENCY_BUCKETS_MS`, one past the last =
   * +Inf) and `l|s` their summed latency, ms. Written by claim.lua,
   * complete.lua and fail.lua (and the reaper's scripts), each key expiring
   * `HISTORY_TTL_S` after its first write: at most 1,500 keys per queue.
   */
  historyPrefix: string;
  /**
   * LIST of due times (epoch ms) announced to idle runners on standalone
   * Redis: a job scheduled ahead of every other one pushes its time, and the
   * runner whose BLPOP pops it sleeps until then (`announceDue` in _lib.lua).
   */
  dues: string;
  /** LIST of wake-up markers; idle runners block on it (BLPOP). */
  wake: string;
  /** STREAM of lifecycle events, capped (MAXLEN ~). */
  events: string;
  /** Pub/sub channel (not a key) carrying ids of running jobs to cancel. */
  cancelChannel: string;
  /**
   * HASH of queue metadata: `format`, the storage format the keys are written
   * in; `paused`, "1" while the queue is paused (claims skip it).
   */
  meta: string;
  /** Prefix of idempotency keys: `${idempotencyPrefix}${key}` is a STRING holding a job id. */
  idempotencyPrefix: string;
  /**
   * The owners ZSET the queue's scripts read (worker processes, score = epoch
   * ms of the last heartbeat): a claim that waited behind a blocking pop only
   * takes jobs for an owner seen lately, and an owner silent for long is
   * reaped (its leases go back to pending). The broker points it at the
   * deployment's key (`GlobalKeys.owners`) on standalone Redis; on Cluster
   * the scripts are given it but never touch it (heartbeats live in the
   * deployment's key there too, read by the broker: see `#maintainCluster`).
   */
  owners: string;
  /**
   * Flow control (`src/limits/`). HASH of the limits that apply in this
   * queue, mirrored from the deployment's (`GlobalKeys.limits`): `q` -> the
   * queue's own, `t:<type>` -> a type's, each `"max,per_ms,concurrency"`;
   * `v` -> the version mirrored (a stale mirror never overwrites a newer one).
   * The meta HASH's `limited` is "1" while it or `heldTypes` exists: claims
   * read the limits only then.
   */
  limits: string;
  /** SET of the job types with jobs parked in a held LIST (see `limitPrefix`). */
  heldTypes: string;
  /**
   * Prefix of the limits' state: `${limitPrefix}h:<type>` LIST of pending ids
   * of a type the claim found limited (parked in claim order, claimed first
   * once the type has room); `${limitPrefix}r:<field>` LIST, a rate's sliding
   * log (`"<ms>:<starts>"`, oldest first) and `${limitPrefix}s:<field>` STRING,
   * the starts it holds; `${limitPrefix}n` HASH of held-back claim counts
   * (`<field>|rate`, `<field>|concurrency`).
   */
  limitPrefix: string;
  /**
   * Completion webhooks (`src/webhooks/`). HASH, the queue's mirror of the
   * subscriptions that apply to it: subscription id -> `"<events>|<type>"`
   * (events as letters: `c` completed, `f` failed, `x` cancelled; type ""
   * for every type). The finishing scripts read it (one HGETALL per call)
   * to record deliveries atomically with the transition; empty costs ~nothing.
   */
  webhookSubs: string;
  /**
   * HASH of this queue's webhook deliveries: delivery id -> MessagePack
   * `[job id, event, subscription id, url, finished ms, attempts, lease token,
   * job record, last error, last status, given-up ms]` (`webhooks/delivery.ts`);
   * field `#seq` is the counter delivery ids are made from.
   */
  webhookDeliveries: string;
  /** ZSET of deliveries to send: delivery id, score = due epoch ms (a claim pushes it a lease ahead). */
  webhookDue: string;
  /** ZSET of given-up deliveries: delivery id, score = epoch ms given up (bounded retention). */
  webhookFailed: string;
  /** LIST of wake markers the webhook dispatcher blocks on (BLPOP), capped at 16. */
  webhookWake: string;
  /**
   * HASH of webhook delivery counters: `delivered`, `retried`, `failed`, and the
   * latency histogram `lat:<le>` (non-cumulative counts per bucket), `lat:sum` (s), `lat:count`.
   */
  webhookStats: string;
}

/** The ZSET states (every state but pending, which lives in per-priority LISTs). */
export type ZsetState =
  | "scheduled"
  | "running"
  | "completed"
  | "failed"
  | "cancelled"
  | "waiting";

/**
 * Builds the keys of `queue`. Key names are short on purpose: the job key is
 * stored once per job.
 *
 * @example
 * ```ts
 * queueKeys("default").jobPrefix; // "jq:{default}:j:"
 * ```
 */
export function queueKeys(queue: string, prefix = "jq"): QueueKeys {
  if (!isValidQueueName(queue)) throw new Error(`invalid queue name: ${JSON.stringify(queue)}`);
  const base = `${prefix}:{${queue}}:`;
  return {
    jobPrefix: `${base}j:`,
    pendingPrefix: `${base}p:`,
    priorities: `${base}prios`,
    scheduled: `${base}scheduled`,
    running: `${base}running`,
    completed: `${base}completed`,
    failed: `${base}failed`,
    cancelled: `${base}cancelled`,
    waiting: `${base}waiting`,
    outbox: `${base}outbox`,
    stats: `${base}stats`,
    durations: `${base}durations`,
    historyPrefix: `${base}hist:`,
    dues: `${base}dues`,
    wake: `${base}wake`,
    events: `${base}events`,
    cancelChannel: `${base}cancel`,
    meta: `${base}meta`,
    idempotencyPrefix: `${base}i:`,
    owners: `${base}owners`,
    limits: `${base}limits`,
    heldTypes: `${base}held`,
    limitPrefix: `${base}l:`,
    webhookSubs: `${base}wh:subs`,
    webhookDeliveries: `${base}wh:d`,
    webhookDue: `${base}wh:due`,
    webhookFailed: `${base}wh:failed`,
    webhookWake: `${base}wh:wake`,
    webhookStats: `${base}wh:stats`,
  };
}

/**
 * Keys of the whole deployment, not of one queue. Their hash tag `{#}` cannot
 * be a queue's (`#` is not allowed in queue names).
 */
export interface GlobalKeys {
  /** HASH of the known queues: name -> epoch ms it was first seen. */
  queues: string;
  /**
   * STRING: the home queue, whose job ids are plain UUIDs (every other
   * queue's ids are `<queue>:<uuid>`; see `job_id.ts`). Set once.
   */
  home: string;
  /**
   * ZSET of lease owners (score = last heartbeat ms): one heartbeat covers
   * every queue. On standalone Redis the scripts read it; on Cluster, where
   * a queue's script cannot reach it, the broker does.
   */
  owners: string;
  /**
   * HASH of API keys: key id -> JSON record (name, scopes, tenant, created_at,
   * SHA-256 of the secret); see `src/auth/key_store.ts`.
   */
  apiKeys: string;
  /** HASH of API key use: key id -> epoch ms of its last use (written at most once a minute). */
  apiKeysUsed: string;
  /** HASH of recurring schedules: name -> definition JSON (`src/schedules/schedule.ts`). */
  schedules: string;
  /**
   * HASH of the schedules' tick state: name -> JSON (next tick, version,
   * paused, the decided tick not yet confirmed, last job); see `src/schedules/state.ts`.
   */
  scheduleState: string;
  /**
   * ZSET of the schedules with something to do: name, score = epoch ms of its
   * next tick (or of the rescue of a decided tick); paused and ended ones are absent.
   */
  scheduleDue: string;
  /** HASH of the jobs schedules produced: job id -> JSON `[schedule, tick ms]`. */
  scheduleJobs: string;
  /**
   * Prefix of each schedule's job ZSET: `${scheduleJobsPrefix}${name}`, member
   * = job id, score = tick ms (the newest `SCHEDULE_JOBS_KEPT` kept).
   */
  scheduleJobsPrefix: string;
  /** Pub/sub channel (not a key): a schedule changed; every scheduler loop re-reads. */
  scheduleChannel: string;
  /** HASH of tenants' quotas: tenant -> JSON (`src/tenants/quota.ts`). */
  tenants: string;
  /**
   * Prefix of each tenant's submit-rate state: `${tenantRatePrefix}${tenant}`
   * is a STRING (tenant_rate.lua), expiring once the tenant is idle.
   */
  tenantRatePrefix: string;
  /**
   * STRING an API process writes (with a short expiry) to learn whether Redis
   * accepts writes, for `/ready`; see `write_probe.ts`.
   */
  writeProbe: string;
  /**
   * HASH of the limits set at runtime (`PUT /limits/:scope/:name`):
   * `<scope>:<name>` -> JSON (`src/limits/limit.ts`); they win over `limitsCode`.
   */
  limits: string;
  /** HASH of the limits job types declare in code (`defineJob({ limits })`), same shape. */
  limitsCode: string;
  /** STRING: the limits' version, incremented by every change (queues mirror it). */
  limitsVersion: string;
  /**
   * ZSET, the index of registered worker processes: owner id, score = epoch ms
   * it registered (re-added now and then); see `src/queue/worker_presence.ts`.
   */
  workers: string;
  /**
   * Prefix of each worker process's presence: `${workerPrefix}${owner}` is a
   * STRING holding its JSON record, written by its beats with an expiry, so
   * it vanishes when the process dies (see `worker_presence.ts`).
   */
  workerPrefix: string;
  /**
   * Prefix of each worker's drain request kept beside its record:
   * `${workerDrainPrefix}${owner}` is a STRING (epoch ms, expiring), read by
   * a beat that follows a failed one (whose reply may have carried the
   * request while its write cleared it from the record).
   */
  workerDrainPrefix: string;
  /**
   * HASH of webhook subscriptions: id -> JSON `{id, url, events, queue, type,
   * tenant, secret, created_at}` (`src/webhooks/subscriptions.ts`); each queue
   * it applies to mirrors it (`QueueKeys.webhookSubs`).
   */
  webhooks: string;
  /**
   * STRING: the deployment's webhook secret (`whsec_...`), generated once
   * (SET NX) when `WEBHOOK_SECRET` is not set; signs per-job callbacks.
   */
  webhookSecret: string;
}

/** Builds the deployment's keys. */
export function globalKeys(prefix = "jq"): GlobalKeys {
  const base = `${prefix}:{#}:`;
  return {
    queues: `${base}queues`,
    home: `${base}home`,
    owners: `${base}owners`,
    apiKeys: `${base}apikeys`,
    apiKeysUsed: `${base}apikeys_used`,
    schedules: `${base}schedules`,
    scheduleState: `${base}sched_state`,
    scheduleDue: `${base}sched_due`,
    scheduleJobs: `${base}sched_jobs`,
    scheduleJobsPrefix: `${base}sj:`,
    scheduleChannel: `${base}sched_changed`,
    writeProbe: `${base}write_probe`,
    tenants: `${base}tenants`,
    tenantRatePrefix: `${base}tr:`,
    limits: `${base}limits`,
    limitsCode: `${base}limits_code`,
    limitsVersion: `${base}limits_v`,
    workers: `${base}workers`,
    workerPrefix: `${base}worker:`,
    workerDrainPrefix: `${base}worker-drain:`,
    webhooks: `${base}webhooks`,
    webhookSecret: `${base}webhook_secret`,
  };
}

/** The drain request STRING of worker process `owner` (see `GlobalKeys.workerDrainPrefix`). */
export function workerDrainKey(keys: GlobalKeys, owner: string): string {
  return `${keys.workerDrainPrefix}${owner}`;
}

/** The presence STRING of worker process `owner` (see `GlobalKeys.workerPrefix`). */
export function workerKey(keys: GlobalKeys, owner: string): string {
  return `${keys.workerPrefix}${owner}`;
}

/** The pending LIST of one priority. */
export function pendingKey(keys: QueueKeys, priority: number | string): string {
  return `${keys.pendingPrefix}${priority}`;
}

/** The history HASH of UTC minute `epochMinute` (epoch ms / 60,000; see `QueueKeys.historyPrefix`). */
export function historyKey(keys: QueueKeys, epochMinute: number): string {
  return `${keys.historyPrefix}${epochMinute}`;
}

/** The dependencies HASH of job `id` (see `QueueKeys.waiting`). */
export function dependenciesKey(keys: QueueKeys, id: string): string {
  return `${keys.jobPrefix}${id}:d`;
}

/** The dependents SET of job `id` (see `QueueKeys.waiting`). */
export function dependentsKey(keys: QueueKeys, id: string): string {
  return `${keys.jobPrefix}${id}:r`;
}

/** The key pattern matching every key of `queue` (for SCAN in tests and purges). */
export function queueKeyPattern(queue: string, prefix = "jq"): string {
  return `${prefix}:{${queue}}:*`;
}
