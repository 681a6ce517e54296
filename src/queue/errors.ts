/**
 * Typed errors of the queue core. Lua scripts return documented error codes
 * (see each script's header); `scripts.ts` maps them to these classes so callers
 * can `instanceof` instead of parsing messages.
 *
 * @module
 */

/** Machine-readable error codes; the API maps them to HTTP statuses. */
export type QueueErrorCode =
  | "not_found"
  | "lease_lost"
  | "invalid_input"
  | "payload_too_large"
  | "invalid_state"
  | "unavailable"
  | "outcome_unknown"
  | "storage_format"
  | "queue_full"
  | "unknown_dependency";

/** Base class of every error the core throws on purpose. */
export class QueueError extends Error {
  readonly code: QueueErrorCode;
  constructor(code: QueueErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "QueueError";
    this.code = code;
  }
}

/** No job with that id (never existed, or expired after retention). */
export class JobNotFoundError extends QueueError {
  constructor(readonly jobId: string) {
    super("not_found", `job ${jobId} not found`);
    this.name = "JobNotFoundError";
  }
}

/** No queue with that name is known (no job was ever submitted to it). */
export class QueueNotFoundError extends QueueError {
  constructor(readonly queue: string) {
    super("not_found", `queue ${JSON.stringify(queue)} not found`);
    this.name = "QueueNotFoundError";
  }
}

/**
 * The caller's lease is no longer valid: the token is stale (the lease expired
 * and the job was reaped or claimed again) or the job is no longer running. The
 * ack changed nothing.
 */
export class LeaseLostError extends QueueError {
  constructor(readonly jobId: string) {
    super("lease_lost", `lease on job ${jobId} was lost; ack refused`);
    this.name = "LeaseLostError";
  }
}

/**
 * A job lists dependencies no job has (never existed, or expired after
 * retention). Nothing was written.
 */
export class UnknownDependencyError extends QueueError {
  constructor(readonly ids: readonly string[]) {
    super("unknown_dependency", `unknown dependencies: ${ids.join(", ")}`);
    this.name = "UnknownDependencyError";
  }
}

/** An input field is out of range or malformed. Nothing was written. */
export class InvalidInputError extends QueueError {
  constructor(message: string, readonly field?: string) {
    super("invalid_input", message);
    this.name = "InvalidInputError";
  }
}

/** A payload's (or a result's) JSON exceeds its 1 MB limit. Nothing was written. */
export class PayloadTooLargeError extends QueueError {
  constructor(readonly bytes: number, readonly limit: number, what = "payload") {
    super("payload_too_large", `${what} is ${bytes} bytes; the limit is ${limit}`);
    this.name = "PayloadTooLargeError";
  }
}

/**
 * The job's waiting limit (`EnqueueInput.waiting_limit`) was reached: its
 * queue already holds that many jobs pending or scheduled. Nothing was written.
 */
export class QueueFullError extends QueueError {
  constructor(readonly queue: string, readonly limit: number) {
    super("queue_full", `queue ${JSON.stringify(queue)} holds ${limit} waiting jobs or more`);
    this.name = "QueueFullError";
  }
}

/** The job exists but its state does not allow the operation (e.g. requeue of a running job). */
export class InvalidStateError extends QueueError {
  constructor(readonly jobId: string, readonly state: string, operation: string) {
    super("invalid_state", `cannot ${operation} job ${jobId} in state ${state}`);
    this.name = "InvalidStateError";
  }
}

/**
 * Redis could not be reached, and the call certainly did not run: a write was
 * never sent (or Redis refused it unread), so nothing was stored. Safe to
 * retry. A write that was sent and got no answer is `OutcomeUnknownError`
 * instead; a read is always this one.
 */
export class QueueUnavailableError extends QueueError {
  constructor(message: string, options?: ErrorOptions) {
    super("unavailable", message, options);
    this.name = "QueueUnavailableError";
  }
}

/**
 * Redis answered, but refuses writes for now: out of memory under
 * `maxmemory` with `noeviction` (`OOM`), a read-only replica (`READONLY`,
 * e.g. after a failover the client has not followed yet), or a failed
 * snapshot with `stop-writes-on-bgsave-error` (`MISCONF`). Nothing was
 * written: Redis refuses a script's first write and lets one that has
 * already written finish (`scriptVerifyOOM`: a script is never stopped
 * halfway), and the other two states cannot start during a script. So this
 * is `unavailable` (retry later), never a server bug; it clears when the
 * operator (or the failover) fixes Redis.
 */
export class WritesRefusedError extends QueueUnavailableError {
  constructor(readonly reason: WriteRefusal, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "WritesRefusedError";
  }
}

/** Why Redis refuses writes: the error code its reply starts with. */
export type WriteRefusal = "OOM" | "READONLY" | "MISCONF";

const REFUSAL = /^(OOM|READONLY|MISCONF)\b/;

/**
 * The `WritesRefusedError` for a Redis error reply that refuses writes (also
 * when it comes from inside a script, whose reply starts with the same code),
 * else null.
 */
export function writeRefusal(error: unknown): WritesRefusedError | null {
  if (error instanceof WritesRefusedError) return error;
  if (!(error instanceof Error) || error.name !== "ReplyError") return null;
  const match = REFUSAL.exec(error.message);
  if (!match) return null;
  return new WritesRefusedError(
    match[1] as WriteRefusal,
    `redis refuses writes: ${error.message.slice(0, 200)}`,
    { cause: error },
  );
}

/**
 * A write was sent to Redis and no answer came (the command timed out, or the
 * connection dropped while it was in flight): it may or may not have been
 * applied, and a Redis that was only slow may still apply it. Retry only in a
 * way that cannot apply it twice: an enqueue with the same idempotency key or
 * the same job id (the typed client does this by itself), a cancel, requeue or
 * purge as it is (repeating them is harmless).
 */
export class OutcomeUnknownError extends QueueError {
  constructor(message: string, options?: ErrorOptions) {
    super("outcome_unknown", message, options);
    this.name = "OutcomeUnknownError";
  }
}

/**
 * The queue's keys were written in a storage format this version does not
 * read (another release wrote them). Nothing is read or written until the
 * versions match: misreading records could lose jobs.
 */
export class StorageFormatError extends QueueError {
  constructor(readonly queue: string, readonly found: string, readonly expected: string) {
    super(
      "storage_format",
      `queue ${queue} holds storage format ${found}; this version reads format ${expected}`,
    );
    this.name = "StorageFormatError";
  }
}
