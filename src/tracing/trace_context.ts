/**
 * W3C Trace Context as a job carries it, without the OpenTelemetry SDK: the
 * `traceparent`/`tracestate` checks a submit needs, and the compact form a
 * job record stores (`F.trace`). Everything here is string work, so the API,
 * the broker and the runner can handle trace context with tracing off and
 * no SDK module loaded.
 *
 * The stored field is the 55-character version-00 `traceparent` of the
 * submit span, followed directly by the `tracestate` when there is one: a
 * version-00 traceparent has a fixed length, so no separator is needed and a
 * job without tracestate costs 56 bytes of MessagePack.
 *
 * @module
 */

/** A version-00 `traceparent`: version, trace id, parent span id, flags. */
const TRACEPARENT = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/;
/**
 * A later version (the spec: parse its first four fields, ignore the rest);
 * not 00, which has exactly four, nor ff, which is invalid.
 */
const FUTURE_TRACEPARENT =
  /^(?!ff|00)[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;
/** Length of a version-00 traceparent. */
export const TRACEPARENT_LENGTH = 55;
/** The spec's bound on a tracestate header (32 list members of up to 256 bytes, but 512 is what implementations must propagate). */
export const MAX_TRACESTATE_LENGTH = 512;
/** A tracestate as the spec allows its characters (printable ASCII, no leading/trailing junk). */
const TRACESTATE = /^[\x20-\x7e]*$/;

/** A parsed span context: the ids a log line or a child span needs. */
export interface TraceIds {
  /** 32 lowercase hex digits. */
  trace_id: string;
  /** 16 lowercase hex digits. */
  span_id: string;
  /** The trace flags byte; bit 0 is "sampled". */
  flags: number;
}

/** The parts of a stored trace field. */
export interface StoredTrace extends TraceIds {
  /** The version-00 traceparent. */
  traceparent: string;
  /** The tracestate, or "" when none. */
  tracestate: string;
}

const ZERO_TRACE = "0".repeat(32);
const ZERO_SPAN = "0".repeat(16);

/**
 * The ids of a `traceparent` header value, or null when it is not a valid
 * one (wrong shape, all-zero ids, version ff). Upper-case hex is refused, as
 * the spec says.
 *
 * @example
 * ```ts
 * parseTraceparent("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
 * // { trace_id: "0af7…", span_id: "b7ad…", flags: 1 }
 * ```
 */
export function parseTraceparent(value: string | null | undefined): TraceIds | null {
  if (typeof value !== "string") return null;
  const text = value.trim();
  const m = TRACEPARENT.exec(text) ?? FUTURE_TRACEPARENT.exec(text);
  if (!m || m[1] === ZERO_TRACE || m[2] === ZERO_SPAN) return null;
  return { trace_id: m[1], span_id: m[2], flags: parseInt(m[3], 16) };
}

/** The version-00 traceparent of `ids`. */
export function formatTraceparent(ids: TraceIds): string {
  return `00-${ids.trace_id}-${ids.span_id}-${(ids.flags & 0xff).toString(16).padStart(2, "0")}`;
}

/**
 * A tracestate worth keeping: trimmed, at most `MAX_TRACESTATE_LENGTH`
 * characters of printable ASCII, else "" (the spec lets a receiver drop a
 * tracestate it cannot take; it never fails the request for it).
 */
export function cleanTracestate(value: string | null | undefined): string {
  if (typeof value !== "string") return "";
  const text = value.trim();
  return text.length <= MAX_TRACESTATE_LENGTH && TRACESTATE.test(text) ? text : "";
}

/**
 * The stored field of a span context: its version-00 traceparent, then the
 * tracestate if any. Null when `traceparent` is not valid (nothing stored).
 */
export function encodeTrace(
  traceparent: string | null | undefined,
  tracestate?: string | null,
): string | null {
  const ids = parseTraceparent(traceparent);
  return ids ? formatTraceparent(ids) + cleanTracestate(tracestate) : null;
}

/** The parts of a stored field, or null when it is not one. */
export function decodeTrace(field: unknown): StoredTrace | null {
  if (typeof field !== "string" || field.length < TRACEPARENT_LENGTH) return null;
  const traceparent = field.slice(0, TRACEPARENT_LENGTH);
  const ids = parseTraceparent(traceparent);
  return ids ? { ...ids, traceparent, tracestate: field.slice(TRACEPARENT_LENGTH) } : null;
}

/** The trace id of a stored field (the status document's `trace_id`), or null. */
export function traceIdOf(field: unknown): string | null {
  return decodeTrace(field)?.trace_id ?? null;
}
