/**
 * The API's submit spans, and the trace context a submit stores with its
 * jobs. A request with a W3C `traceparent` continues the caller's trace; one
 * without starts a new trace. Each job stores the context of the span that
 * submitted it, so its attempt spans (made by whichever worker runs it) are
 * that span's children.
 *
 * - `POST /jobs`: one SERVER span, `POST /api/v1/jobs`, with `job.id`,
 *   `job.type`, `job.queue` (and the on_complete job's id); both jobs store it.
 * - `POST /flows`: one SERVER span, `POST /api/v1/flows`, with `job.count`;
 *   every job of the flow stores it.
 * - `POST /jobs/batch`: one SERVER span for the request and one PRODUCER
 *   child span per valid item, `enqueue <type>` with that job's attributes;
 *   each job stores its own child span, so one job's attempts nest under the
 *   item that created it.
 *
 * With tracing off (no tracer), there are no spans: a request's valid
 * `traceparent`/`tracestate` are stored as they came, so a tracing worker
 * still continues the caller's trace, and a request without one costs a
 * header lookup.
 *
 * @module
 */
// The API only (no SDK): its context helpers cost nothing until a tracer is given.
import {
  type Context,
  createTraceState,
  ROOT_CONTEXT,
  type Span,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import type { EnqueueInput } from "../queue/job.ts";
import { cleanTracestate, formatTraceparent, parseTraceparent } from "./trace_context.ts";
import { endWithError } from "./span_status.ts";

/** The span kinds and status codes of `@opentelemetry/api`, as numbers: no import needed. */
const SERVER = 1;
const PRODUCER = 3;

/** What stamps jobs with a span's context and records how the request went. */
export interface SubmitSpan {
  /** Gives `input` the context its attempts continue (none: unchanged). */
  stamp(input: EnqueueInput): void;
  /** The job `input` became (after the write). */
  job(id: string, input: EnqueueInput, defaultQueue: string, extra?: Record<string, string>): void;
  /** Adds attributes to the request's span. */
  note(attributes: Record<string, string | number>): void;
  /** One batch item's own span (a PRODUCER child); the request's span when none. */
  item(input: EnqueueInput): SubmitSpan;
  /** Ends the span with the answer's status (an error for 5xx). */
  end(status: number): void;
  /** Ends the span with `error` (status ERROR, an exception event) and the answer's status. */
  fail(error: unknown, status: number): void;
}

/** The caller's context, as the input fields a job stores. */
interface Incoming {
  traceparent: string;
  tracestate?: string;
}

function incoming(headers: Headers): Incoming | null {
  const ids = parseTraceparent(headers.get("traceparent"));
  if (ids === null) return null;
  const state = cleanTracestate(headers.get("tracestate"));
  return state ? { traceparent: formatTraceparent(ids), tracestate: state } : {
    traceparent: formatTraceparent(ids),
  };
}

const NOTHING: SubmitSpan = {
  stamp() {},
  note() {},
  job() {},
  item: () => NOTHING,
  end() {},
  fail() {},
};

/** Tracing off, and a caller's context: stored as it came. */
function passThrough(context: Incoming): SubmitSpan {
  const self: SubmitSpan = {
    stamp(input) {
      input.traceparent = context.traceparent;
      if (context.tracestate) input.tracestate = context.tracestate;
    },
    job() {},
    note() {},
    item: () => self,
    end() {},
    fail() {},
  };
  return self;
}

/** Ends the item spans still open (ending one twice makes the SDK complain). */
function endOpen(items: Span[] | null): void {
  for (const child of items ?? []) if (child.isRecording()) child.end();
}

/** A recording (or sampled-out) span wrapped as a SubmitSpan. */
function spanned(tracer: Tracer, span: Span, items: Span[] | null): SubmitSpan {
  const stampWith = (s: Span) => (input: EnqueueInput) => {
    const ctx = s.spanContext();
    input.traceparent = formatTraceparent({
      trace_id: ctx.traceId,
      span_id: ctx.spanId,
      flags: ctx.traceFlags,
    });
    const state = ctx.traceState?.serialize();
    if (state) input.tracestate = state;
    else delete input.tracestate;
  };
  const describe =
    (s: Span) =>
    (id: string, input: EnqueueInput, defaultQueue: string, extra?: Record<string, string>) => {
      s.setAttributes({
        "job.id": id,
        "job.type": input.type,
        "job.queue": input.queue ?? defaultQueue,
        ...extra,
      });
    };
  return {
    stamp: stampWith(span),
    job: describe(span),
    note: (attributes) => span.setAttributes(attributes),
    item(input) {
      if (items === null) return this;
      const child = tracer.startSpan(`enqueue ${input.type}`, { kind: PRODUCER }, withSpan(span));
      items.push(child);
      return {
        stamp: stampWith(child),
        job: describe(child),
        note: (attributes) => child.setAttributes(attributes),
        item() {
          return this;
        },
        end: () => child.end(),
        fail: (error) => endWithError(child, error),
      };
    },
    end(status) {
      span.setAttribute("http.response.status_code", status);
      endOpen(items);
      if (status >= 500) endWithError(span, new Error(`HTTP ${status}`));
      else span.end();
    },
    fail(error, status) {
      span.setAttribute("http.response.status_code", status);
      endOpen(items);
      if (status >= 500) endWithError(span, error);
      else span.end(); // the client's mistake is not the server's error (semconv)
    },
  };
}

function withSpan(span: Span): Context {
  return trace.setSpan(ROOT_CONTEXT, span);
}

/** The caller's span as the remote parent of ours; the root when there is none. */
function remoteParent(caller: Incoming | null): Context {
  if (caller === null) return ROOT_CONTEXT;
  const ids = parseTraceparent(caller.traceparent)!;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: ids.trace_id,
    spanId: ids.span_id,
    traceFlags: ids.flags,
    isRemote: true,
    traceState: caller.tracestate ? createTraceState(caller.tracestate) : undefined,
  });
}

/**
 * The span of one submit request: `route` is the route pattern
 * (`POST /api/v1/jobs`); `batch` makes one child span per item.
 *
 * @example
 * ```ts
 * const span = submitSpan(deps.tracer, c.req.raw.headers, "POST /api/v1/jobs", false);
 * span.stamp(input);
 * const result = await broker.enqueue(input);
 * span.job(result.id, input, broker.defaultQueue);
 * span.end(201);
 * ```
 */
export function submitSpan(
  tracer: Tracer | null,
  headers: Headers,
  route: string,
  batch: boolean,
): SubmitSpan {
  const caller = incoming(headers);
  if (tracer === null) return caller === null ? NOTHING : passThrough(caller);
  const [method, path] = route.split(" ");
  const span = tracer.startSpan(route, {
    kind: SERVER,
    attributes: { "http.request.method": method, "http.route": path },
  }, remoteParent(caller));
  return spanned(tracer, span, batch ? [] : null);
}
