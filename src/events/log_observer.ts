/**
 * Logs every job state change exactly once, as one structured line with the
 * job's id, type, attempt and duration. The routine path of a healthy job
 * (enqueued, started, progress, completed) logs at debug: at thousands of
 * jobs per second an info line each would cost more CPU than the jobs. What an
 * operator must see logs at info and above: cancels, releases and requeues
 * at info, retries, timeouts and recoveries from dead workers at warn, jobs
 * that reached the dead set (`failed`) at error.
 *
 * @module
 */
import type { Logger, LogLevel } from "../log.ts";
import type { LifecycleEvent, LifecycleEventKind, Observer } from "./lifecycle.ts";
import type { TraceIds } from "../tracing/trace_context.ts";

const LEVEL: Record<LifecycleEventKind, Exclude<LogLevel, "silent">> = {
  enqueued: "debug",
  started: "debug",
  progress: "debug",
  completed: "debug",
  retry_scheduled: "warn",
  failed: "error",
  cancelled: "info",
  timed_out: "warn",
  released: "info",
  recovered: "warn",
  requeued: "info",
};

const MESSAGE: Record<LifecycleEventKind, string> = {
  enqueued: "job enqueued",
  started: "job started",
  progress: "job progress",
  completed: "job completed",
  retry_scheduled: "job retry scheduled",
  failed: "job failed permanently",
  cancelled: "job cancelled",
  timed_out: "job timed out",
  released: "job released back to pending",
  recovered: "job recovered from an expired lease",
  requeued: "job requeued",
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
  /**
   * @param traceOf In a worker: the trace ids of a job it holds (the
   * runner's `traceOf`), added to that job's lines as `trace_id`/`span_id`.
   */
  constructor(
    private readonly log: Logger,
    private readonly traceOf?: (jobId: string) => TraceIds | null,
  ) {}

  onEvent(event: LifecycleEvent): void {
    const level = LEVEL[event.kind];
    // Checked before building the fields: the healthy path is at debug,
    // usually off, and runs several times per job.
    if (!this.log.enabled(level)) return;
    const { kind, at: _at, ...fields } = event;
    const ids = this.traceOf?.(event.job_id);
    this.log[level](
      MESSAGE[kind],
      ids ? { ...fields, trace_id: ids.trace_id, span_id: ids.span_id } : fields,
    );
  }
}
