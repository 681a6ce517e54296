/**
 * Cancelling a running job fires its AbortSignal; the job ends `cancelled`
 * within about a second. A handler that ignores the signal gets the hard
 * path: cancelled anyway, and its process recycled.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { superviseWorker } from "../../src/worker/supervisor.ts";
import { createLogger } from "../../src/log.ts";
import {
  processAlive,
  spawnWorker,
  testBroker,
  waitFor,
  WORKER_MAIN,
  workerEnv,
} from "./helpers.ts";

Deno.test("cancel of a running sleep job: cancelled within ~1 s", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "cancel");
  const worker = spawnWorker(redis.url, ["--queue", broker.defaultQueue, "--threads", "1"]);
  try {
    const { id } = await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 20_000, mode: "sleep" },
    });
    await waitFor("running", async () => (await broker.get(id))?.status === "running");
    const requestedAt = Date.now();
    assert.strictEqual(await broker.cancel(id), "cancel_requested");
    await waitFor("cancelled", async () => (await broker.get(id))?.status === "cancelled", 5_000);
    const elapsed = Date.now() - requestedAt;
    assert.ok(elapsed < 1_500, `cancelled after ${elapsed} ms`);
    assert.strictEqual((await broker.stats()).running, 0);
  } finally {
    worker.kill("SIGTERM");
    assert.strictEqual((await worker.status).code, 0);
    await broker.close();
    await redis.close();
  }
});

Deno.test("cancel of a job that ignores its signal: cancelled, and the process is recycled", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "cancel-hard");
  const stop = new AbortController();
  const pids: number[] = [];
  const supervisor = superviseWorker({
    args: [WORKER_MAIN, "--queue", broker.defaultQueue, "--hard-timeout-grace-ms", "300"],
    env: workerEnv(redis.url),
    handleSignals: false,
    signal: stop.signal,
    log: createLogger({ level: "warn" }),
    onSpawn: (pid) => pids.push(pid),
  });
  try {
    const { id } = await broker.enqueue({
      type: "compute",
      payload: { duration_ms: 60_000, mode: "cpu" },
    });
    await waitFor("running", async () => (await broker.get(id))?.status === "running");
    const requestedAt = Date.now();
    await broker.cancel(id);
    await waitFor("cancelled", async () => (await broker.get(id))?.status === "cancelled", 5_000);
    assert.ok(Date.now() - requestedAt < 2_000);
    await waitFor("a fresh worker process", () => pids.length === 2, 10_000);
    await waitFor("the spinning process is gone", () => !processAlive(pids[0]), 5_000);
  } finally {
    stop.abort();
    assert.strictEqual(await supervisor, 0);
    await broker.close();
    await redis.close();
  }
});
