/**
 * Shared setup of the schedule tests: a redis-server, a broker on a fresh
 * queue, and any number of in-process schedule runtimes (each with its own
 * connections and loop, as separate processes would have).
 *
 * @module
 */
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { type Schedules, startSchedules } from "../../src/schedules/runtime.ts";
import type { TickObserver } from "../../src/schedules/ticker.ts";
import { TestRedis } from "../helpers/redis_server.ts";

/** One test's Redis, broker and schedule runtimes. */
export interface ScheduleFixture {
  redis: TestRedis;
  broker: RedisBroker;
  queue: string;
  /** A runtime (loop included unless `tick: false`). */
  runtime(options?: { tick?: boolean; observer?: TickObserver }): Promise<Schedules>;
  /** Ticks of the jobs a schedule produced, oldest first, read from the index. */
  ticks(name: string): Promise<number[]>;
  close(): Promise<void>;
}

/** Starts a fixture. */
export async function scheduleFixture(options: { aof?: boolean } = {}): Promise<ScheduleFixture> {
  const redis = await TestRedis.start({ aof: options.aof });
  const queue = `s${crypto.randomUUID().slice(0, 8)}`;
  const broker = new RedisBroker({ url: redis.url, queue, commandTimeoutMs: 1000 });
  const registry = await loadRegistry();
  const log = createLogger({ level: "silent" });
  const runtimes: Schedules[] = [];
  const fixture: ScheduleFixture = {
    redis,
    broker,
    queue,
    async runtime(o = {}) {
      const r = await startSchedules({ url: redis.url, broker, registry, log, ...o });
      runtimes.push(r);
      return r;
    },
    async ticks(name) {
      const r = runtimes[0] ?? await fixture.runtime({ tick: false });
      const ids = await r.service.jobIds(name, 0, 1000);
      const producers = await r.service.producers(ids);
      return producers.map((p) => Date.parse(p!.tick)).sort((a, b) => a - b);
    },
    async close() {
      await Promise.all(runtimes.map((r) => r.close()));
      await broker.close();
      await redis.close();
    },
  };
  return fixture;
}

/** A compute job that finishes at once. */
export const QUICK = { type: "compute", payload: { duration_ms: 1 } };

/** Resolves after `ms`. */
export const wait = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** True when consecutive ticks are `every` apart (no gap, no duplicate). */
export function contiguous(ticks: number[], every: number): boolean {
  return ticks.every((t, i) => i === 0 || t - ticks[i - 1] === every);
}
