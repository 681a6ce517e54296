/**
 * The API process's whole HTTP surface in one Hono app: HTTP metrics first,
 * then SSE, /metrics, the versioned API, and the dashboard's static files last
 * (a path with no file falls through to the API's JSON 404).
 *
 * @module
 */
import { Hono } from "hono";
import { createApp } from "./app.ts";
import { HttpError, toHttpError } from "./errors.ts";
import { EventFeed } from "./event_feed.ts";
import { eventsRoutes } from "./sse.ts";
import { staticRoutes } from "./static.ts";
import { ClusterMetrics, httpMetricsMiddleware } from "../metrics/api_metrics.ts";
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
  /** Dashboard files; default the repo's `static/`. */
  staticDir?: string;
  /** Simultaneous SSE clients. Default 100. */
  maxSseClients?: number;
}

/** The composed app and how to release its background readers. */
export interface HttpApp {
  app: Hono;
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
    }),
  );
  app.route("/", staticRoutes(deps.staticDir ?? STATIC_DIR));
  // The sub-apps' handlers do not apply to the parent: repeat the one JSON error shape here.
  app.notFound((c) => {
    const error = new HttpError(
      404,
      "not_found",
      `no route for ${c.req.method} ${c.req.path.slice(0, 200)}`,
    );
    return c.json(error.toBody(), 404);
  });
  app.onError((err, c) => {
    const error = toHttpError(err);
    if (error.status >= 500) {
      deps.log?.error("request error", { path: c.req.path.slice(0, 200), error: err });
    }
    return c.json(error.toBody(), error.status);
  });
  return {
    app,
    async close() {
      await metrics.close();
      await feed.close();
    },
  };
}
