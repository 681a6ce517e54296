/**
 * Lease owners and their liveness. Every worker process is a lease owner with
 * an id of its own (a fresh one each time its supervisor starts it); its lease
 * tokens begin with that id, and it heartbeats once a second
 * (`Broker.heartbeat`, or a maintenance call, which beats too). The heartbeat
 * decides two things, in Redis, where a process that cannot act (stopped,
 * frozen in a GC pause, cut off) cannot argue:
 *
 * - a claim that waited behind a blocking pop takes jobs only for an owner
 *   whose last heartbeat is at most `claimFreshMs` old: a frozen process stops
 *   receiving jobs within ~2 s;
 * - an owner another owner has seen silent for `deadAfterMs` while beating
 *   itself is dead: that owner's maintenance takes its leases back, without
 *   waiting for them to expire. Its supervisor, which sees it die, does so at
 *   once.
 *
 * @module
 */

/** Heartbeat and liveness timings, ms. */
export const LIVENESS = {
  /** How often a worker heartbeats (and, while jobs run anywhere, maintains). */
  heartbeatMs: 1000,
  /** A waiting claim runs only if the owner's last heartbeat is at most this old. */
  claimFreshMs: 2000,
  /**
   * A heartbeat later than this after the previous one starts a new streak:
   * an owner that missed a beat (a pause, a Redis outage) judges nobody for
   * the time it was away.
   */
  streakGapMs: 1500,
  /**
   * An owner another one has seen silent this long, within its own streak, is
   * dead (its leases are reaped). Longer than a reconnect after an outage
   * (ioredis' backoff reaches 2 s) plus a heartbeat interval.
   */
  deadAfterMs: 3500,
} as const;

/** Env var through which a supervisor tells its worker process the owner id it gave it. */
export const OWNER_ENV = "JQ_WORKER_OWNER";

/** Owner ids: letters, digits, `_`, `-` (no `.` or `:`, which separate a token's parts). */
const OWNER_ID = /^[A-Za-z0-9_-]{1,32}$/;

/** True when `id` can name a lease owner. */
export function isOwnerId(id: string): boolean {
  return OWNER_ID.test(id);
}

/**
 * A fresh owner id: 8 characters, 48 random bits (an owner is one process
 * lifetime; its tokens also carry a per-process claim counter).
 */
export function newOwnerId(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  return btoa(String.fromCharCode(...bytes)).replaceAll("+", "-").replaceAll("/", "_");
}

/**
 * The owners a caller judges dead, from `silent` (member, score pairs of the
 * owners ZSET read with scores below `now - deadAfterMs`): what counts is the
 * silence the caller saw while beating itself, since the later of the
 * other's last heartbeat and the start of the caller's own streak, so after
 * an outage nobody is judged for it. maintain.lua judges the same way where
 * it can read the owners key (standalone); on Cluster the broker reads the
 * deployment's key and passes the verdict to each queue's call.
 */
export function judgeSilent(
  silent: readonly string[],
  self: string,
  now: number,
  streakFrom: number,
  deadAfterMs: number,
): string[] {
  const dead: string[] = [];
  for (let i = 0; i + 1 < silent.length; i += 2) {
    const other = silent[i];
    const lastSeen = Number(silent[i + 1]);
    if (other !== self && now - Math.max(lastSeen, streakFrom) > deadAfterMs) dead.push(other);
  }
  return dead;
}
