/**
 * Named queues on one Redis: ids that name their queue, per-queue listing,
 * counts and purges, pause and resume (also for a claim blocked waiting),
 * weighted and strict claim order, dedicated brokers, and a broker serving
 * every queue picking up a new one.
 */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import { InvalidInputError, JobNotFoundError, QueueNotFoundError } from "../../src/queue/errors.ts";
import { isUuid } from "../../src/queue/job_id.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { ClaimedJob } from "../../src/queue/job.ts";

const queueOf = (id: string) => id.includes(":") ? id.slice(0, id.indexOf(":")) : "(home)";

async function enqueueMany(b: RedisBroker, queue: string, n: number): Promise<string[]> {
  const inputs = Array.from({ length: n }, (_, i) => ({ type: "t", payload: i, queue }));
  return (await b.enqueueBatch(inputs)).map((r) => r.id);
}

async function ackAll(b: RedisBroker, jobs: ClaimedJob[]): Promise<void> {
  await b.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: null })));
}

redisTest("ids name their queue: the home queue's are plain, others' <queue>:<uuid>", async (h) => {
  const b = await h.makeRedis();
  assert.strictEqual(await b.homeQueue(), h.queue);
  const home = await b.enqueue({ type: "t", payload: 1 });
  const other = await b.enqueue({ type: "t", payload: 2, queue: "reports" });
  assert.ok(isUuid(home.id), home.id);
  assert.match(other.id, /^reports:[0-9a-f-]{36}$/);
  // Found, cancelled and retried without being told the queue.
  assert.strictEqual((await b.get(other.id))?.queue, "reports");
  assert.strictEqual((await b.get(home.id))?.queue, h.queue);
  assert.strictEqual(await b.cancel(other.id), "cancelled");
  await b.requeue(other.id);
  assert.strictEqual((await b.get(other.id))?.status, "pending");
  // The upper-case form of a UUID is the same job; the queue part is case-sensitive.
  const [q, uuid] = other.id.split(":");
  assert.strictEqual((await b.get(`${q}:${uuid.toUpperCase()}`))?.id, other.id);
  assert.strictEqual(await b.get(`Reports:${uuid}`), null);
  assert.strictEqual(await b.get(`nosuch:${uuid}`), null);
  await assert.rejects(b.cancel(`nosuch:${uuid}`), JobNotFoundError);
  // A caller's id: a UUID, or a job id of the same queue.
  const chosen = crypto.randomUUID();
  assert.strictEqual(
    (await b.enqueue({ type: "t", payload: 3, queue: "reports", id: chosen })).id,
    `reports:${chosen}`,
  );
  const again = crypto.randomUUID();
  assert.strictEqual(
    (await b.enqueue({ type: "t", payload: 3, queue: "reports", id: `reports:${again}` })).id,
    `reports:${again}`,
  );
  const tenants = await b.enqueue({ type: "t", payload: 4, queue: "acme/reports" });
  assert.match(tenants.id, /^acme\/reports:[0-9a-f-]{36}$/);
  assert.strictEqual((await b.get(tenants.id))?.queue, "acme/reports");
  await assert.rejects(
    b.enqueue({ type: "t", payload: 3, queue: "mail", id: `reports:${crypto.randomUUID()}` }),
    (e: unknown) => e instanceof InvalidInputError && e.field === "id",
  );
  // One tenant prefix is allowed ("acme/reports", src/tenants/names.ts); more, or an odd one, not.
  for (const bad of ["", "a b", "x{y}", "q".repeat(65), "a/b/c", "/q", ".x/q", "a:b"]) {
    await assert.rejects(
      b.enqueue({ type: "t", payload: 1, queue: bad }),
      (e: unknown) => e instanceof InvalidInputError && e.field === "queue",
      bad,
    );
  }
});

