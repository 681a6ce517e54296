/**
 * A finished span as plain data, so a job thread can post it to its worker
 * process (`postMessage` clones data, not a `ReadableSpan`'s methods and
 * resource), and the process can hand it to its exporter as the
 * `ReadableSpan` the SDK expects. The thread has no network access: its
 * spans leave through the process's exporter, under the process's resource.
 *
 * @module
 */
import type {
  Attributes,
  HrTime,
  Link,
  SpanContext,
  SpanKind,
  SpanStatus,
} from "@opentelemetry/api";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import type { Resource } from "@opentelemetry/resources";

/** A span context without its methods (`traceState` as its header text). */
export interface WireContext {
  traceId: string;
  spanId: string;
  traceFlags: number;
  traceState?: string;
  isRemote?: boolean;
}

/** One finished span, cloneable. */
export interface WireSpan {
  name: string;
  kind: SpanKind;
  context: WireContext;
  parent?: WireContext;
  startTime: HrTime;
  endTime: HrTime;
  duration: HrTime;
  status: SpanStatus;
  attributes: Attributes;
  events: TimedEvent[];
  links: Array<{ context: WireContext; attributes?: Attributes; droppedAttributesCount?: number }>;
  dropped: { attributes: number; events: number; links: number };
  scope: { name: string; version?: string; schemaUrl?: string };
}

function toWireContext(c: SpanContext): WireContext {
  const out: WireContext = { traceId: c.traceId, spanId: c.spanId, traceFlags: c.traceFlags };
  const state = c.traceState?.serialize();
  if (state) out.traceState = state;
  if (c.isRemote) out.isRemote = true;
  return out;
}

/** A remote-looking span context again (tracestate kept as text: the exporter only serializes it). */
function fromWireContext(w: WireContext): SpanContext {
  const context: SpanContext = { traceId: w.traceId, spanId: w.spanId, traceFlags: w.traceFlags };
  if (w.isRemote) context.isRemote = true;
  if (w.traceState !== undefined) {
    const text = w.traceState;
    context.traceState = {
      serialize: () => text,
      get: () => undefined,
      set() {
        return this;
      },
      unset() {
        return this;
      },
    };
  }
  return context;
}

/** The data of a finished `span`. */
export function toWire(span: ReadableSpan): WireSpan {
  return {
    name: span.name,
    kind: span.kind,
    context: toWireContext(span.spanContext()),
    parent: span.parentSpanContext ? toWireContext(span.parentSpanContext) : undefined,
    startTime: span.startTime,
    endTime: span.endTime,
    duration: span.duration,
    status: span.status,
    attributes: span.attributes,
    events: span.events,
    links: span.links.map((l: Link) => ({
      context: toWireContext(l.context),
      attributes: l.attributes,
      droppedAttributesCount: l.droppedAttributesCount,
    })),
    dropped: {
      attributes: span.droppedAttributesCount,
      events: span.droppedEventsCount,
      links: span.droppedLinksCount,
    },
    scope: {
      name: span.instrumentationScope.name,
      version: span.instrumentationScope.version,
      schemaUrl: span.instrumentationScope.schemaUrl,
    },
  };
}

/** `wire` as a finished `ReadableSpan` of `resource` (this process's). */
export function fromWire(wire: WireSpan, resource: Resource): ReadableSpan {
  const context = fromWireContext(wire.context);
  return {
    name: String(wire.name),
    kind: wire.kind,
    spanContext: () => context,
    parentSpanContext: wire.parent ? fromWireContext(wire.parent) : undefined,
    startTime: wire.startTime,
    endTime: wire.endTime,
    duration: wire.duration,
    status: wire.status,
    attributes: wire.attributes ?? {},
    links: (wire.links ?? []).map((l) => ({
      context: fromWireContext(l.context),
      attributes: l.attributes,
      droppedAttributesCount: l.droppedAttributesCount,
    })),
    events: wire.events ?? [],
    ended: true,
    resource,
    instrumentationScope: wire.scope,
    droppedAttributesCount: wire.dropped?.attributes ?? 0,
    droppedEventsCount: wire.dropped?.events ?? 0,
    droppedLinksCount: wire.dropped?.links ?? 0,
  };
}

const HEX32 = /^[0-9a-f]{32}$/;
const HEX16 = /^[0-9a-f]{16}$/;

function isHrTime(value: unknown): value is HrTime {
  return Array.isArray(value) && value.length === 2 && typeof value[0] === "number" &&
    typeof value[1] === "number";
}

function isContext(value: unknown): value is WireContext {
  const c = value as WireContext;
  return typeof c === "object" && c !== null && HEX32.test(c.traceId) && HEX16.test(c.spanId) &&
    typeof c.traceFlags === "number";
}

/**
 * True for what `toWire` makes: a thread's message is checked before its
 * spans reach the exporter (a handler can post anything from its thread).
 */
export function isWireSpan(value: unknown): value is WireSpan {
  const w = value as WireSpan;
  return typeof w === "object" && w !== null && typeof w.name === "string" &&
    typeof w.kind === "number" && isContext(w.context) &&
    (w.parent === undefined || isContext(w.parent)) && isHrTime(w.startTime) &&
    isHrTime(w.endTime) && isHrTime(w.duration) && typeof w.status === "object" &&
    w.status !== null && typeof w.attributes === "object" && Array.isArray(w.events) &&
    Array.isArray(w.links) && w.links.every((l) => isContext(l?.context)) &&
    typeof w.scope?.name === "string";
}
