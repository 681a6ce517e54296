/** RedisBroker details the shared suite can't see: gauges vs ZCARD/LLEN, key layout, compactness. */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import { fakeClock } from "./broker_suite.ts";
import { RedisBroker, STORAGE_FORMAT } from "../../src/queue/redis_broker.ts";
import {
  OutcomeUnknownError,
  QueueUnavailableError,
  StorageFormatError,
} from "../../src/queue/errors.ts";
import { pendingKey } from "../../src/queue/keys.ts";
import { SCAN_BUDGET } from "../../src/queue/group_listing.ts";
import { F, unpackRecord } from "../../src/queue/record.ts";
import { freePort } from "../helpers/redis_server.ts";
import type { LifecycleEvent } from "../../src/events/lifecycle.ts";
import { Acker } from "../../src/worker/acks.ts";
import { createLogger } from "../../src/log.ts";

redisTest("stats gauges equal ZCARDs and the job hash stays compact", async (h) => {
  const clock = fakeClock();
  const b = await h.makeRedis({ clock: clock.now });
  await b.enqueueBatch(Array.from({ length: 40 }, (_, i) => ({
    type: `t${i % 3}`,
    payload: { i },
    delay_ms: i % 4 === 0 ? 500 : 0,
  })));
  const jobs = await b.claim(12, { leaseMs: 100 });
  await b.completeMany(jobs.slice(0, 4).map((j) => ({ ...j, result: j.id })));
  await b.fail(jobs[4].id, jobs[4].token, {
    message: "m",
    retryable: true,
    retry_delay_ms: 10,
  });
  await b.fail(jobs[5].id, jobs[5].token, {
    message: "m",
    retryable: false,
    retry_delay_ms: 0,
  });
  await b.cancel(jobs[6].id);
  clock.advance(200);
  await b.maintain();
  const stats = await b.stats();
  for (const state of ["scheduled", "running", "completed", "failed", "cancelled"] as const) {
    assert.strictEqual(stats[state], await h.redis.zcard(b.keys[state]), `${state} gauge`);
  }
  // Pending: the per-priority lists, and exactly the non-empty ones in the priorities ZSET.
  const prios = await h.redis.zrange(b.keys.priorities, 0, -1);
  let pending = 0;
  for (const p of prios) {
    const len = await h.redis.llen(pendingKey(b.keys, p));
    assert.ok(len > 0, `priority ${p} listed only while non-empty`);
    pending += len;
  }
  assert.strictEqual(stats.pending, pending, "pending gauge");
  assert.strictEqual(stats.total, 40);
  // One compact STRING per job: the spec's email payload fits in well under 256 bytes.
  const payload = {
    to: "user@example.com",
    subject: "Welcome!",
    body: "Thanks for signing up",
    from: "noreply@example.com",
  };
  const [fresh] = await b.enqueueBatch([{ type: "email", payload }]);
  const key = `${b.keys.jobPrefix}${fresh.id}`;
  assert.strictEqual(key, `jq:{${h.queue}}:j:${fresh.id}`);
  assert.strictEqual(await h.redis.type(key), "string");
  const raw = await h.redis.getBuffer(key);
  assert.ok(raw && raw.length < JSON.stringify(payload).length + 40, `record ${raw?.length} B`);
  const usage = Number(await h.redis.call("MEMORY", "USAGE", key));
  assert.ok(usage <= 320, `MEMORY USAGE ${usage}`);
  // The payload's JSON text is stored as is (numbers keep full precision).
  const precise = '{"big":12345678901234567890,"f":0.1000000000000000055511151231257827}';
  const [exact] = await b.enqueueBatch([{ type: "x", payload: JSON.parse(precise) }]);
  const record = unpackRecord(await h.redis.getBuffer(`${b.keys.jobPrefix}${exact.id}`));
  assert.strictEqual(record?.[F.payload], JSON.stringify(JSON.parse(precise)));
  // Lua rewrites keep it: claim, progress and complete leave the payload text alone.
  const [mine] = (await b.claim(100)).filter((j) => j.id === exact.id);
  assert.ok(mine);
  await b.progress(mine.id, mine.token, 12.5);
  await b.complete(mine.id, mine.token, { n: 1 });
  const after = unpackRecord(await h.redis.getBuffer(`${b.keys.jobPrefix}${exact.id}`));
  assert.strictEqual(after?.[F.payload], record?.[F.payload]);
  assert.strictEqual(after?.[F.result], '{"n":1}');
  assert.ok(Array.isArray(after), "the record stays an array");
});

