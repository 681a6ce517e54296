/**
 * Schedules in one process: a connection of their own, the service the API
 * and the code schedules use, and (unless turned off with `SCHEDULER=false`)
 * the scheduler loop. The API role and every worker process start one.
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import { connect, type RedisClient } from "../queue/connect.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { ScheduleService } from "./service.ts";
import { moduleSchedules, upsertCodeSchedules } from "./code_schedules.ts";
import { ScheduleStore } from "./store.ts";
import { ScheduleTicker, type TickObserver } from "./ticker.ts";

/** Options of `startSchedules`. */
export interface SchedulesOptions {
  url: string;
  broker: Broker;
  registry: JobRegistry;
  log: Logger;
  prefix?: string;
  retentionMs?: number;
  commandTimeoutMs?: number;
  /** Run the scheduler loop here (default true). */
  tick?: boolean;
  observer?: TickObserver;
  clock?: () => number;
  /**
   * Job modules (import specifiers) whose `defineSchedule` exports are
   * upserted at start; a failure is logged, and the process starts anyway.
   */
  modules?: readonly string[];
}

/** A process's schedules. */
export interface Schedules {
  service: ScheduleService;
  /** Null when this process does not tick. */
  ticker: ScheduleTicker | null;
  close(): Promise<void>;
}

/** Connects, and starts the loop when asked. */
export async function startSchedules(options: SchedulesOptions): Promise<Schedules> {
  const client: RedisClient = connect(options.url, {
    commandTimeoutMs: options.commandTimeoutMs,
    connectionName: "jq:schedules",
  });
  const store = new ScheduleStore({
    client,
    prefix: options.prefix,
    retentionMs: options.retentionMs,
  });
  const service = new ScheduleService({
    store,
    broker: options.broker,
    registry: options.registry,
    clock: options.clock,
  });
  const ticker = options.tick === false ? null : new ScheduleTicker({
    store,
    broker: options.broker,
    registry: options.registry,
    log: options.log,
    observer: options.observer,
    clock: options.clock,
  });
  if (options.modules && options.modules.length > 0) {
    try {
      await upsertCodeSchedules(service, await moduleSchedules(options.modules), options.log);
    } catch (error) {
      options.log.warn("code schedules not upserted", { error });
    }
  }
  await ticker?.start();
  return {
    service,
    ticker,
    async close() {
      await ticker?.stop();
      client.disconnect();
    },
  };
}
