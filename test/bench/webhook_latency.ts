/**
 * Completion webhook latency: how soon after a job ends its `callback_url`
 * hears of it. A throwaway redis-server, one real worker process
 * (`worker_main.ts`, its dispatcher on), a receiver on 127.0.0.1 that
 * verifies every signature with the `standardwebhooks` package; JOBS
 * `compute` jobs submitted `GAP_MS` apart, each with the receiver as its
 * callback. Latency = arrival at the receiver − the job's `completed_at`
 * (the finishing script's clock; one machine). Prints one JSON line.
 *
 * Usage: deno run -A test/bench/webhook_latency.ts [--jobs 200] [--gap-ms 5]
 *
 * @module
 */
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { spawnWorker } from "../worker/helpers.ts";
import { startReceiver } from "../webhooks/receiver.ts";

function flag(name: string, fallback: number): number {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Number(Deno.args[i + 1]) : fallback;
}

const JOBS = flag("jobs", 200);
const GAP_MS = flag("gap-ms", 5);

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

const redis = await TestRedis.start();
const queue = `whbench${Date.now()}`;
const broker = new RedisBroker({ url: redis.url, queue });
const client = new Redis(redis.url);
const store = new WebhookStore({ client, homeQueue: () => broker.homeQueue() });
const receiver = startReceiver(await store.secret());
const worker = spawnWorker(redis.url, [], {
  QUEUE: queue,
  OUTBOUND_ALLOW: "127.0.0.1",
  LOG_LEVEL: "error",
  SCHEDULER: "off",
});
try {
  // Warm-up: the worker is up and its dispatcher sends.
  await broker.enqueue({
    type: "compute",
    payload: { duration_ms: 0 },
    callback_url: receiver.url,
  });
  await receiver.accepted(1, 60_000);
  const before = receiver.received.length;
  for (let i = 0; i < JOBS; i++) {
    await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 0 },
      callback_url: receiver.url,
    });
    await new Promise((r) => setTimeout(r, GAP_MS));
  }
  await receiver.accepted(before + JOBS, 120_000);
  const got = receiver.received.slice(before);
  if (!got.every((r) => r.verified)) throw new Error("a delivery did not verify");
  const latencies = got.map((r) => r.at - Date.parse(String(r.body?.data.completed_at)))
    .sort((a, b) => a - b);
  console.log(JSON.stringify({
    bench: "webhook_latency",
    jobs: JOBS,
    gap_ms: GAP_MS,
    delivered: got.length,
    duplicates: got.length - new Set(got.map((r) => r.id)).size,
    latency_ms: {
      p50: percentile(latencies, 0.5),
      p90: percentile(latencies, 0.9),
      p99: percentile(latencies, 0.99),
      max: latencies[latencies.length - 1],
    },
  }));
} finally {
  worker.kill("SIGTERM");
  await worker.status;
  await receiver.close();
  client.disconnect();
  await broker.close();
  await redis.close();
}
