/**
 * Durability: with AOF (`appendfsync always`) every acknowledged enqueue
 * survives a Redis restart, graceful (SIGTERM) or not (kill -9).
 */
import assert from "node:assert/strict";
import { redisHarness } from "./redis_harness.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";

const opts = { sanitizeOps: false, sanitizeResources: false };

for (const signal of ["SIGTERM", "SIGKILL"] as const) {
  Deno.test({
    ...opts,
    name: `AOF: acknowledged jobs survive a restart after ${signal}`,
    fn: async () => {
      const h = await redisHarness({ aof: true });
      try {
        const b = await h.makeRedis();
        const n = 500;
        const ids: string[] = [];
        const batch = await b.enqueueBatch(
          Array.from({ length: n - 50 }, (_, i) => ({ type: "aof", payload: i })),
        );
        ids.push(...batch.map((r) => r.id));
        for (let i = 0; i < 50; i++) {
          ids.push((await b.enqueue({ type: "aof", payload: i, priority: 9 })).id);
        }
        const [claimed] = await b.claim(1);
        await b.complete(claimed.id, claimed.token, "ok");
        await b.close();
        h.redis.disconnect();

        await h.server.stop(signal);
        await h.server.restart();

        const after = new RedisBroker({ url: h.server.url, queue: h.queue });
        try {
          const stats = await after.stats();
          assert.strictEqual(stats.total, n);
          assert.strictEqual(stats.pending, n - 1);
          assert.strictEqual(stats.completed, 1);
          for (const id of ids) assert.ok(await after.get(id), `job ${id} survived`);
          assert.strictEqual((await after.get(claimed.id))?.status, "completed");
          // Scripts reload transparently after the restart flushed the script cache.
          assert.strictEqual((await after.claim(10)).length, 10);
        } finally {
          await after.close();
        }
      } finally {
        await h.cleanup();
      }
    },
  });
}
