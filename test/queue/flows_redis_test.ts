/**
 * Flows on a real redis-server, beyond the shared suite: dependencies across
 * queues through the outbox, a process dying between a transition and its
 * delivery (the outbox entry is left; maintenance delivers it), and
 * retention and purges (a dependency kept until its dependents finished,
 * in any queue; every key gone once everything expired).
 */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import { fakeClock } from "./broker_suite.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import { QueueScripts } from "../../src/queue/scripts.ts";
import { encodeJob } from "../../src/queue/validate.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { Redis } from "ioredis";

const config = { retentionMs: 60_000, finishedTtlMs: 120_000, eventsMaxLen: 0, errorHistory: 10 };

/** Claims `id` (the only ready job of the served queues) with `b`. */
async function claimIt(b: RedisBroker, id: string) {
  const claimed = await b.claim(10);
  assert.deepStrictEqual(claimed.map((j) => j.id), [id]);
  return claimed[0];
}

/** A queue's raw scripts, as a process would run them just before dying. */
function rawScripts(redis: Redis, queue: string): Promise<QueueScripts> {
  return QueueScripts.create(redis, { ...queueKeys(queue), owners: "jq:{#}:owners" }, config);
}

redisTest("across queues: completion reaches a dependent in another queue", async (h) => {
  const b = await h.makeRedis({ serve: { queues: "all", order: "strict" } });
  const a = await b.enqueue({ type: "fetch", payload: 1, queue: "up" });
  const d = await b.enqueue({ type: "report", payload: 2, depends_on: [a.id] });
  const e = await b.enqueue({ type: "report", payload: 3, depends_on: [a.id], queue: "side" });
  assert.strictEqual((await b.get(d.id))?.status, "waiting");
  const job = await claimIt(b, a.id);
  await b.complete(a.id, job.token, { rows: 3 });
  assert.strictEqual((await b.get(d.id))?.status, "pending");
  assert.strictEqual((await b.get(e.id))?.status, "pending");
  assert.deepStrictEqual((await b.dependencies(e.id))?.[0], {
    id: a.id,
    type: "fetch",
    status: "completed",
    result: { rows: 3 },
  });
  // Every outbox drained.
  for (const q of ["up", "side", h.queue]) {
    assert.strictEqual(await h.redis.exists(queueKeys(q).outbox), 0, q);
  }
});

redisTest(
  "a dying completer leaves its outcome in the outbox; maintenance delivers it",
  async (h) => {
    const b = await h.makeRedis({ serve: { queues: "all", order: "strict" } });
    const a = await b.enqueue({ type: "t", payload: 1, queue: "up" });
    const d = await b.enqueue({ type: "t", payload: 2, depends_on: [a.id] });
    const job = await claimIt(b, a.id);
    // The transition ran; the process died before draining.
    const up = await rawScripts(h.redis, "up");
    assert.deepStrictEqual(
      await up.completeMany([{ id: a.id, token: job.token, resultJson: '"r"' }], Date.now()),
      [true],
    );
    assert.deepStrictEqual(await h.redis.zrange(queueKeys("up").outbox, 0, -1), [`d:${a.id}`]);
    assert.strictEqual((await b.get(d.id))?.status, "waiting");
    const other = await h.makeRedis({ serve: { queues: "all", order: "strict" } });
    await other.maintain();
    assert.strictEqual((await b.get(d.id))?.status, "pending");
    assert.strictEqual(await h.redis.exists(queueKeys("up").outbox), 0);
    // Delivered twice (a second drain, a late first process): counted once.
    await h.redis.zadd(queueKeys("up").outbox, 1, `d:${a.id}`);
    await other.maintain();
    assert.deepStrictEqual((await b.get(d.id))?.dependencies, {
      total: 1,
      completed: 1,
      failed: 0,
      pending: 0,
    });
  },
);

