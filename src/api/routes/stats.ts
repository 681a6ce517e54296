/**
 * `GET /stats`: counts per state and type, straight from the broker.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";

/** The stats route, mounted under `/api/v1`. */
export function statsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  app.get("/stats", async (c) => {
    const stats = await deps.call(deps.broker.stats());
    c.header("Cache-Control", "no-store");
    return c.json(stats);
  });
  return app;
}
