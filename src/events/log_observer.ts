/**
 * Logs every job state change exactly once, as one structured line with the
 * job's id, type, attempt and duration. The routine path of a healthy job
 * (enqueued, started, progress, completed) logs at debug: at thousands of
 * jobs per second an info line each would cost more CPU than the jobs. What an
 * operator must see logs at info and above: cancels, retries and timeouts at
 * warn, recoveries from dead workers at warn, dead jobs at error.
 *
 * @module
 */
import type { Logger, LogLevel } from "../log.ts";
import type { LifecycleEvent, LifecycleEventKind, Observer } from "./lifecycle.ts";

const LEVEL: Record<LifecycleEventKind, Exclude<LogLevel, "silent">> = {
  enqueued: "debug",
  started: "debug",
  progress: "debug",
  completed: "debug",
  failed: "warn",
  dead: "error",
  cancelled: "info",
  timed_out: "warn",
  recovered: "warn",
};

const MESSAGE: Record<LifecycleEventKind, string> = {
  enqueued: "job enqueued",
  started: "job started",
  progress: "job progress",
  completed: "job completed",
  failed: "job failed; retry scheduled",
  dead: "job failed permanently",
  cancelled: "job cancelled",
  timed_out: "job timed out",
  recovered: "job recovered from an expired lease",
};

/**
 * An observer writing lifecycle events to `log`.
 *
 * @example
 * ```ts
 * bus.subscribe(new LogObserver(createLogger({ fields: { role: "worker" } })));
 * ```
 */
export class LogObserver implements Observer {
  readonly name = "log";
  constructor(private readonly log: Logger) {}

  onEvent(event: LifecycleEvent): void {
    const level = LEVEL[event.kind];
    // Checked before building the fields: the healthy path is at debug,
    // usually off, and runs twice per job.
    if (!this.log.enabled(level)) return;
    const { kind, at: _at, ...fields } = event;
    this.log[level](MESSAGE[kind], fields);
  }
}
