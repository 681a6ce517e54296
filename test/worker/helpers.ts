/**
 * Helpers for the worker tests: spawning real worker and supervisor
 * processes, polling with a deadline, and a broker per test queue.
 *
 * @module
 */
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { Job } from "../../src/queue/job.ts";
import { startWorkerProcess, type WorkerProcess } from "../../src/worker/process.ts";
import { createLogger } from "../../src/log.ts";
import { jobSettingsFromEnv } from "../../src/jobs/job_settings.ts";
export { processAlive } from "../helpers/process.ts";

const root = new URL("../../", import.meta.url);
/** The worker process entry. */
export const WORKER_MAIN = new URL("src/worker/worker_main.ts", root).pathname;
/** The test job module. */
export const FIXTURE_JOBS = new URL("./fixtures/jobs.ts", import.meta.url).pathname;

/** Env for a worker child: quiet logs, no metrics port clash, test job types. */
export function workerEnv(redisUrl: string, extra: Record<string, string> = {}) {
  return {
    REDIS_URL: redisUrl,
    LOG_LEVEL: Deno.env.get("TEST_LOG_LEVEL") ?? "warn",
    LOG_FORMAT: "json",
    WORKER_METRICS_PORT: "0",
    JOB_MODULES: FIXTURE_JOBS,
    ...extra,
  };
}

/** A worker process spawned by a test. */
export interface SpawnedWorker {
  pid: number;
  status: Promise<Deno.CommandStatus>;
  kill(signal: Deno.Signal): void;
}

/** Spawns `deno run -A worker_main.ts` with `args`. */
export function spawnWorker(
  redisUrl: string,
  args: string[],
  env: Record<string, string> = {},
): SpawnedWorker {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", WORKER_MAIN, ...args],
    env: workerEnv(redisUrl, env),
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  return {
    pid: child.pid,
    status: child.status,
    kill: (signal) => {
      try {
        child.kill(signal);
      } catch {
        // already gone
      }
    },
  };
}

/** Polls `check` every 50 ms until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T>(
  what: string,
  check: () => T | Promise<T>,
  timeoutMs = 20_000,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A broker on a fresh queue, so tests sharing a Redis never see each other's jobs. */
export function testBroker(redisUrl: string, name: string): RedisBroker {
  const queue = `${name}-${crypto.randomUUID().slice(0, 8)}`;
  return new RedisBroker({ url: redisUrl, queue });
}

/** Jobs by id. */
export async function jobsById(broker: RedisBroker, ids: string[]): Promise<Job[]> {
  const jobs = await Promise.all(ids.map((id) => broker.get(id)));
  return jobs.map((j, i) => {
    if (!j) throw new Error(`job ${ids[i]} is missing`);
    return j;
  });
}

/**
 * An in-process worker (runner, threads, broker) on `queue` whose built-in
 * types may reach loopback servers the test starts (`OUTBOUND_ALLOW`).
 */
export function startLoopbackWorker(redisUrl: string, queue: string): Promise<WorkerProcess> {
  return startWorkerProcess({
    redisUrl,
    queue,
    concurrency: 4,
    threads: 1,
    handleSignals: false,
    scheduler: false,
    log: createLogger({ level: "error" }),
    jobSettings: { ...jobSettingsFromEnv(), outboundAllow: ["127.0.0.1"] },
  });
}

/** The job once it completed or failed for good (within 20 s). */
export function finished(broker: RedisBroker, id: string): Promise<Job> {
  return waitFor("the job finished", async () => {
    const j = await broker.get(id);
    return j?.status === "completed" || j?.status === "failed" ? j : null;
  }, 20_000);
}
