/**
 * The API role: broker + registry + the composed HTTP app on Deno.serve, with
 * a graceful shutdown (stop accepting, finish in-flight requests, close Redis).
 * One process serves one port on one core; to use more cores or hosts, run
 * more API processes behind a load balancer (docs/DEPLOYMENT.md).
 *
 * @module
 */
import type { Config } from "../config.ts";
import { buildApiApp } from "./api_app.ts";
import { EventBus } from "../events/bus.ts";
import { LogObserver } from "../events/log_observer.ts";
import { loadRegistry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { RedisBroker } from "../queue/redis_broker.ts";
import { LegacyDataError } from "../queue/queue_registry.ts";
import { READY_WAIT_MS } from "../queue/connect.ts";
import { DEFAULT_WRITE_TIMEOUT_MS } from "../api/app.ts";

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
  const registry = await loadRegistry(config.JOB_MODULES);
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
  const http = buildApiApp({
    broker,
    registry,
    log,
    maxBodyBytes: config.MAX_BODY_BYTES,
    bodyBudgetBytes: config.API_BODY_BUDGET_MB * 1024 * 1024,
    // Past the broker's own bounds for a write (a connection wait, then the
    // command timeout), so that those answer first, whatever the timeout is.
    writeTimeoutMs: Math.max(
      DEFAULT_WRITE_TIMEOUT_MS,
      READY_WAIT_MS + config.REDIS_COMMAND_TIMEOUT_MS + 1000,
    ),
  });
  let resolvePort: (port: number) => void;
  const bound = new Promise<number>((r) => (resolvePort = r));
  const server = Deno.serve({
    hostname: config.HOST,
    port: config.PORT,
    onListen: ({ port }) => {
      log.info("api listening", {
        host: config.HOST,
        port,
        queue: config.QUEUE,
        types: registry.types(),
      });
      resolvePort(port);
    },
  }, http.app.fetch);
  const port = await bound;
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      await server.shutdown();
      await http.close().catch(() => {});
      await broker.close().catch(() => {});
      log.info("api stopped");
    })();
    return stopping;
  };
  return { port, shutdown, finished: server.finished };
}
