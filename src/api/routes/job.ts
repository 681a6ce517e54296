/**
 * One job: status, cancel, retry.
 *
 * - `GET /jobs/:id?dependents_cursor=` → the job (404 when unknown or expired; 400 when
 *   the id is not a UUID), with its dependents' ids (a page) when it has any.
 * - `DELETE /jobs/:id` → 200 `{job_id, status: "cancelled"}` for a waiting job;
 *   202 `{job_id, status: "cancel_requested"}` for a running one (its handler is
 *   signalled); 409 for a finished job.
 * - `POST /jobs/:id/retry` → 200 `{job_id, status: "pending"}` for a failed or
 *   cancelled job; 409 otherwise.
 *
 * @module
 */
import { Hono } from "hono";
import { HttpError } from "../errors.ts";
import type { RouteDeps } from "../deps.ts";
import { parseOr400 } from "../validation.ts";
import { jobIdSchema } from "../schemas.ts";
import { producerOf, scheduledJobResponse } from "../schedule_jobs.ts";

function jobId(raw: string): string {
  return parseOr400(jobIdSchema, raw, "invalid_job_id", "job id");
}

/** Routes of single jobs, mounted under `/api/v1`. */
export function jobRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/jobs/:id", async (c) => {
    const id = jobId(c.req.param("id"));
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
    const id = jobId(c.req.param("id"));
    const outcome = await deps.write(deps.broker.cancel(id), "change");
    return c.json({ job_id: id, status: outcome }, outcome === "cancelled" ? 200 : 202);
  });

  app.post("/jobs/:id/retry", async (c) => {
    const id = jobId(c.req.param("id"));
    await deps.write(deps.broker.requeue(id), "change");
    return c.json({ job_id: id, status: "pending" });
  });

  return app;
}
