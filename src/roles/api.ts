/**
 * The API role: broker + registry + the composed HTTP app on Deno.serve, with
 * a graceful shutdown (stop accepting, finish in-flight requests, close Redis),
 * in one isolate or several sharing the port (`API_THREADS`).
 *
 * @module
 */
import type { Config } from "../config.ts";
import { buildHttpApp } from "../api/server.ts";
import { EventBus } from "../events/bus.ts";
import { LogObserver } from "../events/log_observer.ts";
import { loadRegistry } from "../jobs/registry.ts";
import type { Logger } from "../log.ts";
import { RedisBroker } from "../queue/redis_broker.ts";
import { ApiThreads } from "./api_threads.ts";

/** A running API server. */
export interface ApiServer {
  /** The port actually bound (useful with PORT=0). */
  port: number;
  /** Stops serving and closes connections; idempotent. */
  shutdown(): Promise<void>;
  /** Resolves when the server has stopped. */
  finished: Promise<void>;
}

/** How an extra isolate (`api_thread.ts`) joins the first one's port. */
export interface PeerOptions {
  /** The port the first isolate bound. */
  port: number;
  /** The first isolate's `/metrics` text. */
  relayMetrics(): Promise<string>;
}

/**
 * Starts the API on `config.HOST:config.PORT` against `redisUrl`, in
 * `config.API_THREADS` isolates sharing the port (see `api_threads.ts`).
 * `peer` is for those extra isolates themselves.
 */
export async function serveApi(
  config: Config,
  redisUrl: string,
  log: Logger,
  options: { peer?: PeerOptions } = {},
): Promise<ApiServer> {
  const { peer } = options;
  const extra = peer ? 0 : config.API_THREADS - 1;
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
  let threads: ApiThreads | null = null;
  const http = buildHttpApp({
    broker,
    registry,
    log,
    maxBodyBytes: config.MAX_BODY_BYTES,
    bodyBudgetBytes: config.API_BODY_BUDGET_MB * 1024 * 1024,
    metrics: peer
      ? { relay: peer.relayMetrics }
      : extra > 0
      ? { peerHttpMetrics: () => threads?.httpMetrics() ?? Promise.resolve([]) }
      : undefined,
  });
  let resolvePort: (port: number) => void;
  const bound = new Promise<number>((r) => (resolvePort = r));
  const server = Deno.serve({
    hostname: config.HOST,
    port: peer ? peer.port : config.PORT,
    // Several isolates on one port: the kernel spreads connections over them.
    reusePort: peer !== undefined || extra > 0,
    onListen: ({ port }) => {
      if (!peer) {
        log.info("api listening", {
          host: config.HOST,
          port,
          queue: config.QUEUE,
          types: registry.types(),
          isolates: extra + 1,
        });
      }
      resolvePort(port);
    },
  }, http.app.fetch);
  const port = await bound;
  if (extra > 0) {
    threads = await ApiThreads.start({
      count: extra,
      config,
      redisUrl,
      port,
      log,
      metricsText: () => http.metricsText(),
    });
  }
  let stopping: Promise<void> | null = null;
  const shutdown = () => {
    stopping ??= (async () => {
      await Promise.all([server.shutdown(), threads?.stop()]);
      await http.close().catch(() => {});
      await broker.close().catch(() => {});
      if (!peer) log.info("api stopped");
    })();
    return stopping;
  };
  return { port, shutdown, finished: server.finished };
}
