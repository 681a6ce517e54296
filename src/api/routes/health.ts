/**
 * Liveness and readiness. `/health` says the process serves HTTP (it never
 * touches Redis, so a Redis outage does not get the process restarted);
 * `/ready` says it can do useful work: 200 when Redis answers and accepts
 * writes (when the app has a write check: `src/queue/write_probe.ts`), else
 * 503, which clears by itself once Redis accepts writes again.
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
    const check = deps.writeCheck;
    const [ok, writable] = await Promise.all([
      deps.call(deps.broker.ping()).catch(() => false),
      check ? deps.call(check.writable()).catch(() => false) : true,
    ]);
    if (!ok) throw new HttpError(503, "unavailable", "redis is not reachable");
    if (!writable) {
      throw new HttpError(
        503,
        "unavailable",
        "redis refuses writes (out of memory, read-only replica or cannot persist)",
        undefined,
        { "Retry-After": "5" },
      );
    }
    return c.json({ status: "ready" });
  });
  return app;
}
