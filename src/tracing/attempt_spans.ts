/**
 * The worker's attempt spans: one CONSUMER span per attempt, a child of the
 * span that submitted the job (its stored context, `F.trace`) across
 * processes, or the root of a new trace for a job that stored none. The
 * runner ends it with the attempt's outcome (`job.outcome`) when the handler's
 * result is in (or the runner gives up on it); the job's thread gets its
 * context so the handler's own spans nest under it.
 *
 * Outcomes: `completed`, `failed` (the job reached the dead set), `retried`
 * (it runs again), `cancelled`, `timed_out` (retried or not: `job.will_retry`
 * says), and three where the attempt did not finish: `deferred` (a rate limit
 * sent it back, no attempt charged), `released` (handed back on shutdown or
 * after another job's hard timeout), `lease_lost` (another worker owns it now).
 *
 * @module
 */
import { createTraceState, ROOT_CONTEXT, type Span, trace, type Tracer } from "@opentelemetry/api";
import type { ClaimedJob } from "../queue/job.ts";
import { decodeTrace, formatTraceparent, type TraceIds } from "./trace_context.ts";
import { endWithError } from "./span_status.ts";
import type { ProcessTracing } from "./process_tracing.ts";

/** `SpanKind.CONSUMER`. */
const CONSUMER = 4;

/** How an attempt ended, as `job.outcome` says. */
export type AttemptOutcome =
  | "completed"
  | "failed"
  | "retried"
  | "cancelled"
  | "timed_out"
  | "deferred"
  | "released"
  | "lease_lost";

/** Outcomes that are the attempt's failure: span status ERROR. */
const FAILURES = new Set<AttemptOutcome>(["failed", "retried", "timed_out"]);

/** One attempt's span. */
export interface AttemptSpan {
  /** Its context as a stored field (`trace_context.ts`), for the job's thread. */
  readonly trace: string;
  /** Its ids, for log lines. */
  readonly ids: TraceIds;
  /** Ends it (once; later calls do nothing). `error`: the attempt's error message. */
  end(outcome: AttemptOutcome, error?: string, attributes?: Record<string, boolean>): void;
}

/** The worker's tracing: attempt spans, and the export of its threads' spans. */
export interface WorkerTracing {
  start(job: ClaimedJob): AttemptSpan;
  /** Spans finished in a job thread (`span_wire.ts`). */
  exportSpans(spans: unknown[]): void;
}

/** The attempt span's parent: the job's stored submit span, else none (a new trace). */
function parentOf(job: ClaimedJob) {
  const stored = decodeTrace(job.trace);
  if (stored === null) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: stored.trace_id,
    spanId: stored.span_id,
    traceFlags: stored.flags,
    isRemote: true,
    traceState: stored.tracestate ? createTraceState(stored.tracestate) : undefined,
  });
}

function attemptSpan(span: Span): AttemptSpan {
  const ctx = span.spanContext();
  const ids: TraceIds = { trace_id: ctx.traceId, span_id: ctx.spanId, flags: ctx.traceFlags };
  let open = true;
  return {
    trace: formatTraceparent(ids) + (ctx.traceState?.serialize() ?? ""),
    ids,
    end(outcome, error, attributes) {
      if (!open) return;
      open = false;
      span.setAttribute("job.outcome", outcome);
      if (attributes) span.setAttributes(attributes);
      // The message only: a stack would be the runner's, not the handler's.
      if (FAILURES.has(outcome)) endWithError(span, error ?? outcome);
      else span.end();
    },
  };
}

/**
 * Attempt spans made with `tracing`'s tracer; `queueOf` names a job's queue
 * from its id.
 *
 * @example
 * ```ts
 * const spans = workerTracing(tracing, (id) => queueInId(id) ?? home);
 * const span = spans.start(job);
 * span.end("completed");
 * ```
 */
export function workerTracing(
  tracing: ProcessTracing,
  queueOf: (id: string) => string,
): WorkerTracing {
  const tracer: Tracer = tracing.tracer;
  return {
    start(job) {
      return attemptSpan(tracer.startSpan(`run ${job.type}`, {
        kind: CONSUMER,
        attributes: {
          "job.id": job.id,
          "job.type": job.type,
          "job.queue": queueOf(job.id),
          "job.attempt": job.attempt,
          "job.max_attempts": job.max_attempts,
        },
      }, parentOf(job)));
    },
    exportSpans: (spans) => tracing.exportSpans(spans),
  };
}
