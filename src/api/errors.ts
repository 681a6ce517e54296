/**
 * The API's one error type and one JSON error shape:
 * `{ "error": { "code": "...", "message": "...", "details"?: ... } }`.
 * Queue errors map to HTTP statuses here and nowhere else.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import { HTTPException } from "hono/http-exception";
import { QueueError, type QueueErrorCode } from "../queue/errors.ts";

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
};

/**
 * Turns anything thrown into an HttpError. Unknown errors become a generic
 * 500: their messages may carry internals (hosts, stack frames, keys).
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof QueueError) {
    const status = QUEUE_STATUS[error.code] ?? 500;
    const message = error.code === "unavailable"
      ? "the queue is unavailable; retry later"
      : error.code === "storage_format"
      ? "the queue's storage was written by another version of this server"
      : error.message;
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
