/**
 * A handler that never yields cannot be stopped inside its process: at the
 * deadline plus the grace period the worker fails it as a timeout, hands its
 * co-running jobs back without charging an attempt, and exits for the
 * supervisor to start a fresh process.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { superviseWorker } from "../../src/worker/supervisor.ts";
import { createLogger } from "../../src/log.ts";
import { jobsById, processAlive, testBroker, waitFor, WORKER_MAIN, workerEnv } from "./helpers.ts";

for (const threads of [1, 2]) {
  Deno.test(`a spinning CPU job times out, the process is recycled, co-runners keep their attempt (${threads} threads)`, () =>
    hardTimeout(threads));
}

/** With 1 thread every co-runner shares the stuck thread; with 2, half finish in the drain window. */
async function hardTimeout(threads: number) {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "hard");
  const stop = new AbortController();
  const pids: number[] = [];
  const exits: Array<number> = [];
  const supervisor = superviseWorker({
    args: [
      WORKER_MAIN,
      "--queue",
      broker.defaultQueue,
      "--concurrency",
      "10",
      "--threads",
      String(threads),
      "--hard-timeout-grace-ms",
      "300",
      "--lease-ms",
      "5000",
    ],
    env: workerEnv(redis.url),
    handleSignals: false,
    signal: stop.signal,
    log: createLogger({ level: "warn" }),
    onSpawn: (pid) => pids.push(pid),
    onExit: (_pid, status) => exits.push(status.code),
  });
  try {
    await waitFor("first worker", () => pids.length === 1);
    // Sleepers first (higher priority): claimed in one batch with the spinner.
    const sleepers = await broker.enqueueBatch(Array.from({ length: 4 }, () => ({
      type: "compute",
      payload: { duration_ms: 2_000, mode: "sleep" },
      priority: 5,
      max_attempts: 3,
    })));
    const spinner = await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 60_000, mode: "cpu" },
      timeout_ms: 1_000,
      max_attempts: 1,
    });
    const firstPid = pids[0];

    const dead = await waitFor("spinner failed", async () => {
      const job = await broker.get(spinner.id);
      return job?.status === "failed" ? job : null;
    }, 15_000);
    assert.match(dead.error ?? "", /timed out/);

    await waitFor("a new worker process", () => pids.length >= 2, 15_000);
    assert.strictEqual(exits[0], 75, "the worker asked to be recycled");
    await waitFor("old process gone", () => !processAlive(firstPid), 5_000);
    assert.notStrictEqual(pids[1], firstPid);

    const ids = sleepers.map((s) => s.id);
    await waitFor("sleepers completed", async () => {
      const jobs = await jobsById(broker, ids);
      return jobs.every((j) => j.status === "completed");
    }, 20_000);
    for (const job of await jobsById(broker, ids)) {
      assert.strictEqual(
        job.attempts,
        1,
        "a co-runner of the stuck job was not charged an attempt",
      );
      assert.strictEqual(job.error_history.length, 0);
    }

    const later = await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 10, mode: "sleep" },
    });
    await waitFor(
      "a later job ran",
      async () => (await broker.get(later.id))?.status === "completed",
    );
  } finally {
    stop.abort();
    const code = await supervisor;
    assert.strictEqual(code, 0);
    await broker.close();
    await redis.close();
  }
}
