/**
 * Upgrading from the single-queue release: `test/fixtures/single_queue_release.json`
 * holds every key that release (commit 46beaee) wrote for a queue `legacy`
 * (QUEUE=legacy): pending, scheduled, completed, failed and cancelled jobs,
 * an idempotency key, counters and events. This release must read it as it
 * is, with its plain ids still naming its jobs, whatever QUEUE says now, and
 * refuse data of several single-queue deployments with a clear message.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { TestRedis } from "../helpers/redis_server.ts";
import { type RedisDump, restoreDump } from "../fixtures/redis_dump.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { LegacyDataError } from "../../src/queue/queue_registry.ts";

const dump: RedisDump = JSON.parse(
  await Deno.readTextFile(new URL("../fixtures/single_queue_release.json", import.meta.url)),
);

/** Time as it was when the dump was written (due times and retention stay as they were). */
function dumpClock(): () => number {
  const start = Date.now();
  return () => dump.written_at_ms! + (Date.now() - start);
}

async function withDump(
  fn: (url: string, redis: Redis) => Promise<void>,
  extra?: RedisDump,
): Promise<void> {
  const server = await TestRedis.start();
  const redis = new Redis(server.url);
  try {
    await restoreDump(redis, dump);
    if (extra) await restoreDump(redis, extra);
    await fn(server.url, redis);
  } finally {
    redis.disconnect();
    await server.close();
  }
}

for (const queue of ["legacy", "default"]) {
  Deno.test({
    name: `upgrade: single-queue data keeps working (QUEUE=${queue})`,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: () =>
      withDump(async (url, redis) => {
        const b = new RedisBroker({
          url,
          queue,
          clock: dumpClock(),
          serve: { queues: "all", order: "weighted" },
        });
        try {
          // The legacy queue is the home queue: its plain ids resolve.
          assert.strictEqual(await b.homeQueue(), "legacy");
          for (const job of dump.jobs) {
            const found = await b.get(job.id);
            assert.strictEqual(found?.status, job.state, job.id);
            assert.strictEqual(found?.queue, "legacy");
          }
          const stats = await b.stats("legacy");
          assert.deepStrictEqual(
            [stats.pending, stats.scheduled, stats.completed, stats.failed, stats.cancelled],
            [6, 2, 3, 2, 1],
          );
          assert.ok((await b.queues()).some((q) => q.name === "legacy" && q.pending === 6));
          // The idempotency key still answers with its job.
          const keyed = dump.jobs.find((j) => j.idempotency_key === "legacy-key")!;
          const replay = await b.enqueue({
            type: "echo",
            payload: {},
            queue: "legacy",
            idempotency_key: "legacy-key",
          });
          assert.deepStrictEqual(replay, { id: keyed.id, created: false });
          // Its pending jobs run, and finish, under this release.
          const claimed = await b.claim(100);
          assert.strictEqual(claimed.length, 6);
          assert.deepStrictEqual(
            await b.completeMany(claimed.map((j) => ({ id: j.id, token: j.token, result: 1 }))),
            claimed.map(() => true),
          );
          assert.strictEqual((await b.stats("legacy")).completed, 9);
          // A failed legacy job can be retried by its plain id.
          const dead = dump.jobs.find((j) => j.state === "failed")!;
          await b.requeue(dead.id);
          assert.strictEqual((await b.get(dead.id))?.status, "pending");
          // New jobs of the other queues get ids that name them.
          if (queue !== "legacy") {
            const fresh = await b.enqueue({ type: "echo", payload: {} });
            assert.match(fresh.id, new RegExp(`^${queue}:`));
          }
          // The choice is stored: a process started later agrees.
          assert.strictEqual(await redis.get("jq:{#}:home"), "legacy");
        } finally {
          await b.close();
        }
      }),
  });
}

Deno.test({
  name: "upgrade: data of two single-queue deployments is refused with a clear message",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: () => {
    const other: RedisDump = {
      ...dump,
      keys: dump.keys.map((k) => ({ ...k, name: k.name.replace("{legacy}", "{other}") })),
    };
    return withDump(async (url, redis) => {
      const b = new RedisBroker({ url, clock: dumpClock() });
      try {
        await assert.rejects(b.homeQueue(), (e: unknown) => {
          assert.ok(e instanceof LegacyDataError);
          assert.match(e.message, /queues legacy, other/);
          return true;
        });
        await assert.rejects(b.get(dump.jobs[0].id), LegacyDataError);
        assert.strictEqual(await redis.get("jq:{#}:home"), null, "nothing decided");
      } finally {
        await b.close();
      }
    }, other);
  },
});
