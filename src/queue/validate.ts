/**
 * Enqueue input validation and encoding to the compact form the enqueue script
 * stores. Runs entirely before any Redis write, so a bad input never leaves a
 * partial job behind.
 *
 * @module
 */
import {
  CALLBACK_EVENTS,
  type CallbackEvent,
  DEFAULTS,
  DEPENDENCY_POLICIES,
  type EnqueueInput,
  LIMITS,
} from "./job.ts";
import { InvalidInputError, PayloadTooLargeError } from "./errors.ts";
import { isUuid, jobIdFor, parseJobId } from "./job_id.ts";
import { isValidQueueName, QUEUE_NAME_RULE } from "./keys.ts";
import { encodeTrace } from "../tracing/trace_context.ts";

export { isUuid };

/** Where a job goes: its queue, and the deployment's home queue (whose ids are plain). */
export interface JobPlace {
  queue: string;
  home: string;
}

/** A validated job, ready for enqueue.lua's ARGV (and `newRecord`). */
export interface EncodedJob {
  /** The job's id, naming its queue (`job_id.ts`). */
  id: string;
  queue: string;
  type: string;
  /** Payload JSON text. */
  payload: string;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  /** Epoch ms when the job may run; 0 = now. */
  dueAt: number;
  /** Epoch ms the job was created (the enqueue's clock). */
  createdAt: number;
  /** Backoff policy JSON, or "". */
  backoff: string;
  /** Idempotency key, or "". */
  idempotencyKey: string;
  /** Flow control's group, or "". */
  group: string;
  /** The completion webhook as the record stores it (`"<events>|<url>"`), or "". */
  callback: string;
  /** The stored trace context (`encodeTrace` of traceparent, tracestate), or "". */
  trace: string;
  /** True when the caller chose the id (checked for collisions); false for a fresh random UUID. */
  callerId: boolean;
  /** `EnqueueInput.waiting_limit`, or -1 for none. */
  waitingLimit: number;
  /** Ids of the jobs it depends on, canonical and distinct (empty: none). */
  dependsOn: string[];
  /** Number of dependencies (the record's count). */
  depsTotal: number;
  /** The dependency policy's record code: "" fail, "c" cancel, "i" ignore. */
  depPolicy: string;
}

/**
 * The canonical, distinct ids of `input.depends_on` (at most
 * `LIMITS.maxDependencies`, none the job's own `id`); InvalidInputError otherwise.
 */
function encodeDependencies(input: EnqueueInput, id: string, home: string): string[] {
  const list = input.depends_on;
  if (list === undefined) return [];
  if (!Array.isArray(list)) {
    throw new InvalidInputError("depends_on must be an array of job ids", "depends_on");
  }
  if (list.length > LIMITS.maxDependencies) {
    throw new InvalidInputError(
      `depends_on lists ${list.length} jobs; the limit is ${LIMITS.maxDependencies}`,
      "depends_on",
    );
  }
  const out = new Set<string>();
  for (const dep of list) {
    const parsed = parseJobId(dep, home);
    if (!parsed) {
      throw new InvalidInputError(
        `depends_on must list job ids (got ${JSON.stringify(dep)})`,
        "depends_on",
      );
    }
    if (parsed.id === id) {
      throw new InvalidInputError("a job cannot depend on itself", "depends_on");
    }
    out.add(parsed.id);
  }
  return [...out];
}

function encodePolicy(input: EnqueueInput): string {
  const policy = input.on_dependency_failure;
  if (policy === undefined || policy === "fail") return "";
  if (!DEPENDENCY_POLICIES.includes(policy)) {
    throw new InvalidInputError(
      `on_dependency_failure must be one of ${DEPENDENCY_POLICIES.join(", ")}`,
      "on_dependency_failure",
    );
  }
  return policy === "cancel" ? "c" : "i";
}

function intInRange(value: unknown, min: number, max: number, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < min || value > max) {
    throw new InvalidInputError(`${field} must be an integer in [${min}, ${max}]`, field);
  }
  return value;
}

