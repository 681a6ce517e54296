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
 * ready first, then the queues resume. The rate is the jobs over the span
 * from the first completion Redis recorded to the last (how soon idle
 * workers start after a resume is printed apart). Prints one JSON object.
 *
 * ```sh
 * deno task bench:scale [--jobs 20000] [--concurrency 50] [--rounds 2] [--threads N]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Cluster, Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { queuesOnMasters, TestRedisCluster } from "../helpers/redis_cluster.ts";
import { processCpu, spawnWorker } from "./bench.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    jobs: { type: "string", default: "20000" },
    concurrency: { type: "string", default: "50" },
    rounds: { type: "string", default: "2" },
    // WORKER_THREADS of each worker process (default: theirs, the CPU count).
    threads: { type: "string" },
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

/** CPU seconds Redis has used so far, summed over `ports` (every master). */
async function redisCpu(ports: number[]): Promise<number> {
  let total = 0;
  for (const port of ports) {
    const node = new Redis({ host: "127.0.0.1", port });
    const info = await node.info("cpu");
    node.disconnect();
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(info)?.[1] ?? NaN);
    total += get("used_cpu_user") + get("used_cpu_sys");
  }
  return total;
}

/** Epoch ms of the first and the last completion over `queues`. */
async function completionSpan(ports: number[], queues: string[]): Promise<[number, number]> {
  const client = ports.length > 1
    ? new Cluster(ports.map((port) => ({ host: "127.0.0.1", port })))
    : new Redis({ host: "127.0.0.1", port: ports[0] });
  try {
    let first = Infinity;
    let last = 0;
    for (const q of queues) {
      const key = queueKeys(q).completed;
      first = Math.min(first, Number((await client.zrange(key, 0, 0, "WITHSCORES"))[1]));
      last = Math.max(last, Number((await client.zrange(key, -1, -1, "WITHSCORES"))[1]));
    }
    return [first, last];
  } finally {
    client.disconnect();
  }
}

/** One drain's figures: jobs/s and CPU µs per job in the workers and in Redis. */
interface Drain {
  /** Jobs over the span from the first completion to the last (start-up excluded). */
  rate: number;
  /** From the resume to the first completion, ms. */
  firstMs: number;
  workerUs: number;
  redisUs: number;
}

/**
 * Drains `JOBS` spread over `queues` with `processes` workers (Redis on
 * `ports`).
 */
async function drainRate(
  url: string,
  ports: number[],
  queues: string[],
  processes: number,
): Promise<Drain> {
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
      () =>
        spawnWorker(url, queues[0], CONCURRENCY, {
          WORKER_QUEUES: queues.join(","),
          ...(values.threads ? { WORKER_THREADS: values.threads } : {}),
        }),
    );
    try {
      await Promise.all(workers.map((w) => w.ready));
      const cpu0 = workers.reduce((sum, w) => sum + processCpu(w.pid), 0);
      const redis0 = await redisCpu(ports);
      const t0 = Date.now();
      for (const q of queues) await broker.setPaused(q, false);
      const total = per * queues.length;
      for (;;) {
        const stats = await broker.stats();
        if (stats.completed >= total) break;
        await sleep(10);
      }
      const cpu = workers.reduce((sum, w) => sum + processCpu(w.pid), 0) - cpu0;
      const redis = (await redisCpu(ports)) - redis0;
      const [first, last] = await completionSpan(ports, queues);
      return {
        rate: total / ((last - first) / 1000),
        firstMs: first - t0,
        workerUs: Math.round(cpu / total * 1e6),
        redisUs: Math.round(redis / total * 1e6),
      };
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
  const runs: Record<"one" | "four" | "single" | "spread", Drain[]> = {
    one: [],
    four: [],
    single: [],
    spread: [],
  };
  const solo = [standalone.port];
  for (let round = 0; round < ROUNDS; round++) {
    runs.one.push(await drainRate(standalone.url, solo, [`p${round}`], 1));
    runs.four.push(await drainRate(standalone.url, solo, [`p${round}x`], 4));
    runs.single.push(
      await drainRate(standalone.url, solo, spread.map((q) => `${q}s${round}`), 1),
    );
    runs.spread.push(await drainRate(cluster.url, cluster.ports, spread, 1));
  }
  const rate = (k: keyof typeof runs) => median(runs[k].map((d) => d.rate));
  const firstMs = (k: keyof typeof runs) => median(runs[k].map((d) => d.firstMs));
  const cpu = (k: keyof typeof runs) => ({
    worker: median(runs[k].map((d) => d.workerUs)),
    redis: median(runs[k].map((d) => d.redisUs)),
  });
  console.log(JSON.stringify(
    {
      jobs: JOBS,
      concurrency: CONCURRENCY,
      rounds: ROUNDS,
      process_1_jobs_per_s: Math.round(rate("one")),
      process_4_jobs_per_s: Math.round(rate("four")),
      processes_4_vs_1: +(rate("four") / rate("one")).toFixed(2),
      standalone_3_queues_jobs_per_s: Math.round(rate("single")),
      cluster_3_queues_jobs_per_s: Math.round(rate("spread")),
      cluster_vs_standalone: +(rate("spread") / rate("single")).toFixed(2),
      // From the resume to the first completion (ms, medians): how soon idle workers start.
      first_completion_ms: {
        process_1: firstMs("one"),
        process_4: firstMs("four"),
        standalone_3_queues: firstMs("single"),
        cluster_3_queues: firstMs("spread"),
      },
      // CPU per job (µs, medians): where a slower spread-out drain spends more.
      cpu_us_per_job: {
        process_1: cpu("one"),
        process_4: cpu("four"),
        standalone_3_queues: cpu("single"),
        cluster_3_queues: cpu("spread"),
      },
      samples: Object.fromEntries(
        Object.entries(runs).map(([k, ds]) => [k, ds.map((d) => Math.round(d.rate))]),
      ),
    },
    null,
    2,
  ));
} finally {
  cluster.killSync();
  await standalone.close();
}
