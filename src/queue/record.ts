/**
 * The stored job record: its layout (`F`), the record a new job is stored
 * with, and the record -> `Job` conversion. The MessagePack underneath is `msgpack.ts`.
 *
 * Each job is ONE Redis STRING holding a MessagePack array with fixed
 * positions (the scripts read and write it with Redis' built-in
 * `cmsgpack.pack/unpack`; `_lib.lua` names the same positions). A plain string
 * value costs a fraction of a hash whose payload field is longer than
 * `hash-max-listpack-value` (a hashtable then), which is what memory per job
 * is about. Absent fields are `nil`/`false`; Lua writes `false` into holes so
 * the record stays an array (a table with holes would be packed as a map with
 * integer keys, which `unpackRecord` accepts as well).
 *
 * The payload and the result are kept as their original JSON text (a msgpack
 * string), never re-encoded by Lua, so they round-trip byte for byte.
 *
 * The positions are `F` below, the one definition in TypeScript; `_lib.lua`'s
 * `F_*` constants restate them 1-based, and test/queue/script_contract_test.ts
 * fails if the two disagree.
 *
 * @module
 */
import {
  type AttemptError,
  type BackoffPolicy,
  isoOrNull,
  type Job,
  JOB_STATES,
  type JobState,
} from "./job.ts";
import { type Packed, unpack } from "./msgpack.ts";
import { traceIdOf } from "../tracing/trace_context.ts";

/** 0-based positions of the record's fields (Lua adds 1). */
export const F = {
  type: 0,
  /** The payload's JSON text, as submitted. */
  payload: 1,
  priority: 2,
  maxAttempts: 3,
  timeoutMs: 4,
  /** Epoch ms. */
  createdAt: 5,
  /** The state's index in `JOB_STATES`. */
  state: 6,
  attempts: 7,
  /** ms after `createdAt` (small integers pack smaller than epoch ms). */
  startedAt: 8,
  /** ms after `createdAt`. */
  finishedAt: 9,
  /** The result's JSON text. */
  result: 10,
  /** Epoch ms a scheduled job is due. */
  scheduledFor: 11,
  /** The current lease's fencing token. */
  token: 12,
  /** Epoch ms. */
  leaseExpiresAt: 13,
  /** The last attempt's error message. */
  error: 14,
  /** `[[attempt, message, at_ms], ...]`, newest last. */
  history: 15,
  progress: 16,
  /** True once a cancel was requested while running. */
  cancel: 17,
  /** The job's own backoff policy, JSON. */
  backoff: 18,
  idempotencyKey: 19,
  /** How many dependencies the job has (absent: none). */
  depsTotal: 20,
  /** How many of them completed. */
  depsDone: 21,
  /** How many of them failed or were cancelled. */
  depsFailed: 22,
  /** `on_dependency_failure`: "c" cancel, "i" ignore, absent fail. */
  depPolicy: 23,
  /** 1 when other jobs depend on this one (its `:r` SET exists). */
  dependents: 24,
  /** 1 when some of its dependencies are in other queues (they are told when it stops waiting). */
  depsElsewhere: 25,
  /** Flow control: the job's group (absent: none). */
  group: 26,
  /**
   * Completion webhook: `"<events>|<url>"`, events as letters (`c` completed,
   * `f` failed, `x` cancelled); absent: none (`src/webhooks/`).
   */
  callback: 27,
  /**
   * Tracing: the submit span's context, `traceparent` then `tracestate`
   * (`src/tracing/trace_context.ts`); absent when the submit carried none
   * and the API was not tracing.
   */
  trace: 28,
} as const;

/** Number of record positions. */
export const RECORD_FIELDS = 29;

/**
 * A stored record as a 0-based array (absent fields undefined/null/false).
 * Accepts both the array form and the map form Lua produces for a table with
 * holes (`{1: ..., 3: ...}`). Null when `data` is null, empty or not a record.
 */
export function unpackRecord(data: Uint8Array | null | undefined): Packed[] | null {
  if (!data || data.length === 0) return null;
  let raw: Packed;
  try {
    raw = unpack(data);
  } catch {
    return null;
  }
  return recordOf(raw);
}

/**
 * A record already unpacked (e.g. embedded in a webhook delivery) as a 0-based
 * array, from either form; null when it is not one.
 */
export function recordOf(raw: Packed): Packed[] | null {
  if (Array.isArray(raw)) return raw;
  if (raw === null || typeof raw !== "object") return null;
  const out: Packed[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const i = Number(key);
    if (Number.isInteger(i) && i >= 1 && i <= RECORD_FIELDS) out[i - 1] = value;
  }
  return out;
}

/** What enqueue stores for a new job; see the module doc for positions. */
export interface NewRecord {
  type: string;
  payload: string;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  createdAt: number;
  /** Epoch ms when due, or 0 for ready now (pending). */
  dueAt: number;
  /** Backoff JSON or "". */
  backoff: string;
  /** Idempotency key or "". */
  idempotencyKey: string;
  /** Number of dependencies (0: none; then the record ends where it did). */
  depsTotal?: number;
  /** The dependency policy's code ("" fail, "c" cancel, "i" ignore). */
  depPolicy?: string;
  /** Flow control's group, or "" (then the record ends where it did). */
  group?: string;
  /** The completion webhook as stored (`"<events>|<url>"`), or "". */
  callback?: string;
  /** The stored trace context (`encodeTrace`), or "" (then the record ends where it did). */
  trace?: string;
}

/**
 * A new job's record (pending or scheduled), trailing absent fields left out:
 * enqueue packs it in place into its batch (`Embedded`).
 */