redisTest("lists, counts and purges per queue; stats break down by queue", async (h) => {
  const b = await h.makeRedis({ serve: { queues: "all", order: "weighted" } });
  await enqueueMany(b, "a", 3);
  await enqueueMany(b, "b", 2);
  const listed = await b.list({ state: "pending", queue: "a" });
  assert.strictEqual(listed.jobs.length, 3);
  assert.ok(listed.jobs.every((j) => j.queue === "a" && queueOf(j.id) === "a"));
  assert.deepStrictEqual((await b.list({ state: "pending", queue: "nosuch" })).jobs, []);
  const all = await b.stats();
  assert.strictEqual(all.pending, 5);
  assert.strictEqual(all.by_queue.a.pending, 3);
  assert.strictEqual(all.by_queue.b.pending, 2);
  assert.strictEqual(all.by_queue[h.queue].total, 0);
  assert.strictEqual((await b.stats("b")).pending, 2);
  assert.deepStrictEqual(Object.keys((await b.stats("b")).by_queue), ["b"]);
  await assert.rejects(b.stats("nosuch"), QueueNotFoundError);
  // Fail everything: two dead in a, two in b; purge only b's.
  for (;;) {
    const jobs = await b.claim(10);
    if (jobs.length === 0) break;
    for (const j of jobs) {
      await b.fail(j.id, j.token, { message: "x", retryable: false, retry_delay_ms: 0 });
    }
  }
  assert.strictEqual((await b.stats()).failed, 5);
  assert.strictEqual(await b.purge("failed", "b"), 2);
  assert.strictEqual((await b.list({ state: "failed", queue: "a" })).jobs.length, 3);
  assert.strictEqual(await b.purge("failed"), 3);
  await assert.rejects(b.purge("failed", "nosuch"), QueueNotFoundError);
  const names = (await b.queues()).map((q) => q.name);
  assert.deepStrictEqual(names, ["a", "b", h.queue].sort());
});

redisTest("a paused queue accepts jobs, is never claimed from, and resumes", async (h) => {
  const b = await h.makeRedis({
    serve: { queues: [{ name: "a", weight: 1 }, { name: "b", weight: 1 }], order: "strict" },
  });
  await enqueueMany(b, "a", 5);
  await enqueueMany(b, "b", 5);
  const info = await b.setPaused("a", true);
  assert.strictEqual(info.paused, true);
  assert.strictEqual(info.pending, 5);
  await enqueueMany(b, "a", 2); // still accepted
  const got = await b.claim(100);
  assert.strictEqual(got.length, 5);
  assert.ok(got.every((j) => queueOf(j.id) === "b"));
  await ackAll(b, got);
  assert.deepStrictEqual(await b.claim(100), []);
  assert.strictEqual((await b.queueInfo("a"))?.pending, 7);
  assert.strictEqual((await b.setPaused("a", false)).paused, false);
  const resumed = await b.claim(100);
  assert.strictEqual(resumed.length, 7);
  assert.ok(resumed.every((j) => queueOf(j.id) === "a"));
  await assert.rejects(b.setPaused("nosuch", true), QueueNotFoundError);
  assert.strictEqual(await b.queueInfo("nosuch"), null);
});

redisTest("pause holds for a claim already blocked waiting; resume wakes it at once", async (h) => {
  const worker = await h.makeRedis({
    serve: { queues: [{ name: "a", weight: 1 }, { name: "b", weight: 1 }], order: "weighted" },
  });
  const api = await h.makeRedis();
  await api.enqueue({ type: "t", payload: 0, queue: "a" });
  await api.setPaused("a", true);
  // The waiting claim is blocked in Redis when these arrive.
  const waiting = worker.claim(10, { waitMs: 4000 });
  await new Promise((r) => setTimeout(r, 200));
  await api.enqueue({ type: "t", payload: 1, queue: "a" });
  await new Promise((r) => setTimeout(r, 300));
  const started = performance.now();
  await api.setPaused("a", false);
  const jobs = await waiting;
  const ms = performance.now() - started;
  assert.strictEqual(jobs.length, 2, "both of a's jobs, once resumed");
  assert.ok(ms < 1000, `resume woke the waiting claim after ${ms} ms`);
  // Woken by b's work while a is paused: only b's job.
  await api.setPaused("a", true);
  await api.enqueue({ type: "t", payload: 2, queue: "a" });
  const next = worker.claim(10, { waitMs: 4000 });
  await new Promise((r) => setTimeout(r, 100));
  await api.enqueue({ type: "t", payload: 3, queue: "b" });
  const only = await next;
  assert.deepStrictEqual(only.map((j) => queueOf(j.id)), ["b"]);
});

