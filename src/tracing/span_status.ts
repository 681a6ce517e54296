/**
 * Ending a span with an error the way the specification asks: an
 * `exception` event (type, message, stack) and status ERROR with the message.
 *
 * @module
 */
import type { Span } from "@opentelemetry/api";

/** `SpanStatusCode.ERROR` of `@opentelemetry/api`, without importing it on a hot path. */
export const STATUS_ERROR = 2;

/** Records `error` on `span` (status ERROR, exception event) and ends it. */
export function endWithError(span: Span, error: unknown, message?: string): void {
  const text = message ?? (error instanceof Error ? error.message || error.name : String(error));
  if (error instanceof Error) span.recordException(error);
  else span.recordException({ name: "Error", message: text });
  span.setStatus({ code: STATUS_ERROR, message: text });
  span.end();
}
