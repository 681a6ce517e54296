/**
 * Queue control:
 *
 * - `GET /queues` → `{queues: [{name, paused, pending, scheduled, running,
 *   completed, failed, cancelled, latency_ms}]}`, every known queue by name;
 *   `latency_ms` is the age of the oldest pending job (0 when none).
 * - `GET /queues/:name` → one of those; 404 `not_found` for an unknown queue.
 * - `POST /queues/:name/pause` and `/resume` → `{name, paused}`. A paused
 *   queue accepts jobs and lets running ones finish; no worker claims from
 *   it. The flag lives in Redis: every worker obeys it at once, across
 *   restarts. 404 for an unknown queue.
 *
 * A bad name is 422 `validation_error` with the rule in the message. A key
 * confined to a tenant lists only its queues and names them relative to it
 * (`default` is `<tenant>/default`); another tenant's queue is 404.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { checkQueueName } from "../queue_param.ts";
import { callerTenant, ownPathName } from "../tenant_scope.ts";
import { visibleTo } from "../../tenants/names.ts";
import type { Context } from "hono";

function notFound(name: string): HttpError {
  return new HttpError(404, "not_found", `queue ${JSON.stringify(name)} not found`);
}

/** The path's queue name, checked and in the caller's namespace. */
function queueName(c: Context): string {
  const name = c.req.param("name")!;
  checkQueueName(name, "name");
  return ownPathName(callerTenant(c), name, "queue");
}

/** Routes of the queues collection, mounted under `/api/v1`. */
export function queuesRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/queues", async (c) => {
    const tenant = callerTenant(c);
    const queues = (await deps.call(deps.broker.queues())).filter((q) => visibleTo(tenant, q.name));
    c.header("Cache-Control", "no-store");
    return c.json({ queues });
  });

  app.get("/queues/:name", async (c) => {
    const name = queueName(c);
    const info = await deps.call(deps.broker.queueInfo(name));
    if (!info) throw notFound(name);
    c.header("Cache-Control", "no-store");
    return c.json(info);
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/queues/:name/${action}`, async (c) => {
      const name = queueName(c);
      const info = await deps.write(deps.broker.setPaused(name, action === "pause"), "change");
      return c.json({ name: info.name, paused: info.paused });
    });
  }

  return app;
}
