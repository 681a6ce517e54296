/**
 * kill -9 of a worker holding 200 running jobs: nothing is lost. Once the
 * short leases run out, a second worker's maintenance reaps them, reports a
 * `recovered` lifecycle event for each, and finishes every one.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import type { LifecycleEvent } from "../../src/events/lifecycle.ts";
import { createLogger } from "../../src/log.ts";
import { startWorkerProcess, type WorkerProcess } from "../../src/worker/process.ts";
import { FIXTURE_JOBS, jobsById, spawnWorker, testBroker, waitFor } from "./helpers.ts";

Deno.test("kill -9 mid-run: a second worker finishes all 200 jobs after the lease expires", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "crash");
  const args = [
    "--queue",
    broker.defaultQueue,
    "--concurrency",
    "200",
    "--threads",
    "2",
    "--lease-ms",
    "2000",
  ];
  const first = spawnWorker(redis.url, args);
  let second: WorkerProcess | null = null;
  const recovered: LifecycleEvent[] = [];
  try {
    const ids = (await broker.enqueueBatch(Array.from({ length: 200 }, () => ({
      type: "compute",
      payload: { duration_ms: 4_000, mode: "sleep" },
      max_attempts: 3,
    })))).map((r) => r.id);
    await waitFor("200 running", async () => (await broker.stats()).running === 200, 20_000);
    first.kill("SIGKILL");
    const status = await first.status;
    assert.strictEqual(status.signal, "SIGKILL");
    const killedAt = Date.now();
    assert.strictEqual(
      (await broker.stats()).running,
      200,
      "the dead worker's jobs are still running",
    );

    // The second worker runs in this process, so its lifecycle events can be observed.
    second = await startWorkerProcess({
      redisUrl: redis.url,
      queue: broker.defaultQueue,
      concurrency: 200,
      threads: 2,
      leaseMs: 2000,
      modules: [FIXTURE_JOBS],
      handleSignals: false,
      log: createLogger({ level: "error" }),
      observers: [{
        name: "recovered",
        onEvent: (e) => void (e.kind === "recovered" && recovered.push(e)),
      }],
    });
    const stats = await waitFor("all 200 completed", async () => {
      const s = await broker.stats();
      return s.completed === 200 ? s : null;
    }, 40_000);
    assert.ok(Date.now() - killedAt >= 2_000, "they were taken back only after the lease ran out");
    assert.strictEqual(stats.failed, 0);
    assert.strictEqual(stats.running + stats.pending + stats.scheduled, 0);
    assert.deepStrictEqual(
      recovered.map((e) => e.job_id).sort(),
      [...ids].sort(),
      "one recovered event per reaped job",
    );
    for (const job of await jobsById(broker, ids)) {
      assert.strictEqual(job.status, "completed");
      assert.strictEqual(job.attempts, 2, "one attempt died with the process, one finished");
    }
  } finally {
    first.kill("SIGKILL");
    second?.stop();
    await first.status;
    if (second) assert.strictEqual(await second.exitCode, 0);
    await broker.close();
    await redis.close();
  }
});
