/**
 * Retention: finished jobs, their results and idempotency keys disappear after
 * the retention time, the lifetime totals stay (the state counts say what is
 * left), and no orphaned keys remain.
 */
import assert from "node:assert/strict";
import { fakeClock } from "./broker_suite.ts";
import { redisTest } from "./redis_harness.ts";

redisTest(
  "retention: 1 s retention removes finished jobs, keeps lifetime totals, leaves no orphan keys",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now, retentionMs: 1000 });
    const done = await b.enqueue({ type: "r", payload: 1, idempotency_key: "k1" });
    const dead = await b.enqueue({ type: "r", payload: 2, max_attempts: 1 });
    const gone = await b.enqueue({ type: "r", payload: 3 });
    const stays = await b.enqueue({ type: "r", payload: 4, delay_ms: 60_000 });
    const [j1, j2] = await b.claim(2);
    await b.complete(done.id, j1.token, { big: "result" });
    await b.fail(dead.id, j2.token, { message: "x", retryable: true, retry_delay_ms: 0 });
    await b.cancel(gone.id);
    // Backstop TTL on finished records and the idempotency key.
    for (const id of [done.id, dead.id, gone.id]) {
      const ttl = await h.redis.pttl(`jq:{${h.queue}}:j:${id}`);
      assert.ok(ttl > 1000, `finished job record has a TTL (${ttl})`);
    }
    assert.ok((await h.redis.pttl(`jq:{${h.queue}}:i:k1`)) > 1000);
    assert.strictEqual(await h.redis.pttl(`jq:{${h.queue}}:j:${stays.id}`), -1);

    clock.advance(999);
    await b.maintain();
    assert.strictEqual((await b.get(done.id))?.status, "completed");
    clock.advance(2);
    await b.maintain();
    assert.strictEqual(await b.get(done.id), null);
    assert.strictEqual(await b.get(dead.id), null);
    assert.strictEqual(await b.get(gone.id), null);
    assert.strictEqual((await b.get(stays.id))?.status, "scheduled");
    const stats = await b.stats();
    // Gone now, counted ever.
    assert.deepStrictEqual(
      [stats.completed, stats.failed, stats.cancelled, stats.scheduled, stats.total],
      [0, 0, 0, 1, 1],
    );
    assert.deepStrictEqual(
      [stats.completed_total, stats.failed_total, stats.cancelled_total],
      [1, 1, 1],
    );
    const p = `jq:{${h.queue}}:`;
    // `wake` may hold a stale marker; it is one of the fixed keys, like seq, stats and durations.
    // Heartbeats go to the deployment's owners key on standalone Redis, not the queue's.
    // The minute's history HASH stays too: it expires by itself (HISTORY_TTL_S), not with the jobs.
    const left = (await h.keys()).filter((k) => k !== `${p}wake`);
    const minute = Math.floor(clock.now() / 60_000);
    assert.deepStrictEqual(left, [
      `${p}dues`,
      `${p}durations`,
      `${p}events`,
      `${p}hist:${minute}`,
      `${p}j:${stays.id}`,
      `${p}meta`,
      `${p}scheduled`,
      `${p}stats`,
    ]);
    assert.deepStrictEqual(await h.redis.zrange("jq:{#}:owners", 0, -1), [b.owner]);
    // The idempotency key is free again.
    assert.strictEqual(
      (await b.enqueue({ type: "r", payload: 5, idempotency_key: "k1" })).created,
      true,
    );
  },
);

redisTest("retention: maintain trims in bounded batches", async (h) => {
  const clock = fakeClock();
  const b = await h.makeRedis({ clock: clock.now, retentionMs: 10, maintainBatch: 100 });
  await b.enqueueBatch(Array.from({ length: 250 }, (_, i) => ({ type: "r", payload: i })));
  const jobs = await b.claim(250);
  await b.completeMany(jobs.map((j) => ({ ...j, result: null })));
  clock.advance(11);
  const counts: number[] = [];
  for (let i = 0; i < 4; i++) {
    await b.maintain();
    counts.push(await h.redis.zcard(b.keys.completed));
  }
  assert.deepStrictEqual(counts, [150, 50, 0, 0]);
  const stats = await b.stats();
  assert.deepStrictEqual([stats.completed, stats.completed_total], [0, 250]);
  assert.deepStrictEqual([stats.by_type.r.completed, stats.by_type.r.completed_total], [0, 250]);
});
