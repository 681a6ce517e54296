/**
 * Job hash <-> `Job` conversion. The hash uses short field names because
 * memory per job matters (see the field list below); the rest of the system
 * only ever sees the readable `Job` shape with ISO-8601 times.
 *
 * Fields: t type, d payload JSON, p priority, a attempts, m max attempts,
 * s status, c created ms, sf scheduled-for ms, st started ms, ft finished ms,
 * r result JSON, e last error, eh error history JSON `[[attempt, msg, ms]]`,
 * to timeout ms, lt lease token, le lease expiry ms, cx cancel requested,
 * pg progress, bo backoff JSON, ik idempotency key.
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

function num(value: string | undefined): number | null {
  if (value === undefined || value === "") return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

function json(value: string | undefined): unknown {
  if (value === undefined) return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function history(value: string | undefined): AttemptError[] {
  const raw = json(value);
  if (!Array.isArray(raw)) return [];
  return raw.map((entry) => {
    const [attempt, message, at] = Array.isArray(entry) ? entry : [];
    return {
      attempt: Number(attempt) || 0,
      message: String(message ?? ""),
      at: isoOrNull(Number(at)) ?? new Date(0).toISOString(),
    };
  });
}

function state(value: string | undefined): JobState {
  return (JOB_STATES as readonly string[]).includes(value ?? "") ? value as JobState : "pending";
}

/**
 * Decodes a job hash (HGETALL reply) into a `Job`; null for an empty hash
 * (unknown or expired job).
 */
export function decodeJob(id: string, h: Record<string, string>): Job | null {
  if (h.t === undefined) return null;
  const status = state(h.s);
  return {
    id,
    type: h.t,
    payload: json(h.d),
    priority: num(h.p) ?? 0,
    attempts: num(h.a) ?? 0,
    max_attempts: num(h.m) ?? 1,
    status,
    created_at: isoOrNull(num(h.c)) ?? new Date(0).toISOString(),
    scheduled_for: isoOrNull(num(h.sf)),
    started_at: isoOrNull(num(h.st)),
    completed_at: isoOrNull(num(h.ft)),
    result: json(h.r),
    error: h.e ?? null,
    error_history: history(h.eh),
    timeout_ms: num(h.to) ?? 0,
    progress: num(h.pg),
    lease_expires_at: status === "running" ? isoOrNull(num(h.le)) : null,
    cancel_requested: h.cx === "1",
    backoff: h.bo ? json(h.bo) as BackoffPolicy : null,
  };
}
