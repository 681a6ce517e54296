/**
 * `GET /redis` (admin scope) → the Redis health figures the dashboard's
 * Redis view shows (`src/queue/redis_info.ts`): version, mode, memory,
 * clients count, ops/s, hits and misses, evictions, persistence, and on
 * Cluster one summary per master. A whitelist of INFO fields: no config,
 * no client list, nothing secret.
 *
 * Redis serves the whole deployment, so a key confined to a tenant gets 403
 * `forbidden`: its memory and load say how busy every other tenant is.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { callerTenant } from "../tenant_scope.ts";

/** Routes of the Redis view, mounted under `/api/v1`. */
export function redisRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  app.get("/redis", async (c) => {
    if (callerTenant(c) !== null) {
      throw new HttpError(
        403,
        "forbidden",
        "Redis serves the whole deployment: use a key without a tenant",
      );
    }
    const info = await deps.call(deps.broker.redisInfo());
    c.header("Cache-Control", "no-store");
    return c.json(info);
  });
  return app;
}
