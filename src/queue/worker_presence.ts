/**
 * The worker registry's records: what each worker process says about itself
 * in Redis (host, pid, queues and weights, concurrency, in-flight, RSS,
 * started_at, version), how long that lasts, and how a reader judges it.
 *
 * Cost, because an idle worker's budget is 2 Redis commands a second: a beat
 * is one command, `SET <record> PX <ttl> GET`, every `PRESENCE.beatMs`
 * (`busyBeatMs` while it holds jobs), piggy-backed on the runner's heartbeat
 * (no timer of its own). The reply is
 * the previous record, which is how a drain request reaches the worker:
 * `worker_drain.lua` writes it into the record, and the next beat reads it
 * back (and a copy beside it, which a beat reads after a failed one, whose
 * lost reply may have carried it). The index ZSET (`GlobalKeys.workers`) is written only when the reply
 * says the record was absent (a first beat, or one after the record
 * expired); readers drop index entries whose record is gone
 * (`worker_prune.lua`, atomic against a re-registration).
 *
 * A record expires `ttlMs` after the last beat, so a process that dies
 * without a word (kill -9, a lost host) vanishes on its own; one that stops
 * cleanly, or whose supervisor sees it die, is removed at once
 * (`Broker.reapOwner`).
 *
 * @module
 */
import type { WeightedQueue } from "./queue_selection.ts";

/** Worker registry timings, ms. */
export const PRESENCE = {
  /**
   * How often an idle worker writes its record: 0.125 commands a second, which
   * its idle budget (2 a second, measured with 20 queues at ~1.75 without
   * the registry) can take; slower means a drain is noticed later.
   */
  beatMs: 8_000,
  /** How often a worker holding jobs writes it (its in-flight count moves; drains are quicker). */
  busyBeatMs: 2_000,
  /** A record whose last beat is older than this is stale (two idle beats missed, plus slack). */
  staleAfterMs: 20_000,
  /** A record expires this long after its last beat. */
  ttlMs: 40_000,
} as const;

/** Most workers one listing returns (the oldest registrations first). */
export const MAX_LISTED_WORKERS = 1000;

/** What a worker process reports in each beat (the runner's and the process's view). */
export interface WorkerReport {
  host: string;
  pid: number;
  /** Most jobs in flight at once. */
  concurrency: number;
  /** Web Worker threads running now. */
  threads: number;
  /** Jobs held now (running, or finished and being acked). */
  in_flight: number;
  /** Resident set size, bytes. */
  rss_bytes: number;
  /** Epoch ms the process started. */
  started_at: number;
  /** The release (`src/version.ts`). */
  version: string;
  /** True once the process stopped claiming (a drain, a signal, a recycle). */
  draining: boolean;
  /** Epoch ms a drain was requested through the registry, if one was. */
  drain_requested_at: number | null;
}

/** A stored record: the report plus what the broker adds. */
export interface WorkerRecord extends WorkerReport {
  /** The lease-owner id: one per process lifetime. */
  id: string;
  /** The served queues and weights, or "all": every known queue, weight 1. */
  queues: WeightedQueue[] | "all";
  queue_order: "weighted" | "strict";
  /** Epoch ms of this beat. */
  beat_at: number;
}

/** A record parsed from Redis, or null when it is not one (another release's, damaged). */
export function parseWorkerRecord(raw: string | null): WorkerRecord | null {
  if (raw === null) return null;
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return null;
  }
  if (typeof value !== "object" || value === null) return null;
  const r = value as Record<string, unknown>;
  const num = (k: string) => typeof r[k] === "number" && Number.isFinite(r[k]);
  if (typeof r.id !== "string" || typeof r.host !== "string" || !num("beat_at")) return null;
  for (const k of ["pid", "concurrency", "threads", "in_flight", "rss_bytes", "started_at"]) {
    if (!num(k)) return null;
  }
  const queues = r.queues === "all"
    ? "all"
    : Array.isArray(r.queues)
    ? (r.queues as unknown[]).filter((q): q is WeightedQueue =>
      typeof q === "object" && q !== null && typeof (q as WeightedQueue).name === "string" &&
      typeof (q as WeightedQueue).weight === "number"
    )
    : [];
  return {
    id: r.id,
    host: r.host,
    pid: r.pid as number,
    queues,
    queue_order: r.queue_order === "strict" ? "strict" : "weighted",
    concurrency: r.concurrency as number,
    threads: r.threads as number,
    in_flight: r.in_flight as number,
    rss_bytes: r.rss_bytes as number,
    started_at: r.started_at as number,
    version: typeof r.version === "string" ? r.version : "unknown",
    draining: r.draining === true,
    drain_requested_at: num("drain_requested_at") ? r.drain_requested_at as number : null,
    beat_at: r.beat_at as number,
  };
}

/** True when a record's last beat is older than `PRESENCE.staleAfterMs` at `now`. */
export function isStale(record: WorkerRecord, now: number): boolean {
  return now - record.beat_at > PRESENCE.staleAfterMs;
}
