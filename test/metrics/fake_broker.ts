/**
 * A Broker stub for metrics/SSE unit tests: stats(), durations(), queues() (with
 * queueInfo() and setPaused() over the same list) and readEvents() do
 * something; every other method throws.
 *
 * @module
 */
import type { Broker } from "../../src/queue/broker.ts";
import type { DurationSeries, QueueInfo, Stats } from "../../src/queue/job.ts";
import type { StoredEvent } from "../../src/events/lifecycle.ts";
import { QueueNotFoundError } from "../../src/queue/errors.ts";

/** Counts for one type (or the totals). */
export function counts(partial: Partial<Stats> = {}): Stats {
  const base = {
    pending: 0,
    scheduled: 0,
    running: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    waiting: 0,
  };
  const merged = { ...base, ...partial };
  const total = merged.pending + merged.scheduled + merged.running + merged.completed +
    merged.failed + merged.cancelled + merged.waiting;
  // Lifetime totals default to what is there (nothing purged or expired), unless given.
  return {
    retried: 0,
    by_type: {},
    by_queue: {},
    ...merged,
    started_total: partial.started_total ?? merged.completed + merged.failed + merged.running,
    completed_total: partial.completed_total ?? merged.completed,
    failed_total: partial.failed_total ?? merged.failed,
    cancelled_total: partial.cancelled_total ?? merged.cancelled,
    retried_total: partial.retried_total ?? partial.retried ?? 0,
    total: partial.total ?? total,
  };
}

/** One queue's summary: zero counts, not paused, no latency, unless given. */
export function queueInfo(name: string, partial: Partial<QueueInfo> = {}): QueueInfo {
  return {
    name,
    paused: false,
    pending: 0,
    scheduled: 0,
    running: 0,
    completed: 0,
    failed: 0,
    cancelled: 0,
    waiting: 0,
    latency_ms: 0,
    ...partial,
  };
}

/** A broker whose stats, queues and events the test sets. */
export function fakeBroker(): Broker & {
  stats_: Stats;
  /** What `queues()` returns (a copy), in this order. */
  queues_: QueueInfo[];
  /** What `durations()` returns (a copy). */
  durations_: DurationSeries[];
  events: StoredEvent[];
  statsCalls: number;
  queuesCalls: number;
  readCalls: number;
} {
  const unsupported = () => {
    throw new Error("not supported by the fake broker");
  };
  const fake = {
    defaultQueue: "fake",
    homeQueue: () => Promise.resolve("fake"),
    stats_: counts(),
    queues_: [] as QueueInfo[],
    durations_: [] as DurationSeries[],
    events: [] as StoredEvent[],
    statsCalls: 0,
    queuesCalls: 0,
    readCalls: 0,
    stats() {
      fake.statsCalls++;
      return Promise.resolve(structuredClone(fake.stats_));
    },
    durations() {
      return Promise.resolve(structuredClone(fake.durations_));
    },
    queues() {
      fake.queuesCalls++;
      return Promise.resolve(structuredClone(fake.queues_));
    },
    queueInfo(name: string) {
      const q = fake.queues_.find((q) => q.name === name);
      return Promise.resolve(q ? structuredClone(q) : null);
    },
    setPaused(name: string, paused: boolean) {
      const q = fake.queues_.find((q) => q.name === name);
      if (!q) return Promise.reject(new QueueNotFoundError(name));
      q.paused = paused;
      return Promise.resolve(structuredClone(q));
    },
    async readEvents(_cursor: string, blockMs: number, count = 100) {
      fake.readCalls++;
      if (fake.events.length === 0) await new Promise((r) => setTimeout(r, Math.min(blockMs, 50)));
      return fake.events.splice(0, count);
    },
    enqueue: unsupported,
    enqueueBatch: unsupported,
    claim: unsupported,
    complete: unsupported,
    completeMany: unsupported,
    fail: unsupported,
    renew: unsupported,
    release: unsupported,
    progress: unsupported,
    maintain: unsupported,
    heartbeat: unsupported,
    reapOwner: unsupported,
    cancel: unsupported,
    requeue: unsupported,
    runNow: unsupported,
    findByIdPrefix: unsupported,
    purge: unsupported,
    get: unsupported,
    list: unsupported,
    onCancelRequested: unsupported,
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  return fake as unknown as ReturnType<typeof fakeBroker>;
}
