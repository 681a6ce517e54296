/**
 * Idle cost: a runner-like loop (maintain, then a claim that waits for work)
 * on an empty queue must send Redis at most 2 commands per second, because
 * the waiting claim blocks on BLPOP instead of polling.
 */
import assert from "node:assert/strict";
import { redisHarness } from "./redis_harness.ts";

function totalCalls(info: string): number {
  let total = 0;
  for (const match of info.matchAll(/^cmdstat_[^:]+:calls=(\d+)/gm)) total += Number(match[1]);
  return total;
}

Deno.test({
  name: "idle loop costs at most 2 Redis commands per second",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const h = await redisHarness();
    const broker = await h.makeRedis();
    const stop = new AbortController();
    try {
      await broker.maintain(); // load scripts and connect before measuring
      const loop = (async () => {
        while (!stop.signal.aborted) {
          const m = await broker.maintain();
          const wait = m.next_due_at === null ? 5000 : Math.min(5000, m.next_due_at - Date.now());
          const jobs = await broker.claim(10, { waitMs: wait, signal: stop.signal });
          assert.strictEqual(jobs.length, 0);
        }
      })();
      await new Promise((r) => setTimeout(r, 300));
      const before = totalCalls(await h.redis.info("commandstats"));
      const seconds = 5;
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const after = totalCalls(await h.redis.info("commandstats"));
      // The INFO call itself counts once.
      const rate = (after - before - 1) / seconds;
      stop.abort();
      await loop;
      console.log(`idle loop: ${rate} commands/s`);
      assert.ok(rate <= 2, `idle loop sent ${rate} commands/s`);
    } finally {
      stop.abort();
      await h.cleanup();
    }
  },
});
