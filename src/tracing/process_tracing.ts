/**
 * One process's tracing: an OpenTelemetry SDK tracer provider exporting
 * over OTLP/HTTP (protobuf) through a `BatchSpanProcessor`, configured by
 * the standard `OTEL_*` variables (`settings.ts`). `startTracing` answers
 * null when tracing is off, and only then is no SDK module loaded: they are
 * imported here, on demand, so a process that does not trace pays nothing
 * for them.
 *
 * The provider is this process's own, not the global one: jobqueue's spans
 * do not change what other code in the process sees through
 * `@opentelemetry/api`.
 *
 * @module
 */
import type { Tracer } from "@opentelemetry/api";
import type { SpanLimits } from "@opentelemetry/sdk-trace";
import type { Logger } from "../log.ts";
import { type Env, tracesEndpoint } from "./settings.ts";
import { fromWire, isWireSpan } from "./span_wire.ts";
import { TRACER_NAME } from "./names.ts";
import { withTimeout } from "../timing/timeout.ts";

/** A process's tracing, when on. */
export interface ProcessTracing {
  readonly tracer: Tracer;
  /**
   * The span limits job threads apply to their spans: read here from the
   * `OTEL_*` limits, since a thread cannot read the environment.
   */
  readonly spanLimits: SpanLimits;
  /** Exports spans finished elsewhere (a job thread), under this process's resource. */
  exportSpans(spans: unknown[]): void;
  /** Exports what is queued (for at most `SHUTDOWN_FLUSH_MS`) and stops. */
  shutdown(): Promise<void>;
}

/** What `startTracing` needs. */
export interface TracingOptions {
  /** The `service.name` unless `OTEL_SERVICE_NAME`/`OTEL_RESOURCE_ATTRIBUTES` name one. */
  service: string;
  env: Env;
  log: Logger;
  /** Extra resource attributes (the role, say). */
  attributes?: Record<string, string | number>;
}

function limit(env: Env, ...names: string[]): number | undefined {
  for (const name of names) {
    const n = Number(env[name]?.trim() || NaN);
    if (Number.isInteger(n) && n >= 0) return n;
  }
  return undefined;
}

/** The SDK's span limits as the spec's variables set them (the SDK's defaults otherwise). */
export function spanLimitsFrom(env: Env): SpanLimits {
  return {
    attributeCountLimit:
      limit(env, "OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT", "OTEL_ATTRIBUTE_COUNT_LIMIT") ??
        128,
    attributeValueLengthLimit: limit(
      env,
      "OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT",
      "OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT",
    ) ?? Infinity,
    eventCountLimit: limit(env, "OTEL_SPAN_EVENT_COUNT_LIMIT") ?? 128,
    linkCountLimit: limit(env, "OTEL_SPAN_LINK_COUNT_LIMIT") ?? 128,
    attributePerEventCountLimit: limit(env, "OTEL_SPAN_ATTRIBUTE_PER_EVENT_COUNT_LIMIT") ?? 128,
    attributePerLinkCountLimit: limit(env, "OTEL_SPAN_ATTRIBUTE_PER_LINK_COUNT_LIMIT") ?? 128,
  };
}

/** Most spans one thread message may carry; more is not what `ThreadTracing` sends. */
const MAX_SPANS_PER_MESSAGE = 1024;
/**
 * Longest a shutdown waits for the last spans to leave: a collector that is
 * down must not hold up a process's exit (the SDK's own bound is 30 s).
 */
export const SHUTDOWN_FLUSH_MS = 5_000;
/** The same SDK complaint (a collector down) is logged at most this often. */
const DIAG_REPEAT_MS = 60_000;

/**
 * Starts tracing when the environment asks for it, else resolves null.
 *
 * @example
 * ```ts
 * const tracing = await startTracing({ service: "jobqueue-api", env: processEnv(), log });
 * // ... on shutdown:
 * await tracing?.shutdown();
 * ```
 */
export async function startTracing(options: TracingOptions): Promise<ProcessTracing | null> {
  const endpoint = tracesEndpoint(options.env);
  if (endpoint === null) return null;
  const [api, base, resources, otlp] = await Promise.all([
    import("@opentelemetry/api"),
    import("@opentelemetry/sdk-trace-base"),
    import("@opentelemetry/resources"),
    import("@opentelemetry/exporter-trace-otlp-proto"),
  ]);
  const { log } = options;
  // The SDK reports export failures through its diagnostics channel: to our log, not lost.
  const lastSaid = new Map<string, number>();
  const say = (level: "warn" | "error") => (message: string, ...args: unknown[]) => {
    const now = Date.now();
    if (now - (lastSaid.get(message) ?? -Infinity) < DIAG_REPEAT_MS) return;
    if (lastSaid.size > 100) lastSaid.clear();
    lastSaid.set(message, now);
    log[level](`opentelemetry: ${message}`, args.length ? { detail: args.map(String) } : {});
  };
  api.diag.setLogger({
    error: say("error"),
    warn: say("warn"),
    info: () => {},
    debug: () => {},
    verbose: () => {},
  }, api.DiagLogLevel.WARN);
  const resource = resources.defaultResource()
    .merge(resources.resourceFromAttributes({
      "service.name": options.service,
      "process.pid": Deno.pid,
      ...options.attributes,
    }))
    // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over our defaults.
    .merge(resources.detectResources({ detectors: [resources.envDetector] }));
  const processor = new base.BatchSpanProcessor(new otlp.OTLPTraceExporter());
  const provider = new base.BasicTracerProvider({ resource, spanProcessors: [processor] });
  log.info("tracing on", {
    endpoint,
    service: resource.attributes["service.name"],
  });
  let stopped: Promise<void> | null = null;
  return {
    tracer: provider.getTracer(TRACER_NAME),
    spanLimits: spanLimitsFrom(options.env),
    exportSpans(spans) {
      if (stopped) return;
      for (const span of spans.slice(0, MAX_SPANS_PER_MESSAGE)) {
        if (isWireSpan(span)) processor.onEnd(fromWire(span, resource));
      }
    },
    shutdown() {
      stopped ??= withTimeout(provider.shutdown(), SHUTDOWN_FLUSH_MS).catch((error) =>
        log.warn("tracing: the last spans were not exported", { error })
      );
      return stopped;
    },
  };
}
