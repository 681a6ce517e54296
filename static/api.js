/**
 * Thin fetch wrappers for /api/v1. Errors come back as `ApiError` carrying the
 * API's `{error: {code, message, details}}`.
 *
 * @module
 */

import { authHeaders, onUnauthorized } from "./auth.js";

const BASE = "/api/v1";

/** An HTTP error answered by the API. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {string} code
   * @param {string} message
   * @param {unknown} [details]
   */
  constructor(status, code, message, details) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
  }
}

/**
 * @param {string} path
 * @param {RequestInit} [init]
 * @returns {Promise<any>}
 */
export async function request(path, init = {}) {
  const headers = new Headers(init.headers);
  headers.set("accept", "application/json");
  for (const [name, value] of Object.entries(authHeaders())) headers.set(name, value);
  // A POST without a body says JSON too: the server refuses POSTs a form could send.
  if (init.body !== undefined || init.method === "POST") {
    headers.set("content-type", "application/json");
  }
  let res;
  try {
    res = await fetch(BASE + path, { ...init, headers });
  } catch (error) {
    throw new ApiError(0, "network", `network error: ${String(error)}`);
  }
  const text = await res.text();
  /** @type {any} */
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.status === 401) onUnauthorized();
  if (!res.ok) {
    const err = body && typeof body === "object" && body.error ? body.error : {};
    throw new ApiError(
      res.status,
      String(err.code ?? res.status),
      String(err.message ?? (typeof body === "string" && body ? body : res.statusText)),
      err.details,
    );
  }
  return body;
}

/** @returns {Promise<any>} */
export const getStats = () => request("/stats");

/**
 * Every known queue with its counts, pause flag and latency.
 *
 * @returns {Promise<{queues: any[]}>}
 */
export const getQueues = () => request("/queues");

/**
 * The server's per-minute history: of one queue, or summed over every queue (null).
 *
 * @param {string | null} queue
 * @param {"1h" | "24h"} window
 */
export const getHistory = (queue, window) =>
  request(
    `${queue === null ? "" : `/queues/${encodeURIComponent(queue)}`}/history?window=${window}`,
  );

/** @returns {Promise<any>} */
export const getJobTypes = () => request("/job-types");

/**
 * One queue's jobs in one state (no `queue`: the deployment's default queue);
 * `group` narrows to one flow-control group (no `total` then), `schedule`
 * lists the jobs a schedule produced (any state unless `status` is given).
 *
 * @param {{status?: string, queue?: string, type?: string, group?: string,
 *   schedule?: string, limit?: number, cursor?: string | null}} q
 * @returns {Promise<{jobs: any[], next_cursor: string | null, total?: number,
 *   truncated?: boolean}>}
 */
export function listJobs(q) {
  const params = new URLSearchParams({ limit: String(q.limit ?? 20) });
  for (const k of /** @type {const} */ (["status", "queue", "type", "group", "schedule"])) {
    if (q[k]) params.set(k, String(q[k]));
  }
  if (q.cursor) params.set("cursor", q.cursor);
  return request(`/jobs?${params}`);
}

/**
 * Jobs of one queue whose id starts with `prefix`, in any state (of `group` only, when given).
 *
 * @param {string} prefix
 * @param {string} [queue]
 * @param {string} [group]
 * @returns {Promise<{jobs: any[], total: number, truncated: boolean}>}
 */
export function findJobs(prefix, queue, group) {
  const params = new URLSearchParams({ id_prefix: prefix, limit: "50" });
  if (queue) params.set("queue", queue);
  if (group) params.set("group", group);
  return request(`/jobs?${params}`);
}

/** @param {string} id a scheduled job: it runs now */
export const runJobNow = (id) => request(`/jobs/${encodeURIComponent(id)}/run`, { method: "POST" });

/**
 * Requeues every dead job of `queue` (of `type`): `{retried, more}`.
 *
 * @param {string} [queue]
 * @param {string} [type]
 */
export const retryAllFailed = (queue, type) =>
  request("/jobs/retry", {
    method: "POST",
    body: JSON.stringify({ status: "failed", queue, type }),
  });

/**
 * Cancels these jobs: `{results, cancelled, refused}`.
 *
 * @param {string[]} ids
 */
export const cancelJobs = (ids) =>
  request("/jobs/cancel", { method: "POST", body: JSON.stringify({ ids }) });

/**
 * @param {string} id
 * @returns {Promise<any>}
 */
export const getJob = (id) => request(`/jobs/${encodeURIComponent(id)}`);

/**
 * A fresh idempotency key (a random UUID). `crypto.randomUUID` exists only in
 * secure contexts (HTTPS, localhost); a dashboard served over plain HTTP from
 * another host still has `crypto.getRandomValues`.
 *
 * @returns {string}
 */
