/**
 * Flow control inside claim.lua, on one broker with a settable clock: a
 * limited job is simply not claimed (parked, still pending, no attempt
 * charged), rates hold over any window, concurrency counts running jobs and
 * comes back when they end, limits persist and an unlimited queue's keys
 * stay as they were.
 */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";
import { ClusterMetrics } from "../../src/metrics/cluster_metrics.ts";

function fakeClock(start = 1_800_000_000_000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

async function enqueueMixed(b: RedisBroker, a: number, other: number): Promise<void> {
  const jobs = [];
  for (let i = 0; i < Math.max(a, other); i++) {
    if (i < a) jobs.push({ type: "a", payload: i });
    if (i < other) jobs.push({ type: "b", payload: i });
  }
  await b.enqueueBatch(jobs);
}

redisTest(
  "a type's concurrency: its jobs wait, others pass, a slot comes back at the end",
  async (h) => {
    const b = await h.makeRedis();
    await b.setLimit("type", "a", { rate: null, concurrency: 2 });
    await enqueueMixed(b, 10, 5);
    const first = await b.claim(20);
    assert.deepStrictEqual(first.map((j) => j.type).sort(), ["a", "a", "b", "b", "b", "b", "b"]);
    assert.deepStrictEqual(await b.claim(20), [], "no slot: nothing claimed");
    // What the limit holds back: 8 parked jobs, and the claims that found them (why: concurrency).
    const [entry] = await b.limits();
    assert.strictEqual(entry.held.jobs, 8);
    assert.ok(
      entry.held.claims.concurrency >= 1 && entry.held.claims.rate === 0,
      JSON.stringify(entry),
    );
    // The held jobs are pending, never started: no attempt charged.
    const stats = await b.stats();
    assert.deepStrictEqual([stats.pending, stats.running], [8, 7]);
    const page = await b.list({ state: "pending", limit: 100 });
    assert.strictEqual(page.jobs.length, 8, "parked jobs are listed as pending");
    for (const job of page.jobs) assert.strictEqual(job.attempts, 0);
    // Page by page too, parked ones included.
    const seen = new Set<string>();
    let cursor: string | null = null;
    do {
      const p: { jobs: Array<{ id: string }>; next_cursor: string | null } = await b.list({
        state: "pending",
        limit: 3,
        cursor,
      });
      for (const job of p.jobs) seen.add(job.id);
      cursor = p.next_cursor;
    } while (cursor);
    assert.strictEqual(seen.size, 8);
    const done = first.find((j) => j.type === "a")!;
    await b.complete(done.id, done.token, null);
    const next = await b.claim(20);
    assert.deepStrictEqual(next.map((j) => j.type), ["a"]);
    // In order: the held jobs keep their FIFO order.
    assert.deepStrictEqual(next[0].payload, 2);
    // A failed (retried) and a released job free their slots too.
    const other = first.filter((j) => j.type === "a").find((j) => j.id !== done.id)!;
    await b.fail(other.id, other.token, { message: "x", retryable: false, retry_delay_ms: 0 });
    await b.release([{ id: next[0].id, token: next[0].token }]);
    const again = await b.claim(20);
    assert.deepStrictEqual(again.map((j) => j.type), ["a", "a"]);
  },
);

redisTest(
  "a rate: at most max starts in any window, the claim says when the next may start",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now });
    await b.setLimit("queue", h.queue, { rate: { max: 3, per_ms: 1000 }, concurrency: null });
    await b.enqueueBatch(Array.from({ length: 20 }, (_, i) => ({ type: "t", payload: i })));
    const starts: number[] = [];
    for (let step = 0; step < 40; step++) {
      for (const _ of await b.claim(10)) starts.push(clock.now());
      clock.advance(100);
    }
    // 4 s of claims every 100 ms: 3 at 0, 1000, 2000, 3000.
    assert.strictEqual(starts.length, 12);
    for (const t of starts) {
      assert.ok(starts.filter((s) => s >= t && s < t + 1000).length <= 3, `window at ${t}`);
    }
    const limits = await b.limits();
    assert.deepStrictEqual(limits.map((l) => [l.scope, l.name, l.source]), [[
      "queue",
      h.queue,
      "api",
    ]]);
  },
);

