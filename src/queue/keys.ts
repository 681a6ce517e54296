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

/** Queue names: letters, digits, `_`, `-`, `.`; no braces, so the hash tag stays whole. */
const QUEUE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

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
  /** HASH of counters: `<state>` and `<state>|<type>`, plus `retried`. */
  stats: string;
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
}

/** The ZSET states (every state but pending, which lives in per-priority LISTs). */
export type ZsetState = "scheduled" | "running" | "completed" | "failed" | "cancelled";

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
    stats: `${base}stats`,
    wake: `${base}wake`,
    events: `${base}events`,
    cancelChannel: `${base}cancel`,
    meta: `${base}meta`,
    idempotencyPrefix: `${base}i:`,
    owners: `${base}owners`,
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
}

/** Builds the deployment's keys. */
export function globalKeys(prefix = "jq"): GlobalKeys {
  const base = `${prefix}:{#}:`;
  return { queues: `${base}queues`, home: `${base}home`, owners: `${base}owners` };
}

/** The pending LIST of one priority. */
export function pendingKey(keys: QueueKeys, priority: number | string): string {
  return `${keys.pendingPrefix}${priority}`;
}

/** The key pattern matching every key of `queue` (for SCAN in tests and purges). */
export function queueKeyPattern(queue: string, prefix = "jq"): string {
  return `${prefix}:{${queue}}:*`;
}
