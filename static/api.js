/**
 * Thin fetch wrappers for /api/v1. Errors come back as `ApiError` carrying the
 * API's `{error: {code, message, details}}`.
 *
 * @module
 */

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
  if (init.body !== undefined) headers.set("content-type", "application/json");
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

/** @returns {Promise<any>} */
export const getJobTypes = () => request("/job-types");

/**
 * @param {{status: string, type?: string, limit?: number, cursor?: string | null}} q
 * @returns {Promise<{jobs: any[], next_cursor: string | null}>}
 */
export function listJobs(q) {
  const params = new URLSearchParams({ status: q.status, limit: String(q.limit ?? 20) });
  if (q.type) params.set("type", q.type);
  if (q.cursor) params.set("cursor", q.cursor);
  return request(`/jobs?${params}`);
}

/**
 * @param {string} id
 * @returns {Promise<any>}
 */
export const getJob = (id) => request(`/jobs/${encodeURIComponent(id)}`);

/**
 * @param {Record<string, unknown>} body
 * @returns {Promise<{job_id: string}>}
 */
export const submitJob = (body) => request("/jobs", { method: "POST", body: JSON.stringify(body) });

/** @param {string} id */
export const cancelJob = (id) => request(`/jobs/${encodeURIComponent(id)}`, { method: "DELETE" });

/** @param {string} id */
export const retryJob = (id) =>
  request(`/jobs/${encodeURIComponent(id)}/retry`, { method: "POST" });

/** Deletes every job in the dead set. */
export const purgeFailed = () => request("/jobs?status=failed", { method: "DELETE" });

/**
 * The id of a job as the API returns it (`id` or `job_id`).
 *
 * @param {any} job
 * @returns {string}
 */
export const jobId = (job) => String(job?.id ?? job?.job_id ?? "");
