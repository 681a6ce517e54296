/**
 * `deno task start`: everything on one box. Finds or starts Redis, serves the
 * API and dashboard in this process, and runs WORKERS supervised worker
 * processes (a worker must be its own process: a job stuck in a CPU loop can
 * only be stopped by ending its process). Ctrl-C stops it all in order:
 * API, workers (draining), then a Redis we started.
 *
 * @module
 */
import { type Config, workerThreads } from "../config.ts";
import { findOrStartRedis } from "../local_redis.ts";
import type { Logger } from "../log.ts";
import { superviseWorker, WORKER_MAIN } from "../worker/supervisor.ts";
import { ownerReaper } from "../worker/owner_reaper.ts";
import { selectionOf } from "../queue/queue_selection.ts";
import { serveApi } from "./api.ts";
import { configEnv } from "./config_env.ts";

/** Runs until SIGINT/SIGTERM; returns the exit code. */
export async function runStart(config: Config, log: Logger): Promise<number> {
  const redis = await findOrStartRedis(config.REDIS_URL, config.DATA_DIR);
  log.info("redis", { url: redis.url, managed: redis.managed });
  const stopWorkers = new AbortController();
  let api;
  try {
    api = await serveApi(config, redis.url, log.child({ role: "api" }));
  } catch (error) {
    await redis.stop();
    throw error;
  }
  const env = { ...configEnv(config), REDIS_URL: redis.url };
  const reaper = ownerReaper(redis.url, config.QUEUE, {
    commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
    serve: selectionOf(config.WORKER_QUEUES, config.WORKER_QUEUE_ORDER),
  });
  const supervisors = Array.from({ length: config.WORKERS }, (_, i) =>
    superviseWorker({
      args: [WORKER_MAIN],
      env: {
        ...env,
        // Workers run job code: the admin key stays with the API (empty overrides the inherited one).
        ADMIN_API_KEY: "",
        // The host's cores shared among its workers, unless set.
        WORKER_THREADS: String(workerThreads(config, config.WORKERS)),
        // Each worker process serves its own /metrics port.
        WORKER_METRICS_PORT: config.WORKER_METRICS_PORT
          ? String(config.WORKER_METRICS_PORT + i)
          : "0",
      },
      log: log.child({ role: "supervisor", worker: i + 1 }),
      handleSignals: false,
      signal: stopWorkers.signal,
      reapOwner: reaper.reapOwner,
    }));

  const stopped = new Promise<Deno.Signal>((resolve) => {
    for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, () => resolve(s));
  });
  const signal = await Promise.race([stopped, api.finished.then(() => null)]);
  log.info("shutting down", { signal });
  await api.shutdown();
  stopWorkers.abort();
  const codes = await Promise.all(supervisors);
  await reaper.close();
  await redis.stop();
  return codes.every((c) => c === 0) ? 0 : 1;
}
