/**
 * Retries run at their time, not at the next maintenance beat: through a
 * real worker, a webhook answered 500 three times with a 300 ms backoff is
 * tried again ~300 ms after each failure (each gap was ~1 s when due jobs
 * waited for the 1 s beat).
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";
import { finished, startLoopbackWorker, testBroker } from "./helpers.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";

Deno.test({
  name: "a 300 ms backoff: each retry starts ~300 ms after the failure, not at the next beat",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "retrytiming");
    const calls: number[] = [];
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      calls.push(performance.now());
      return calls.length <= 3 ? new Response("down", { status: 500 }) : new Response("ok");
    });
    const worker = await startLoopbackWorker(redis.url, broker.defaultQueue);
    try {
      const { id } = await broker.enqueue({
        type: "webhook",
        payload: { url: `http://127.0.0.1:${server.addr.port}/hook`, method: "POST" },
        max_attempts: 5,
        backoff: { kind: "exponential", base_ms: 300, factor: 1, max_ms: 300, jitter: 0 },
      });
      const job = await finished(broker, id);
      assert.strictEqual(job.status, "completed", JSON.stringify(job.error));
      assert.strictEqual(calls.length, 4);
      const gaps = calls.slice(1).map((t, i) => Math.round(t - calls[i]));
      // 300 ms plus the handler's own round trip; well under the ~1 s a beat would take.
      for (const gap of gaps) assert.ok(gap >= 290 && gap < 600, `gaps ${gaps.join(", ")} ms`);
    } finally {
      worker.stop();
      await worker.exitCode;
      await server.shutdown();
      await broker.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "a delayed submit to an idle worker starts at its time (±50 ms), not at the next idle beat",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "delaytiming");
    const worker = await startLoopbackWorker(redis.url, broker.defaultQueue);
    try {
      await assertStartsOnTime(broker, [300, 700, 1500]);
    } finally {
      worker.stop();
      await worker.exitCode;
      await broker.close();
      await redis.stop();
    }
  },
});

Deno.test({
  name: "on Redis Cluster too: a delayed submit starts at its time, with two idle workers",
  ignore: !clusterTestsEnabled(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const broker = testBroker(cluster.url, "delaycluster");
    // Two workers hear the due time; promotion is one atomic script, so both may run it.
    const workers = [
      await startLoopbackWorker(cluster.url, broker.defaultQueue),
      await startLoopbackWorker(cluster.url, broker.defaultQueue),
    ];
    try {
      await assertStartsOnTime(broker, [300, 900]);
    } finally {
      for (const w of workers) w.stop();
      await Promise.all(workers.map((w) => w.exitCode));
      await broker.close();
      cluster.killSync();
    }
  },
});

/**
 * Submits one delayed job per delay, each after the worker has been idle a
 * while (its beats then idle ones, every 5 s), and asserts each started once,
 * within -5..+50 ms of its due time.
 */
async function assertStartsOnTime(broker: RedisBroker, delays: number[]): Promise<void> {
  const lates: number[] = [];
  for (const delay of delays) {
    await new Promise((r) => setTimeout(r, 1200));
    const submitted = Date.now();
    const { id } = await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 0 },
      delay_ms: delay,
    });
    const job = await finished(broker, id);
    assert.strictEqual(job.status, "completed", JSON.stringify(job.error));
    assert.strictEqual(job.attempts, 1);
    lates.push(Date.parse(job.started_at!) - (submitted + delay));
  }
  for (const late of lates) {
    assert.ok(late >= -5 && late <= 50, `late by ${lates.join(", ")} ms`);
  }
}
