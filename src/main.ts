/**
 * Command-line entry of every role:
 *
 * ```sh
 * deno run -A src/main.ts start    # API + dashboard + supervised workers (+ Redis if needed)
 * deno run -A src/main.ts api      # API + dashboard only
 * deno run -A src/main.ts worker   # a supervisor keeping one worker process alive
 * deno run -A src/main.ts cluster --workers 4   # Redis + 1 API + N workers as processes
 * ```
 *
 * Flags mirror the environment variables in `config.ts` (`--worker-concurrency 50`
 * is WORKER_CONCURRENCY=50); see the README's configuration table.
 *
 * @module
 */
import { ConfigError, loadConfig, processEnv } from "./config.ts";
import { NoRedisError } from "./local_redis.ts";
import { createLogger } from "./log.ts";
import { serveApi } from "./roles/api.ts";
import { runCluster } from "./roles/cluster.ts";
import { runStart } from "./roles/start.ts";
import { superviseWorker, WORKER_MAIN } from "./worker/supervisor.ts";
import { normalizeWorkerArgs } from "./worker/worker_main.ts";
import { ownerReaper } from "./worker/owner_reaper.ts";
import { selectionOf } from "./queue/queue_selection.ts";
import { configureJobSettings, jobSettingsFrom } from "./jobs/job_settings.ts";

const ROLES = ["start", "api", "worker", "cluster"] as const;
type Role = typeof ROLES[number];

const USAGE = `usage: deno run -A src/main.ts <${ROLES.join("|")}> [--flag value ...]`;

async function main(args: string[]): Promise<number> {
  const [role, ...rest] = args;
  if (!(ROLES as readonly string[]).includes(role)) {
    console.error(USAGE);
    return 2;
  }
  // The worker role also takes worker_main's short flags (`--concurrency 50`).
  const flags = role === "worker" ? normalizeWorkerArgs(rest) : rest;
  const config = loadConfig(flags, processEnv());
  // The API's submit checks (allowed destinations) obey flags as well as env.
  configureJobSettings(jobSettingsFrom(config));
  const log = createLogger({
    level: config.LOG_LEVEL,
    format: config.LOG_FORMAT,
    fields: { role },
  });
  switch (role as Role) {
    case "start":
      return await runStart(config, log);
    case "cluster":
      return await runCluster(config, log);
    case "worker": {
      // The child re-reads the same environment and flags.
      const reaper = ownerReaper(config.REDIS_URL ?? "redis://127.0.0.1:6379", config.QUEUE, {
        commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
        serve: selectionOf(config.WORKER_QUEUES, config.WORKER_QUEUE_ORDER),
      });
      try {
        return await superviseWorker({
          args: [WORKER_MAIN, ...flags],
          log,
          reapOwner: reaper.reapOwner,
        });
      } finally {
        await reaper.close();
      }
    }
    case "api": {
      const api = await serveApi(config, config.REDIS_URL ?? "redis://127.0.0.1:6379", log);
      for (const s of ["SIGINT", "SIGTERM"] as const) {
        Deno.addSignalListener(s, () => api.shutdown());
      }
      await api.finished;
      return 0;
    }
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (error) {
    if (error instanceof ConfigError || error instanceof NoRedisError) {
      console.error(error.message);
      code = 2;
    } else {
      console.error("fatal:", error);
      code = 1;
    }
  }
  Deno.exit(code);
}
