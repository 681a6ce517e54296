/**
 * kill -9 of a worker holding 200 running jobs: nothing is lost. Once the
 * short leases run out, a second worker's maintenance reaps them and it
 * finishes every one.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { jobsById, spawnWorker, testBroker, waitFor } from "./helpers.ts";

Deno.test("kill -9 mid-run: a second worker finishes all 200 jobs after the lease expires", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "crash");
  const args = [
    "--queue",
    broker.queue,
    "--concurrency",
    "200",
    "--threads",
    "2",
    "--lease-ms",
    "2000",
  ];
  const first = spawnWorker(redis.url, args);
  let second: ReturnType<typeof spawnWorker> | null = null;
  try {
    const ids = (await broker.enqueueBatch(Array.from({ length: 200 }, () => ({
      type: "compute",
      payload: { duration_ms: 4_000, mode: "sleep" },
      max_attempts: 3,
    })))).map((r) => r.id);
    await waitFor("200 running", async () => (await broker.stats()).running === 200, 20_000);
    first.kill("SIGKILL");
    const status = await first.status;
    assert.equal(status.signal, "SIGKILL");
    const killedAt = Date.now();
    assert.equal((await broker.stats()).running, 200, "the dead worker's jobs are still running");

    second = spawnWorker(redis.url, args);
    const stats = await waitFor("all 200 completed", async () => {
      const s = await broker.stats();
      return s.completed === 200 ? s : null;
    }, 40_000);
    assert.ok(Date.now() - killedAt >= 2_000, "they were taken back only after the lease ran out");
    assert.equal(stats.failed, 0);
    assert.equal(stats.running + stats.pending + stats.scheduled, 0);
    for (const job of await jobsById(broker, ids)) {
      assert.equal(job.status, "completed");
      assert.equal(job.attempts, 2, "one attempt died with the process, one finished");
    }
  } finally {
    first.kill("SIGKILL");
    second?.kill("SIGTERM");
    await first.status;
    if (second) assert.equal((await second.status).code, 0);
    await broker.close();
    await redis.close();
  }
});
