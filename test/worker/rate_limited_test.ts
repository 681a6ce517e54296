/**
 * Back-pressure from a handler through a real worker (runner, threads,
 * broker): the built-in webhook answered 429 with Retry-After twice, then
 * 200, completes with `attempts` 1, though it was allowed a single attempt.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { createLogger } from "../../src/log.ts";
import { startWorkerProcess } from "../../src/worker/process.ts";
import { jobSettingsFromEnv } from "../../src/jobs/job_settings.ts";
import { testBroker, waitFor } from "./helpers.ts";

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
    const worker = await startWorkerProcess({
      redisUrl: redis.url,
      queue: broker.defaultQueue,
      concurrency: 4,
      threads: 1,
      handleSignals: false,
      scheduler: false,
      log: createLogger({ level: "error" }),
      jobSettings: { ...jobSettingsFromEnv(), outboundAllow: ["127.0.0.1"] },
    });
    try {
      const { id } = await broker.enqueue({
        type: "webhook",
        payload: { url: `http://127.0.0.1:${server.addr.port}/hook`, method: "POST" },
        max_attempts: 1,
      });
      const job = await waitFor("the webhook delivered", async () => {
        const j = await broker.get(id);
        return j?.status === "completed" || j?.status === "failed" ? j : null;
      }, 20_000);
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