/**
 * The UTF-8 size of a JSON `text` when it is over `limit` bytes (default the
 * 1 MiB payload limit), else 0. Each UTF-16 unit encodes to at most 3 bytes,
 * so short texts (nearly all) are answered without encoding.
 */
export function oversizeBytes(text: string, limit: number = LIMITS.maxPayloadBytes): number {
  if (text.length * 3 <= limit) return 0;
  const bytes = new TextEncoder().encode(text).length;
  return bytes > limit ? bytes : 0;
}

/**
 * The payload's JSON text: `payload_json` as given (the caller serialized the
 * payload already, see `EnqueueInput`), else `payload` serialized here; either
 * way within the size limit.
 */
function encodePayload(input: EnqueueInput): string {
  let text: string | undefined = input.payload_json;
  if (text !== undefined) {
    if (typeof text !== "string") {
      throw new InvalidInputError("payload_json must be a string", "payload_json");
    }
  } else {
    try {
      text = JSON.stringify(input.payload === undefined ? null : input.payload);
    } catch (error) {
      throw new InvalidInputError(`payload is not JSON-serializable: ${String(error)}`, "payload");
    }
  }
  if (text === undefined) {
    throw new InvalidInputError("payload is not JSON-serializable", "payload");
  }
  const bytes = oversizeBytes(text);
  if (bytes > 0) throw new PayloadTooLargeError(bytes, LIMITS.maxPayloadBytes);
  return text;
}

function encodeBackoff(input: EnqueueInput): string {
  const b = input.backoff;
  if (b === undefined || b === null) return "";
  const ok = typeof b === "object" && (b.kind === "polynomial" || b.kind === "exponential") &&
    [b.base_ms, b.factor, b.max_ms].every((n) =>
      typeof n === "number" && Number.isFinite(n) && n >= 0
    ) &&
    typeof b.jitter === "number" && b.jitter >= 0 && b.jitter <= 1;
  if (!ok) throw new InvalidInputError("backoff is not a valid policy", "backoff");
  return JSON.stringify({
    kind: b.kind,
    base_ms: b.base_ms,
    factor: b.factor,
    max_ms: b.max_ms,
    jitter: b.jitter,
  });
}

function dueAt(input: EnqueueInput, now: number): number {
  if (input.delay_ms !== undefined && input.run_at !== undefined) {
    throw new InvalidInputError("delay_ms and run_at are exclusive", "delay_ms");
  }
  if (input.delay_ms !== undefined) {
    const d = input.delay_ms;
    if (typeof d !== "number" || !Number.isFinite(d) || d < 0) {
      throw new InvalidInputError("delay_ms must be a number >= 0", "delay_ms");
    }
    return d > 0 ? now + Math.round(d) : 0;
  }
  if (input.run_at !== undefined) {
    const t = input.run_at instanceof Date ? input.run_at.getTime() : NaN;
    if (!Number.isFinite(t)) throw new InvalidInputError("run_at must be a valid date", "run_at");
    return t > now ? t : 0;
  }
  return 0;
}

/**
 * Validates one enqueue input and encodes it for `place` (the queue must be
 * valid already: see `queueOf`). Throws `InvalidInputError` (naming the
 * field) or `PayloadTooLargeError`.
 *
 * @example
 * ```ts
 * const job = encodeJob({ type: "email", payload: {} }, Date.now(), {
 *   queue: "default",
 *   home: "default",
 * });
 * ```
 */