redisTest("a dying submitter leaves its links in the outbox; maintenance makes them", async (h) => {
  const b = await h.makeRedis({ serve: { queues: "all", order: "strict" } });
  const home = await b.homeQueue();
  const a = await b.enqueue({ type: "t", payload: 1, queue: "up" });
  // The dependent was written, its links into "up" not made yet.
  const encoded = encodeJob({ type: "t", payload: 2, depends_on: [a.id] }, Date.now(), {
    queue: home,
    home,
  });
  await (await rawScripts(h.redis, home)).enqueueMany([encoded], Date.now());
  assert.strictEqual((await b.get(encoded.id))?.status, "waiting");
  assert.strictEqual(await h.redis.scard(`${queueKeys("up").jobPrefix}${a.id}:r`), 0);
  const job = await claimIt(b, a.id);
  await b.complete(a.id, job.token, 7);
  // a finished before the link: the link itself answers with its outcome.
  assert.strictEqual((await b.get(encoded.id))?.status, "waiting");
  await b.maintain();
  assert.strictEqual((await b.get(encoded.id))?.status, "pending");
  assert.deepStrictEqual((await b.dependencies(encoded.id))?.[0].result, 7);
});

redisTest(
  "retention keeps a dependency until its dependent finishes; then every key goes",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now, retentionMs: 1000 });
    const p1 = await b.enqueue({ type: "t", payload: 1 });
    const p2 = await b.enqueue({ type: "t", payload: 2 });
    const d = await b.enqueue({ type: "t", payload: 3, depends_on: [p1.id, p2.id] });
    const [j1] = await b.claim(1);
    await b.complete(p1.id, j1.token, "one");
    clock.advance(5000);
    await b.maintain();
    assert.strictEqual((await b.get(p1.id))?.status, "completed", "kept: d still waits");
    const [j2] = await b.claim(1);
    await b.complete(p2.id, j2.token, "two");
    clock.advance(5000);
    await b.maintain();
    assert.strictEqual((await b.get(p1.id))?.status, "completed", "kept: d has not run yet");
    const [jd] = await b.claim(1);
    assert.strictEqual(jd.id, d.id);
    assert.deepStrictEqual((await b.dependencies(d.id))?.map((x) => x.result).sort(), [
      "one",
      "two",
    ]);
    await b.complete(d.id, jd.token, null);
    clock.advance(5000);
    await b.maintain();
    clock.advance(5000);
    await b.maintain();
    for (const id of [p1.id, p2.id, d.id]) assert.strictEqual(await b.get(id), null);
    const p = `jq:{${h.queue}}:`;
    // The history HASHes (expiring by themselves) are the queue's, not the jobs'.
    const left = (await h.keys()).filter((k) => k !== `${p}wake` && !k.startsWith(`${p}hist:`));
    // The durations HASH stays, like the stats: lifetime counts, not per job.
    assert.deepStrictEqual(left, [`${p}durations`, `${p}events`, `${p}meta`, `${p}stats`]);
  },
);

redisTest(
  "an outbox entry written anew while it was delivered stays for its own delivery",
  async (h) => {
    const scripts = await rawScripts(h.redis, h.queue);
    const outbox = queueKeys(h.queue).outbox;
    await h.redis.zadd(outbox, 1000, "d:x");
    // Read at 1000, then the job ended again (score 2000) before the removal.
    await h.redis.zadd(outbox, 2000, "d:x");
    assert.strictEqual(await scripts.outboxDone([{ member: "d:x", score: "1000" }]), 0);
    assert.deepStrictEqual(await h.redis.zrange(outbox, 0, -1), ["d:x"]);
    assert.strictEqual(await scripts.outboxDone([{ member: "d:x", score: "2000" }]), 1);
    assert.strictEqual(await h.redis.exists(outbox), 0);
  },
);

redisTest(
  "a dependency in another queue is kept from purges until its dependent finishes",
  async (h) => {
    const b = await h.makeRedis({ serve: { queues: "all", order: "strict" } });
    const a = await b.enqueue({ type: "t", payload: 1, queue: "up" });
    const later = await b.enqueue({ type: "t", payload: 2, queue: "up", delay_ms: 60_000 });
    const d = await b.enqueue({ type: "t", payload: 3, depends_on: [a.id, later.id] });
    const job = await claimIt(b, a.id);
    await b.complete(a.id, job.token, "kept");
    assert.strictEqual((await b.get(d.id))?.status, "waiting");
    assert.strictEqual(await b.purge("completed", "up"), 0, "d still waits on it");
    assert.strictEqual((await b.get(a.id))?.status, "completed");
    // d finishes (cancelled here): a is free to go.
    assert.strictEqual(await b.cancel(d.id), "cancelled");
    assert.strictEqual(await h.redis.exists(`${queueKeys("up").jobPrefix}${a.id}:w`), 0);
    assert.strictEqual(await b.purge("completed", "up"), 1);
    assert.strictEqual(await b.get(a.id), null);
  },
);
