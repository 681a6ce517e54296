/**
 * Building blocks of the OpenAPI document: JSON Schema from zod, `$ref`s,
 * error responses narrowed to the codes an operation really answers, the
 * responses many operations share, and query parameters generated from a
 * zod object. `openapi.ts` assembles the paths from them.
 *
 * @module
 */
import { z } from "zod";

/** A JSON object of the document. */
export type Json = Record<string, unknown>;

/** JSON Schema of a zod schema, without `$schema` (the document's dialect is 2020-12 already). */
export function jsonSchema(zodSchema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(zodSchema, { io, unrepresentable: "any" });
  return rest;
}

/** A reference to `components.schemas[name]`. */
export const ref = (name: string): Json => ({ $ref: `#/components/schemas/${name}` });

/** A reference to `components.responses[name]`. */
export const responseRef = (name: string): Json => ({ $ref: `#/components/responses/${name}` });

/** A reference to `components.headers[name]`. */
const headerRef = (name: string): Json => ({ $ref: `#/components/headers/${name}` });

/** `content` of one JSON media type. */
export const json = (schema: Json): Json => ({ content: { "application/json": { schema } } });

/** A success answer with a JSON body and optional response headers (component names). */
export function ok(description: string, schema: Json, headers: string[] = []): Json {
  return {
    description,
    ...(headers.length
      ? { headers: Object.fromEntries(headers.map((h) => [h, headerRef(h)])) }
      : {}),
    ...json(schema),
  };
}

/**
 * An error answer: the one error shape with `error.code` narrowed to `codes`,
 * so a client can tell from the document which codes each status carries.
 */
export function errorResponse(description: string, codes: string[], headers: string[] = []): Json {
  return ok(description, {
    allOf: [ref("Error"), {
      properties: { error: { properties: { code: { enum: codes } } } },
    }],
  }, headers);
}

/** The refusals of a JSON request body, before its content is looked at. */
export function jsonBodyErrors(maxBytes: number): Json {
  return {
    "400": errorResponse("The body is not JSON, or nested too deep", ["invalid_json"]),
    "408": errorResponse(
      "The body arrived slower than the server's minimum pace (HTTP_BODY_TIMEOUT_MS, then " +
        "HTTP_BODY_MIN_RATE); nothing was written and the connection is closed",
      ["request_timeout"],
    ),
    "413": errorResponse(`The body is over ${maxBytes} bytes`, ["payload_too_large"]),
    "415": errorResponse(
      "Content-Type is not application/json (or application/*+json)",
      ["unsupported_media_type"],
    ),
  };
}

/** Response headers the document refers to. */
/**
 * The W3C Trace Context headers a submit reads (README, Tracing): its jobs
 * continue the caller's trace. A malformed one is ignored, never refused.
 */
export const TRACE_HEADERS: Json[] = [
  {
    name: "traceparent",
    in: "header",
    description: "W3C traceparent of the caller's span: the submit span (and the jobs' " +
      "attempts) continue its trace. Malformed: ignored, a new trace.",
    schema: { type: "string", example: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01" },
  },
  {
    name: "tracestate",
    in: "header",
    description: "W3C tracestate going with traceparent (kept up to 512 characters).",
    schema: { type: "string" },
  },
];

export const HEADERS: Json = {
  Location: { description: "Path of the new job", schema: { type: "string" } },
  "Idempotent-Replayed": {
    description: "The Idempotency-Key matched an earlier job; nothing was created",
    schema: { const: "true" },
  },
  "Retry-After": {
    description: "Seconds to wait before retrying",
    schema: { type: "integer", minimum: 1 },
  },
};

/** What a 503 `outcome_unknown` means, for every route that writes. */
const OUTCOME_UNKNOWN = "the write was sent to Redis and no answer came in time " +
  "(`outcome_unknown`, with Retry-After): it may or may not have been applied, so retry only " +
  "in a way that cannot apply it twice";

/**
 * Error responses shared by many operations. `Unavailable` is every route
 * that only reads Redis; `WriteUnavailable` adds the `outcome_unknown` of a
 * write (cancel, retry, purge); `SubmitUnavailable` adds that and the body
 * budget's `overloaded` (with Retry-After) of the two submit routes.
 */
export const RESPONSES: Json = {
  InternalError: errorResponse(
    "Unexpected server error; the message carries no internals",
    ["internal_error"],
  ),
  Unavailable: errorResponse(
    "Redis did not answer in time (`unavailable`, with Retry-After), or the queue's data was " +
      "written by another storage format (`storage_format`)",
    ["unavailable", "storage_format"],
    ["Retry-After"],
  ),
  WriteUnavailable: errorResponse(
    "Redis could not be reached, or refuses writes (out of memory, read-only replica, cannot " +
      "persist: `details.reason`), and nothing was changed (`unavailable`, with Retry-After), " +
      "the queue's data was " +
      `written by another storage format (\`storage_format\`), or ${OUTCOME_UNKNOWN}: ` +
      "repeating a cancel, retry or purge is safe",
    ["unavailable", "storage_format", "outcome_unknown"],
    ["Retry-After"],
  ),
  SubmitUnavailable: errorResponse(
    "Redis could not be reached, or refuses writes (out of memory, read-only replica, cannot " +
      "persist: `details.reason`), and nothing was stored (`unavailable`, with Retry-After), " +
      "the queue's data was " +
      "written by another storage format (`storage_format`), the request bodies in flight are " +
      "over the process's budget (`overloaded`, with Retry-After; nothing was read or stored), " +
      `or ${OUTCOME_UNKNOWN}: retry with the same Idempotency-Key (a batch: the same ` +
      "idempotency_key on each item), whose retry answers with the stored job instead of a " +
      "second one",
    ["unavailable", "storage_format", "overloaded", "outcome_unknown"],
    ["Retry-After"],
  ),
  InvalidJobId: errorResponse("The id is not a UUID", ["invalid_job_id"]),
  NotFound: errorResponse("No such job (never existed, or expired)", ["not_found"]),
  InvalidQuery: errorResponse(
    "A query parameter is missing, out of range or not listed here",
    ["invalid_query"],
  ),
};

/**
 * One query parameter per field of a zod object, each with its JSON Schema
 * (output side: `limit` is a number once coerced). A field is required when
 * it has neither a default nor `.optional()`.
 */
export function queryParameters(query: z.ZodObject): Json[] {
  return Object.entries(query.shape).map(([name, field]) => {
    const schema = jsonSchema(field as z.ZodType, "output");
    const { description, ...rest } = schema;
    return {
      name,
      in: "query",
      ...(description === undefined ? {} : { description }),
      required: !(field as z.ZodType).safeParse(undefined).success,
      schema: rest,
    };
  });
}