redisTest(
  "weights 3:1 over two saturated queues: the heavy one gets 65-85 % of the first 200 starts",
  async (h) => {
    const b = await h.makeRedis({
      serve: {
        queues: [{ name: "heavy", weight: 3 }, { name: "light", weight: 1 }],
        order: "weighted",
      },
    });
    await enqueueMany(b, "heavy", 300);
    await enqueueMany(b, "light", 300);
    let heavy = 0;
    for (let i = 0; i < 200; i++) {
      const [job] = await b.claim(1);
      if (queueOf(job.id) === "heavy") heavy++;
      await ackAll(b, [job]);
    }
    const share = heavy / 200;
    console.log(`heavy share ${share}`);
    assert.ok(share >= 0.65 && share <= 0.85, `heavy share ${share}`);
  },
);

redisTest(
  "strict order: no job of the lower queue starts while the higher has pending jobs",
  async (h) => {
    const b = await h.makeRedis({
      serve: { queues: [{ name: "high", weight: 1 }, { name: "low", weight: 1 }], order: "strict" },
    });
    await enqueueMany(b, "high", 30);
    await enqueueMany(b, "low", 30);
    const order: string[] = [];
    for (;;) {
      const jobs = await b.claim(4);
      if (jobs.length === 0) break;
      for (const j of jobs) order.push(queueOf(j.id));
      await ackAll(b, jobs);
    }
    assert.strictEqual(order.length, 60);
    assert.deepStrictEqual(order.slice(0, 30), Array(30).fill("high"));
    assert.deepStrictEqual(order.slice(30), Array(30).fill("low"));
  },
);

redisTest("a broker serving only a never claims from b", async (h) => {
  const b = await h.makeRedis({ serve: { queues: [{ name: "a", weight: 1 }], order: "strict" } });
  await enqueueMany(b, "b", 10);
  assert.deepStrictEqual(await b.claim(10), []);
  assert.deepStrictEqual(await b.claim(10, { waitMs: 300 }), []);
  await b.maintain();
  assert.strictEqual((await b.stats("b")).pending, 10);
});

redisTest(
  "serving every queue: one created after the wait began is claimed within seconds",
  async (h) => {
    const worker = await h.makeRedis({ serve: { queues: "all", order: "weighted" } });
    const api = await h.makeRedis();
    assert.deepStrictEqual(await worker.claim(1), []);
    const started = performance.now();
    const waiting = worker.claim(5, { waitMs: 15_000 });
    await new Promise((r) => setTimeout(r, 300));
    const { id } = await api.enqueue({ type: "t", payload: 1, queue: "newcomer" });
    // The runner beats every second, which is when the worker reads the queue list.
    const beats = setInterval(() => worker.heartbeat().catch(() => {}), 1000);
    try {
      let jobs = await waiting;
      // A wait ended for the new queue comes back empty: the caller claims again, as the runner does.
      if (jobs.length === 0) jobs = await worker.claim(5, { waitMs: 10_000 });
      assert.deepStrictEqual(jobs.map((j) => j.id), [id]);
      const ms = performance.now() - started;
      assert.ok(ms < 8000, `picked up after ${ms} ms`);
    } finally {
      clearInterval(beats);
    }
  },
);

redisTest("latency_ms is the age of the oldest pending job", async (h) => {
  let now = 1_000_000;
  const b = await h.makeRedis({ clock: () => now });
  await b.enqueue({ type: "t", payload: 1, queue: "slow" });
  now += 1500;
  await b.enqueue({ type: "t", payload: 2, queue: "slow", priority: 9 });
  now += 500;
  const info = await b.queueInfo("slow");
  assert.strictEqual(info?.latency_ms, 2000);
  assert.strictEqual(info?.pending, 2);
  assert.strictEqual((await b.queueInfo(h.queue))?.latency_ms, 0);
});

redisTest("concurrent first submits to a new queue register it with one check", async (h) => {
  const b = await h.makeRedis();
  await b.homeQueue();
  const calls = async () => {
    const info = await h.redis.info("commandstats");
    return Number(/^cmdstat_hexists:calls=(\d+)/m.exec(info)?.[1] ?? 0);
  };
  const before = await calls();
  const ids = await Promise.all(
    Array.from({ length: 50 }, (_, i) => b.enqueue({ type: "t", payload: i, queue: "fresh" })),
  );
  assert.strictEqual(new Set(ids.map((r) => r.id)).size, 50);
  assert.strictEqual(await calls() - before, 1);
});
