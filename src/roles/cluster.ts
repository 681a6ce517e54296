/**
 * `deno task cluster --workers 4`: the compose topology without Docker.
 * redis-server with AOF in its own data dir, one API process and N supervised
 * worker processes, each child's output prefixed with its name. A child that
 * dies unexpectedly is started again; Ctrl-C stops them all, then Redis.
 *
 * @module
 */
import type { Config } from "../config.ts";
import { startManagedRedis } from "../local_redis.ts";
import type { Logger } from "../log.ts";
import { type Child, spawnDeno } from "./child_process.ts";
import { configEnv } from "./config_env.ts";

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const RESTART_DELAY_MS = 1000;

/** Runs until SIGINT/SIGTERM; returns the exit code. */
export async function runCluster(config: Config, log: Logger): Promise<number> {
  const redis = config.REDIS_URL
    ? { url: config.REDIS_URL, managed: false, stop: () => Promise.resolve() }
    : await startManagedRedis(`${config.DATA_DIR}/cluster-redis`);
  log.info("cluster redis", { url: redis.url, managed: redis.managed });
  const base = { ...configEnv(config), REDIS_URL: redis.url, WORKERS: "1" };
  let stopping = false;

  const keepAlive = async (name: string, args: string[], env: Record<string, string>) => {
    while (!stopping) {
      const child: Child = spawnDeno(name, args, env);
      live.set(name, child);
      log.info("process started", { name, pid: child.pid });
      const status = await child.status;
      live.delete(name);
      if (stopping) return;
      log.warn("process exited; restarting", { name, code: status.code, signal: status.signal });
      await new Promise((r) => setTimeout(r, RESTART_DELAY_MS));
    }
  };
  const live = new Map<string, Child>();
  const runs = [keepAlive("api", [MAIN, "api"], base)];
  for (let i = 1; i <= config.WORKERS; i++) {
    runs.push(keepAlive(`worker-${i}`, [MAIN, "worker"], {
      ...base,
      WORKER_METRICS_PORT: config.WORKER_METRICS_PORT
        ? String(config.WORKER_METRICS_PORT + i - 1)
        : "0",
    }));
  }

  const signal = await new Promise<Deno.Signal>((resolve) => {
    for (const s of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(s, () => resolve(s));
  });
  stopping = true;
  log.info("stopping cluster", { signal, processes: [...live.keys()] });
  for (const child of live.values()) child.kill("SIGTERM");
  await Promise.all(runs);
  await redis.stop();
  log.info("cluster stopped");
  return 0;
}
