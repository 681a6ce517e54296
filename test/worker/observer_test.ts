/**
 * In-process worker: an observer that throws on every event does not stop
 * processing, and the other observers still see every lifecycle event.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { startWorkerProcess } from "../../src/worker/process.ts";
import type { LifecycleEvent } from "../../src/events/lifecycle.ts";
import { createLogger } from "../../src/log.ts";
import { FIXTURE_JOBS, testBroker, waitFor } from "./helpers.ts";

Deno.test({
  name: "a throwing observer does not stop processing; events flow to the others",
  // Web Worker threads and Redis sockets outlive single ops by design.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "observer");
    const events: LifecycleEvent[] = [];
    let thrown = 0;
    const worker = await startWorkerProcess({
      redisUrl: redis.url,
      queue: broker.defaultQueue,
      concurrency: 10,
      threads: 1,
      modules: [FIXTURE_JOBS],
      handleSignals: false,
      log: createLogger({ level: "error" }),
      observers: [
        {
          name: "broken",
          onEvent: () => {
            thrown++;
            throw new Error("observer bug");
          },
        },
        { name: "rejecting", onEvent: () => Promise.reject(new Error("async observer bug")) },
        { name: "recorder", onEvent: (e) => void events.push(e) },
      ],
    });
    try {
      const ok = await broker.enqueueBatch(Array.from({ length: 20 }, () => ({
        type: "compute",
        payload: { duration_ms: 5, mode: "sleep" },
      })));
      const bad = await broker.enqueue({ type: "compute", payload: { duration_ms: -1 } });
      await waitFor("all done", async () => {
        const s = await broker.stats();
        return s.completed === 20 && s.failed === 1;
      });
      const kinds = (kind: string) => events.filter((e) => e.kind === kind).map((e) => e.job_id);
      // The worker observes each transition right after its script call returns.
      await waitFor(
        "events observed",
        () => kinds("completed").length >= 20 && kinds("failed").length >= 1,
      );
      assert.strictEqual(new Set(kinds("completed")).size, 20);
      assert.deepStrictEqual(new Set(kinds("completed")), new Set(ok.map((r) => r.id)));
      assert.strictEqual(kinds("started").length, 21);
      assert.deepStrictEqual(kinds("failed"), [bad.id], "an invalid payload fails at once");
      assert.ok(thrown >= 42);
    } finally {
      worker.stop();
      assert.strictEqual(await worker.exitCode, 0);
      await broker.close();
      await redis.close();
    }
  },
});
