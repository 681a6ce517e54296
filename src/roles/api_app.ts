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
import type { Registry } from "prom-client";
import { createApp, installErrorHandlers } from "../api/app.ts";
import type { ApiDeps } from "../api/deps.ts";
import { EventFeed } from "../events/feed.ts";
import { eventsRoutes } from "../api/sse.ts";
import { STATIC_DIR, staticRoutes } from "../api/static.ts";
import { createLogger } from "../log.ts";
import { ClusterMetrics } from "../metrics/cluster_metrics.ts";
import { httpMetricsMiddleware } from "../metrics/http_metrics.ts";
import { apiGuard } from "../api/auth/guard.ts";
import { bearerToken } from "../auth/bearer.ts";
import { metricsGuard } from "../api/auth/metrics_guard.ts";
import { jsonResponseHeaders } from "../api/response_headers.ts";

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
export function buildApiApp(
  deps: ApiDeps,
  /** This process's own metrics to expose on /metrics too (e.g. the scheduler loop's). */
  extra: { registries?: Registry[] } = {},
): ApiApp {
  const log = deps.log ?? createLogger({ fields: { role: "api" } });
  // One events-stream reader per process, shared by the SSE clients.
  const feed = new EventFeed(deps.broker);
  const webhooks = deps.webhooks;
  const metrics = new ClusterMetrics(deps.broker, {
    extra: extra.registries,
    webhookStats: webhooks && (() => webhooks.stats()),
  });
  const app = new Hono();
  app.use("*", httpMetricsMiddleware());
  // The stream and /metrics are mounted before the versioned API: they get its checks here.
  app.use("/api/v1/events", jsonResponseHeaders, apiGuard(deps.auth));
  const auth = deps.auth;
  app.route(
    "/",
    eventsRoutes(deps.broker, {
      feed,
      maxClients: deps.maxSseClients ?? 100,
      // A stream outlives its key's check: a revoked key's stream ends within a second or two.
      stillAuthorized: auth &&
        ((request) => auth.stillHolds(bearerToken(request.headers.get("authorization")), "read")),
    }),
  );
  app.use("/metrics", metricsGuard(deps.metricsToken));
  app.route("/", metrics.routes());
  app.route("/", createApp({ ...deps, log }));
  app.route(
    "/",
    staticRoutes(
      deps.staticDir ?? STATIC_DIR,
      (path, error) =>
        log.warn("dashboard file served unminified", {
          path,
          error: error instanceof Error ? error.message : String(error),
        }),
    ),
  );
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
