/**
 * Every Redis key of a queue, built in one place. All keys of one queue share
 * the hash tag `{queue}`, so each multi-key script touches a single Cluster slot.
 * Lua scripts never build key names: they receive them in KEYS, except job
 * hashes reached through an id, which use the `jobPrefix` passed in ARGV
 * (the same slot, thanks to the tag).
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
  /** Prefix of job hashes: `${jobPrefix}${id}` is a HASH with the job's fields. */
  jobPrefix: string;
  /** ZSET of ready job ids; score orders by priority then FIFO (see enqueue.lua). */
  pending: string;
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
  /** STRING counter giving FIFO order within a priority. */
  seq: string;
  /** LIST of wake-up markers; idle runners block on it (BLPOP). */
  wake: string;
  /** STREAM of lifecycle events, capped (MAXLEN ~). */
  events: string;
  /** Pub/sub channel (not a key) carrying ids of running jobs to cancel. */
  cancelChannel: string;
  /** Prefix of idempotency keys: `${idempotencyPrefix}${key}` is a STRING holding a job id. */
  idempotencyPrefix: string;
}

/**
 * Builds the keys of `queue`.
 *
 * @example
 * ```ts
 * queueKeys("default").pending; // "jq:{default}:pending"
 * ```
 */
export function queueKeys(queue: string, prefix = "jq"): QueueKeys {
  if (!isValidQueueName(queue)) throw new Error(`invalid queue name: ${JSON.stringify(queue)}`);
  const base = `${prefix}:{${queue}}:`;
  return {
    jobPrefix: `${base}job:`,
    pending: `${base}pending`,
    scheduled: `${base}scheduled`,
    running: `${base}running`,
    completed: `${base}completed`,
    failed: `${base}failed`,
    cancelled: `${base}cancelled`,
    stats: `${base}stats`,
    seq: `${base}seq`,
    wake: `${base}wake`,
    events: `${base}events`,
    cancelChannel: `${base}cancel`,
    idempotencyPrefix: `${base}idem:`,
  };
}

/** The key pattern matching every key of `queue` (for SCAN in tests and purges). */
export function queueKeyPattern(queue: string, prefix = "jq"): string {
  return `${prefix}:{${queue}}:*`;
}
