/**
 * ThreadPool.warm(): the restricted group's threads are started and have
 * loaded the registry before any job arrives; groups with permissions still
 * start on their first job.
 */
import assert from "node:assert/strict";
import { resolveModules, ThreadPool } from "../../src/worker/pool.ts";
import type { RunResult } from "../../src/worker/messages.ts";
import { FIXTURE_JOBS } from "./helpers.ts";

Deno.test({
  name: "warm() starts the restricted threads up front; a job then runs at once",
  // Web Worker threads outlive single ops by design; close() terminates them.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const results: RunResult[] = [];
    let onResult = () => {};
    const pool = new ThreadPool({
      threads: 2,
      modules: resolveModules([FIXTURE_JOBS]),
      permissionsOf: (type) => type === "needs_net" ? { net: ["127.0.0.1"] } : undefined,
      events: {
        results: (r) => {
          results.push(...r);
          onResult();
        },
        progress: () => {},
        log: () => {},
        fatal: (e) => {
          throw new Error(e);
        },
      },
    });
    try {
      assert.strictEqual(pool.stats().threads, 0, "nothing runs before warm()");
      await pool.warm();
      assert.strictEqual(pool.stats().threads, 2, "the restricted group is up");
      const done = new Promise<void>((r) => (onResult = r));
      const t0 = performance.now();
      pool.dispatch({
        id: "j1",
        type: "test_noop",
        payload_json: "{}",
        attempt: 1,
        max_attempts: 1,
      });
      pool.flush();
      await done;
      const ms = performance.now() - t0;
      assert.ok(results[0]?.ok, JSON.stringify(results[0]));
      // No thread boot on the job's path (booting one takes tens of ms).
      assert.ok(ms < 1000, `first job took ${ms} ms`);
      assert.strictEqual(pool.stats().threads, 2, "no other group was started");
    } finally {
      pool.close();
    }
  },
});
