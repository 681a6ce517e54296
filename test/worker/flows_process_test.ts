/**
 * Flows through real worker processes (three of them, `worker_main.ts`):
 * a chain a -> b -> c where each starts only after the previous completed
 * and sees its result; a fan-in d on three parallel jobs that starts once,
 * after the last, with all three results; and the failure policies through
 * two levels when a job fails for good.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { type SpawnedWorker, spawnWorker, testBroker, waitFor } from "./helpers.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { JobState } from "../../src/queue/job.ts";

interface StepResult {
  name: string;
  started: number;
  finished: number;
  pid: number;
  sources?: string[];
  seen?: Array<{ id: string; status: string; result: StepResult }>;
}

async function resultOf(broker: RedisBroker, id: string): Promise<StepResult> {
  const job = await broker.get(id);
  assert.strictEqual(job?.status, "completed", `${id} completed`);
  return job.result as StepResult;
}

async function settled(broker: RedisBroker, ids: string[]): Promise<Map<string, JobState>> {
  const out = new Map<string, JobState>();
  await waitFor("every job settled", async () => {
    for (const id of ids) {
      const status = (await broker.get(id))?.status;
      if (!status || !["completed", "failed", "cancelled"].includes(status)) return false;
      out.set(id, status);
    }
    return true;
  });
  return out;
}

Deno.test({
  name: "flows on three worker processes: chain, fan-in and failure policies",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "flows");
    const workers: SpawnedWorker[] = [];
    try {
      // Concurrency 1 each: parallel jobs of the fan-in land on different processes.
      for (let i = 0; i < 3; i++) {
        workers.push(
          spawnWorker(redis.url, ["--queue", broker.defaultQueue, "--concurrency", "1"]),
        );
      }
      await waitFor(
        "three workers heartbeating",
        async () => (await broker.stats()) && (await ownerCount(redis.url)) >= 3,
        30_000,
      );
      const source = (name: string, sleep_ms = 0) => ({
        type: "test_flow_source",
        payload: { name, sleep_ms },
      });
      const step = (name: string, depends_on: string[], extra: Record<string, unknown> = {}) => ({
        type: "test_flow_step",
        payload: { name, sleep_ms: 50, ...extra },
        depends_on,
      });

      // Chain a -> b -> c.
      const a = await broker.enqueue(source("a", 150));
      const b = await broker.enqueue(step("b", [a.id]));
      const c = await broker.enqueue(step("c", [b.id]));
      // Fan-in: d on three jobs of different lengths.
      const fan = await broker.enqueueBatch([
        source("f1", 400),
        source("f2", 250),
        source("f3", 100),
      ]);
      const d = await broker.enqueue(step("d", fan.map((f) => f.id)));
      // Failure policies, two levels below a job that fails for good.
      const bad = await broker.enqueue(step("bad", [], { fail: true }));
      const viaFail = await broker.enqueue(step("viaFail", [bad.id]));
      const viaFail2 = await broker.enqueue(step("viaFail2", [viaFail.id]));
      const viaCancel = await broker.enqueue({
        ...step("viaCancel", [bad.id]),
        on_dependency_failure: "cancel",
      });
      const viaCancel2 = await broker.enqueue({
        ...step("viaCancel2", [viaCancel.id]),
        on_dependency_failure: "cancel",
      });
      const viaIgnore = await broker.enqueue({
        ...step("viaIgnore", [bad.id]),
        on_dependency_failure: "ignore",
      });
      const viaIgnore2 = await broker.enqueue({
        ...step("viaIgnore2", [viaIgnore.id]),
        on_dependency_failure: "ignore",
      });

      const states = await settled(broker, [
        c.id,
        d.id,
        viaFail2.id,
        viaCancel2.id,
        viaIgnore2.id,
      ]);

      const [ra, rb, rc] = [
        await resultOf(broker, a.id),
        await resultOf(broker, b.id),
        await resultOf(broker, c.id),
      ];
      assert.ok(rb.started >= ra.finished, "b started after a completed");
      assert.ok(rc.started >= rb.finished, "c started after b completed");
      assert.deepStrictEqual(rb.seen?.map((s) => s.result.name), ["a"]);
      assert.deepStrictEqual(rb.sources, ["a"], "typed results of the source type");
      assert.deepStrictEqual(rc.seen?.map((s) => [s.id, s.status, s.result.name]), [
        [b.id, "completed", "b"],
      ]);

      const fans = await Promise.all(fan.map((f) => resultOf(broker, f.id)));
      const rd = await resultOf(broker, d.id);
      assert.ok(rd.started >= Math.max(...fans.map((f) => f.finished)), "d after the last");
      assert.deepStrictEqual(rd.sources?.sort(), ["f1", "f2", "f3"]);
      assert.strictEqual((await broker.get(d.id))?.attempts, 1, "d ran exactly once");
      console.log(`fan-in parents ran on ${new Set(fans.map((f) => f.pid)).size} processes`);
      assert.ok(new Set(fans.map((f) => f.pid)).size >= 2, "the parents ran in parallel");

      assert.strictEqual((await broker.get(bad.id))?.status, "failed");
      assert.strictEqual((await broker.get(viaFail.id))?.status, "failed");
      assert.strictEqual(states.get(viaFail2.id), "failed");
      assert.match((await broker.get(viaFail2.id))?.error ?? "", /dependency .* failed/);
      assert.strictEqual((await broker.get(viaCancel.id))?.status, "cancelled");
      assert.strictEqual(states.get(viaCancel2.id), "cancelled");
      assert.strictEqual((await broker.get(viaIgnore.id))?.status, "completed");
      assert.strictEqual(states.get(viaIgnore2.id), "completed");
      const ignored = await resultOf(broker, viaIgnore.id);
      assert.deepStrictEqual(ignored.seen?.map((s) => s.status), ["failed"]);
      assert.strictEqual((await broker.stats()).waiting, 0);
    } finally {
      for (const w of workers) w.kill("SIGTERM");
      await Promise.all(workers.map((w) => w.status));
      await broker.close();
      await redis.close();
    }
  },
});

/** Lease owners heartbeating in the deployment (one per worker process). */
async function ownerCount(url: string): Promise<number> {
  const { Redis } = await import("ioredis");
  const r = new Redis(url);
  try {
    return await r.zcard("jq:{#}:owners");
  } finally {
    r.disconnect();
  }
}
