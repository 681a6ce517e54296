/**
 * Command-line entry of one worker process:
 *
 * ```sh
 * deno run -A src/worker/worker_main.ts [--concurrency 50] [--threads 2] \
 *   [--worker-queues critical:6,default:3,low:1] [--worker-queue-order weighted] \
 *   [--drain-ms 30000] [--lease-ms 30000] [--hard-timeout-grace-ms 2000] \
 *   [--max-jobs 0] [--max-rss-mb 0] [--job-modules ./my_jobs.ts]
 * ```
 *
 * Every flag also reads from the environment (WORKER_CONCURRENCY, WORKER_THREADS,
 * WORKER_QUEUES, WORKER_QUEUE_ORDER, QUEUE, DRAIN_TIMEOUT_MS, LEASE_MS, HARD_TIMEOUT_GRACE_MS, WORKER_MAX_JOBS,
 * WORKER_MAX_RSS_MB, JOB_MODULES, REDIS_URL, WORKER_METRICS_PORT); flags win.
 * Exits 0 after a graceful stop, 75 when it wants to be replaced (hard timeout,
 * job or memory limit), 1 on a fatal error. Run it under its supervisor:
 * `deno task worker` (`src/main.ts worker`) takes the same flags.
 *
 * @module
 */
import { ConfigError, loadConfig, processEnv, workerThreads } from "../config.ts";
import { createLogger } from "../log.ts";
import { bufferedSink } from "./log_sink.ts";
import { runWorkerProcess } from "./process.ts";
import { selectionOf } from "../queue/queue_selection.ts";
import { jobSettingsFrom } from "../jobs/job_settings.ts";

/** Short worker flags -> the shared config's long ones. */
const ALIASES: Record<string, string> = {
  "--concurrency": "--worker-concurrency",
  "--threads": "--worker-threads",
  "--drain-ms": "--drain-timeout-ms",
  "--max-jobs": "--worker-max-jobs",
  "--max-rss-mb": "--worker-max-rss-mb",
  "--metrics-port": "--worker-metrics-port",
};

/** Rewrites worker-specific short flags (also in `--flag=value` form) to config flags. */
export function normalizeWorkerArgs(args: string[]): string[] {
  return args.map((arg) => {
    const [flag, ...rest] = arg.split("=");
    const long = ALIASES[flag];
    return long ? [long, ...rest].join("=") : arg;
  });
}

if (import.meta.main) {
  // Per-job lifecycle lines leave in one write per task, not one each.
  const out = bufferedSink();
  const log = createLogger({ fields: { role: "worker", pid: Deno.pid }, sink: out.sink });
  let code: number;
  try {
    const config = loadConfig(normalizeWorkerArgs(Deno.args), processEnv());
    code = await runWorkerProcess({
      redisUrl: config.REDIS_URL ?? "redis://127.0.0.1:6379",
      queue: config.QUEUE,
      serve: selectionOf(config.WORKER_QUEUES, config.WORKER_QUEUE_ORDER),
      concurrency: config.WORKER_CONCURRENCY,
      threads: workerThreads(config),
      modules: config.JOB_MODULES,
      // Flags included: the threads obey these, not the environment.
      jobSettings: jobSettingsFrom(config),
      leaseMs: config.LEASE_MS,
      drainMs: config.DRAIN_TIMEOUT_MS,
      hardTimeoutGraceMs: config.HARD_TIMEOUT_GRACE_MS,
      maxJobs: config.WORKER_MAX_JOBS,
      maxRssMb: config.WORKER_MAX_RSS_MB,
      metricsPort: config.WORKER_METRICS_PORT,
      metricsHost: config.WORKER_METRICS_HOST,
      metricsToken: config.METRICS_TOKEN,
      retentionMs: config.RETENTION_MS,
      scheduler: config.SCHEDULER === "on",
      commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS,
      webhooks: config.WEBHOOKS === "off" ? false : {
        secret: config.WEBHOOK_SECRET,
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        concurrency: config.WEBHOOK_CONCURRENCY,
        retryDelaysMs: config.WEBHOOK_RETRY_DELAYS_MS,
      },
      log,
    });
  } catch (error) {
    log.error(error instanceof ConfigError ? error.message : "worker failed to start", { error });
    code = error instanceof ConfigError ? 2 : 1;
  }
  // Exit explicitly: a thread stuck in a loop would otherwise keep the process alive.
  out.flush();
  Deno.exit(code);
}
