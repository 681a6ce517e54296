/**
 * `deno task bench:scale`: does processing hold up when it is spread out?
 * Issue #21's two scale figures, each measured side by side in one run:
 *
 * - **processes**: one queue drained by 1 worker process, then by 4 (each
 *   at `--concurrency`) on the same throwaway redis-server. On a 2-core
 *   machine 4 processes cannot be faster, but they must not collapse under
 *   contention: the target is 4 ≥ 1.0× of 1.
 * - **cluster**: 3 queues, one per master of a local 3-master Cluster,
 *   drained by one worker serving all three, against the same 3 queues on
 *   one standalone server: the target is Cluster ≥ 0.8× of standalone.
 *
 * Every drain starts with its queues paused: the workers start and report
 * ready first, then the queues resume and the clock starts; it stops at the
 * last completion Redis recorded. Prints one JSON object.
 *
 * ```sh
 * deno task bench:scale [--jobs 20000] [--concurrency 50] [--rounds 2]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { queuesOnMasters, TestRedisCluster } from "../helpers/redis_cluster.ts";
import { spawnWorker } from "./bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    jobs: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    rounds: { type: "string", default: "2" },
  },
});
const JOBS = Number(values.jobs);
const CONCURRENCY = Number(values.concurrency);
const ROUNDS = Number(values.rounds);
/** bench.ts's payload (its no-op type validates an email-shaped one). */
const PAYLOAD = {
  to: "user@example.com",
  subject: "Welcome!",
  body: "Thanks for signing up",
  from: "noreply@example.com",
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Drains `jobs` spread over `queues` with `processes` workers; jobs/s. */
async function drainRate(url: string, queues: string[], processes: number): Promise<number> {
  const broker = new RedisBroker({ url, queue: queues[0] });
  try {
    const per = Math.ceil(JOBS / queues.length);
    for (const q of queues) {
      const into = new RedisBroker({ url, queue: q });
      for (let i = 0; i < per; i += 1000) {
        await into.enqueueBatch(
          Array.from({ length: Math.min(1000, per - i) }, () => ({
            type: "bench_noop",
            payload: PAYLOAD,
          })),
        );
      }
      await into.close();
      await broker.setPaused(q, true); // no worker runs yet: none starts before the clock
    }
    const workers = Array.from(
      { length: processes },
      () => spawnWorker(url, queues[0], CONCURRENCY, { WORKER_QUEUES: queues.join(",") }),
    );
    try {
      await Promise.all(workers.map((w) => w.ready));
      const t0 = Date.now();
      for (const q of queues) await broker.setPaused(q, false);
      const total = per * queues.length;
      for (;;) {
        const stats = await broker.stats();
        if (stats.completed >= total) break;
        await sleep(10);
      }
      return total / ((Date.now() - t0) / 1000);
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
    }
  } finally {
    for (const q of queues) await broker.purge("completed", q).catch(() => 0);
    await broker.close();
  }
}

const standalone = await TestRedis.start();
const cluster = await TestRedisCluster.start(3);
try {
  const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
  const spread = await queuesOnMasters(admin, "jq", 3);
  admin.disconnect();
  const one: number[] = [];
  const four: number[] = [];
  const single: number[] = [];
  const spreadOut: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    one.push(await drainRate(standalone.url, [`p${round}`], 1));
    four.push(await drainRate(standalone.url, [`p${round}x`], 4));
    single.push(await drainRate(standalone.url, spread.map((q) => `${q}s${round}`), 1));
    spreadOut.push(await drainRate(cluster.url, spread, 1));
  }
  const result = {
    jobs: JOBS,
    concurrency: CONCURRENCY,
    rounds: ROUNDS,
    process_1_jobs_per_s: Math.round(median(one)),
    process_4_jobs_per_s: Math.round(median(four)),
    processes_4_vs_1: +(median(four) / median(one)).toFixed(2),
    standalone_3_queues_jobs_per_s: Math.round(median(single)),
    cluster_3_queues_jobs_per_s: Math.round(median(spreadOut)),
    cluster_vs_standalone: +(median(spreadOut) / median(single)).toFixed(2),
    samples: {
      process_1: one.map(Math.round),
      process_4: four.map(Math.round),
      standalone_3_queues: single.map(Math.round),
      cluster_3_queues: spreadOut.map(Math.round),
    },
  };
  console.log(JSON.stringify(result, null, 2));
} finally {
  cluster.killSync();
  await standalone.close();
}
