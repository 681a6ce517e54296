/**
 * The API role: broker + registry + the composed HTTP app on Deno's HTTP
 * server with read deadlines (`src/api/http_server.ts`), with a graceful shutdown (stop accepting, finish in-flight requests, close Redis).
 * One process serves one port on one core; to use more cores or hosts, run
 * more API processes behind a load balancer (docs/DEPLOYMENT.md).
 *
 * @module
 */
import { WebhookStore } from "../webhooks/store.ts";
import { type Config, processEnv } from "../config.ts";
import { startTracing } from "../tracing/process_tracing.ts";
import { buildApiApp } from "./api_app.ts";
import { EventBus } from "../events/bus.ts";
import { LogObserver } from "../events/log_observer.ts";
import { loadRegistry, resolveModuleSpecifier } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { RedisBroker } from "../queue/redis_broker.ts";
import { LegacyDataError } from "../queue/queue_registry.ts";
import { connect, READY_WAIT_MS } from "../queue/connect.ts";
import { globalKeys } from "../queue/keys.ts";
import { WriteProbe } from "../queue/write_probe.ts";
import { serveHttp } from "../api/http_server.ts";
import { BodyDeadlines } from "../api/body_deadline.ts";
import { DEFAULT_WRITE_TIMEOUT_MS } from "../api/app.ts";
import { startApiAuth } from "./api_auth.ts";
import { startSchedules } from "../schedules/runtime.ts";
import { ScheduleMetrics } from "../metrics/schedule_metrics.ts";

/** A running API server. */
export interface ApiServer {
  /** The port actually bound (useful with PORT=0). */
  port: number;
  /** Stops serving and closes connections; idempotent. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** Starts the API on `config.HOST:config.PORT` against `redisUrl`. */
export async function serveApi(
  config: Config,
  redisUrl: string,
  log: Logger,
): Promise<ApiServer> {
  // First: a process that must not start (no key beyond loopback) opens nothing else.
  const auth = await startApiAuth(config, redisUrl, log);
  const registry = await loadRegistry(config.JOB_MODULES);
  // Off (null, no SDK loaded) unless an OTLP endpoint is configured.
  const tracing = await startTracing({ service: "jobqueue-api", env: processEnv(), log });
  const bus = new EventBus((observer, event, error) =>
    log.warn("observer failed", { observer: observer.name, event: event.kind, error })
  );
  bus.subscribe(new LogObserver(log));
  const broker = new RedisBroker({
    url: redisUrl,
    queue: config.QUEUE,
    retentionMs: config.RETENTION_MS,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    // The transitions this process makes (submits, cancels, retries), as its scripts wrote them.
    onEvents: (events) => bus.emitAll(events),
  });
  // Data this release cannot take over is said at start, not only per request.
  broker.homeQueue().catch((error) => {
    if (error instanceof LegacyDataError) log.error(error.message);
  });
  const scheduleMetrics = new ScheduleMetrics();
  const schedules = await startSchedules({
    url: redisUrl,
    broker,
    registry,
    log,
    retentionMs: config.RETENTION_MS,
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    tick: config.SCHEDULER === "on",
    observer: scheduleMetrics.observer,
    modules: config.JOB_MODULES.map((spec) => resolveModuleSpecifier(spec)),
  });
  // Swept from one interval for the process's life: no timer churn per request (body_deadline.ts).
  const bodyDeadlines = new BodyDeadlines(config.HTTP_BODY_TIMEOUT_MS, config.HTTP_BODY_MIN_RATE, {
    external: true,
  });
  // Its own connection: one small write per /ready at most once a second, none when unasked.
  const writeProbe = new WriteProbe(
    connect(redisUrl, {
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      connectionName: "jq-api-write-probe",
    }),
    globalKeys().writeProbe,
  );
  // Its own connection: subscription changes and delivery lists are rare, never on a submit's path.
  const webhookClient = connect(redisUrl, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    connectionName: "jq-api-webhooks",
  });
  const webhooks = new WebhookStore({
    client: webhookClient,
    homeQueue: () => broker.homeQueue(),
    secret: config.WEBHOOK_SECRET,
  });
  const http = buildApiApp({
    broker,
    registry,
    log,
    schedules: schedules.service,
    auth: auth.authenticator,
    quotas: auth.quotas,
    webhooks,
    tracer: tracing?.tracer,
    metricsToken: config.METRICS_TOKEN,
    maxBodyBytes: config.MAX_BODY_BYTES,
    bodyBudgetBytes: config.API_BODY_BUDGET_MB * 1024 * 1024,
    bodyDeadlines,
    writeCheck: writeProbe,
    // Past the broker's own bounds for a write (a connection wait, then the
    // command timeout), so that those answer first, whatever the timeout is.
    writeTimeoutMs: Math.max(
      DEFAULT_WRITE_TIMEOUT_MS,
      READY_WAIT_MS + config.REDIS_COMMAND_TIMEOUT_MS + 1000,
    ),
  }, { registries: [scheduleMetrics.registry] });
  // Deno.serve, plus a deadline on connections without a request (http_server.ts).
  const server = serveHttp({
    hostname: config.HOST,
    port: config.PORT,
    headerTimeoutMs: config.HTTP_HEADER_TIMEOUT_MS,
  }, http.app.fetch);
  const port = server.addr.port;
  const bodySweep = setInterval(bodyDeadlines.sweep, bodyDeadlines.sweepMs);
  log.info("api listening", {
    host: config.HOST,
    port,
    queue: config.QUEUE,
    types: registry.types(),
  });
  if (!server.headerDeadline && config.HTTP_HEADER_TIMEOUT_MS > 0) {
    log.warn("this Deno cannot serve per connection: HTTP_HEADER_TIMEOUT_MS is not enforced");
  }
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      await server.shutdown();
      clearInterval(bodySweep);
      await http.close().catch(() => {});
      await schedules.close().catch(() => {});
      await broker.close().catch(() => {});
      writeProbe.close();
      webhookClient.disconnect();
      await auth.close();
      // After the last request: its submit span is among those flushed.
      await tracing?.shutdown();
      log.info("api stopped");
    })();
    return stopping;
  };
  return { port, shutdown, finished: server.finished };
}
