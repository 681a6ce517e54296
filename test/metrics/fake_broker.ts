/**
 * A Broker stub for metrics/SSE unit tests: only stats() and readEvents()
 * do anything; every other method throws.
 *
 * @module
 */
import type { Broker } from "../../src/queue/broker.ts";
import type { Stats } from "../../src/queue/job.ts";
import type { StoredEvent } from "../../src/events/lifecycle.ts";

/** Counts for one type (or the totals). */
export function counts(partial: Partial<Stats> = {}): Stats {
  const base = { pending: 0, scheduled: 0, running: 0, completed: 0, failed: 0, cancelled: 0 };
  const merged = { ...base, ...partial };
  const total = merged.pending + merged.scheduled + merged.running + merged.completed +
    merged.failed + merged.cancelled;
  return { retried: 0, by_type: {}, by_queue: {}, ...merged, total: partial.total ?? total };
}

/** A broker whose stats and events the test sets. */
export function fakeBroker(): Broker & {
  stats_: Stats;
  events: StoredEvent[];
  statsCalls: number;
  readCalls: number;
} {
  const unsupported = () => {
    throw new Error("not supported by the fake broker");
  };
  const fake = {
    defaultQueue: "fake",
    homeQueue: () => Promise.resolve("fake"),
    stats_: counts(),
    events: [] as StoredEvent[],
    statsCalls: 0,
    readCalls: 0,
    stats() {
      fake.statsCalls++;
      return Promise.resolve(structuredClone(fake.stats_));
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
    purge: unsupported,
    get: unsupported,
    queues: unsupported,
    queueInfo: unsupported,
    setPaused: unsupported,
    list: unsupported,
    onCancelRequested: unsupported,
    ping: () => Promise.resolve(true),
    close: () => Promise.resolve(),
  };
  return fake as unknown as ReturnType<typeof fakeBroker>;
}
