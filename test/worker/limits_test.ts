/**
 * In-process worker: the job limit recycles the process (exit code 75) after
 * its jobs finish, and a handler's stray rejected promise does not take its
 * thread down.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { startWorkerProcess } from "../../src/worker/process.ts";
import { EXIT_RECYCLE } from "../../src/worker/runner.ts";
import { createLogger } from "../../src/log.ts";
import { FIXTURE_JOBS, jobsById, testBroker, waitFor } from "./helpers.ts";

Deno.test({
  name: "max jobs: the worker runs that many, then asks to be recycled",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "limits");
    try {
      const ids = (await broker.enqueueBatch(Array.from({ length: 8 }, () => ({
        type: "test_stray_rejection",
        payload: {},
      })))).map((r) => r.id);
      const worker = await startWorkerProcess({
        redisUrl: redis.url,
        queue: broker.defaultQueue,
        concurrency: 2,
        threads: 1,
        maxJobs: 5,
        modules: [FIXTURE_JOBS],
        handleSignals: false,
        log: createLogger({ level: "silent" }),
      });
      assert.strictEqual(await worker.exitCode, EXIT_RECYCLE);
      const jobs = await jobsById(broker, ids);
      assert.strictEqual(jobs.filter((j) => j.status === "completed").length, 5);
      assert.strictEqual(jobs.filter((j) => j.status === "pending" && j.attempts === 0).length, 3);
      await waitFor("nothing running", async () => (await broker.stats()).running === 0, 1_000);
    } finally {
      await broker.close();
      await redis.close();
    }
  },
});