export function newRecord(job: NewRecord): Packed[] {
  const r: Packed[] = [
    job.type,
    job.payload,
    job.priority,
    job.maxAttempts,
    job.timeoutMs,
    job.createdAt,
    job.dueAt > 0 ? 1 : 0,
  ];
  if (job.dueAt > 0 || job.backoff || job.idempotencyKey) {
    while (r.length < F.scheduledFor) r.push(false);
    r.push(job.dueAt > 0 ? job.dueAt : false);
  }
  if (job.backoff || job.idempotencyKey) {
    while (r.length < F.backoff) r.push(false);
    r.push(job.backoff || false);
  }
  if (job.idempotencyKey) r.push(job.idempotencyKey);
  if (job.depsTotal) {
    // Enqueue counts what is done already and sets the state (waiting or not).
    while (r.length < F.depsTotal) r.push(false);
    r.push(job.depsTotal, 0, 0, job.depPolicy || false);
  }
  if (job.group) {
    while (r.length < F.group) r.push(false);
    r.push(job.group);
  }
  if (job.callback) {
    while (r.length < F.callback) r.push(false);
    r.push(job.callback);
  }
  if (job.trace) {
    while (r.length < F.trace) r.push(false);
    r.push(job.trace);
  }
  return r;
}

function num(value: Packed | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function text(value: Packed | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function json(value: Packed | undefined): unknown {
  if (typeof value !== "string") return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function history(value: Packed | undefined): AttemptError[] {
  const list = Array.isArray(value)
    ? value
    : value && typeof value === "object"
    ? Object.values(value)
    : [];
  return list.map((entry) => {
    const [attempt, message, at] = Array.isArray(entry) ? entry : [];
    return {
      attempt: Number(attempt) || 0,
      message: String(message ?? ""),
      at: isoOrNull(Number(at)) ?? new Date(0).toISOString(),
    };
  });
}

/** The dependency part of a `Job`, from its record. */
function dependencyFields(
  r: Packed[],
): Pick<Job, "dependencies" | "on_dependency_failure" | "has_dependents"> {
  const total = num(r[F.depsTotal]) ?? 0;
  const hasDependents = r[F.dependents] === 1 || r[F.dependents] === true;
  if (total <= 0) {
    return { dependencies: null, on_dependency_failure: null, has_dependents: hasDependents };
  }
  const completed = num(r[F.depsDone]) ?? 0;
  const failed = num(r[F.depsFailed]) ?? 0;
  const code = r[F.depPolicy];
  return {
    dependencies: { total, completed, failed, pending: Math.max(0, total - completed - failed) },
    on_dependency_failure: code === "c" ? "cancel" : code === "i" ? "ignore" : "fail",
    has_dependents: hasDependents,
  };
}

/** The state a record's state code names (pending when unknown). */
export function stateOf(record: Packed[]): JobState {
  const code = record[F.state];
  return typeof code === "number" && JOB_STATES[code] ? JOB_STATES[code] : "pending";
}

/**
 * Decodes a stored job record (GET reply) of `queue` into a `Job`; null when
 * missing or unreadable.
 */
export function decodeJob(
  id: string,
  data: Uint8Array | null | undefined,
  queue: string,
): Job | null {
  const r = unpackRecord(data);
  return r ? recordToJob(id, r, queue) : null;
}

/**
 * The `Job` an unpacked record describes; null when it is not a job record
 * (no type). `decodeJob` is this after `unpackRecord`; separate so the
 * conversion can be measured (and reused) apart from the MessagePack decoding.
 */
export function recordToJob(id: string, r: Packed[], queue: string): Job | null {
  if (typeof r[F.type] !== "string") return null;
  const status = stateOf(r);
  const backoff = text(r[F.backoff]);
  const created = num(r[F.createdAt]);
  const after = (delta: number | null) =>
    delta === null || created === null ? null : created + delta;
  return {
    id,
    queue,
    type: r[F.type] as string,
    payload: json(r[F.payload]),
    priority: num(r[F.priority]) ?? 0,
    attempts: num(r[F.attempts]) ?? 0,
    max_attempts: num(r[F.maxAttempts]) ?? 1,
    status,
    created_at: isoOrNull(created) ?? new Date(0).toISOString(),
    scheduled_for: isoOrNull(num(r[F.scheduledFor])),
    started_at: isoOrNull(after(num(r[F.startedAt]))),
    completed_at: isoOrNull(after(num(r[F.finishedAt]))),
    result: json(r[F.result]),
    error: text(r[F.error]),
    error_history: history(r[F.history]),
    timeout_ms: num(r[F.timeoutMs]) ?? 0,
    progress: num(r[F.progress]),
    lease_expires_at: status === "running" ? isoOrNull(num(r[F.leaseExpiresAt])) : null,
    cancel_requested: r[F.cancel] === true || r[F.cancel] === 1,
    backoff: backoff ? json(backoff) as BackoffPolicy : null,
    ...dependencyFields(r),
    group: text(r[F.group]),
    ...callbackFields(r),
    trace_id: traceIdOf(r[F.trace]),
  };
}

/** The webhook letters of `callback_events` (record form). */
const CALLBACK_LETTERS = { c: "completed", f: "failed", x: "cancelled" } as const;

/** A record's completion webhook, as `Job` shows it. */
function callbackFields(r: Packed[]): Pick<Job, "callback_url" | "callback_events"> {
  const stored = text(r[F.callback]);
  const bar = stored ? stored.indexOf("|") : -1;
  if (!stored || bar < 0) return { callback_url: null, callback_events: null };
  const events = [...stored.slice(0, bar)].map((l) =>
    CALLBACK_LETTERS[l as keyof typeof CALLBACK_LETTERS]
  ).filter(Boolean);
  return { callback_url: stored.slice(bar + 1), callback_events: events };
}
