/**
 * Bulk actions on jobs, each one call from the dashboard, each audited in the
 * log with the key's name (admin scope):
 *
 * - `POST /jobs/retry {"status": "failed", "queue"?, "type"?}` → 200
 *   `{retried, more}`: requeues the queue's dead jobs (of one type, when
 *   given), at most MAX_BULK_RETRY per call (`more`: call again). Each job's
 *   move is requeue.lua, atomic on its own: a crash between two leaves every
 *   job either dead or pending, never lost or doubled.
 * - `POST /jobs/cancel {"ids": [...]}` → one result per id, in order
 *   (`{job_id, status}` or `{job_id, error}`); 200 when every id was
 *   cancelled, 207 when some were refused (unknown, finished, unavailable).
 * - `POST /jobs/delete {"ids": [...]}` → the same shape (`status: "deleted"`):
 *   finished jobs only (completed, dead, cancelled), each deleted whole by
 *   delete.lua; a pending, scheduled, running or waiting job is refused
 *   (`invalid_state`, 409-like per id) rather than deleted under a worker, and
 *   so is a finished job a waiting job still depends on.
 *
 * A key confined to a tenant reaches its own queues only: another tenant's
 * queue is a 404 and another tenant's id an unknown job (`not_found`).
 *
 * @module
 */
import { Hono } from "hono";
import type { Context } from "hono";
import { readJsonBody } from "../body.ts";
import type { RouteDeps } from "../deps.ts";
import { toHttpError } from "../errors.ts";
import { InvalidStateError, JobNotFoundError } from "../../queue/errors.ts";
import { checkQueueName } from "../queue_param.ts";
import { bulkIdsSchema, bulkRetrySchema, MAX_BULK_RETRY } from "../schemas.ts";
import { callerTenant, jobVisible, ownPathName } from "../tenant_scope.ts";
import { parseOr422 } from "../validation.ts";
import { TENANT_DEFAULT_QUEUE } from "../../tenants/names.ts";

/** Largest bulk body: 1000 ids of `<queue>:<uuid>` with room to spare. */
const MAX_BULK_BODY = 256 * 1024;
/** Dead jobs read per page, and requeued at once (concurrent script calls). */
const PAGE = 500;
const AT_ONCE = 50;

/** One id's outcome in a bulk answer. */
type BulkResult =
  | { job_id: string; status: string }
  | { job_id: string; error: { code: string; message: string } };

/** The key's name for the audit line (null while auth is off). */
function who(c: Context): string | null {
  return c.get("principal")?.name ?? null;
}

/** Routes of bulk job actions, mounted under `/api/v1`. */
export function jobsBulkRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.post("/jobs/retry", async (c) => {
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, MAX_BULK_BODY, ticket);
    if (body !== null && typeof body === "object" && "queue" in body) {
      checkQueueName((body as { queue: unknown }).queue, "queue");
    }
    const request = parseOr422(bulkRetrySchema, body, "bulk retry");
    const tenant = callerTenant(c);
    const queue = tenant === null
      ? request.queue
      : ownPathName(tenant, request.queue ?? TENANT_DEFAULT_QUEUE, "queue");
    let retried = 0;
    let more = false;
    // Requeued jobs leave the dead set, so each round reads its head again;
    // ids seen before (refused, or raced by another retry) end the loop.
    const seen = new Set<string>();
    for (;;) {
      const page = await deps.call(deps.broker.list({
        state: "failed",
        queue,
        type: request.type,
        limit: Math.min(PAGE, MAX_BULK_RETRY - retried + 1),
      }));
      const fresh = page.jobs.map((j) => j.id).filter((id) => !seen.has(id));
      if (fresh.length === 0) break;
      if (retried + fresh.length > MAX_BULK_RETRY) {
        more = true;
        fresh.length = MAX_BULK_RETRY - retried;
      }
      for (let i = 0; i < fresh.length; i += AT_ONCE) {
        const chunk = fresh.slice(i, i + AT_ONCE);
        const outcomes = await Promise.allSettled(
          chunk.map((id) => deps.write(deps.broker.requeue(id), "change")),
        );
        outcomes.forEach((outcome, k) => {
          seen.add(chunk[k]);
          if (outcome.status === "fulfilled") retried++;
          else if (
            !(outcome.reason instanceof InvalidStateError ||
              outcome.reason instanceof JobNotFoundError)
          ) {
            // Redis is down or did not answer: say so; what was requeued stays requeued.
            deps.log.warn("bulk retry stopped", { key: who(c), queue, retried });
            throw outcome.reason;
          }
        });
      }
      if (more || page.next_cursor === null) break;
    }
    deps.log.info("bulk retry", {
      key: who(c),
      queue: queue ?? deps.broker.defaultQueue,
      type: request.type ?? null,
      retried,
      more,
    });
    return c.json({ retried, more });
  });

  // One result per id, in order: an id refused (unknown, another tenant's, in the wrong
  // state, Redis down) does not stop the others.
  const perId = async (
    c: Context,
    what: string,
    act: (id: string) => Promise<string>,
  ) => {
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, MAX_BULK_BODY, ticket);
    const { ids } = parseOr422(bulkIdsSchema, body, `bulk ${what}`);
    const tenant = callerTenant(c);
    const results: BulkResult[] = [];
    let done = 0;
    for (const id of new Set(ids)) {
      try {
        if (!(await jobVisible(deps, tenant, id))) throw new JobNotFoundError(id);
        results.push({ job_id: id, status: await deps.write(act(id), "change") });
        done++;
      } catch (error) {
        const { code, message } = toHttpError(error);
        results.push({ job_id: id, error: { code, message } });
      }
    }
    return { results, done, refused: results.length - done, asked: ids.length };
  };

  app.post("/jobs/cancel", async (c) => {
    const { results, done, refused, asked } = await perId(
      c,
      "cancel",
      (id) => deps.broker.cancel(id),
    );
    deps.log.info("bulk cancel", { key: who(c), asked, cancelled: done, refused });
    return c.json({ results, cancelled: done, refused }, refused === 0 ? 200 : 207);
  });

  app.post("/jobs/delete", async (c) => {
    // Finished jobs only (deleteJob refuses the others): nothing is pulled from under a worker.
    const { results, done, refused, asked } = await perId(c, "delete", async (id) => {
      await deps.broker.deleteJob(id);
      return "deleted";
    });
    deps.log.info("bulk delete", { key: who(c), asked, deleted: done, refused });
    return c.json({ results, deleted: done, refused }, refused === 0 ? 200 : 207);
  });

  return app;
}