export function encodeJob(input: EnqueueInput, now: number, place: JobPlace): EncodedJob {
  if (input === null || typeof input !== "object") {
    throw new InvalidInputError("job must be an object", "job");
  }
  const type = input.type;
  if (typeof type !== "string" || type.length === 0 || type.length > LIMITS.maxTypeLength) {
    throw new InvalidInputError(`type must be 1..${LIMITS.maxTypeLength} characters`, "type");
  }
  const priority = intInRange(
    input.priority ?? DEFAULTS.priority,
    LIMITS.minPriority,
    LIMITS.maxPriority,
    "priority",
  );
  const maxAttempts = intInRange(
    input.max_attempts ?? DEFAULTS.maxAttempts,
    1,
    LIMITS.maxAttempts,
    "max_attempts",
  );
  const timeoutMs = intInRange(
    input.timeout_ms ?? DEFAULTS.timeoutMs,
    LIMITS.minTimeoutMs,
    LIMITS.maxTimeoutMs,
    "timeout_ms",
  );
  const key = input.idempotency_key;
  if (
    key !== undefined &&
    (typeof key !== "string" || key.length === 0 || key.length > LIMITS.maxIdempotencyKeyLength)
  ) {
    throw new InvalidInputError(
      `idempotency_key must be 1..${LIMITS.maxIdempotencyKeyLength} characters`,
      "idempotency_key",
    );
  }
  const group = input.group;
  if (
    group !== undefined &&
    (typeof group !== "string" || group.length === 0 ||
      utf8Bytes(group) > LIMITS.maxGroupBytes)
  ) {
    throw new InvalidInputError(`group must be 1..${LIMITS.maxGroupBytes} bytes`, "group");
  }
  const trace = encodeTraceInput(input);
  const id = jobIdOf(input, place);
  const dependsOn = encodeDependencies(input, id, place.home);
  return {
    id,
    dependsOn,
    depsTotal: dependsOn.length,
    depPolicy: dependsOn.length > 0 ? encodePolicy(input) : "",
    queue: place.queue,
    type,
    payload: encodePayload(input),
    priority,
    maxAttempts,
    timeoutMs,
    dueAt: dueAt(input, now),
    createdAt: now,
    backoff: encodeBackoff(input),
    idempotencyKey: key ?? "",
    group: group ?? "",
    callback: encodeCallback(input),
    trace,
    callerId: input.id !== undefined && !(input.fresh_id === true && isFreshShape(input.id, place)),
    waitingLimit: input.waiting_limit === undefined
      ? -1
      : intInRange(input.waiting_limit, 0, Number.MAX_SAFE_INTEGER, "waiting_limit"),
  };
}

/** Longest `callback_url`. */
export const MAX_CALLBACK_URL_LENGTH = 2048;

const CALLBACK_LETTER: Record<CallbackEvent, string> = {
  completed: "c",
  failed: "f",
  cancelled: "x",
};

/**
 * The record form of the job's completion webhook: `"<letters>|<url>"`, or ""
 * without one. The URL must be absolute http(s) with no credentials; the
 * outbound guard's checks of its address happen at the API and at delivery.
 */
function encodeCallback(input: EnqueueInput): string {
  const url = input.callback_url;
  const events = input.callback_events;
  if (url === undefined) {
    if (events !== undefined) {
      throw new InvalidInputError("callback_events needs a callback_url", "callback_events");
    }
    return "";
  }
  const problem = callbackUrlProblem(url);
  if (problem) throw new InvalidInputError(`callback_url ${problem}`, "callback_url");
  const chosen = events ?? CALLBACK_EVENTS;
  if (
    !Array.isArray(chosen) || chosen.length === 0 ||
    chosen.some((e) => !CALLBACK_EVENTS.includes(e))
  ) {
    throw new InvalidInputError(
      `callback_events must be a non-empty list of ${CALLBACK_EVENTS.join(", ")}`,
      "callback_events",
    );
  }
  const letters = CALLBACK_EVENTS.filter((e) => chosen.includes(e)).map((e) => CALLBACK_LETTER[e]);
  return `${letters.join("")}|${url}`;
}

/** Why `url` cannot be a webhook URL (absolute http(s), no credentials), or null. */
export function callbackUrlProblem(url: unknown): string | null {
  if (typeof url !== "string" || url.length === 0 || url.length > MAX_CALLBACK_URL_LENGTH) {
    return `must be a URL of 1..${MAX_CALLBACK_URL_LENGTH} characters`;
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a valid URL";
  }
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return "must be an http or https URL";
  }
  if (parsed.username || parsed.password) return "must not carry credentials";
  return null;
}

