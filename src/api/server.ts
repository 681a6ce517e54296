/**
 * The API process's whole HTTP surface in one Hono app: HTTP metrics first,
 * then SSE, /metrics, the versioned API, and the dashboard's static files last
 * (a path with no file falls through to the API's JSON 404).
 *
 * @module
 */
import { Hono } from "hono";
import { createApp, installErrorHandlers } from "./app.ts";
import { createLogger } from "../log.ts";
import { EventFeed } from "./event_feed.ts";
import { eventsRoutes } from "./sse.ts";
import { staticRoutes } from "./static.ts";
import { ClusterMetrics } from "../metrics/cluster_metrics.ts";
import { httpMetricsMiddleware } from "../metrics/http_metrics.ts";
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import type { EventBus } from "../events/bus.ts";
import type { Logger } from "../log.ts";

/** What the HTTP surface needs. */
export interface HttpAppDeps {
  broker: Broker;
  registry: JobRegistry;
  bus?: EventBus;
  log?: Logger;
  maxBodyBytes?: number;
  /** Request-body bytes held at once by submits in flight (see body_budget.ts). */
  bodyBudgetBytes?: number;
  /** Dashboard files; default the repo's `static/`. */
  staticDir?: string;
  /** Simultaneous SSE clients. Default 100. */
  maxSseClients?: number;
}

/** The composed app and how to release its background readers. */
export interface HttpApp {
  app: Hono;
  /** The `/metrics` text this app serves. */
  metricsText(): Promise<string>;
  close(): Promise<void>;
}

/** The repo's dashboard folder. */
export const STATIC_DIR = new URL("../../static", import.meta.url).pathname;

/**
 * Builds the API process's app.
 *
 * @example
 * ```ts
 * const { app, close } = buildHttpApp({ broker, registry });
 * const server = Deno.serve({ port: 8080 }, app.fetch);
 * ```
 */
export function buildHttpApp(deps: HttpAppDeps): HttpApp {
  // One events-stream reader per process, shared by SSE clients and the duration histogram.
  const feed = new EventFeed(deps.broker);
  const metrics = new ClusterMetrics(deps.broker, { feed });
  const app = new Hono();
  app.use("*", httpMetricsMiddleware());
  app.route("/", eventsRoutes(deps.broker, { feed, maxClients: deps.maxSseClients ?? 100 }));
  app.route("/", metrics.routes());
  app.route(
    "/",
    createApp({
      broker: deps.broker,
      registry: deps.registry,
      bus: deps.bus,
      log: deps.log,
      maxBodyBytes: deps.maxBodyBytes,
      bodyBudgetBytes: deps.bodyBudgetBytes,
    }),
  );
  app.route("/", staticRoutes(deps.staticDir ?? STATIC_DIR));
  // The sub-apps' handlers do not apply to the parent app that is served.
  installErrorHandlers(app, deps.log ?? createLogger({ fields: { role: "api" } }));
  return {
    app,
    metricsText: () => metrics.text(),
    async close() {
      await metrics.close();
      await feed.close();
    },
  };
}
