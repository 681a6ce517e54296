/**
 * Attempt spans' outcomes that need a runner's decision: a timeout (with no
 * attempt left) and a cancel of a running job, through an in-process worker
 * (real threads, real redis-server) tracing to a decoding OTLP receiver.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { startOtlpReceiver } from "../helpers/otlp_receiver.ts";
import { startWorkerProcess } from "../../src/worker/process.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { createLogger } from "../../src/log.ts";
import { waitFor } from "../worker/helpers.ts";

const ENV = { OTEL_BSP_SCHEDULE_DELAY: "50", OTEL_SERVICE_NAME: "outcomes-test" };

Deno.test("attempt spans: timed_out and cancelled outcomes, errors only where the attempt failed", async () => {
  const redis = await TestRedis.start();
  const otlp = startOtlpReceiver();
  const env = { ...ENV, OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url };
  for (const [k, v] of Object.entries(env)) Deno.env.set(k, v);
  const broker = new RedisBroker({ url: redis.url });
  try {
    const worker = await startWorkerProcess({
      redisUrl: redis.url,
      concurrency: 4,
      threads: 1,
      handleSignals: false,
      scheduler: false,
      log: createLogger({ level: "silent" }),
    });
    const slow = { type: "compute", payload: { duration_ms: 5_000 } };
    const timedOut = await broker.enqueue({ ...slow, timeout_ms: 100, max_attempts: 1 });
    const cancelled = await broker.enqueue({ ...slow, max_attempts: 3 });
    await waitFor(
      "the second job running",
      async () => (await broker.get(cancelled.id))?.status === "running" ? true : null,
    );
    await broker.cancel(cancelled.id);
    for (const id of [timedOut.id, cancelled.id]) {
      await waitFor(`job ${id} finished`, async () => {
        const s = (await broker.get(id))?.status;
        return s === "failed" || s === "cancelled" ? true : null;
      }, 10_000);
    }
    worker.stop();
    assert.strictEqual(await worker.exitCode, 0);
    await otlp.waitFor(
      "two attempt spans",
      5_000,
      (s) => s.filter((x) => x.kind === 5).length >= 2,
    );
    const attempt = (id: string) => otlp.spans.find((s) => s.attributes["job.id"] === id)!;
    const t = attempt(timedOut.id);
    assert.strictEqual(t.service, "outcomes-test");
    assert.strictEqual(t.name, "run compute");
    assert.strictEqual(t.attributes["job.outcome"], "timed_out");
    assert.strictEqual(t.attributes["job.will_retry"], false);
    assert.strictEqual(t.status.code, 2);
    assert.match(t.status.message, /timed out after 100 ms/);
    assert.strictEqual(t.parentSpanId, "", "no stored context: a trace of its own");
    const c = attempt(cancelled.id);
    assert.strictEqual(c.attributes["job.outcome"], "cancelled");
    assert.notStrictEqual(c.status.code, 2, "a cancel is not the attempt's failure");
  } finally {
    for (const k of Object.keys(env)) Deno.env.delete(k);
    await broker.close();
    await otlp.close();
    await redis.close();
  }
});
