/**
 * `webhook`: one HTTP request to a caller-given URL. The failure policy is the
 * point of this type: a 5xx, 408, 429 or a network error may heal, so it is
 * retried with backoff; any other 4xx means the request itself is wrong and
 * retrying would repeat the mistake, so it fails at once (NonRetryableError).
 * So does a destination the outbound guard refuses (`guarded_http.ts`): a
 * literal private address already at submit, a name resolving to one, or a
 * redirect to one, when the request is made.
 *
 * @module
 */
import { z } from "zod";
import { defineJob, type JobContext, NonRetryableError } from "./definition.ts";
import { context, propagation } from "@opentelemetry/api";
import { endWithError } from "../tracing/span_status.ts";
import { rateLimitedByResponse } from "./retry_after.ts";
import { readBounded } from "./bounded_read.ts";
import { httpUrlSchema } from "./url_fields.ts";
import { guardedFetch } from "./guarded_http.ts";
import { literalRefusal, outboundPolicy } from "./outbound_guard.ts";
import { jobSettings } from "./job_settings.ts";

/** Only this much of the answer is kept in the job's result. */
export const WEBHOOK_BODY_LIMIT = 4096;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
// Header values: visible ASCII, spaces and tabs; no CR/LF (header injection).
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** Payload of a webhook job. */
export const webhookSchema = z.object({
  url: httpUrlSchema("http(s) URL to call"),
  method: z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]).default("POST"),
  headers: z.record(
    z.string().regex(HEADER_NAME, "invalid header name").max(256),
    z.string().regex(HEADER_VALUE, "invalid header value").max(8192),
  ).optional(),
  body: z.unknown().optional()
    .describe("A string is sent as is (text/plain); anything else as JSON"),
  timeout_ms: z.int().min(1).max(5 * 60 * 1000).default(10_000),
}).strict().refine(
  (p) => p.body === undefined || (p.method !== "GET" && p.method !== "HEAD"),
  { message: "GET and HEAD requests cannot have a body", path: ["body"] },
).meta({
  // The refinement above, for JSON Schema (which never sees a refine).
  if: { properties: { method: { enum: ["GET", "HEAD"] } }, required: ["method"] },
  then: { not: { required: ["body"] } },
});

/** Payload type of a webhook job. */
export type WebhookPayload = z.output<typeof webhookSchema>;

/** Result of a webhook job. */
export interface WebhookResult {
  status: number;
  /** The first 4 KB of the answer, decoded as UTF-8. */
  body: string;
  truncated: boolean;
}

/** True for statuses worth retrying. */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 429;
}

function buildRequest(payload: WebhookPayload): { headers: Headers; body?: string } {
  const headers = new Headers(payload.headers ?? {});
  if (payload.body === undefined) return { headers };
  if (typeof payload.body === "string") {
    if (!headers.has("content-type")) headers.set("content-type", "text/plain; charset=utf-8");
    return { headers, body: payload.body };
  }
  if (!headers.has("content-type")) headers.set("content-type", "application/json");
  return { headers, body: JSON.stringify(payload.body) };
}

/** The `webhook` job type. */
export const webhookJob = defineJob({
  type: "webhook",
  description:
    "Sends one HTTP request; retries 5xx/408/429/network errors, fails fast on other 4xx.",
  schema: webhookSchema,
  defaults: {
    max_attempts: 5,
    timeout_ms: 6 * 60 * 1000,
    backoff: { kind: "exponential", base_ms: 1000, factor: 2, max_ms: 10 * 60 * 1000, jitter: 0.2 },
  },
  // Any host: the URL is the caller's choice; the outbound guard decides which addresses.
  permissions: { net: true },
  admit: (payload, settings) => {
    const refused = literalRefusal(outboundPolicy(settings.outboundAllow), new URL(payload.url));
    return refused === null ? [] : [{ path: "url", message: refused }];
  },
  handler: (ctx, payload): Promise<WebhookResult> =>
    // A CLIENT span around the request, whose traceparent the request carries:
    // the receiver's own spans nest under this attempt. (No-ops when not tracing.)
    ctx.tracer.startActiveSpan(payload.method, {
      kind: SPAN_KIND_CLIENT,
      attributes: clientAttributes(payload),
    }, async (span) => {
      const answer = { status: 0 };
      try {
        const result = await send(ctx, payload, answer);
        span.setAttribute("http.response.status_code", result.status);
        span.end();
        return result;
      } catch (error) {
        if (answer.status) span.setAttribute("http.response.status_code", answer.status);
        endWithError(span, error);
        throw error;
      }
    }),
});

/** `SpanKind.CLIENT`. */
const SPAN_KIND_CLIENT = 2;

/** The request's span attributes; the URL without credentials or query (they may be secrets). */
function clientAttributes(payload: WebhookPayload): Record<string, string | number> {
  const url = new URL(payload.url);
  return {
    "http.request.method": payload.method,
    "server.address": url.hostname,
    "server.port": Number(url.port || (url.protocol === "https:" ? 443 : 80)),
    "url.full": `${url.protocol}//${url.host}${url.pathname}`,
  };
}

/**
 * Sends the request and reads the answer (its status also into `answer`);
 * throws the errors the failure policy says.
 */
async function send(
  ctx: JobContext,
  payload: WebhookPayload,
  answer: { status: number },
): Promise<WebhookResult> {
  const { headers, body } = buildRequest(payload);
  propagation.inject(context.active(), headers, HEADER_SETTER);
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(payload.timeout_ms)]);
  const policy = outboundPolicy(jobSettings().outboundAllow);
  let response: Response;
  let read;
  try {
    response = await guardedFetch(payload.url, {
      policy,
      method: payload.method,
      headers,
      body,
      signal,
    });
    // The signal also aborts the body stream, so a slow body obeys the timeout too.
    read = await readBounded(response.body, WEBHOOK_BODY_LIMIT);
  } catch (error) {
    if (ctx.signal.aborted) throw ctx.signal.reason;
    if (error instanceof NonRetryableError) throw error;
    const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    throw new Error(`webhook request to ${payload.url} failed: ${reason}`, { cause: error });
  }
  answer.status = response.status;
  const { bytes, truncated } = read;
  const text = new TextDecoder().decode(bytes);
  if (response.status >= 400) {
    const message = `webhook ${payload.method} ${payload.url} answered ${response.status}: ${
      text.slice(0, 200)
    }`;
    // A 429 saying when to come back: then, without losing an attempt.
    const limited = rateLimitedByResponse(response, message);
    if (limited) throw limited;
    if (isRetryableStatus(response.status)) throw new Error(message);
    throw new NonRetryableError(message);
  }
  ctx.log.info("webhook delivered", { status: response.status });
  return { status: response.status, body: text, truncated };
}

/** Sets propagation headers (`traceparent`, `tracestate`) on a request's Headers. */
const HEADER_SETTER = {
  set: (headers: Headers, key: string, value: string) => headers.set(key, value),
};

export default webhookJob;