redisTest(
  "the events stream holds about eventsMaxLen events whatever the batch sizes",
  async (h) => {
    const b = await h.makeRedis({ eventsMaxLen: 20 });
    const countEvents = async () => (await b.readEvents("0", 0, 100_000)).length;
    for (let i = 0; i < 10; i++) {
      await b.enqueueBatch(Array.from({ length: 7 }, (_, j) => ({ type: "s", payload: j })));
    }
    // Batches of 7: trimmed to floor(20 / 7) = 2 entries = 14 events.
    assert.strictEqual(await countEvents(), 14);
    for (let i = 0; i < 30; i++) await b.enqueue({ type: "s", payload: i });
    // Single events trim with "~" (whole 100-entry nodes), so up to one node over.
    const n = await countEvents();
    assert.ok(n >= 20 && n <= 20 + 100 + 14, `stream holds ${n} events`);
    const big = await b.enqueueBatch(
      Array.from({ length: 50 }, (_, j) => ({ type: "s", payload: j })),
    );
    // One batch bigger than the cap: the stream keeps just that entry.
    const events = await b.readEvents("0", 0, 100_000);
    assert.deepStrictEqual(events.map((e) => e.event.job_id), big.map((r) => r.id));
  },
);

redisTest("an idempotency key lives as long as its job, then its job's retention", async (h) => {
  const b = await h.makeRedis({ retentionMs: 1000 });
  const idem = (key: string) => `${b.keys.idempotencyPrefix}${key}`;
  // Delayed past retention: the key must still answer when the job finally runs.
  const late = await b.enqueue({
    type: "i",
    payload: 1,
    delay_ms: 60_000,
    idempotency_key: "late",
  });
  assert.strictEqual(await h.redis.pttl(idem("late")), -1, "no expiry while unfinished");
  const now = await b.enqueue({ type: "i", payload: 2, idempotency_key: "now" });
  const [job] = await b.claim(1);
  assert.strictEqual(job.id, now.id);
  await b.complete(job.id, job.token, null);
  const ttl = await h.redis.pttl(idem("now"));
  assert.ok(ttl > 0, `finished: the key expires with its job (pttl ${ttl})`);
  await new Promise((r) => setTimeout(r, 1200)); // past RETENTION_MS
  const again = await b.enqueue({
    type: "i",
    payload: 3,
    delay_ms: 60_000,
    idempotency_key: "late",
  });
  assert.deepStrictEqual(again, { id: late.id, created: false });
});

redisTest("a queue written in another storage format is refused, never misread", async (h) => {
  const fresh = await h.makeRedis();
  await fresh.enqueue({ type: "f", payload: 1 });
  assert.strictEqual(await h.redis.hget(fresh.keys.meta, "format"), STORAGE_FORMAT);
  // Another release's data: every call refuses it, nothing is written.
  await h.redis.hset(fresh.keys.meta, "format", "999");
  const b = await h.makeRedis();
  const before = await h.keys();
  await assert.rejects(b.enqueue({ type: "f", payload: 2 }), StorageFormatError);
  await assert.rejects(b.claim(10), StorageFormatError);
  await assert.rejects(b.stats(), /holds storage format 999; this version reads format 1/);
  assert.deepStrictEqual(await h.keys(), before);
  assert.strictEqual(await b.ping(), true, "Redis itself is reachable");
});

redisTest("events can be disabled; scripts reload after SCRIPT FLUSH", async (h) => {
  const b = await h.makeRedis({ eventsMaxLen: 0 });
  await b.enqueue({ type: "e", payload: 1 });
  assert.strictEqual(await h.redis.exists(b.keys.events), 0);
  await h.redis.script("FLUSH");
  await b.enqueue({ type: "e", payload: 2 });
  await h.redis.script("FLUSH");
  await b.enqueueBatch([{ type: "e", payload: 3 }, { type: "e", payload: 4 }]);
  assert.strictEqual((await b.stats()).pending, 4);
  assert.strictEqual(await b.ping(), true);
});

redisTest(
  "onEvents gets the events of the broker's own calls, as the stream has them, after each call",
  async (h) => {
    const seen: LifecycleEvent[] = [];
    const b = await h.makeRedis({ onEvents: (events) => seen.push(...events) });
    const other = await h.makeRedis();
    await b.enqueueBatch([{ type: "e", payload: 1 }, { type: "e", payload: 2 }]);
    assert.strictEqual(seen.length, 0, "delivered after the call, not during it");
    const { id: foreign } = await other.enqueue({ type: "e", payload: 3 });
    const jobs = await b.claim(2, { waitMs: 1000 });
    await b.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: null })));
    const { id } = await b.enqueue({ type: "e", payload: 4 });
    await b.cancel(id);
    await new Promise((r) => setTimeout(r, 10));
    const stream = (await b.readEvents("0", 0)).map((e) => e.event)
      .filter((e) => e.job_id !== foreign);
    assert.deepStrictEqual(seen.map((e) => e.kind), [
      "enqueued",
      "enqueued",
      "started",
      "started",
      "completed",
      "completed",
      "enqueued",
      "cancelled",
    ]);
    assert.deepStrictEqual(seen, stream);
    // No stream entries: the broker's own observers still get the events.
    const quiet: LifecycleEvent[] = [];
    const q = await h.makeRedis({ eventsMaxLen: 0, onEvents: (events) => quiet.push(...events) });
    await q.enqueue({ type: "e", payload: 5 });
    await new Promise((r) => setTimeout(r, 10));
    assert.deepStrictEqual(quiet.map((e) => e.kind), ["enqueued"]);
  },
);

