/**
 * `GET /stats?queue=`: counts per state, type and queue, straight from the
 * broker: over every queue, or of one (404 `not_found` for an unknown queue).
 * A key confined to a tenant gets its own queues' counts only.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { parseOr400 } from "../validation.ts";
import { statsQuerySchema } from "../schemas.ts";
import { checkQueueName } from "../queue_param.ts";
import { callerTenant, ownPathName } from "../tenant_scope.ts";
import { visibleTo } from "../../tenants/names.ts";

/** The stats route, mounted under `/api/v1`. */
export function statsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  app.get("/stats", async (c) => {
    checkQueueName(c.req.query("queue"), "queue");
    const { queue } = parseOr400(statsQuerySchema, c.req.query(), "invalid_query", "query");
    const tenant = callerTenant(c);
    const stats = await deps.call(
      tenant === null
        ? deps.broker.stats(queue)
        : queue === undefined
        ? deps.broker.stats(undefined, (name) => visibleTo(tenant, name))
        : deps.broker.stats(ownPathName(tenant, queue, "queue")),
    );
    c.header("Cache-Control", "no-store");
    return c.json(stats);
  });
  return app;
}