/** The stored trace field of `input`'s traceparent/tracestate; "" when none; InvalidInputError for a malformed one. */
function encodeTraceInput(input: EnqueueInput): string {
  if (input.traceparent === undefined) return "";
  const field = encodeTrace(input.traceparent, input.tracestate);
  if (field === null) {
    throw new InvalidInputError(
      "traceparent must be a W3C traceparent (00-<32 hex>-<16 hex>-<2 hex>)",
      "traceparent",
    );
  }
  return field;
}

/**
 * The queue `input` names, else `fallback`; InvalidInputError for a bad name.
 */
export function queueOf(input: EnqueueInput, fallback: string): string {
  const queue = input?.queue ?? fallback;
  if (typeof queue !== "string" || !isValidQueueName(queue)) {
    throw new InvalidInputError(
      `queue: ${QUEUE_NAME_RULE} (got ${JSON.stringify(queue)})`,
      "queue",
    );
  }
  return queue;
}

/** True when `id` has the length and queue prefix of a fresh id of `place`. */
function isFreshShape(id: unknown, place: JobPlace): boolean {
  if (typeof id !== "string") return false;
  if (place.queue === place.home) return id.length === 36;
  return id.length === place.queue.length + 37 && id.startsWith(place.queue) &&
    id[place.queue.length] === ":";
}

/**
 * The id of a new job: generated, or the caller's (a UUID, or a job id of
 * this very queue, `<queue>:<uuid>`), in either case naming its queue.
 */
function jobIdOf(input: EnqueueInput, place: JobPlace): string {
  const id = input.id;
  if (id === undefined) return jobIdFor(place.queue, place.home, crypto.randomUUID());
  // A fresh id is the caller's crypto.randomUUID() in this queue's form,
  // canonical already (see `fresh_id`): only its shape is checked.
  if (input.fresh_id === true && isFreshShape(id, place)) return id as string;
  const parsed = isUuid(id)
    ? { queue: place.queue, id: jobIdFor(place.queue, place.home, id.toLowerCase()) }
    : parseJobId(id, place.home);
  if (!parsed) throw new InvalidInputError("id must be a UUID", "id");
  if (parsed.queue !== place.queue) {
    throw new InvalidInputError(
      `id names queue ${JSON.stringify(parsed.queue)} but the job is for ${
        JSON.stringify(place.queue)
      }`,
      "id",
    );
  }
  return parsed.id;
}

/**
 * Validates and encodes a whole batch: every job as `encodeJob` does, and no
 * id twice. Throws the first refusal, its message prefixed with the job's
 * index (`jobs[3]: ...`); nothing is encoded partly.
 *
 * @example
 * ```ts
 * const place = { queue: "default", home: "default" };
 * const jobs = encodeBatch([{ type: "email", payload: {} }], Date.now(), () => place);
 * ```
 */
export function encodeBatch(
  inputs: readonly EnqueueInput[],
  now: number,
  placeOf: (input: EnqueueInput) => JobPlace,
): EncodedJob[] {
  if (!Array.isArray(inputs)) throw new InvalidInputError("jobs must be an array", "jobs");
  const jobs: EncodedJob[] = [];
  const ids = new Set<string>();
  inputs.forEach((input, i) => {
    try {
      const job = encodeJob(input, now, placeOf(input));
      if (ids.has(job.id)) throw new InvalidInputError("duplicate id in batch", "id");
      ids.add(job.id);
      jobs.push(job);
    } catch (error) {
      if (error instanceof InvalidInputError || error instanceof PayloadTooLargeError) {
        error.message = `jobs[${i}]: ${error.message}`;
      }
      throw error;
    }
  });
  return jobs;
}

const encoder = new TextEncoder();

/** Bytes of `text` in UTF-8. */
function utf8Bytes(text: string): number {
  return encoder.encode(text).length;
}
