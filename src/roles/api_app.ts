/**
 * The app the API role serves, composed in one Hono app: HTTP metrics first,
 * then SSE, /metrics, the versioned API, and the dashboard's static files last
 * (a path with no file falls through to the API's JSON 404).
 *
 * It lives in the role layer because it is where the HTTP surface (`src/api/`)
 * and the metrics (`src/metrics/`) meet: neither of those imports the other.
 *
 * @module
 */
import { Hono } from "hono";
import { createApp, installErrorHandlers } from "../api/app.ts";
import type { ApiDeps } from "../api/deps.ts";
import { EventFeed } from "../events/feed.ts";
import { eventsRoutes } from "../api/sse.ts";
import { STATIC_DIR, staticRoutes } from "../api/static.ts";
import { createLogger } from "../log.ts";
import { ClusterMetrics } from "../metrics/cluster_metrics.ts";
import { httpMetricsMiddleware } from "../metrics/http_metrics.ts";

/** The composed app and how to release its background readers. */
export interface ApiApp {
  /** Serve it: `Deno.serve(options, app.fetch)`. */
  app: Hono;
  /** Stops the event-stream reader shared by SSE and the duration histogram. */
  close(): Promise<void>;
}

/**
 * Builds the API process's app.
 *
 * @example
 * ```ts
 * const { app, close } = buildApiApp({ broker, registry });
 * const server = Deno.serve({ port: 8080 }, app.fetch);
 * ```
 */
export function buildApiApp(deps: ApiDeps): ApiApp {
  const log = deps.log ?? createLogger({ fields: { role: "api" } });
  // One events-stream reader per process, shared by SSE clients and the duration histogram.
  const feed = new EventFeed(deps.broker);
  const metrics = new ClusterMetrics(deps.broker, { feed });
  const app = new Hono();
  app.use("*", httpMetricsMiddleware());
  app.route("/", eventsRoutes(deps.broker, { feed, maxClients: deps.maxSseClients ?? 100 }));
  app.route("/", metrics.routes());
  app.route("/", createApp({ ...deps, log }));
  app.route("/", staticRoutes(deps.staticDir ?? STATIC_DIR));
  // The sub-apps' handlers do not apply to the parent app that is served.
  installErrorHandlers(app, log);
  return {
    app,
    async close() {
      await metrics.close();
      await feed.close();
    },
  };
}
