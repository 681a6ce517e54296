/**
 * `EnqueueInput.waiting_limit` (the tenants' max_pending): checked by
 * enqueue.lua with the write, so concurrent submits sharing a call, a
 * batch, and delayed jobs all count, and a refused job writes nothing.
 */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import { QueueFullError } from "../../src/queue/errors.ts";

const JOB = { type: "t", payload: 1, queue: "acme/default" };

redisTest(
  "a waiting limit refuses jobs once the queue holds that many pending or scheduled",
  async (h) => {
    const b = await h.makeRedis();
    await b.enqueue({ ...JOB, delay_ms: 60_000 });
    // 10 concurrent singles (one script call) for 3 places: exactly 3 written.
    const outcomes = await Promise.allSettled(
      Array.from({ length: 10 }, () => b.enqueue({ ...JOB, waiting_limit: 4 })),
    );
    assert.strictEqual(outcomes.filter((o) => o.status === "fulfilled").length, 3);
    for (const o of outcomes) {
      if (o.status === "rejected") assert.ok(o.reason instanceof QueueFullError, String(o.reason));
    }
    let stats = await b.stats("acme/default");
    assert.deepStrictEqual([stats.pending, stats.scheduled, stats.total], [3, 1, 4]);
    // A batch: the first fits once one job started, the rest are marked full.
    const claimer = await h.makeRedis({ queue: "acme/default" });
    assert.strictEqual((await claimer.claim(1)).length, 1);
    const batch = await b.enqueueBatch([1, 2, 3].map(() => ({ ...JOB, waiting_limit: 4 })));
    assert.deepStrictEqual(batch.map((r) => r.created), [true, false, false]);
    assert.deepStrictEqual(batch.map((r) => r.full ?? false), [false, true, true]);
    stats = await b.stats("acme/default");
    assert.strictEqual(stats.total, 5, "the refused ones left nothing");
    // Without a limit nothing is checked.
    assert.strictEqual((await b.enqueue(JOB)).created, true);
    // An idempotent replay answers with its job even when full.
    const first = await b.enqueue({ ...JOB, idempotency_key: "k" });
    const replay = await b.enqueue({ ...JOB, idempotency_key: "k", waiting_limit: 0 });
    assert.deepStrictEqual(replay, { id: first.id, created: false });
  },
);
