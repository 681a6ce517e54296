/**
 * `deno task bench:recovery`: how long the jobs of a crashed worker process
 * wait before they run again. Each of 10 rounds: a supervised worker
 * (`main.ts worker`, the victim) runs 20 long jobs; a second supervised worker
 * with free slots starts; the victim's worker child is killed with SIGKILL;
 * the time from the kill until all 20 jobs have started again is recorded;
 * the second worker is stopped (its jobs go back) and the queue emptied.
 * Prints one JSON line with the median and the max.
 *
 * ```sh
 * deno task bench:recovery [--kills 10]
 * ```
 *
 * Before lease owners and supervisor reaping, those jobs waited out their
 * lease (30 s by default).
 *
 * @module
 */
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import {
  CHAOS_JOBS,
  childrenOf,
  grepLog,
  MAIN,
  Proc,
  sleep,
  waitFor,
} from "../e2e/chaos_helpers.ts";

const KILLS = Deno.args.includes("--kills")
  ? Number(Deno.args[Deno.args.indexOf("--kills") + 1]) || 10
  : 10;

function worker(name: string, redisUrl: string, queue: string, logDir: string): Proc {
  return new Proc(name, ["run", "-A", MAIN, "worker"], {
    REDIS_URL: redisUrl,
    QUEUE: queue,
    JOB_MODULES: CHAOS_JOBS,
    WORKER_THREADS: "1",
    WORKER_CONCURRENCY: "20",
    WORKER_METRICS_PORT: "0",
    // Both stop after each round: they hand their jobs back at once.
    DRAIN_TIMEOUT_MS: "200",
    LOG_LEVEL: "info",
    LOG_FORMAT: "json",
  }, `${logDir}/${name}.log`);
}

/** The pid of the worker child `supervisor` runs once it logged "worker started". */
async function startedChild(supervisor: Proc): Promise<number> {
  return await waitFor(`${supervisor.name}'s child`, 30_000, async () => {
    const pid = childrenOf(supervisor.pid)[0];
    if (pid === undefined) return null;
    const lines = await grepLog(supervisor.logFile, '"worker started"');
    return lines.some((l) => l.includes(`"pid":${pid}`)) ? pid : null;
  });
}

if (import.meta.main) {
  const redis = await TestRedis.start();
  const logDir = await Deno.makeTempDir({ prefix: "jq-recovery-" });
  const samples: number[] = [];
  try {
    // A fresh queue and a fresh pair of workers per round: no round sees another's jobs.
    for (let round = 1; round <= KILLS; round++) {
      const queue = `recovery-${round}-${crypto.randomUUID().slice(0, 8)}`;
      const broker = new RedisBroker({ url: redis.url, queue });
      const victim = worker(`victim-${round}`, redis.url, queue, logDir);
      let helper: Proc | null = null;
      try {
        const child = await startedChild(victim);
        const made = await broker.enqueueBatch(Array.from({ length: 20 }, () => ({
          type: "chaos_echo",
          payload: { sleep_ms: 10_000 },
        })));
        const ids = made.map((m) => m.id);
        await waitFor(
          "20 running on the victim",
          30_000,
          async () => (await broker.stats()).running === 20,
        );
        helper = worker(`helper-${round}`, redis.url, queue, logDir);
        await startedChild(helper);
        await sleep(300); // its threads warm, its first heartbeat in
        Deno.kill(child, "SIGKILL");
        const killedAt = Date.now();
        const restartedAt = await waitFor("the 20 jobs started again", 60_000, async () => {
          const jobs = await Promise.all(ids.map((id) => broker.get(id)));
          if (!jobs.every((j) => j && j.attempts === 2 && j.started_at)) return null;
          return Math.max(...jobs.map((j) => Date.parse(j!.started_at!)));
        });
        samples.push(restartedAt - killedAt);
        console.error(`kill ${round}: 20 jobs running again after ${restartedAt - killedAt} ms`);
      } finally {
        await Promise.all([victim.stop(5000), helper?.stop(5000)]);
        await broker.close();
      }
    }
  } finally {
    await redis.close();
  }
  const sorted = [...samples].sort((a, b) => a - b);
  const median = sorted.length % 2
    ? sorted[(sorted.length - 1) / 2]
    : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2;
  console.log(JSON.stringify({
    kills: samples.length,
    recovery_after_kill_median_ms: median,
    recovery_after_kill_max_ms: sorted[sorted.length - 1],
    samples_ms: samples,
  }));
  Deno.exit(0);
}
