/**
 * Liveness and readiness. `/health` says the process serves HTTP (it never
 * touches Redis, so a Redis outage does not get the process restarted);
 * `/ready` says it can do useful work: 200 when Redis answers, else 503.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";

/** Health routes; mounted both at the root and under `/api/v1`. */
export function healthRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  app.get("/health", (c) => c.json({ status: "ok" }));
  app.get("/ready", async (c) => {
    const ok = await deps.call(deps.broker.ping()).catch(() => false);
    if (!ok) throw new HttpError(503, "unavailable", "redis is not reachable");
    return c.json({ status: "ready" });
  });
  return app;
}
