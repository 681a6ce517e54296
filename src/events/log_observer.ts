/**
 * Logs every job state change exactly once, as one structured line with the
 * job's id, type, attempt and duration. Failures log at warn, dead jobs at
 * error, progress at debug (it can be chatty).
 *
 * @module
 */
import type { Logger, LogLevel } from "../log.ts";
import type { LifecycleEvent, LifecycleEventKind, Observer } from "./lifecycle.ts";

const LEVEL: Record<LifecycleEventKind, Exclude<LogLevel, "silent">> = {
  enqueued: "info",
  started: "info",
  progress: "debug",
  completed: "info",
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
    const { kind, at: _at, ...fields } = event;
    this.log[LEVEL[kind]](MESSAGE[kind], fields);
  }
}
