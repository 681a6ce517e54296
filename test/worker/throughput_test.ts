/**
 * 5,000 jobs through one real worker process (concurrency 50, 2 threads):
 * every job completes, and every handler ran exactly once.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { jobsById, spawnWorker, testBroker, waitFor } from "./helpers.ts";

Deno.test("5000 jobs through one worker process: all completed, each once", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "throughput");
  const dir = await Deno.makeTempDir({ prefix: "jq-record-" });
  const file = `${dir}/runs.log`;
  const worker = spawnWorker(
    redis.url,
    [
      "--queue",
      broker.defaultQueue,
      "--concurrency",
      "50",
      "--threads",
      "2",
      "--lease-ms",
      "10000",
    ],
    { TEST_RECORD_DIR: dir },
  );
  try {
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) {
      const batch = Array.from(
        { length: 1000 },
        () => ({ type: "test_record", payload: { file } }),
      );
      ids.push(...(await broker.enqueueBatch(batch)).map((r) => r.id));
    }
    const started = Date.now();
    const stats = await waitFor("5000 completions", async () => {
      const s = await broker.stats();
      return s.completed + s.failed >= 5000 ? s : null;
    }, 90_000);
    console.log(`5000 jobs in ${Date.now() - started} ms`);
    assert.strictEqual(stats.completed, 5000);
    assert.strictEqual(stats.failed, 0);
    assert.strictEqual(stats.running, 0);
    assert.strictEqual(stats.retried, 0);

    const runs = (await Deno.readTextFile(file)).trim().split("\n");
    assert.strictEqual(runs.length, 5000, "each handler ran exactly once");
    assert.strictEqual(new Set(runs).size, 5000);
    assert.deepStrictEqual(new Set(runs), new Set(ids));

    const sample = await jobsById(broker, ids.filter((_, i) => i % 50 === 0));
    for (const job of sample) {
      assert.strictEqual(job.status, "completed");
      assert.strictEqual(job.attempts, 1);
    }
  } finally {
    worker.kill("SIGTERM");
    assert.strictEqual((await worker.status).code, 0);
    await broker.close();
    await redis.close();
    await Deno.remove(dir, { recursive: true });
  }
});
