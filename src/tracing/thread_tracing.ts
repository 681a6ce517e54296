/**
 * Tracing inside a job thread, where handlers run with least privilege (no
 * network to a collector, no environment): an SDK tracer provider whose
 * finished spans are posted to the worker process, which exports them with
 * its own (`ProcessTracing.exportSpans`). Loaded only when the process
 * traces: the pool's generated entry then imports this module statically
 * (a restricted thread may not load a module that is not already loaded).
 *
 * Each job runs in the context of its attempt span (sent with the job as a
 * traceparent), through an AsyncLocalStorage context manager, so a handler's
 * `ctx.tracer.startActiveSpan(...)` nests under the attempt span, and spans
 * of concurrent jobs on one thread never mix. The W3C propagator is
 * registered too, so `propagation.inject(context.active(), headers)` gives a
 * handler's outgoing request a `traceparent` of its own span.
 *
 * It uses `@opentelemetry/sdk-trace` (the SDK core under `sdk-trace-base`):
 * its provider takes its settings as given, where `sdk-trace-base`'s reads
 * `OTEL_*` variables, which a thread may not. The sampler follows the attempt
 * span's sampled flag, so a trace sampled out in the process is not recorded
 * here either.
 *
 * @module
 */
import {
  type Context,
  context,
  createTraceState,
  propagation,
  ROOT_CONTEXT,
  trace,
  type Tracer,
} from "@opentelemetry/api";
import {
  AlwaysOnSampler,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanLimits,
  type SpanProcessor,
  TracerProvider,
} from "@opentelemetry/sdk-trace";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { emptyResource } from "@opentelemetry/resources";
import { decodeTrace } from "./trace_context.ts";
import { toWire, type WireSpan } from "./span_wire.ts";
import { TRACER_NAME } from "./names.ts";

/** A thread's tracing: the handlers' tracer, and how to run a job in its attempt's context. */
export interface ThreadTracing {
  readonly tracer: Tracer;
  /** Runs `fn` with the span of stored context `trace` (an attempt's) as the active parent. */
  run<T>(trace: string | undefined, fn: () => T): T;
}

/** The context whose active span is the (remote) span `field` names; the root when none. */
function parentContext(field: string | undefined): Context {
  const stored = decodeTrace(field);
  if (stored === null) return ROOT_CONTEXT;
  return trace.setSpanContext(ROOT_CONTEXT, {
    traceId: stored.trace_id,
    spanId: stored.span_id,
    traceFlags: stored.flags,
    isRemote: true,
    traceState: stored.tracestate ? createTraceState(stored.tracestate) : undefined,
  });
}

/**
 * Starts tracing in this thread; finished spans go to `post` (batched by
 * the caller). Registers the thread's global tracer provider, context
 * manager and propagator: instrumented libraries a handler uses nest too.
 */
export function startThreadTracing(
  post: (span: WireSpan) => void,
  spanLimits: SpanLimits,
): ThreadTracing {
  const poster: SpanProcessor = {
    onStart() {},
    onEnd(span: ReadableSpan) {
      post(toWire(span));
    },
    forceFlush: () => Promise.resolve(),
    shutdown: () => Promise.resolve(),
  };
  const provider = new TracerProvider({
    sampler: new ParentBasedSampler({ root: new AlwaysOnSampler() }),
    spanLimits,
    resource: emptyResource(), // the process exports under its own resource
    spanProcessors: [poster],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  return {
    tracer: provider.getTracer(TRACER_NAME),
    run: (field, fn) => context.with(parentContext(field), fn),
  };
}