redisTest("a rate across batches: one window, however the starts were claimed", async (h) => {
  const clock = fakeClock();
  const b = await h.makeRedis({ clock: clock.now });
  await b.setLimit("type", "a", { rate: { max: 5, per_ms: 1000 }, concurrency: null });
  await enqueueMixed(b, 20, 3);
  // Queued a, b, a, b, a, b, a, a, ...
  assert.deepStrictEqual((await b.claim(2)).map((j) => j.type), ["a", "b"]);
  clock.advance(400);
  const second = await b.claim(20);
  assert.deepStrictEqual(second.map((j) => j.type).sort(), ["a", "a", "a", "a", "b", "b"]);
  clock.advance(500); // 900 ms after the first start: still in its window
  assert.deepStrictEqual(await b.claim(20), []);
  clock.advance(100); // the first start left the window, the next four not yet
  assert.deepStrictEqual((await b.claim(20)).map((j) => j.type), ["a"]);
  clock.advance(400);
  assert.strictEqual((await b.claim(20)).length, 4);
});

redisTest(
  "removing a limit lets the parked jobs run and the queue takes the plain path again",
  async (h) => {
    const b = await h.makeRedis();
    await b.setLimit("type", "a", { rate: null, concurrency: 1 });
    await enqueueMixed(b, 5, 0);
    assert.strictEqual((await b.claim(10)).length, 1);
    assert.strictEqual((await b.claim(10)).length, 0);
    assert.strictEqual(await b.removeLimit("type", "a"), true);
    assert.strictEqual(await b.removeLimit("type", "a"), false);
    assert.strictEqual((await b.claim(10)).length, 4);
    assert.deepStrictEqual(await b.claim(10), []);
    assert.strictEqual(await h.redis.hget(b.keys.meta, "limited"), null);
    assert.strictEqual(await h.redis.exists(b.keys.heldTypes), 0);
  },
);

redisTest(
  "limits persist in Redis, declared ones yield to runtime ones, new queues get type limits",
  async (h) => {
    const b = await h.makeRedis();
    await b.declareLimits([{ type: "a", limit: { rate: null, concurrency: 1 } }]);
    await b.setLimit("type", "a", { rate: null, concurrency: 3 });
    const fresh = await h.makeRedis({ queue: `${h.queue}-other` });
    const listed = await fresh.limits();
    assert.deepStrictEqual(listed, [{
      scope: "type",
      name: "a",
      limit: { rate: null, concurrency: 3 },
      source: "api",
      declared: { rate: null, concurrency: 1 },
      held: { jobs: 0, claims: { rate: 0, concurrency: 0, paused: 0, circuit: 0 }, circuit: null },
    }]);
    // A queue first used after the limit was set is limited too.
    await fresh.enqueueBatch(Array.from({ length: 5 }, () => ({ type: "a", payload: 0 })));
    assert.strictEqual((await fresh.claim(10)).length, 3);
    await b.removeLimit("type", "a");
    assert.deepStrictEqual((await b.limits()).map((l) => [l.source, l.limit.concurrency]), [[
      "code",
      1,
    ]]);
  },
);

redisTest("no limit configured: the claim path writes no limits key and no flag", async (h) => {
  const b = await h.makeRedis();
  await b.enqueueBatch(Array.from({ length: 5 }, () => ({ type: "a", payload: 0 })));
  assert.strictEqual((await b.claim(10)).length, 5);
  const keys = await h.keys();
  assert.deepStrictEqual(keys.filter((k) => /:(l:|held|limits)/.test(k)), []);
  assert.strictEqual(await h.redis.hget(b.keys.meta, "limited"), null);
});

redisTest(
  "a waiting claim held back by a rate sleeps until the next start is allowed",
  async (h) => {
    const b = await h.makeRedis();
    await b.setLimit("type", "a", { rate: { max: 2, per_ms: 400 }, concurrency: null });
    await enqueueMixed(b, 6, 0);
    const t0 = Date.now();
    assert.strictEqual((await b.claim(10)).length, 2);
    assert.deepStrictEqual(await b.claim(10), []);
    const next = await b.claim(10, { waitMs: 5_000 });
    const waited = Date.now() - t0;
    assert.strictEqual(next.length, 2);
    assert.ok(waited >= 390 && waited < 1_500, `woken after ${waited} ms`);
  },
);

redisTest("a waiting claim held back by concurrency is woken when a slot frees", async (h) => {
  const b = await h.makeRedis();
  const other = await h.makeRedis();
  await b.setLimit("type", "a", { rate: null, concurrency: 1 });
  await enqueueMixed(b, 3, 0);
  const [held] = await b.claim(10);
  const waiting = other.claim(10, { waitMs: 10_000 });
  await new Promise((r) => setTimeout(r, 200));
  const t0 = Date.now();
  await b.complete(held.id, held.token, null);
  const got = await waiting;
  assert.strictEqual(got.length, 1);
  assert.ok(Date.now() - t0 < 1_000, "woken by the freed slot, not by the wait's end");
});

