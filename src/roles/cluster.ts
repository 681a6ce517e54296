/**
 * `deno task cluster --workers 4`: the compose topology without Docker.
 * redis-server with AOF in its own data dir, one API process and N supervised
 * worker processes, each child's output prefixed with its name. A child that
 * dies unexpectedly is started again (a managed Redis too, on the same port
 * and data dir); Ctrl-C stops the API and the workers (which drain), then Redis.
 *
 * The managed redis-server runs in its own process group, so the terminal's
 * Ctrl-C does not reach it: it stays up until the workers have acked what they
 * finished while draining. A second Ctrl-C kills whatever is still running.
 *
 * @module
 */
import { type Config, workerThreads } from "../config.ts";
import { type LocalRedis, startManagedRedis } from "../local_redis.ts";
import type { Logger } from "../log.ts";
import { sleep } from "../timing/sleep.ts";
import { type Child, spawnDeno } from "./child_process.ts";
import { configEnv } from "./config_env.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const RESTART_DELAY_MS = 1000;
const STOP_SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
/** A stop signal this long after the first one forces the stop. */
const FORCE_AFTER_MS = 1000;

/** Runs until SIGINT/SIGTERM/SIGHUP; returns the exit code. */
export async function runCluster(config: Config, log: Logger): Promise<number> {
  const live = new Map<string, Child>();
  let stopping = false;
  // Listen before starting anything: a Ctrl-C during start-up must still stop Redis.
  let onStop: (signal: Deno.Signal) => void = () => {};
  const stopRequested = new Promise<Deno.Signal>((resolve) => (onStop = resolve));
  let firstSignalAt = 0;
  const handlers = STOP_SIGNALS.map((s) => {
    const handler = () => {
      if (!stopping) {
        stopping = true;
        firstSignalAt = Date.now();
        onStop(s);
        return;
      }
      // One Ctrl-C can arrive twice: from the terminal and forwarded by `deno task`.
      if (Date.now() - firstSignalAt < FORCE_AFTER_MS) return;
      log.warn("second stop signal: killing every process still running", {
        processes: [...live.keys()],
      });
      for (const child of live.values()) child.kill("SIGKILL");
    };
    Deno.addSignalListener(s, handler);
    return [s, handler] as const;
  });
  try {
    const redis = await clusterRedis(config, log, () => stopping);
    if (stopping) {
      await redis.stop();
      return 0;
    }
    log.info("cluster redis", { url: redis.url, managed: redis.managed });
    const base = { ...configEnv(config), REDIS_URL: redis.url, WORKERS: "1" };

    const keepAlive = async (name: string, args: string[], env: Record<string, string>) => {
      while (!stopping) {
        const child: Child = spawnDeno(name, args, env);
        live.set(name, child);
        log.info("process started", { name, pid: child.pid });
        const status = await child.status;
        live.delete(name);
        if (stopping) return;
        log.warn("process exited; restarting", { name, code: status.code, signal: status.signal });
        await sleep(RESTART_DELAY_MS);
      }
    };
    const runs = [keepAlive("api", [MAIN, "api"], base)];
    for (let i = 1; i <= config.WORKERS; i++) {
      runs.push(keepAlive(`worker-${i}`, [MAIN, "worker"], {
        ...base,
        // Workers run job code: the admin key stays with the API (empty overrides the inherited one).
        ADMIN_API_KEY: "",
        // The host's cores shared among its workers, unless set.
        WORKER_THREADS: String(workerThreads(config, config.WORKERS)),
        // Each worker process serves its own /metrics (and /health) port.
        WORKER_METRICS_PORT: config.WORKER_METRICS_PORT
          ? String(config.WORKER_METRICS_PORT + i - 1)
          : "0",
      }));
    }

    const signal = await stopRequested;
    log.info("stopping cluster", { signal, processes: [...live.keys()] });
    // After a terminal Ctrl-C the children got SIGINT already; SIGTERM is the same request.
    for (const child of live.values()) child.kill("SIGTERM");
    await Promise.all(runs);
    await redis.stop();
    log.info("cluster stopped");
    return 0;
  } finally {
    for (const [s, handler] of handlers) Deno.removeSignalListener(s, handler);
  }
}

/**
 * REDIS_URL when set; else a managed redis-server in DATA_DIR/cluster-redis,
 * started again on the same port and data dir if it dies while we run.
 */
async function clusterRedis(
  config: Config,
  log: Logger,
  stopping: () => boolean,
): Promise<LocalRedis> {
  if (config.REDIS_URL) {
    return { url: config.REDIS_URL, managed: false, stop: () => Promise.resolve() };
  }
  const dir = `${config.DATA_DIR}/cluster-redis`;
  let current = await startManagedRedis(dir);
  const port = Number(new URL(current.url).port);
  const watch = async () => {
    while (!stopping()) {
      const status = await current.exited;
      if (stopping() || !status) return;
      log.error("managed redis-server exited; restarting it", {
        code: status.code,
        signal: status.signal,
        log_file: `${dir}/redis.log`,
      });
      await sleep(RESTART_DELAY_MS);
      if (stopping()) return;
      try {
        current = await startManagedRedis(dir, port);
      } catch (error) {
        log.error("could not restart redis-server", { error });
      }
    }
  };
  void watch();
  return {
    url: current.url,
    managed: true,
    stop: () => current.stop(),
  };
}
