/**
 * ThreadPool placement: while jobs turn around fast, a flushed batch goes
 * whole to one thread (one message each way, one claim to refill); once they
 * are slow, batches are spread job by job over the threads again.
 */
import assert from "node:assert/strict";
import { resolveModules, ThreadPool } from "../../src/worker/pool.ts";
import type { RunResult } from "../../src/worker/messages.ts";
import { FIXTURE_JOBS } from "./helpers.ts";

Deno.test({
  name: "fast jobs: a batch is packed onto one thread; slow jobs: spread over all",
  // Web Worker threads outlive single ops by design; close() terminates them.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const results: RunResult[] = [];
    let waiter: (() => void) | null = null;
    const pool = new ThreadPool({
      threads: 2,
      modules: resolveModules([FIXTURE_JOBS]),
      permissionsOf: () => undefined,
      events: {
        results: (r) => {
          results.push(...r);
          waiter?.();
        },
        progress: () => {},
        log: () => {},
        fatal: (e) => {
          throw new Error(e);
        },
      },
    });
    let seq = 0;
    /** 10 jobs: instant no-ops, or `compute` sleeps of `sleepMs`. */
    const batch = (sleepMs?: number) => {
      const ids = Array.from({ length: 10 }, () => `j${seq++}`);
      for (const id of ids) {
        pool.dispatch({
          id,
          type: sleepMs === undefined ? "test_noop" : "compute",
          payload_json: JSON.stringify(
            sleepMs === undefined ? {} : { duration_ms: sleepMs, mode: "sleep" },
          ),
          attempt: 1,
          max_attempts: 1,
        });
      }
      pool.flush();
      return ids;
    };
    const settle = async (ids: string[]) => {
      const want = new Set(ids);
      const deadline = Date.now() + 10_000;
      while (results.filter((r) => want.has(r.id)).length < ids.length) {
        if (Date.now() > deadline) throw new Error("results did not arrive");
        await new Promise<void>((r) => {
          waiter = r;
          setTimeout(r, 50);
        });
      }
    };
    try {
      // The first batch is spread (nothing measured yet).
      let ids = batch();
      assert.ok(pool.threadmates(ids[0]).length < 10);
      await settle(ids);
      // Fast jobs: after a few rounds the average drops and batches are packed
      // (bounded retries: a loaded machine may take longer to get there).
      let packed = false;
      for (let i = 0; i < 200 && !packed; i++) {
        ids = batch();
        packed = pool.threadmates(ids[0]).length === 10;
        await settle(ids);
      }
      assert.ok(packed, "a whole batch went to one thread");
      // Slow jobs push the average up: batches are spread again.
      await settle(batch(40));
      ids = batch(40);
      assert.strictEqual(pool.threadmates(ids[0]).length, 5, "split over both threads");
      assert.strictEqual(pool.stats().busy, 2);
      await settle(ids);
      assert.ok(results.every((r) => r.ok));
    } finally {
      pool.close();
    }
  },
});
