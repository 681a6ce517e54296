/**
 * Idle cost: a real Runner on an empty queue (its heartbeat every second,
 * maintenance every few seconds, and a claim that waits for work) must cost
 * Redis at most 2 commands per second, counted as `INFO commandstats` counts
 * them (the commands a Lua script runs included), over 20 s: two full idle
 * claim waits, four maintenance calls. It blocks on BLPOP instead of polling,
 * and serving 20 queues costs what serving one does: one BLPOP waits on all
 * their wake lists, and one claim or maintenance call serves them all.
 */
import assert from "node:assert/strict";
import { redisHarness } from "./redis_harness.ts";
import { createLogger } from "../../src/log.ts";
import { Runner } from "../../src/worker/runner.ts";
import { idlePool, totalCalls } from "../helpers/idle.ts";
import type { QueueSelection } from "../../src/queue/queue_selection.ts";

const CASES: Array<{ queues: number; serve?: QueueSelection }> = [
  { queues: 1 },
  // Every known queue, as a worker without WORKER_QUEUES serves them (its list refreshes too).
  { queues: 20, serve: { queues: "all", order: "weighted" } },
];

for (const { queues, serve } of CASES) {
  Deno.test({
    name:
      `an idle runner serving ${queues} queue(s) costs at most 2 Redis commands per second, script commands included`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      const h = await redisHarness();
      if (queues > 1) {
        // Make the queues known (a configured queue exists from the start).
        const names = Array.from({ length: queues - 1 }, (_, i) => ({ name: `q${i}`, weight: 1 }));
        const setup = await h.makeRedis({ serve: { queues: names, order: "strict" } });
        await setup.heartbeat();
      }
      const broker = await h.makeRedis({ serve });
      if (queues > 1) assert.strictEqual((await broker.queues()).length, queues);
      const runner = new Runner({
        broker,
        log: createLogger({ level: "silent" }),
        pool: () => idlePool,
        definitionOf: () => undefined,
        concurrency: 10,
      });
      const exit = runner.run();
      try {
        await new Promise((r) => setTimeout(r, 1500)); // start-up: scripts, first maintenance
        const before = totalCalls(await h.redis.info("commandstats"));
        const seconds = 20;
        await new Promise((r) => setTimeout(r, seconds * 1000));
        const after = totalCalls(await h.redis.info("commandstats"));
        // The first INFO call itself counts once.
        const rate = (after - before - 1) / seconds;
        console.log(`idle runner, ${queues} queue(s): ${rate} commands/s`);
        assert.ok(rate <= 2, `idle runner sent ${rate} commands/s`);
        // The beat kept it fresh: a waiting claim would be accepted now.
        const seen = Number(await h.redis.zscore("jq:{#}:owners", broker.owner));
        assert.ok(Date.now() - seen < 1500, `last heartbeat ${Date.now() - seen} ms ago`);
      } finally {
        runner.stop();
        await exit;
        await h.cleanup();
      }
    },
  });
}
