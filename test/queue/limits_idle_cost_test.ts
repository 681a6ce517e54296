/**
 * Idle cost of a worker whose ready work is all held back by a limit: it
 * sleeps until the rate lets the next start in (the claim's retryAt), not in
 * a poll loop, so it costs Redis what an idle worker does: at most 2
 * commands per second, script commands included (`INFO commandstats`).
 */
import assert from "node:assert/strict";
import { redisHarness } from "./redis_harness.ts";
import { createLogger } from "../../src/log.ts";
import { Runner } from "../../src/worker/runner.ts";
import { idlePool, totalCalls } from "../helpers/idle.ts";

Deno.test({
  name:
    "a runner whose ready jobs are all rate-limited sleeps: at most 2 Redis commands per second",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const h = await redisHarness();
    const holder = await h.makeRedis();
    await holder.setLimit("type", "a", { rate: { max: 1, per_ms: 120_000 }, concurrency: null });
    await holder.enqueueBatch(Array.from({ length: 6 }, () => ({ type: "a", payload: 0 })));
    // The window's one start, used up elsewhere: the other five wait two minutes.
    const [first] = await holder.claim(10);
    await holder.complete(first.id, first.token, null);
    const broker = await h.makeRedis();
    const runner = new Runner({
      broker,
      log: createLogger({ level: "silent" }),
      pool: () => idlePool,
      definitionOf: () => undefined,
      concurrency: 10,
    });
    const exit = runner.run();
    try {
      await new Promise((r) => setTimeout(r, 1500)); // start-up: scripts, first claims
      const before = totalCalls(await h.redis.info("commandstats"));
      const seconds = 10;
      await new Promise((r) => setTimeout(r, seconds * 1000));
      const after = totalCalls(await h.redis.info("commandstats"));
      const rate = (after - before - 1) / seconds;
      console.log(`runner held back by a rate: ${rate} commands/s`);
      assert.ok(rate <= 2, `the held-back runner sent ${rate} commands/s`);
      assert.deepStrictEqual([(await broker.stats()).pending, (await broker.stats()).running], [
        5,
        0,
      ]);
    } finally {
      runner.stop();
      await exit;
      await h.cleanup();
    }
  },
});
