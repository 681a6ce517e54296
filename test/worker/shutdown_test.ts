/**
 * SIGTERM: claims stop at once, running jobs finish within the drain
 * deadline, anything still running at the deadline goes back to pending with
 * its attempt restored, and the process exits 0 with nothing left running.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { jobsById, spawnWorker, testBroker, waitFor } from "./helpers.ts";

const sleepJobs = (n: number, ms: number) =>
  Array.from(
    { length: n },
    () => ({ type: "compute", payload: { duration_ms: ms, mode: "sleep" } }),
  );

Deno.test("SIGTERM lets running jobs finish and leaves nothing running", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "drain");
  const worker = spawnWorker(redis.url, [
    "--queue",
    broker.defaultQueue,
    "--concurrency",
    "10",
    "--threads",
    "2",
    "--drain-ms",
    "10000",
  ]);
  try {
    const running = (await broker.enqueueBatch(sleepJobs(10, 1_500))).map((r) => r.id);
    await waitFor("10 running", async () => (await broker.stats()).running === 10);
    const waiting = (await broker.enqueueBatch(sleepJobs(5, 10))).map((r) => r.id);
    const signalledAt = Date.now();
    worker.kill("SIGTERM");
    const status = await worker.status;
    assert.strictEqual(status.code, 0);
    assert.ok(Date.now() - signalledAt < 10_000, "exited within the drain deadline");

    const stats = await broker.stats();
    assert.strictEqual(stats.running, 0);
    for (const job of await jobsById(broker, running)) assert.strictEqual(job.status, "completed");
    for (const job of await jobsById(broker, waiting)) {
      assert.strictEqual(job.status, "pending", "no new claims after the signal");
      assert.strictEqual(job.attempts, 0);
    }
  } finally {
    worker.kill("SIGKILL");
    await broker.close();
    await redis.close();
  }
});

Deno.test("SIGTERM past the drain deadline releases jobs without charging an attempt", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "drain-deadline");
  const worker = spawnWorker(redis.url, ["--queue", broker.defaultQueue, "--drain-ms", "300"]);
  try {
    const ids = (await broker.enqueueBatch(sleepJobs(3, 30_000))).map((r) => r.id);
    await waitFor("3 running", async () => (await broker.stats()).running === 3);
    worker.kill("SIGTERM");
    assert.strictEqual((await worker.status).code, 0);
    assert.strictEqual((await broker.stats()).running, 0);
    for (const job of await jobsById(broker, ids)) {
      assert.strictEqual(job.status, "pending");
      assert.strictEqual(job.attempts, 0);
    }
  } finally {
    worker.kill("SIGKILL");
    await broker.close();
    await redis.close();
  }
});
