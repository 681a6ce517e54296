/**
 * Back-pressure from a handler through a real worker (runner, threads,
 * broker): the built-in webhook answered 429 with Retry-After twice, then
 * 200, completes with `attempts` 1, though it was allowed a single attempt.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { finished, startLoopbackWorker, testBroker } from "./helpers.ts";

Deno.test({
  name: "a webhook answered 429 + Retry-After twice, then 200, completes with attempts 1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "backpressure");
    let calls = 0;
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
      calls++;
      return calls <= 2
        ? new Response("slow down", { status: 429, headers: { "retry-after": "0" } })
        : new Response("ok");
    });
    const worker = await startLoopbackWorker(redis.url, broker.defaultQueue);
    try {
      const { id } = await broker.enqueue({
        type: "webhook",
        payload: { url: `http://127.0.0.1:${server.addr.port}/hook`, method: "POST" },
        max_attempts: 1,
      });
      const job = await finished(broker, id);
      assert.strictEqual(job.status, "completed", JSON.stringify(job.error));
      assert.strictEqual(job.attempts, 1);
      assert.strictEqual(calls, 3);
    } finally {
      worker.stop();
      await worker.exitCode;
      await server.shutdown();
      await broker.close();
      await redis.stop();
    }
  },
});
