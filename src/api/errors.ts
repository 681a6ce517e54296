/**
 * The API's one error type and one JSON error shape:
 * `{ "error": { "code": "...", "message": "...", "details"?: ... } }`.
 * Queue errors map to HTTP statuses here and nowhere else.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import {
  QueueError,
  type QueueErrorCode,
  UnknownDependencyError,
  type WriteRefusal,
  writeRefusal,
  WritesRefusedError,
} from "../queue/errors.ts";
import type { WriteKind } from "./deps.ts";

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

/**
 * An error with an HTTP status, a stable machine code and optional details.
 *
 * @example
 * ```ts
 * throw new HttpError(400, "invalid_job_id", "job id must be a UUID");
 * ```
 */
export class HttpError extends Error {
  constructor(
    readonly status: ContentfulStatusCode,
    readonly code: string,
    message: string,
    readonly details?: unknown,
    /** Extra response headers, e.g. `Retry-After`. */
    readonly headers?: Record<string, string>,
  ) {
    super(message);
    this.name = "HttpError";
  }

  /** The JSON body for this error. */
  toBody(): ErrorBody {
    return {
      error: {
        code: this.code,
        message: this.message,
        ...(this.details === undefined ? {} : { details: this.details }),
      },
    };
  }
}

/** HTTP status of each queue error code. */
const QUEUE_STATUS: Record<QueueErrorCode, ContentfulStatusCode> = {
  not_found: 404,
  lease_lost: 409,
  invalid_input: 422,
  payload_too_large: 413,
  invalid_state: 409,
  unavailable: 503,
  outcome_unknown: 503,
  // Another release's data: unusable until the versions match, no internals in the answer.
  storage_format: 503,
  // A waiting limit is a quota (the tenants' max_pending: the routes say which one).
  queue_full: 429,
  unknown_dependency: 422,
};

/** Seconds a client should wait before retrying a 503 `unavailable` (Redis unreachable). */
const UNAVAILABLE_RETRY_AFTER = "1";

/**
 * Seconds before retrying a write Redis refused: out of memory, read-only or
 * unable to persist takes an operator or a failover, not a moment.
 */
const WRITES_REFUSED_RETRY_AFTER = "5";

/** What each refusal means, for the client's message (no internals: no script hashes). */
const REFUSAL_TEXT: Record<WriteRefusal, string> = {
  OOM: "out of memory",
  READONLY: "read-only replica",
  MISCONF: "cannot persist to disk",
};

/** Seconds a client should wait before retrying a 503 `outcome_unknown`. */
const OUTCOME_UNKNOWN_RETRY_AFTER = "1";

/** How to retry each kind of write whose outcome is unknown without applying it twice. */
const OUTCOME_UNKNOWN_ADVICE: Record<WriteKind | "any", string> = {
  submit: "the queue did not answer in time: the job may or may not have been stored. Retry " +
    "with the same Idempotency-Key (header or idempotency_key): if it was stored, the retry " +
    "answers 200 with its job id instead of creating it again (without a key, a retry may " +
    "create the job twice)",
  batch: "the queue did not answer in time: the batch's valid jobs may or may not have been " +
    "stored (all of them or none). Retry it with the same idempotency_key on each item: items " +
    "already stored answer created: false with their job id (items without a key may be " +
    "created twice)",
  flow: "the queue did not answer in time: the flow may or may not have been stored (the jobs " +
    "of each queue all or none). A flow has no idempotency key: sending it again may create it " +
    "twice, so look for its jobs (GET /api/v1/jobs?status=waiting) before you do",
  change: "the queue did not answer in time: the change may or may not have been applied. " +
    "Repeating the request is safe: a cancel or retry that was applied answers 409 the second " +
    "time, a purge purges what is left",
  any: "the queue did not answer in time: the request may or may not have been applied; " +
    "retry it with the same Idempotency-Key (a batch: the same idempotency_key on each item)",
};

/**
 * The 503 `outcome_unknown` of a write: the request may or may not have been
 * applied, with `Retry-After` and the advice for its kind.
 */
export function outcomeUnknown(kind: WriteKind | "any"): HttpError {
  return new HttpError(503, "outcome_unknown", OUTCOME_UNKNOWN_ADVICE[kind], undefined, {
    "Retry-After": OUTCOME_UNKNOWN_RETRY_AFTER,
  });
}

/**
 * Turns anything thrown into an HttpError. Unknown errors become a generic
 * 500: their messages may carry internals (hosts, stack frames, keys).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  // A refusal that reached here unmapped (a path that passes reply errors through) is one too.
  error = writeRefusal(error) ?? error;
  if (error instanceof QueueError) {
    // Normally turned into its kind's advice by the route (RouteDeps.write).
    if (error.code === "outcome_unknown") return outcomeUnknown("any");
    const status = QUEUE_STATUS[error.code] ?? 500;
    if (error instanceof WritesRefusedError) {
      return new HttpError(
        503,
        "unavailable",
        "the queue refuses writes right now (Redis: " + REFUSAL_TEXT[error.reason] +
          "); nothing was stored; retry later",
        { reason: error.reason },
        { "Retry-After": WRITES_REFUSED_RETRY_AFTER },
      );
    }
    if (error.code === "unavailable") {
      return new HttpError(503, "unavailable", "the queue is unavailable; retry later", undefined, {
        "Retry-After": UNAVAILABLE_RETRY_AFTER,
      });
    }
    const message = error.code === "storage_format"
      ? "the queue's storage was written by another version of this server"
      : error.message;
    if (error instanceof UnknownDependencyError) {
      return new HttpError(status, error.code, message, { ids: [...error.ids] });
    }
    return new HttpError(status, error.code, message);
  }
  if (error instanceof HTTPException) {
    const status = error.status as ContentfulStatusCode;
    return new HttpError(
      status,
      status >= 500 ? "internal_error" : "bad_request",
      error.message || "request failed",
    );
  }
  return new HttpError(500, "internal_error", "internal server error");
}
