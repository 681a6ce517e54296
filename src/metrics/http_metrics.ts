/**
 * This API process's HTTP metrics: `jobqueue_http_requests_total` and
 * `jobqueue_http_request_duration_seconds`, recorded by a Hono middleware.
 * They count this process's requests only: several API processes behind a
 * load balancer are added up with `sum()` across their targets.
 *
 * @module
 */
import type { Context, MiddlewareHandler } from "hono";
import { Counter, Histogram, Registry } from "prom-client";

/** HTTP request duration buckets, seconds. */
const HTTP_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * This process's HTTP metrics. `route` is the matched route pattern (e.g.
 * `/api/v1/jobs/:id`), never the raw path, so ids don't explode cardinality.
 */
export class HttpMetrics {
  /** The registry holding both series (what `/metrics` merges in). */
  readonly registry: Registry = new Registry();
  /** `jobqueue_http_requests_total`. */
  readonly requests: Counter<"method" | "route" | "status">;
  /** `jobqueue_http_request_duration_seconds`. */
  readonly duration: Histogram<"method" | "route" | "status">;

  constructor() {
    const registers = [this.registry];
    this.requests = new Counter({
      name: "jobqueue_http_requests_total",
      help: "HTTP requests this API process answered.",
      labelNames: ["method", "route", "status"] as const,
      registers,
    });
    this.duration = new Histogram({
      name: "jobqueue_http_request_duration_seconds",
      help: "Time to the response head of HTTP requests in this API process.",
      labelNames: ["method", "route", "status"] as const,
      buckets: HTTP_BUCKETS,
      registers,
    });
  }

  /** The Hono middleware recording every request. Mount it first: `app.use("*", m.middleware)`. */
  readonly middleware: MiddlewareHandler = async (c, next) => {
    const start = performance.now();
    let status = 500;
    try {
      await next();
      status = c.res.status;
    } finally {
      const labels = {
        method: normalizeMethod(c.req.method),
        route: routeLabel(c, status),
        status: String(status),
      };
      this.requests.inc(labels);
      this.duration.observe(labels, (performance.now() - start) / 1000);
    }
  };
}

const METHODS = new Set(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]);

function normalizeMethod(method: string): string {
  const m = method.toUpperCase();
  return METHODS.has(m) ? m : "OTHER";
}

/** What the dashboard's files are labelled: one label for all of them, whatever the path. */
export const STATIC_ROUTE = "static";

function routeLabel(c: Context, status: number): string {
  // The handler that answered is the last one the chain ran (`routeIndex`), not the last
  // one that matched: the dashboard's catch-all (GET /*) matches every GET after the API's.
  const route = c.req.matchedRoutes[c.req.routeIndex];
  if (!route || route.method === "ALL") return "unmatched";
  if (route.path === "/*") return status === 404 ? "unmatched" : STATIC_ROUTE;
  return route.path;
}

/** The process-wide HTTP metrics: `httpMetricsMiddleware()` records into them, `ClusterMetrics` exposes them. */
export const defaultHttpMetrics: HttpMetrics = new HttpMetrics();

/**
 * Hono middleware recording `jobqueue_http_requests_total` and
 * `jobqueue_http_request_duration_seconds`.
 *
 * @example
 * ```ts
 * app.use("*", httpMetricsMiddleware());
 * ```
 */
export function httpMetricsMiddleware(
  metrics: HttpMetrics = defaultHttpMetrics,
): MiddlewareHandler {
  return metrics.middleware;
}
