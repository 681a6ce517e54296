/**
 * The HTTP API as a Hono app. It talks to the queue only through the Broker
 * and validates job payloads with the registry; it never imports the worker.
 * Serve it with `Deno.serve(createApp(deps).fetch)`; test it with
 * `app.request()`.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { createLogger, type Logger } from "../log.ts";
import { OutcomeUnknownError, QueueUnavailableError, WritesRefusedError } from "../queue/errors.ts";
import { LIMITS } from "../queue/job.ts";
import { Deadlines } from "../timing/deadlines.ts";
import { BodyBudget } from "./body_budget.ts";
import {
  BodyDeadlines,
  DEFAULT_BODY_GRACE_MS,
  DEFAULT_BODY_MIN_BYTES_PER_S,
} from "./body_deadline.ts";
import type { ApiDeps, RouteDeps, WriteKind } from "./deps.ts";
import { HttpError, outcomeUnknown, toHttpError } from "./errors.ts";
import { healthRoutes } from "./routes/health.ts";
import { jobRoutes } from "./routes/job.ts";
import { jobsRoutes } from "./routes/jobs.ts";
import { jobsBulkRoutes } from "./routes/jobs_bulk.ts";
import { jobTypesRoutes } from "./routes/job_types.ts";
import { openApiRoutes } from "./routes/openapi.ts";
import { statsRoutes } from "./routes/stats.ts";
import { queuesRoutes } from "./routes/queues.ts";
import { historyRoutes } from "./routes/history.ts";
import { keysRoutes } from "./routes/keys.ts";
import { authRoutes } from "./routes/auth.ts";
import { schedulesRoutes } from "./routes/schedules.ts";
import { tenantsRoutes } from "./routes/tenants.ts";
import { limitsRoutes } from "./routes/limits.ts";
import { webhookRoutes } from "./routes/webhooks.ts";
import { flowRoutes } from "./routes/flows.ts";
import { workersRoutes } from "./routes/workers.ts";
import { redisRoutes } from "./routes/redis.ts";
import { apiGuard } from "./auth/guard.ts";
import { setJsonResponseHeaders } from "./response_headers.ts";

export type { ApiDeps };

/** Largest accepted `POST /jobs/batch` body. */
export const MAX_BATCH_BODY_BYTES = 16 * 1024 * 1024;

/** Default request-body bytes one app holds at once (`API_BODY_BUDGET_MB`). */
export const DEFAULT_BODY_BUDGET_BYTES = 256 * 1024 * 1024;

/** Base path of the versioned API. */
export const API_BASE = "/api/v1";

/** Default read deadline (`ApiDeps.brokerTimeoutMs`). */
export const DEFAULT_READ_TIMEOUT_MS = 2500;

/**
 * Default write deadline (`ApiDeps.writeTimeoutMs`): past the broker's own
 * bounds with the default settings (`READY_WAIT_MS` 1 s plus the 3 s command
 * timeout per Redis call, twice when the queue's storage format is checked
 * first), so they answer first and this only catches what they did not.
 */
export const DEFAULT_WRITE_TIMEOUT_MS = 10_000;

/**
 * Builds the app.
 *
 * @example
 * ```ts
 * const app = createApp({ broker, registry: await loadRegistry() });
 * Deno.serve({ port: 8080 }, app.fetch);
 * ```
 */
