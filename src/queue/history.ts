/**
 * The per-minute history the transition scripts keep in Redis for each queue
 * (`QueueKeys.historyPrefix`, written by `tallyLatency`/`writeHistory` in
 * _lib.lua): counts of completions, final failures and retries, and an
 * enqueue-to-start latency histogram, per UTC minute. Kept in Redis, not in
 * a process, so every API replica and every dashboard tab reads the same
 * numbers, from the first look and across restarts.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import { historyKey, type QueueKeys } from "./keys.ts";

/**
 * Upper bounds (ms) of the enqueue-to-start latency buckets; one more bucket
 * holds everything past the last. _lib.lua's `LATENCY_BUCKETS_MS` is the
 * same list (script_contract_test.ts pins them together).
 */
export const LATENCY_BUCKETS_MS: readonly number[] = [
  1,
  5,
  10,
  25,
  50,
  100,
  250,
  500,
  1000,
  2500,
  5000,
  10000,
  30000,
  60000,
  300000,
  900000,
  3600000,
];

/** Buckets per minute: one per bound, and one past the last. */
export const LATENCY_BUCKET_COUNT = LATENCY_BUCKETS_MS.length + 1;

/**
 * How long a minute's HASH lives after its first write, seconds (_lib.lua's
 * `HISTORY_TTL_S`): a day and an hour, so a 24 h window is always whole.
 */
export const HISTORY_TTL_S = 90_000;

/** Minutes of history a read may cover (what the TTL keeps). */
export const HISTORY_MAX_MINUTES = 1440;

/** One UTC minute of one queue (or of several, summed). */
export interface HistoryMinute {
  /** Epoch minute: epoch ms / 60,000, floored. */
  minute: number;
  /** Attempts that completed. */
  completed: number;
  /** Jobs that ended failed (attempts exhausted, a fatal error, or reaped on their last attempt). */
  failed: number;
  /** Failed attempts rescheduled for another (a retry backoff, or a lost lease requeued). */
  retried: number;
  /**
   * Jobs started, per latency bucket (NOT cumulative): `latency[i]` waited at
   * most `LATENCY_BUCKETS_MS[i]` (and more than the bound before); the last
   * entry waited longer than every bound.
   */
  latency: number[];
  /** Their summed latency, ms. */
  latency_sum_ms: number;
}

/** A minute with nothing in it. */
export function emptyMinute(minute: number): HistoryMinute {
  return {
    minute,
    completed: 0,
    failed: 0,
    retried: 0,
    latency: new Array(LATENCY_BUCKET_COUNT).fill(0),
    latency_sum_ms: 0,
  };
}

const COUNTS: Readonly<Record<string, "completed" | "failed" | "retried">> = {
  c: "completed",
  f: "failed",
  r: "retried",
};

/**
 * Adds one minute's HASH into `into`. Fields of another shape, or a bucket
 * out of range, are ignored (a newer release may add some).
 */
export function addHistory(into: HistoryMinute, raw: Record<string, string>): void {
  for (const [field, value] of Object.entries(raw)) {
    const n = Number(value) || 0;
    const count = COUNTS[field];
    if (count) {
      into[count] += n;
    } else if (field === "l|s") {
      into.latency_sum_ms += n;
    } else if (field.startsWith("l|")) {
      const index = Number(field.slice(2)) - 1;
      if (Number.isInteger(index) && index >= 0 && index < LATENCY_BUCKET_COUNT) {
        into.latency[index] += n;
      }
    }
  }
}

/** Adds minute `b`'s counts into `a` (another queue's, or the next minute of a coarser step). */
export function mergeMinute(a: HistoryMinute, b: HistoryMinute): void {
  a.completed += b.completed;
  a.failed += b.failed;
  a.retried += b.retried;
  a.latency_sum_ms += b.latency_sum_ms;
  b.latency.forEach((n, i) => a.latency[i] += n);
}

/**
 * Reads minutes `from`..`to` (epoch minutes, inclusive; at most
 * `HISTORY_MAX_MINUTES`) of the queue whose keys are `keys`: one HGETALL per
 * minute, sent together (auto-pipelined; on Cluster they share the queue's
 * slot). One entry per minute in order, zeros where the key is absent.
 */
export async function readHistory(
  client: RedisClient,
  keys: QueueKeys,
  from: number,
  to: number,
): Promise<HistoryMinute[]> {
  if (!Number.isInteger(from) || !Number.isInteger(to) || to < from) return [];
  const first = Math.max(from, to - HISTORY_MAX_MINUTES + 1);
  const minutes = Array.from({ length: to - first + 1 }, (_, i) => first + i);
  const raws = await Promise.all(minutes.map((m) => client.hgetall(historyKey(keys, m))));
  return minutes.map((m, i) => {
    const minute = emptyMinute(m);
    addHistory(minute, raws[i]);
    return minute;
  });
}