redisTest(
  "a rate-limited handler: back to scheduled, no attempt charged, its type paused that long",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now });
    await enqueueMixed(b, 3, 1);
    const [first] = await b.claim(1);
    assert.strictEqual(first.type, "a");
    assert.strictEqual(
      await b.defer(first.id, first.token, 2_000, { scope: "type", type: "a" }),
      true,
    );
    assert.strictEqual(await b.defer(first.id, first.token, 2_000), false, "the lease is gone");
    const job = await b.get(first.id);
    assert.deepStrictEqual([job?.status, job?.attempts], ["scheduled", 0]);
    // The type waits on every claimer; other types do not.
    assert.deepStrictEqual((await b.claim(10)).map((j) => j.type), ["b"]);
    clock.advance(1_500);
    assert.deepStrictEqual(await b.claim(10), []);
    clock.advance(600);
    await b.maintain();
    assert.deepStrictEqual((await b.claim(10)).map((j) => j.type), ["a", "a", "a"]);
    // The pause ran out and no limit is set: the queue is back on the plain path.
    assert.deepStrictEqual(await b.claim(10), []);
    assert.strictEqual(await h.redis.hget(b.keys.meta, "limited"), null);
  },
);

redisTest(
  "per-group concurrency: each group has its own cap and the groups take turns",
  async (h) => {
    const b = await h.makeRedis();
    await b.setLimit("type", "a", { rate: null, concurrency: 2, per_group: true });
    // Group A's 500 jobs are all ahead of B's 10 in the queue.
    await b.enqueueBatch(
      Array.from({ length: 500 }, (_, i) => ({ type: "a", payload: i, group: "A" })),
    );
    await b.enqueueBatch(
      Array.from({ length: 10 }, (_, i) => ({ type: "a", payload: i, group: "B" })),
    );
    const done = { A: 0, B: 0 };
    let aDoneWhenBFinished = -1;
    for (let round = 0; round < 400 && aDoneWhenBFinished < 0; round++) {
      const jobs = await b.claim(10);
      const running = await b.stats();
      assert.ok(running.running <= 4, `${running.running} running: two per group at most`);
      for (const job of jobs) {
        const group = (await b.get(job.id))!.group as "A" | "B";
        await b.complete(job.id, job.token, null);
        done[group]++;
      }
      if (done.B === 10) aDoneWhenBFinished = done.A;
    }
    // Fair turns: B's ten ran two at a time beside A's two, not after A's 500.
    const [entry] = await b.limits();
    assert.ok(entry.held.jobs! > 400, `held: ${JSON.stringify(entry.held)}`);
    assert.ok(
      aDoneWhenBFinished >= 0 && aDoneWhenBFinished <= 20,
      `A had ${aDoneWhenBFinished} done`,
    );
  },
);

redisTest(
  "a group's slot is its own: a job of a full group waits while another group's starts",
  async (h) => {
    const b = await h.makeRedis();
    await b.setLimit("type", "a", { rate: null, concurrency: 1, per_group: true });
    await b.enqueueBatch([
      { type: "a", payload: 1, group: "x" },
      { type: "a", payload: 2, group: "x" },
      { type: "a", payload: 3, group: "y" },
      { type: "a", payload: 4 },
    ]);
    const first = await b.claim(10);
    assert.deepStrictEqual(first.map((j) => j.payload).sort(), [1, 3, 4]);
    assert.deepStrictEqual(await b.claim(10), []);
    const x = first.find((j) => j.payload === 1)!;
    await b.fail(x.id, x.token, { message: "no", retryable: false, retry_delay_ms: 0 });
    assert.deepStrictEqual((await b.claim(10)).map((j) => j.payload), [2]);
    assert.strictEqual((await b.get(x.id))?.group, "x");
  },
);

redisTest("a group over 256 bytes is refused", async (h) => {
  const b = await h.makeRedis();
  await assert.rejects(
    () => b.enqueue({ type: "a", payload: 0, group: "é".repeat(129) }),
    (e: Error & { field?: string }) => e.field === "group",
  );
  assert.strictEqual(
    (await b.enqueue({ type: "a", payload: 0, group: "é".repeat(128) })).created,
    true,
  );
});