export function createApp(deps: ApiDeps): Hono {
  const log = deps.log ?? createLogger({ fields: { role: "api" } });
  // Reads answer `unavailable` at their deadline: nothing changed either way.
  const reads = new Deadlines(
    deps.brokerTimeoutMs ?? DEFAULT_READ_TIMEOUT_MS,
    (ms) => new QueueUnavailableError(`queue did not answer within ${ms} ms`),
  );
  // A write past its deadline may be on the socket and still run: its outcome is unknown.
  const writes = new Deadlines(
    deps.writeTimeoutMs ?? DEFAULT_WRITE_TIMEOUT_MS,
    (ms) => new OutcomeUnknownError(`queue did not answer a write within ${ms} ms`),
  );
  const write = async <T>(operation: Promise<T>, kind: WriteKind): Promise<T> => {
    try {
      return await writes.call(operation);
    } catch (error) {
      // /ready turns 503 at once, not at its next probe.
      if (error instanceof WritesRefusedError) deps.writeCheck?.refused();
      throw error instanceof OutcomeUnknownError ? outcomeUnknown(kind) : error;
    }
  };
  const routeDeps: RouteDeps = {
    broker: deps.broker,
    registry: deps.registry,
    log,
    auth: deps.auth ?? null,
    schedules: deps.schedules ?? null,
    quotas: deps.quotas ?? null,
    webhooks: deps.webhooks ?? null,
    tracer: deps.tracer ?? null,
    maxBodyBytes: deps.maxBodyBytes ?? LIMITS.maxPayloadBytes,
    maxBatchBodyBytes: deps.maxBatchBodyBytes ?? MAX_BATCH_BODY_BYTES,
    bodies: new BodyBudget(
      deps.bodyBudgetBytes ?? DEFAULT_BODY_BUDGET_BYTES,
      deps.bodyDeadlines ?? new BodyDeadlines(
        deps.bodyGraceMs ?? DEFAULT_BODY_GRACE_MS,
        deps.bodyMinBytesPerS ?? DEFAULT_BODY_MIN_BYTES_PER_S,
      ),
    ),
    writeCheck: deps.writeCheck ?? null,
    call: (operation) => reads.call(operation),
    write,
  };

  const app = new Hono();

  const logRequest = (c: Context, status: number, start: number) => {
    // Per-request lines are debug; at the default level don't even build them.
    if (status < 500 && !log.enabled("debug")) return;
    const fields = {
      method: c.req.method,
      path: c.req.path.slice(0, 200),
      status,
      duration_ms: Math.round((performance.now() - start) * 10) / 10,
    };
    if (status >= 500) log.warn("request failed", fields);
    else log.debug("request", fields);
  };
  // Before every route's handler: the cross-site refusal of POSTs and the key check, so a
  // refused request reads and writes nothing (auth/guard.ts; who may call what: auth/access.ts).
  const guard = apiGuard(deps.auth);
  const guarded = `${API_BASE}/`;
  // One middleware for the log line, the response headers and the guard: each Hono
  // middleware layer cost ~7 % of `http_submit_per_s` (measured, test/bench/RESULTS.md).
  app.use(async (c, next) => {
    const start = performance.now();
    setJsonResponseHeaders(c);
    try {
      if (c.req.path.startsWith(guarded)) await guard(c, next);
      else await next();
    } catch (error) {
      logRequest(c, error instanceof HttpError ? error.status : 500, start);
      throw error;
    }
    logRequest(c, c.res.status, start);
  });

  const health = healthRoutes(routeDeps);
  app.route("/", health);
  app.route(API_BASE, health);
  app.route(API_BASE, jobsRoutes(routeDeps));
  app.route(API_BASE, jobsBulkRoutes(routeDeps));
  app.route(API_BASE, jobRoutes(routeDeps));
  app.route(API_BASE, statsRoutes(routeDeps));
  app.route(API_BASE, queuesRoutes(routeDeps));
  app.route(API_BASE, historyRoutes(routeDeps));
  app.route(API_BASE, jobTypesRoutes(routeDeps));
  app.route(API_BASE, openApiRoutes(routeDeps));
  app.route(API_BASE, keysRoutes(routeDeps));
  app.route(API_BASE, authRoutes(routeDeps));
  app.route(API_BASE, schedulesRoutes(routeDeps));
  app.route(API_BASE, tenantsRoutes(routeDeps));
  app.route(API_BASE, flowRoutes(routeDeps));
  app.route(API_BASE, limitsRoutes(routeDeps));
  app.route(API_BASE, workersRoutes(routeDeps));
  app.route(API_BASE, redisRoutes(routeDeps));
  app.route(API_BASE, webhookRoutes(routeDeps));

  installErrorHandlers(app, log);

  return app;
}

/**
 * The one JSON error shape for unknown routes and thrown errors. Hono applies
 * these per app, so every app that is served (not only mounted) installs them.
 */
export function installErrorHandlers(app: Hono, log: Logger): void {
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
      log.error("request error", {
        method: c.req.method,
        path: c.req.path.slice(0, 200),
        code: error.code,
        error: err,
      });
    }
    return c.json(error.toBody(), error.status, error.headers);
  });
}