redisTest(
  "a waiting claim takes nothing for an owner whose heartbeat is stale, and passes the wake on",
  async (h) => {
    const frozen = await h.makeRedis();
    const live = await h.makeRedis();
    const producer = await h.makeRedis();
    await frozen.maintain();
    await live.maintain();
    // frozen waits first, so Redis hands the first wake marker to it.
    const frozenWait = frozen.claim(5, { waitMs: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    const liveWait = live.claim(5, { waitMs: 3000 });
    await new Promise((r) => setTimeout(r, 100));
    // As if its process had stopped right after it began to wait: its last
    // heartbeat is older than a claim accepts (the process cannot beat again).
    await h.redis.zadd(frozen.keys.owners, Date.now() - 5000, frozen.owner);
    const { id } = await producer.enqueue({ type: "w", payload: 1 });
    const got = await liveWait;
    assert.deepStrictEqual(got.map((j) => j.id), [id], "the live owner got the job");
    // The refused waiter was alive after all: it beat again and kept waiting.
    assert.deepStrictEqual(await frozenWait, []);
    assert.ok(Number(await h.redis.zscore(frozen.keys.owners, frozen.owner)) > Date.now() - 4000);
  },
);

redisTest(
  "an ack whose reply was lost is retried: completed once, no lost lease, its event observed once",
  async (h) => {
    const seen: LifecycleEvent[] = [];
    const worker = await h.makeRedis({
      commandTimeoutMs: 300,
      onEvents: (events) => seen.push(...events),
    });
    const { id } = await worker.enqueue({ type: "w", payload: 1 });
    const [job] = await worker.claim(1);
    const warnings: string[] = [];
    const log = createLogger({
      level: "warn",
      format: "json",
      sink: (line) => warnings.push(JSON.parse(line).msg),
    });
    const acker = new Acker({ broker: worker, log, typeBackoff: () => undefined, done: () => {} });
    // Redis holds every command for 700 ms: the ack runs then, after the
    // client gave up on it at 300 ms; the retry (200 ms later) waits too.
    await h.redis.call("CLIENT", "PAUSE", "700", "ALL");
    acker.complete(job, '"done"');
    await acker.idle();
    assert.strictEqual((await worker.get(id))?.status, "completed");
    assert.deepStrictEqual(warnings.filter((m) => /lease lost/.test(m)), [], "no lease lost");
    const stats = await worker.stats();
    assert.deepStrictEqual([stats.completed, stats.running], [1, 0]);
    const stream = (await worker.readEvents("0", 0)).map((e) => e.event.kind);
    assert.deepStrictEqual(
      stream.filter((k) => k === "completed"),
      ["completed"],
      "in the stream once",
    );
    await new Promise((r) => setTimeout(r, 10));
    assert.deepStrictEqual(
      seen.filter((e) => e.kind === "completed").map((e) => e.job_id),
      [id],
      "observed once, from the retry's reply",
    );
  },
);

/** Waits (up to 5 s) until `b` answers again after a restart, then lets replays land. */
async function reconnected(b: RedisBroker): Promise<void> {
  let ok = false;
  for (let i = 0; i < 50 && !ok; i++) {
    ok = await b.ping();
    if (!ok) await new Promise((r) => setTimeout(r, 100));
  }
  assert.ok(ok, "reconnected");
  // Anything ioredis would replay after the reconnect has run by now.
  await new Promise((r) => setTimeout(r, 200));
}

redisTest(
  "a down Redis fails fast with QueueUnavailableError, refused calls never run later, and the broker recovers",
  async (h) => {
    const b = await h.makeRedis({ commandTimeoutMs: 1000 });
    await b.enqueue({ type: "u", payload: 1 });
    await h.server.stop("SIGKILL");
    const t0 = performance.now();
    await assert.rejects(b.enqueue({ type: "u", payload: 2 }), QueueUnavailableError);
    await assert.rejects(b.stats(), QueueUnavailableError);
    assert.strictEqual(await b.ping(), false);
    const elapsed = performance.now() - t0;
    assert.ok(elapsed < 10_000, `failing took ${elapsed} ms`);
    // A waiting claim fails fast too, instead of waiting out its wait.
    const t1 = performance.now();
    await assert.rejects(b.claim(1, { waitMs: 20_000 }), QueueUnavailableError);
    assert.ok(performance.now() - t1 < 10_000, "waiting claim failed fast");
    await h.server.restart();
    await reconnected(b);
    // The refused enqueue and stats calls were not replayed after the
    // reconnect (the restarted server starts empty): refused means not stored.
    assert.deepStrictEqual(await h.redis.keys(`${b.keys.jobPrefix}*`), []);
    assert.strictEqual((await b.stats()).total, 0);
    assert.strictEqual((await b.enqueue({ type: "u", payload: 3 })).created, true);
  },
);

redisTest(
  "an enqueue that timed out while Redis hung is not resent after the reconnect",
  async (h) => {
    const b = await h.makeRedis({ commandTimeoutMs: 500 });
    await b.enqueue({ type: "u", payload: 1 });
    const pid = h.server.pid!;
    // Hung: the command reaches the socket but gets no answer; the caller times out,
    // and is told the outcome is unknown (a Redis that is only slow would still run it).
    Deno.kill(pid, "SIGSTOP");
    await assert.rejects(b.enqueue({ type: "u", payload: 2 }), OutcomeUnknownError);
    await h.server.stop("SIGKILL"); // the hung server dies; the restarted one starts empty
    await h.server.restart();
    await reconnected(b);
    // The caller gave up on it: ioredis must not resend it after the reconnect.
    assert.deepStrictEqual(await h.redis.keys(`${b.keys.jobPrefix}*`), []);
  },
);

Deno.test({
  sanitizeOps: false,
  sanitizeResources: false,
  name: "connecting to nothing gives QueueUnavailableError quickly",
  fn: async () => {
    const b = new RedisBroker({ url: `redis://127.0.0.1:${freePort()}`, commandTimeoutMs: 500 });
    try {
      const t0 = performance.now();
      await assert.rejects(b.stats(), QueueUnavailableError);
      assert.ok(performance.now() - t0 < 5000);
    } finally {
      await b.close();
    }
  },
});

redisTest(
  "a group's list looks at SCAN_BUDGET records a page: truncated, then the cursor goes on",
  async (h) => {
    const b = await h.makeRedis();
    const filler = (delay: number) =>
      Array.from({ length: 1000 }, (_, i) => ({ type: "f", payload: i, delay_ms: delay }));
    for (let i = 0; i <= SCAN_BUDGET / 1000; i++) {
      await b.enqueueBatch([
        ...filler(0),
        ...filler(1e6),
      ]);
    }
    const pending = await b.enqueue({ type: "f", payload: "p", group: "g" });
    const scheduled = await b.enqueue({ type: "f", payload: "s", group: "g", delay_ms: 2e6 });
    for (const [state, id] of [["pending", pending.id], ["scheduled", scheduled.id]] as const) {
      const first = await b.list({ state, group: "g", limit: 10 });
      assert.deepStrictEqual([first.jobs.length, first.truncated], [0, true], state);
      assert.notStrictEqual(first.next_cursor, null);
      const second = await b.list({ state, group: "g", limit: 10, cursor: first.next_cursor });
      assert.deepStrictEqual(second.jobs.map((j) => j.id), [id], state);
      assert.deepStrictEqual([second.next_cursor, second.truncated], [null, false], state);
    }
  },
);

redisTest(
  "a type filter over a long pending list: a page that reads its budget ends truncated, and the cursor finds what lies beyond",
  async (h) => {
    const b = await h.makeRedis();
    // 3,000 jobs of another type ahead of the one asked for: more than one
    // page's reading budget (50 reads of 4 × limit ids) in the same list.
    for (let i = 0; i < 3; i++) {
      await b.enqueueBatch(Array.from({ length: 1000 }, (_, n) => ({ type: "f", payload: n })));
    }
    const wanted = await b.enqueue({ type: "t", payload: "x" });
    const first = await b.list({ state: "pending", type: "t", limit: 10 });
    assert.deepStrictEqual([first.jobs.length, first.truncated], [0, true]);
    let cursor = first.next_cursor;
    const found: string[] = [];
    for (let page = 0; cursor && page < 10; page++) {
      const next = await b.list({ state: "pending", type: "t", limit: 10, cursor });
      found.push(...next.jobs.map((j) => j.id));
      cursor = next.next_cursor;
    }
    assert.deepStrictEqual(found, [wanted.id]);
    assert.strictEqual(cursor, null);
  },
);