redisTest(
  "a rate-limited handler pausing its group holds that group's jobs, not the others'",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now });
    await b.enqueueBatch([
      { type: "a", payload: 1, group: "x" },
      { type: "a", payload: 2, group: "x" },
      { type: "a", payload: 3, group: "y" },
    ]);
    const [first] = await b.claim(1);
    assert.strictEqual(first.group, "x");
    await b.defer(first.id, first.token, 1_000, { scope: "group", type: "a", group: "x" });
    assert.deepStrictEqual((await b.claim(10)).map((j) => j.payload), [3]);
    clock.advance(1_100);
    await b.maintain();
    assert.deepStrictEqual((await b.claim(10)).map((j) => j.payload).sort(), [1, 2]);
  },
);

redisTest(
  "a circuit breaker opens at the failure rate, holds the type, probes after the cooldown, closes",
  async (h) => {
    const clock = fakeClock();
    const b = await h.makeRedis({ clock: clock.now });
    const circuit = {
      failure_rate: 0.5,
      window_ms: 10_000,
      min_calls: 3,
      cooldown_ms: 1_000,
      probes: 1,
    };
    await b.setLimit("type", "a", { rate: null, concurrency: null, circuit });
    await enqueueMixed(b, 8, 2);
    const settle = () => new Promise((r) => setTimeout(r, 50)); // outcomes are sent after the acks
    const fails = (await b.claim(6)).filter((j) => j.type === "a").slice(0, 3);
    for (const j of fails) {
      await b.fail(j.id, j.token, { message: "down", retryable: false, retry_delay_ms: 0 });
    }
    await settle();
    const state = async () => (await b.limits())[0].held.circuit;
    assert.deepStrictEqual(await state(), { state: "open", transitions: 1 });
    // Open: the type's jobs wait (no attempt charged), other types pass.
    const during = await b.claim(10);
    assert.ok(during.every((j) => j.type === "b"), JSON.stringify(during.map((j) => j.type)));
    for (const j of during) await b.complete(j.id, j.token, null);
    const waiting = (await b.list({ state: "pending", limit: 100 })).jobs;
    assert.strictEqual(waiting.length, 4, "the type's parked jobs are listed");
    assert.ok(waiting.every((j) => j.attempts === 0));
    // The cooldown ends: one probe, and nothing more until it reports.
    clock.advance(1_001);
    const claimed = await b.claim(10);
    const probe = claimed.filter((j) => j.type === "a");
    assert.strictEqual(probe.length, 1, JSON.stringify(claimed.map((j) => j.type)));
    assert.deepStrictEqual(await b.claim(10), []);
    assert.deepStrictEqual((await state())?.state, "half_open");
    await b.complete(probe[0].id, probe[0].token, null);
    await settle();
    assert.deepStrictEqual(await state(), { state: "closed", transitions: 3 });
    assert.strictEqual((await b.claim(20)).length, 3, "closed: the three left start");
  },
);

redisTest("the cluster metrics show held-back work and circuit breakers", async (h) => {
  const b = await h.makeRedis();
  await b.setLimit("type", "a", {
    rate: null,
    concurrency: 1,
    circuit: { failure_rate: 1, window_ms: 60_000, min_calls: 1, cooldown_ms: 60_000, probes: 1 },
  });
  await enqueueMixed(b, 3, 0);
  const [job] = await b.claim(10);
  assert.deepStrictEqual(await b.claim(10), []);
  await b.fail(job.id, job.token, { message: "down", retryable: false, retry_delay_ms: 0 });
  await new Promise((r) => setTimeout(r, 50));
  const metrics = new ClusterMetrics(b, { http: false });
  assert.strictEqual(await metrics.refresh(), true);
  const text = await metrics.registry.metrics();
  assert.match(text, /jobqueue_limit_held_jobs\{scope="type",name="a"\} 2/);
  assert.match(
    text,
    /jobqueue_limit_held_back_claims_total\{scope="type",name="a",reason="concurrency"\} [1-9]/,
  );
  assert.match(text, /jobqueue_circuit_state\{scope="type",name="a"\} 2/);
  assert.match(text, /jobqueue_circuit_transitions_total\{scope="type",name="a"\} 1/);
});

redisTest("limits survive a Redis restart (AOF) and still hold the claim", async (h) => {
  const b = await h.makeRedis();
  await b.setLimit("type", "a", { rate: null, concurrency: 1 });
  await enqueueMixed(b, 3, 0);
  assert.strictEqual((await b.claim(10)).length, 1);
  await b.close();
  await h.server.stop("SIGKILL");
  await h.server.restart();
  const after = await h.makeRedis();
  assert.deepStrictEqual((await after.limits()).map((l) => [l.name, l.limit.concurrency]), [[
    "a",
    1,
  ]]);
  assert.deepStrictEqual(await after.claim(10), [], "the one slot is still taken");
}, { aof: true });
