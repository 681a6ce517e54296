/**
 * The schedules' metrics of one process: the ticks its scheduler loop
 * enqueued, the ticks it skipped (and why), and the lag from a tick's time to
 * its enqueue. Each tick is decided by exactly one loop, so the series of all
 * processes add up to the deployment's.
 *
 * @module
 */
import { Counter, Histogram, Registry } from "prom-client";
import type { TickObserver } from "../schedules/ticker.ts";

/** Counters and the lag histogram, fed by a `TickObserver`. */
export class ScheduleMetrics {
  readonly registry: Registry;
  readonly ticks: Counter<"schedule">;
  readonly skipped: Counter<"schedule" | "reason">;
  readonly lag: Histogram<string>;
  /** Feeds these metrics; give it to the scheduler loop. */
  readonly observer: TickObserver;

  constructor(registry: Registry = new Registry()) {
    this.registry = registry;
    const registers = [registry];
    this.ticks = new Counter({
      name: "jobqueue_schedule_ticks_total",
      help: "Schedule ticks whose job this process enqueued.",
      labelNames: ["schedule"] as const,
      registers,
    });
    this.skipped = new Counter({
      name: "jobqueue_schedule_skipped_total",
      help: "Schedule ticks that got no job: missed (downtime, catch_up), catch_up_limit, " +
        "overlap (the previous job still active), invalid (the template no longer validates).",
      labelNames: ["schedule", "reason"] as const,
      registers,
    });
    this.lag = new Histogram({
      name: "jobqueue_schedule_lag_seconds",
      help: "From a tick's time to its job's enqueue.",
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60],
      registers,
    });
    this.observer = {
      onTick: (schedule, lagMs) => {
        this.ticks.inc({ schedule });
        this.lag.observe(Math.max(0, lagMs) / 1000);
      },
      onSkip: (schedule, reason, count) => this.skipped.inc({ schedule, reason }, count),
    };
  }
}
