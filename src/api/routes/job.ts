/**
 * One job: status, cancel, retry.
 *
 * - `GET /jobs/:id?dependents_cursor=` → the job (404 when unknown or expired; 400 when
 *   the id is not a UUID), with its dependents' ids (a page) when it has any.
 * - `DELETE /jobs/:id` → 200 `{job_id, status: "cancelled"}` for a waiting job;
 *   202 `{job_id, status: "cancel_requested"}` for a running one (its handler is
 *   signalled); 409 for a finished job.
 * - `POST /jobs/:id/retry` (optional body `{"revive_dependents": true}`) → 200
 *   `{job_id, status: "pending"}` for a failed or cancelled job; 409 otherwise.
 * - `POST /jobs/:id/run` → 200 `{job_id, status: "pending"}`: a scheduled job
 *   (delayed, or a retry in its backoff) runs now, in one script
 *   (run_now.lua); 409 `invalid_state` unless it is scheduled.
 *
 * A job of another tenant than the key's answers 404 on each, as an unknown
 * one does, before anything is read or changed.
 *
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "../errors.ts";
import type { RouteDeps } from "../deps.ts";
import { parseOr400, parseOr422 } from "../validation.ts";
import { jobIdSchema, retrySchema } from "../schemas.ts";
import { readLimited } from "../body.ts";
import { producerOf, scheduledJobResponse } from "../schedule_jobs.ts";
import { callerTenant, jobVisible } from "../tenant_scope.ts";
import type { Context } from "hono";
// The `principal` context variable is declared there (checked alone, this file needs it).
import type {} from "../auth/guard.ts";

/** Longest retry body: `{"revive_dependents": true}` with room to spare. */
const MAX_RETRY_BODY = 1024;

/**
 * A retry's options: none without a body; else a JSON object
 * `{revive_dependents?: boolean}` (400 invalid_json, 422 validation_error).
 */
async function retryOptions(request: Request): Promise<{ revive_dependents?: boolean }> {
  const bytes = await readLimited(request, MAX_RETRY_BODY);
  const text = new TextDecoder().decode(bytes);
  if (text.trim() === "") return {};
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid JSON");
  }
  return parseOr422(retrySchema, body, "retry");
}

/** The path's job id, checked, and visible to the caller (else the 404 of an unknown job). */
async function jobId(deps: RouteDeps, c: Context): Promise<string> {
  const id = parseOr400(jobIdSchema, c.req.param("id"), "invalid_job_id", "job id");
  if (!(await jobVisible(deps, callerTenant(c), id))) {
    throw new HttpError(404, "not_found", `job ${id} not found`);
  }
  return id;
}

/** Routes of single jobs, mounted under `/api/v1`. */
export function jobRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/jobs/:id", async (c) => {
    const id = await jobId(deps, c);
    const cursor = c.req.query("dependents_cursor");
    if (cursor !== undefined && !/^\d{1,20}$/.test(cursor)) {
      throw new HttpError(400, "invalid_query", "invalid dependents_cursor");
    }
    // The schedule that produced it is read at the same time: one round trip, not two.
    const [job, producer] = await deps.call(
      Promise.all([deps.broker.get(id), producerOf(deps, id)]),
    );
    if (!job) throw new HttpError(404, "not_found", `job ${id} not found`);
    const answer = scheduledJobResponse(job, producer);
    if (job.has_dependents) {
      answer.dependents = await deps.call(deps.broker.dependents(id, cursor));
    }
    return c.json(answer);
  });

  app.delete("/jobs/:id", async (c) => {
    const id = await jobId(deps, c);
    const outcome = await deps.write(deps.broker.cancel(id), "change");
    return c.json({ job_id: id, status: outcome }, outcome === "cancelled" ? 200 : 202);
  });

  app.post("/jobs/:id/retry", async (c) => {
    const id = await jobId(deps, c);
    const options = await retryOptions(c.req.raw);
    await deps.write(deps.broker.requeue(id, options), "change");
    return c.json({ job_id: id, status: "pending" });
  });

  app.post("/jobs/:id/run", async (c) => {
    const id = await jobId(deps, c);
    await deps.write(deps.broker.runNow(id), "change");
    deps.log.info("job run now", { key: c.get("principal")?.name ?? null, job_id: id });
    return c.json({ job_id: id, status: "pending" });
  });

  return app;
}
