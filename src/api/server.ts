/**
 * The API process's whole HTTP surface in one Hono app: HTTP metrics first,
 * then SSE, /metrics, the versioned API, and the dashboard's static files last
 * (a path with no file falls through to the API's JSON 404).
 *
 * @module
 */
import { Hono } from "hono";
import { createApp, installErrorHandlers } from "./app.ts";
import { HttpError } from "./errors.ts";
import { createLogger } from "../log.ts";
import { EventFeed } from "../events/feed.ts";
import { eventsRoutes } from "./sse.ts";
import { staticRoutes } from "./static.ts";
import {
  ClusterMetrics,
  type HttpMetricsJson,
  httpMetricsMiddleware,
} from "../metrics/api_metrics.ts";
import { PROMETHEUS_CONTENT_TYPE } from "../metrics/worker_metrics.ts";
import type { Broker } from "../queue/broker.ts";
import type { JobRegistry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";

/** What the HTTP surface needs. */
export interface HttpAppDeps {
  broker: Broker;
  registry: JobRegistry;
  log?: Logger;
  maxBodyBytes?: number;
  /** Request-body bytes held at once by submits in flight (see body_budget.ts). */
  bodyBudgetBytes?: number;
  /** Dashboard files; default the repo's `static/`. */
  staticDir?: string;
  /** Simultaneous SSE clients. Default 100. */
  maxSseClients?: number;
  /**
   * How `/metrics` is answered when several isolates share the port
   * (`API_THREADS`): the first one sums its peers' HTTP metrics into its own
   * (`peerHttpMetrics`); the others relay its text (`relay`).
   */
  metrics?: { peerHttpMetrics: () => Promise<HttpMetricsJson[]> } | {
    relay: () => Promise<string>;
  };
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
  const relay = deps.metrics && "relay" in deps.metrics ? deps.metrics.relay : null;
  const metrics = relay ? null : new ClusterMetrics(deps.broker, {
    feed,
    peerHttpMetrics: deps.metrics && "peerHttpMetrics" in deps.metrics
      ? deps.metrics.peerHttpMetrics
      : undefined,
  });
  const app = new Hono();
  app.use("*", httpMetricsMiddleware());
  app.route("/", eventsRoutes(deps.broker, { feed, maxClients: deps.maxSseClients ?? 100 }));
  if (metrics) app.route("/", metrics.routes());
  else if (relay) {
    app.get("/metrics", async (c) => {
      let text: string;
      try {
        text = await relay();
      } catch {
        throw new HttpError(503, "unavailable", "metrics unavailable");
      }
      return c.body(text, 200, { "content-type": PROMETHEUS_CONTENT_TYPE });
    });
  }
  app.route(
    "/",
    createApp({
      broker: deps.broker,
      registry: deps.registry,
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
    metricsText: metrics ? () => metrics.text() : relay ?? (() => Promise.resolve("")),
    async close() {
      await metrics?.close();
      await feed.close();
    },
  };
}