export function newIdempotencyKey() {
  if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; // version 4
  b[8] = (b[8] & 0x3f) | 0x80; // RFC 9562 variant
  const hex = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${
    hex.slice(20)
  }`;
}

/** Waits before each retry of a submit (two retries). */
export const SUBMIT_RETRY_DELAYS_MS = [1000, 2000];

/**
 * Whether a failed submit may be retried with the same key: the job may be
 * stored but its answer was lost (`outcome_unknown`, a network error, a
 * gateway's 502/504), or it certainly was not stored (`unavailable`). The
 * key makes either retry safe: a stored job answers 200 with its id.
 *
 * @param {ApiError} error
 * @returns {boolean}
 */
export function retryableSubmit(error) {
  return error.status === 0 || error.status === 502 || error.status === 504 ||
    (error.status === 503 && (error.code === "outcome_unknown" || error.code === "unavailable"));
}

/**
 * Runs a write, retrying a failure `retryableSubmit` accepts after each of
 * `delaysMs` (default `SUBMIT_RETRY_DELAYS_MS`). Only for writes a repeat
 * cannot double: a submit with its idempotency key, setting a pause flag.
 * `onRetry` hears about each retry before its wait.
 *
 * @template T
 * @param {() => Promise<T>} run
 * @param {{delaysMs?: number[],
 *   onRetry?: (error: ApiError, retry: number, of: number) => void}} [options]
 * @returns {Promise<T>}
 */
export async function withRetries(run, options = {}) {
  const delays = options.delaysMs ?? SUBMIT_RETRY_DELAYS_MS;
  for (let retry = 0;; retry++) {
    try {
      return await run();
    } catch (error) {
      if (!(error instanceof ApiError) || !retryableSubmit(error) || retry >= delays.length) {
        throw error;
      }
      options.onRetry?.(error, retry + 1, delays.length);
      await new Promise((resolve) => setTimeout(resolve, delays[retry]));
    }
  }
}

/**
 * Submits one job. Every submit carries an `Idempotency-Key` (a fresh one
 * unless given), and a failure `retryableSubmit` accepts is retried with the
 * same key after each of `SUBMIT_RETRY_DELAYS_MS`, so a retry can never
 * create the job twice. `onRetry` hears about each retry before its wait.
 *
 * @param {Record<string, unknown>} body
 * @param {{idempotencyKey?: string, delaysMs?: number[],
 *   onRetry?: (error: ApiError, retry: number, of: number) => void}} [options]
 * @returns {Promise<{job_id: string}>}
 */
export function submitJob(body, options = {}) {
  const key = options.idempotencyKey ?? newIdempotencyKey();
  const init = { method: "POST", body: JSON.stringify(body), headers: { "idempotency-key": key } };
  return withRetries(() => request("/jobs", init), options);
}

/**
 * Pauses or resumes a queue; answers `{name, paused}`. Setting the flag again
 * changes nothing, so a lost answer is retried like a submit (`withRetries`).
 *
 * @param {string} name
 * @param {boolean} paused
 * @param {{delaysMs?: number[],
 *   onRetry?: (error: ApiError, retry: number, of: number) => void}} [options]
 * @returns {Promise<{name: string, paused: boolean}>}
 */
export function setQueuePaused(name, paused, options = {}) {
  const path = `/queues/${encodeURIComponent(name)}/${paused ? "pause" : "resume"}`;
  return withRetries(() => request(path, { method: "POST" }), options);
}

/**
 * The graph job `id` belongs to: `{nodes, edges, truncated}`.
 *
 * @param {string} id
 * @returns {Promise<any>}
 */
export const getFlow = (id) => request(`/flows/${encodeURIComponent(id)}`);

/** @param {string} id */
export const cancelJob = (id) => request(`/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });

/** @param {string} id */
export const retryJob = (id) =>
  request(`/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" });

/**
 * Deletes every job in the dead set of `queue` (none: of every queue).
 *
 * @param {string} [queue]
 */
export function purgeFailed(queue) {
  const params = new URLSearchParams({ status: "failed" });
  if (queue) params.set("queue", queue);
  return request(`/jobs?${params}`, { method: "DELETE" });
}

/**
 * The id of a job as the API returns it (`id` or `job_id`).
 *
 * @param {any} job
 * @returns {string}
 */
export const jobId = (job) => String(job?.id ?? job?.job_id ?? "");

/**
 * The short form of a job id for lists: the first 8 characters of its UUID
 * (a job of a non-home queue has the id `queue:uuid`).
 *
 * @param {string} id
 * @returns {string}
 */
export const shortId = (id) => id.slice(id.lastIndexOf(":") + 1).slice(0, 8);

/** @returns {Promise<any>} */
export const getSchedules = () => request("/schedules");

/** Flow control's limits and what they hold back (admin scope). */
export const getLimits = () => request("/limits");

/**
 * Pauses, resumes or triggers a schedule (`trigger` answers `{job_id, tick}`).
 *
 * @param {string} name
 * @param {"pause" | "resume" | "trigger"} action
 */
export const scheduleAction = (name, action) =>
  request(`/schedules/${encodeURIComponent(name)}/${action}`, { method: "POST" });

/** @param {string} name */
export const deleteSchedule = (name) =>
  request(`/schedules/${encodeURIComponent(name)}`, { method: "DELETE" });

/**
 * Deletes these finished jobs: `{results, deleted, refused}`.
 *
 * @param {string[]} ids
 */
export const deleteJobs = (ids) =>
  request("/jobs/delete", { method: "POST", body: JSON.stringify({ ids }) });

/** The registered worker processes: `{workers, stale_after_ms}`. */
export const getWorkers = () => request("/workers");

/** @param {string} id a worker: it stops claiming and exits once its jobs are done */
export const drainWorker = (id) =>
  request(`/workers/${encodeURIComponent(id)}/drain`, { method: "POST" });

/** Webhook subscriptions: `{webhooks}` (admin scope). */
export const getWebhooks = () => request("/webhooks");

/**
 * Deliveries given up (`failed`) or still to send (`pending`): `{deliveries}`.
 *
 * @param {"failed" | "pending"} status
 */
export const getDeliveries = (status) => request(`/webhooks/deliveries?status=${status}&limit=50`);

/** @param {string} id a given-up delivery: sent again */
export const redeliver = (id) =>
  request(`/webhooks/deliveries/${encodeURIComponent(id)}/redeliver`, { method: "POST" });

/** Redis's health figures (admin scope). */
export const getRedis = () => request("/redis");
