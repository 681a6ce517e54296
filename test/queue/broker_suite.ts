/**
 * The shared behaviour suite every `Broker` implementation must pass (River's
 * driver-suite idea). `brokerSuite(name, setup)` registers Deno tests; `setup`
 * gives each test a fresh, empty queue and a way to snapshot storage so
 * "nothing was written" can be proved without knowing the implementation.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
  LeaseLostError,
  PayloadTooLargeError,
} from "../../src/queue/errors.ts";
import {
  backoffDelayMs,
  DEFAULT_BACKOFF,
  type EnqueueInput,
  type Job,
  JOB_STATES,
  type JobPage,
  type JobState,
  LIMITS,
  type Stats,
} from "../../src/queue/job.ts";
import { historyCases } from "./history_cases.ts";

/** Options for a broker made by the harness. */
export interface MakeOptions {
  /** Fake time source. */
  clock?: () => number;
  /** How long finished jobs are kept. */
  retentionMs?: number;
}

/** What the suite needs from an implementation, per test. */
export interface SuiteHarness {
  /** A broker on this test's queue; several calls give independent connections to the same queue. */
  make(options?: MakeOptions): Promise<Broker>;
  /** A fingerprint of everything stored (e.g. a keyspace dump); equal means nothing was written. */
  snapshot(): Promise<string>;
  /** Closes brokers and removes everything the test created. */
  cleanup(): Promise<void>;
}

/** A fake clock starting at a fixed instant. */
export function fakeClock(
  start = 1_800_000_000_000,
): { now: () => number; advance(ms: number): void } {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

/** Every job of one state, following cursors. */
export async function listAll(broker: Broker, state: JobState, type?: string): Promise<Job[]> {
  const jobs: Job[] = [];
  let cursor: string | null = null;
  do {
    const page = await broker.list({ state, type, limit: 100, cursor });
    jobs.push(...page.jobs);
    cursor = page.next_cursor;
  } while (cursor);
  return jobs;
}

/** Asserts total = sum of states and that every gauge matches what `list` shows. */
export async function assertStatsConsistent(broker: Broker): Promise<void> {
  const stats = await broker.stats();
  assert.strictEqual(
    stats.total,
    stats.pending + stats.scheduled + stats.running + stats.completed + stats.failed +
      stats.cancelled,
  );
  for (const state of ["pending", "scheduled", "running"] as const) {
    assert.strictEqual((await listAll(broker, state)).length, stats[state], `gauge ${state}`);
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`timed out: ${what}`)), ms);
    }),
  ]);
}

/**
 * Registers the behaviour suite for one implementation.
 *
 * @example
 * ```ts
 * brokerSuite("RedisBroker", async () => makeRedisHarness());
 * ```
 */
export function brokerSuite(name: string, setup: () => Promise<SuiteHarness>): void {
  const test = (title: string, fn: (h: SuiteHarness) => Promise<void>) =>
    Deno.test({
      name: `${name}: ${title}`,
      // Client libraries keep sockets/timers whose teardown completes after close() resolves.
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const h = await setup();
        try {
          await fn(h);
        } finally {
          await h.cleanup();
        }
      },
    });

  test("enqueue then get returns the job; unknown and malformed ids give null", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id, created } = await b.enqueue({
      type: "email",
      payload: { to: "a@b.c", n: [1, 2] },
      priority: 7,
      max_attempts: 5,
      timeout_ms: 1234,
    });
    assert.strictEqual(created, true);
    const job = await b.get(id);
    assert.ok(job);
    assert.strictEqual(job.id, id);
    assert.strictEqual(job.type, "email");
    assert.deepStrictEqual(job.payload, { to: "a@b.c", n: [1, 2] });
    assert.strictEqual(job.priority, 7);
    assert.strictEqual(job.max_attempts, 5);
    assert.strictEqual(job.timeout_ms, 1234);
    assert.strictEqual(job.attempts, 0);
    assert.strictEqual(job.status, "pending");
    assert.strictEqual(job.created_at, new Date(clock.now()).toISOString());
    assert.strictEqual(job.completed_at, null);
    assert.deepStrictEqual(job.error_history, []);
    assert.strictEqual(await b.get(crypto.randomUUID()), null);
    assert.strictEqual(await b.get("not-a-uuid"), null);
    assert.strictEqual(await b.get(""), null);
  });

  test("claims highest priority first, FIFO within a priority, across 1,000 jobs", async (h) => {
    const b = await h.make();
    const inputs: EnqueueInput[] = [];
    for (let i = 0; i < 1000; i++) {
      inputs.push({ type: "t", payload: { i }, priority: (i * 37) % 11 * 10 });
    }
    await b.enqueueBatch(inputs);
    const claimed: Array<{ i: number; p: number }> = [];
    for (;;) {
      const jobs = await b.claim(97);
      if (jobs.length === 0) break;
      for (const j of jobs) claimed.push({ i: (j.payload as { i: number }).i, p: j.priority });
    }
    const expected = inputs.map((input, i) => ({ i, p: input.priority ?? 0 }))
      .sort((a, b) => b.p - a.p || a.i - b.i);
    assert.deepStrictEqual(claimed, expected);
  });

  test("8 concurrent claimers over 10,000 jobs: each claimed and completed exactly once", async (h) => {
    const producer = await h.make();
    const total = 10_000;
    for (let start = 0; start < total; start += 1000) {
      const batch: EnqueueInput[] = [];
      for (let i = start; i < start + 1000; i++) batch.push({ type: "c", payload: i });
      await producer.enqueueBatch(batch);
    }
    const seen = new Map<number, number>();
    const workers = await Promise.all(Array.from({ length: 8 }, () => h.make()));
    await Promise.all(workers.map(async (w) => {
      for (;;) {
        const jobs = await w.claim(25);
        if (jobs.length === 0) break;
        for (const j of jobs) {
          seen.set(j.payload as number, (seen.get(j.payload as number) ?? 0) + 1);
        }
        const acks = await w.completeMany(
          jobs.map((j) => ({ id: j.id, token: j.token, result: j.payload })),
        );
        assert.ok(acks.every((a) => a === true));
      }
    }));
    assert.strictEqual(seen.size, total);
    assert.ok([...seen.values()].every((n) => n === 1));
    const stats = await producer.stats();
    assert.strictEqual(stats.completed, total);
    assert.strictEqual(stats.pending + stats.running + stats.scheduled, 0);
    assert.strictEqual(stats.total, total);
    assert.strictEqual(stats.by_type.c.completed, total);
  });

  test("expired lease is reaped and runs again; the stale holder is refused and changes nothing", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id } = await b.enqueue({ type: "lease", payload: null, max_attempts: 3 });
    const [first] = await b.claim(1, { leaseMs: 1000 });
    assert.strictEqual(first.attempt, 1);
    assert.strictEqual(first.lease_expires_at, clock.now() + 1000);
    clock.advance(500);
    assert.deepStrictEqual(await b.renew([first], 1000), ["ok"]);
    assert.deepStrictEqual(await b.maintain(), {
      promoted: 0,
      reaped: 0,
      recovered: [],
      next_due_at: clock.now() + 1000,
      running: true,
    });
    clock.advance(1001);
    const m = await b.maintain();
    assert.strictEqual(m.reaped, 1);
    assert.deepStrictEqual(m.recovered, [{ id, type: "lease", attempt: 1, outcome: "pending" }]);
    const reaped = await b.get(id);
    assert.strictEqual(reaped?.status, "pending");
    assert.strictEqual(reaped?.attempts, 1);
    assert.deepStrictEqual(reaped?.error_history.map((e) => e.message), ["lease expired"]);
    assert.strictEqual((await b.stats()).retried, 1);

    // Stale holder, job pending: everything refused, nothing changes.
    const before = await h.snapshot();
    await assert.rejects(b.complete(id, first.token, "late"), LeaseLostError);
    await assert.rejects(
      b.fail(id, first.token, { message: "x", retryable: true, retry_delay_ms: 0 }),
      LeaseLostError,
    );
    assert.deepStrictEqual(await b.renew([first], 1000), ["lost"]);
    assert.deepStrictEqual(await b.completeMany([{ ...first, result: 1 }]), [false]);
    assert.strictEqual(await b.progress(id, first.token, 50), false);
    assert.deepStrictEqual(await b.release([first]), [false]);
    assert.strictEqual(await h.snapshot(), before);

    // Reclaimed by someone else: the stale holder is still refused.
    const [second] = await b.claim(1, { leaseMs: 1000 });
    assert.strictEqual(second.id, id);
    assert.strictEqual(second.attempt, 2);
    assert.notStrictEqual(second.token, first.token);
    const during = await h.snapshot();
    await assert.rejects(b.complete(id, first.token, "late"), LeaseLostError);
    await assert.rejects(
      b.fail(id, first.token, { message: "x", retryable: false, retry_delay_ms: 0 }),
      LeaseLostError,
    );
    assert.deepStrictEqual(await b.renew([first, second], 1000), ["lost", "ok"]);
    assert.strictEqual(await b.progress(id, first.token, 10), false);
    assert.strictEqual(await b.progress(id, second.token, 10), true);
    assert.notStrictEqual(await h.snapshot(), during); // the real holder's writes do land
    await b.complete(id, second.token, { ok: true });
    const done = await b.get(id);
    assert.strictEqual(done?.status, "completed");
    assert.deepStrictEqual(done?.result, { ok: true });
    await assertStatsConsistent(b);
  });

  test("expired lease on the last attempt sends the job to failed", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id } = await b.enqueue({ type: "lease", payload: null, max_attempts: 1 });
    await b.claim(1, { leaseMs: 100 });
    clock.advance(101);
    const m = await b.maintain();
    assert.strictEqual(m.reaped, 1);
    assert.deepStrictEqual(m.recovered, [{ id, type: "lease", attempt: 1, outcome: "failed" }]);
    const job = await b.get(id);
    assert.strictEqual(job?.status, "failed");
    assert.strictEqual(job?.error, "lease expired");
    assert.strictEqual((await b.stats()).failed, 1);
  });

  test("maintain lists every reaped job with its outcome; a cancel-flagged one ends cancelled", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const again = await b.enqueue({ type: "a", payload: 1, max_attempts: 2, priority: 3 });
    const last = await b.enqueue({ type: "b", payload: 2, max_attempts: 1, priority: 2 });
    const flagged = await b.enqueue({ type: "c", payload: 3, max_attempts: 5, priority: 1 });
    const claimed = await b.claim(3, { leaseMs: 100 });
    assert.deepStrictEqual(claimed.map((j) => j.id), [again.id, last.id, flagged.id]);
    assert.strictEqual(await b.cancel(flagged.id), "cancel_requested");
    clock.advance(101);
    const m = await b.maintain();
    assert.strictEqual(m.reaped, 3);
    const byId = Object.fromEntries(m.recovered.map((r) => [r.id, r]));
    assert.deepStrictEqual(byId[again.id], {
      id: again.id,
      type: "a",
      attempt: 1,
      outcome: "pending",
    });
    assert.deepStrictEqual(byId[last.id], {
      id: last.id,
      type: "b",
      attempt: 1,
      outcome: "failed",
    });
    assert.deepStrictEqual(byId[flagged.id], {
      id: flagged.id,
      type: "c",
      attempt: 1,
      outcome: "cancelled",
    });
    assert.strictEqual((await b.get(flagged.id))?.status, "cancelled");
    assert.deepStrictEqual((await b.maintain()).recovered, []);
    const stats = await b.stats();
    assert.deepStrictEqual(
      [stats.pending, stats.running, stats.failed, stats.cancelled, stats.retried],
      [1, 0, 1, 1, 1],
    );
    await assertStatsConsistent(b);
  });

  test("retries follow the backoff schedule, then the job is dead with its history; requeue revives it", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id } = await b.enqueue({ type: "flaky", payload: {}, max_attempts: 3 });
    for (let attempt = 1; attempt <= 3; attempt++) {
      const [job] = await b.claim(1);
      assert.ok(job, `claim attempt ${attempt}`);
      assert.strictEqual(job.attempt, attempt);
      clock.advance(10);
      const delay = backoffDelayMs(DEFAULT_BACKOFF, attempt);
      const outcome = await b.fail(id, job.token, {
        message: `boom ${attempt}`,
        retryable: true,
        retry_delay_ms: delay,
      });
      if (attempt < 3) {
        assert.strictEqual(outcome, "scheduled");
        const scheduled = await b.get(id);
        assert.strictEqual(scheduled?.status, "scheduled");
        assert.strictEqual(scheduled?.scheduled_for, new Date(clock.now() + delay).toISOString());
        assert.deepStrictEqual(await b.claim(1), []);
        clock.advance(delay - 1);
        const early = await b.maintain();
        assert.strictEqual(early.promoted, 0);
        assert.strictEqual(early.next_due_at, clock.now() + 1);
        clock.advance(1);
        assert.strictEqual((await b.maintain()).promoted, 1);
      } else {
        assert.strictEqual(outcome, "failed");
      }
    }
    const dead = await b.get(id);
    assert.strictEqual(dead?.status, "failed");
    assert.strictEqual(dead?.attempts, 3);
    assert.strictEqual(dead?.error, "boom 3");
    assert.deepStrictEqual(dead?.error_history.map((e) => [e.attempt, e.message]), [
      [1, "boom 1"],
      [2, "boom 2"],
      [3, "boom 3"],
    ]);
    assert.ok(dead?.completed_at);
    let stats = await b.stats();
    assert.strictEqual(stats.failed, 1);
    assert.strictEqual(stats.retried, 2);
    assert.deepStrictEqual((await listAll(b, "failed")).map((j) => j.id), [id]);

    await b.requeue(id);
    const revived = await b.get(id);
    assert.strictEqual(revived?.status, "pending");
    assert.strictEqual(revived?.attempts, 0);
    assert.strictEqual(revived?.error_history.length, 3);
    stats = await b.stats();
    assert.strictEqual(stats.failed, 0);
    assert.strictEqual(stats.pending, 1);
    assert.strictEqual(stats.total, 1);
    const [again] = await b.claim(1);
    assert.strictEqual(again.attempt, 1);
    await b.complete(id, again.token, "fine");
    await assert.rejects(b.requeue(id), InvalidStateError);
    await assert.rejects(b.requeue(crypto.randomUUID()), JobNotFoundError);
    await assertStatsConsistent(b);
  });

  test("a non-retryable failure goes straight to failed", async (h) => {
    const b = await h.make();
    const { id } = await b.enqueue({ type: "fatal", payload: 1, max_attempts: 5 });
    const [job] = await b.claim(1);
    assert.strictEqual(
      await b.fail(id, job.token, { message: "4xx", retryable: false, retry_delay_ms: 1000 }),
      "failed",
    );
    assert.strictEqual((await b.get(id))?.status, "failed");
    assert.strictEqual((await b.stats()).retried, 0);
  });

  test("cancel: pending and scheduled at once; running is flagged, notified, and fail -> cancelled", async (h) => {
    const b = await h.make();
    const watcher = await h.make();
    const pending = await b.enqueue({ type: "x", payload: 1 });
    const scheduled = await b.enqueue({ type: "x", payload: 2, delay_ms: 60_000 });
    assert.strictEqual(await b.cancel(pending.id), "cancelled");
    assert.strictEqual(await b.cancel(scheduled.id), "cancelled");
    assert.strictEqual((await b.get(pending.id))?.status, "cancelled");
    assert.strictEqual((await b.get(scheduled.id))?.status, "cancelled");
    await assert.rejects(b.cancel(pending.id), InvalidStateError);
    await assert.rejects(b.cancel(crypto.randomUUID()), JobNotFoundError);

    const running = await b.enqueue({ type: "x", payload: 3 });
    const other = await b.enqueue({ type: "x", payload: 4 });
    const [r1, r2] = await b.claim(2);
    assert.strictEqual(r1.id, running.id);
    let notified!: (id: string) => void;
    const heard = new Promise<string>((resolve) => (notified = resolve));
    const unsubscribe = await watcher.onCancelRequested((jobId) => notified(jobId));
    assert.strictEqual(await b.cancel(running.id), "cancel_requested");
    assert.strictEqual(await withTimeout(heard, 5000, "cancel notification"), running.id);
    await unsubscribe();
    const flagged = await b.get(running.id);
    assert.strictEqual(flagged?.status, "running");
    assert.strictEqual(flagged?.cancel_requested, true);
    assert.deepStrictEqual(await b.renew([r1, r2], 30_000), ["cancel_requested", "ok"]);
    assert.strictEqual(
      await b.fail(r1.id, r1.token, { message: "aborted", retryable: true, retry_delay_ms: 0 }),
      "cancelled",
    );
    assert.strictEqual((await b.get(running.id))?.status, "cancelled");

    // A flagged job that completes anyway is completed.
    assert.strictEqual(await b.cancel(other.id), "cancel_requested");
    await b.complete(other.id, r2.token, "done anyway");
    assert.strictEqual((await b.get(other.id))?.status, "completed");

    const stats = await b.stats();
    assert.strictEqual(stats.cancelled, 3);
    assert.strictEqual(stats.completed, 1);
    assert.strictEqual(stats.total, 4);
    await b.requeue(pending.id);
    assert.strictEqual((await b.get(pending.id))?.status, "pending");
    assert.strictEqual((await b.stats()).cancelled, 2);
    await assertStatsConsistent(b);
  });

  test("runNow: a scheduled job is pending at once; any other state is refused", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const later = await b.enqueue({ type: "d", payload: "later", delay_ms: 60_000, priority: 7 });
    const other = await b.enqueue({ type: "d", payload: "other", delay_ms: 60_000 });
    await b.runNow(later.id);
    assert.strictEqual((await b.get(later.id))?.status, "pending");
    const stats = await b.stats();
    assert.strictEqual(stats.scheduled, 1);
    assert.strictEqual(stats.pending, 1);
    assert.deepStrictEqual((await listAll(b, "scheduled")).map((j) => j.id), [other.id]);
    const [claimed] = await b.claim(5);
    assert.strictEqual(claimed.id, later.id);
    assert.strictEqual(claimed.priority, 7);
    await assert.rejects(b.runNow(later.id), InvalidStateError); // running now
    await assert.rejects(b.runNow(crypto.randomUUID()), JobNotFoundError);
    // Its due time passing later promotes nothing twice.
    clock.advance(60_000);
    assert.strictEqual((await b.maintain()).promoted, 1);
    await assertStatsConsistent(b);
  });

  test("findByIdPrefix: finds a job by the start of its id in any state, nothing else", async (h) => {
    const b = await h.make();
    const pending = await b.enqueue({ type: "s", payload: 1 });
    const scheduled = await b.enqueue({ type: "s", payload: 2, delay_ms: 60_000 });
    const done = await b.enqueue({ type: "s", payload: 3 });
    for (const job of await b.claim(5)) {
      if (job.id === done.id) await b.complete(job.id, job.token, "ok");
    }
    for (const { id } of [pending, scheduled, done]) {
      const found = await b.findByIdPrefix(id.slice(0, 8), 10);
      assert.deepStrictEqual(found.jobs.map((j) => j.id), [id]);
      assert.strictEqual(found.truncated, false);
      assert.deepStrictEqual((await b.findByIdPrefix(id, 10)).jobs.map((j) => j.id), [id]);
    }
    assert.strictEqual(await b.findByIdPrefix("", 10).catch(() => null), null);
    assert.strictEqual(await b.findByIdPrefix("*", 10).catch(() => null), null);
    assert.strictEqual((await b.findByIdPrefix(pending.id.slice(0, 8), 10, "nope")).jobs.length, 0);
    // Every job starts with a hex digit: the 16 one-character prefixes find all three.
    let all = 0;
    for (const c of "0123456789abcdef") all += (await b.findByIdPrefix(c, 10)).jobs.length;
    assert.strictEqual(all, 3);
  });

  test("list with group: each state's jobs of that group only, paged; a bad group is refused", async (h) => {
    const b = await h.make();
    const ids = (await b.enqueueBatch([
      { type: "s", payload: 0, group: "A" },
      { type: "s", payload: 1, group: "B" },
      { type: "s", payload: 2 },
      { type: "t", payload: 3, group: "A", priority: 9 },
      { type: "s", payload: 4, group: "A" },
      { type: "s", payload: 5, group: "A", delay_ms: 60_000 },
      { type: "s", payload: 6, group: "<b>A</b>" },
    ])).map((r) => r.id);
    const pages = async (state: JobState, group: string, type?: string) => {
      const out: string[] = [];
      let cursor: string | null = null;
      do {
        const page: JobPage = await b.list({ state, group, type, limit: 1, cursor });
        assert.strictEqual(page.truncated, false);
        out.push(...page.jobs.map((j) => j.id));
        cursor = page.next_cursor;
      } while (cursor);
      return out;
    };
    // Claim order (priority 9 first), one a page, the cursor going on.
    assert.deepStrictEqual(await pages("pending", "A"), [ids[3], ids[0], ids[4]]);
    assert.deepStrictEqual(await pages("pending", "A", "s"), [ids[0], ids[4]]);
    assert.deepStrictEqual(await pages("scheduled", "A"), [ids[5]]);
    assert.deepStrictEqual(await pages("pending", "<b>A</b>"), [ids[6]]);
    assert.deepStrictEqual(await pages("pending", "nobody"), []);
    for (const job of await b.claim(10)) {
      if (job.id === ids[0]) await b.complete(job.id, job.token, "ok");
      else if (job.id === ids[1] || job.id === ids[4]) {
        await b.fail(job.id, job.token, { message: "x", retryable: false, retry_delay_ms: 0 });
      }
    }
    assert.deepStrictEqual(await pages("completed", "A"), [ids[0]]);
    assert.deepStrictEqual(await pages("failed", "A"), [ids[4]]);
    assert.deepStrictEqual(await pages("running", "A"), [ids[3]]);
    assert.deepStrictEqual(await pages("pending", "A"), []);
    for (const bad of ["", "é".repeat(LIMITS.maxGroupBytes / 2 + 1)]) {
      await assert.rejects(b.list({ state: "pending", group: bad }), InvalidInputError);
    }
  });

  test("list with group: its held jobs (a per_group limit parked them) first, then the rest", async (h) => {
    const b = await h.make();
    await b.setLimit("type", "a", { rate: null, concurrency: 1, per_group: true });
    const x = (await b.enqueueBatch(
      Array.from({ length: 5 }, (_, i) => ({ type: "a", payload: i, group: "x" })),
    )).map((r) => r.id);
    await b.enqueue({ type: "a", payload: 9, group: "y" });
    await b.enqueue({ type: "a", payload: 9, group: "y" });
    // One of each group starts; x's other four and y's one are parked in their group's list.
    const started = await b.claim(10);
    assert.strictEqual(started.length, 2);
    assert.strictEqual(started.filter((j) => j.group === "x")[0].id, x[0]);
    // Enqueued after the claim: still in the priority lists, ahead of nothing.
    const later = (await b.enqueueBatch([
      { type: "a", payload: 10, group: "x", priority: 5 },
      { type: "b", payload: 11, group: "x" },
    ])).map((r) => r.id);
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: JobPage = await b.list({ state: "pending", group: "x", limit: 2, cursor });
      assert.ok(page.jobs.length === 2 || page.next_cursor === null);
      seen.push(...page.jobs.map((j) => j.id));
      cursor = page.next_cursor;
    } while (cursor);
    assert.deepStrictEqual(seen, [...x.slice(1), ...later]);
    const a = await b.list({ state: "pending", group: "x", type: "a", limit: 10 });
    assert.deepStrictEqual(a.jobs.map((j) => j.id), [...x.slice(1), later[0]]);
    assert.strictEqual((await b.list({ state: "pending", group: "y", limit: 10 })).jobs.length, 1);
  });

  test("delayed enqueue (delay_ms and run_at) is promoted when due", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const a = await b.enqueue({ type: "d", payload: "a", delay_ms: 5000 });
    const c = await b.enqueue({ type: "d", payload: "c", run_at: new Date(clock.now() + 8000) });
    const past = await b.enqueue({ type: "d", payload: "p", run_at: new Date(clock.now() - 1) });
    assert.strictEqual((await b.get(a.id))?.status, "scheduled");
    assert.strictEqual(
      (await b.get(a.id))?.scheduled_for,
      new Date(clock.now() + 5000).toISOString(),
    );
    assert.strictEqual((await b.get(past.id))?.status, "pending");
    assert.deepStrictEqual((await b.claim(5)).map((j) => j.id), [past.id]);
    assert.deepStrictEqual(await b.maintain(), {
      promoted: 0,
      reaped: 0,
      recovered: [],
      next_due_at: clock.now() + 5000,
      running: true, // the job just claimed
    });
    assert.deepStrictEqual((await listAll(b, "scheduled")).map((j) => j.id), [a.id, c.id]);
    clock.advance(5000);
    assert.strictEqual((await b.maintain()).promoted, 1);
    assert.deepStrictEqual((await b.claim(5)).map((j) => j.id), [a.id]);
    clock.advance(3000);
    assert.strictEqual((await b.maintain()).promoted, 1);
    assert.deepStrictEqual((await b.claim(5)).map((j) => j.id), [c.id]);
    await assertStatsConsistent(b);
  });

  test("idempotency key returns the first job's id", async (h) => {
    const b = await h.make();
    const first = await b.enqueue({ type: "i", payload: 1, idempotency_key: "order-42" });
    const second = await b.enqueue({ type: "i", payload: 2, idempotency_key: "order-42" });
    assert.deepStrictEqual(second, { id: first.id, created: false });
    const [batchA, batchB] = await b.enqueueBatch([
      { type: "i", payload: 3, idempotency_key: "order-43" },
      { type: "i", payload: 4, idempotency_key: "order-43" },
    ]);
    assert.strictEqual(batchA.created, true);
    assert.deepStrictEqual(batchB, { id: batchA.id, created: false });
    // Retrying a whole batch (the README's advice for batches over 1000) adds nothing twice.
    const retried = await b.enqueueBatch([
      { type: "i", payload: 1, idempotency_key: "order-42" },
      { type: "i", payload: 3, idempotency_key: "order-43" },
    ]);
    assert.deepStrictEqual(retried, [{ id: first.id, created: false }, {
      id: batchA.id,
      created: false,
    }]);
    const stats = await b.stats();
    assert.strictEqual(stats.pending, 2);
    assert.strictEqual(stats.total, 2);
    assert.deepStrictEqual((await b.get(first.id))?.payload, 1);
  });

  test("batch enqueue is all or nothing on bad input, and names the index", async (h) => {
    const b = await h.make();
    const before = await h.snapshot();
    await assert.rejects(
      b.enqueueBatch([{ type: "ok", payload: 1 }, { type: "ok", payload: 2, priority: 101 }]),
      (e: unknown) =>
        e instanceof InvalidInputError && e.field === "priority" && e.message.includes("jobs[1]"),
    );
    await assert.rejects(
      b.enqueueBatch([
        { type: "ok", payload: 1 },
        { type: "ok", payload: 1 },
        { type: "ok", payload: "x".repeat(LIMITS.maxPayloadBytes) },
      ]),
      (e: unknown) => e instanceof PayloadTooLargeError && e.message.includes("jobs[2]"),
    );
    assert.strictEqual(await h.snapshot(), before);
    const ok = await b.enqueueBatch([{ type: "ok", payload: 1 }, { type: "ok", payload: 2 }]);
    assert.strictEqual(ok.length, 2);
    assert.deepStrictEqual(await b.enqueueBatch([]), []);
  });

  test("bad input gives typed errors and never a partial write", async (h) => {
    const b = await h.make();
    await b.stats(); // a first call may write queue-level metadata; jobs are what must not change
    const before = await h.snapshot();
    const bad: Array<[EnqueueInput, string]> = [
      [{ type: "", payload: 1 }, "type"],
      [{ type: "x".repeat(129), payload: 1 }, "type"],
      [{ type: "t", payload: 1, priority: -1 }, "priority"],
      [{ type: "t", payload: 1, priority: 101 }, "priority"],
      [{ type: "t", payload: 1, priority: 1.5 }, "priority"],
      [{ type: "t", payload: 1, max_attempts: 0 }, "max_attempts"],
      [{ type: "t", payload: 1, max_attempts: 101 }, "max_attempts"],
      [{ type: "t", payload: 1, timeout_ms: 0 }, "timeout_ms"],
      [{ type: "t", payload: 1, timeout_ms: LIMITS.maxTimeoutMs + 1 }, "timeout_ms"],
      [{ type: "t", payload: 1, delay_ms: -5 }, "delay_ms"],
      [{ type: "t", payload: 1, delay_ms: 5, run_at: new Date() }, "delay_ms"],
      [{ type: "t", payload: 1, run_at: new Date("nope") }, "run_at"],
      [{ type: "t", payload: 1, id: "123" }, "id"],
      [{ type: "t", payload: 1, idempotency_key: "k".repeat(257) }, "idempotency_key"],
      [{ type: "t", payload: 1n }, "payload"],
    ];
    for (const [input, field] of bad) {
      await assert.rejects(
        b.enqueue(input),
        (e: unknown) => e instanceof InvalidInputError && e.field === field,
        `expected InvalidInputError(${field}) for ${field}`,
      );
    }
    // 1 MiB of JSON text is the limit: two quote characters push this over.
    await assert.rejects(
      b.enqueue({ type: "t", payload: "x".repeat(LIMITS.maxPayloadBytes - 1) }),
      PayloadTooLargeError,
    );
    // Multi-byte characters count as their UTF-8 bytes.
    await assert.rejects(
      b.enqueue({ type: "t", payload: "é".repeat(LIMITS.maxPayloadBytes / 2) }),
      PayloadTooLargeError,
    );
    const unknown = crypto.randomUUID();
    await assert.rejects(b.cancel(unknown), JobNotFoundError);
    await assert.rejects(b.cancel("not-a-uuid"), JobNotFoundError);
    await assert.rejects(b.complete(unknown, "t", 1), LeaseLostError);
    assert.strictEqual(await h.snapshot(), before);
    // Exactly at the limit is fine.
    const edge = await b.enqueue({ type: "t", payload: "x".repeat(LIMITS.maxPayloadBytes - 2) });
    assert.strictEqual(edge.created, true);
  });

  test("a result over the 1 MiB limit is refused and changes nothing; at the limit it is stored", async (h) => {
    const b = await h.make();
    await b.enqueue({ type: "t", payload: 1 });
    await b.enqueue({ type: "t", payload: 2 });
    const [one, two] = await b.claim(2);
    const before = await h.snapshot();
    // JSON text of a string: the two quotes push it one byte over.
    const over = "x".repeat(LIMITS.maxResultBytes - 1);
    await assert.rejects(
      b.complete(one.id, one.token, over),
      (e: unknown) => e instanceof PayloadTooLargeError && /^result is/.test(e.message),
    );
    // One oversized result refuses the whole batch: no ack in it is half-applied.
    await assert.rejects(
      b.completeMany([
        { id: two.id, token: two.token, result: 1 },
        { id: one.id, token: one.token, result_json: JSON.stringify(over) },
      ]),
      PayloadTooLargeError,
    );
    assert.strictEqual(await h.snapshot(), before);
    assert.strictEqual((await b.get(one.id))?.status, "running");
    await b.complete(one.id, one.token, "x".repeat(LIMITS.maxResultBytes - 2));
    assert.strictEqual((await b.get(one.id))?.result, "x".repeat(LIMITS.maxResultBytes - 2));
    assert.deepStrictEqual(await b.completeMany([{ id: two.id, token: two.token, result: 2 }]), [
      true,
    ]);
  });

  test("caller-chosen id is kept; reusing it is refused", async (h) => {
    const b = await h.make();
    const id = crypto.randomUUID();
    assert.deepStrictEqual(await b.enqueue({ type: "t", payload: 1, id }), { id, created: true });
    await assert.rejects(b.enqueue({ type: "t", payload: 2, id }), InvalidInputError);
    assert.deepStrictEqual((await b.get(id))?.payload, 1);
    assert.strictEqual((await b.stats()).total, 1);
  });

  test("a fresh id is stored without the check; its retry without the flag finds the job", async (h) => {
    const b = await h.make();
    const id = crypto.randomUUID();
    assert.deepStrictEqual(await b.enqueue({ type: "t", payload: 1, id, fresh_id: true }), {
      id,
      created: true,
    });
    await assert.rejects(b.enqueue({ type: "t", payload: 1, id }), InvalidInputError);
    const batch = [crypto.randomUUID(), crypto.randomUUID()];
    await b.enqueueBatch(batch.map((id, n) => ({ type: "t", payload: n, id, fresh_id: true })));
    await assert.rejects(
      b.enqueueBatch(batch.map((id, n) => ({ type: "t", payload: n, id }))),
      InvalidInputError,
      "the retried chunk is refused whole: the first attempt stored it",
    );
    assert.strictEqual((await b.stats()).total, 3);
  });

  test("concurrent single enqueues succeed or fail one by one", async (h) => {
    const b = await h.make();
    const taken = crypto.randomUUID();
    await b.enqueue({ type: "t", payload: 0, id: taken });
    const fresh = crypto.randomUUID();
    const results = await Promise.allSettled([
      b.enqueue({ type: "t", payload: 1 }),
      b.enqueue({ type: "t", payload: 2, id: taken }),
      b.enqueue({ type: "t", payload: 3, id: fresh }),
      b.enqueue({ type: "t", payload: 4, id: fresh }),
      b.enqueue({ type: "t", payload: 5, idempotency_key: "same" }),
      b.enqueue({ type: "t", payload: 6, idempotency_key: "same" }),
      b.enqueue({ type: "t", payload: 7, priority: 1000 }),
      ...Array.from({ length: 50 }, (_, i) => b.enqueue({ type: "u", payload: 10 + i })),
    ]);
    const [ok, dup, mine, dupMine, idem1, idem2, bad] = results;
    assert.strictEqual(ok.status, "fulfilled");
    assert.ok(dup.status === "rejected" && dup.reason instanceof InvalidInputError);
    assert.ok(String((dup as PromiseRejectedResult).reason.message).includes(taken));
    assert.deepStrictEqual(mine, { status: "fulfilled", value: { id: fresh, created: true } });
    assert.ok(dupMine.status === "rejected" && dupMine.reason instanceof InvalidInputError);
    assert.ok(idem1.status === "fulfilled" && idem2.status === "fulfilled");
    assert.deepStrictEqual(idem2.value, { id: idem1.value.id, created: false });
    assert.ok(bad.status === "rejected" && bad.reason instanceof InvalidInputError);
    assert.ok(results.slice(7).every((r) => r.status === "fulfilled"));
    assert.deepStrictEqual((await b.get(fresh))?.payload, 3);
    assert.deepStrictEqual((await b.get(taken))?.payload, 0);
    const stats = await b.stats();
    assert.strictEqual(stats.pending, 1 + 1 + 1 + 1 + 50);
    await assertStatsConsistent(b);
  });

  test("cancelling pending jobs anywhere in the queue keeps order and counts right", async (h) => {
    const b = await h.make();
    const ids: string[] = [];
    for (let i = 0; i < 9; i++) {
      ids.push((await b.enqueue({ type: "q", payload: i, priority: i % 3 })).id);
    }
    // Middle of priority 0, the only... first of priority 2, and all of priority 1.
    for (const i of [3, 2, 1, 4, 7]) assert.strictEqual(await b.cancel(ids[i]), "cancelled");
    const order = (await listAll(b, "pending")).map((j) => ids.indexOf(j.id));
    assert.deepStrictEqual(order, [5, 8, 0, 6]);
    await assertStatsConsistent(b);
    assert.deepStrictEqual((await b.claim(10)).map((j) => ids.indexOf(j.id)), [5, 8, 0, 6]);
    // Requeued cancelled jobs go to the back of their priority.
    await b.requeue(ids[3]);
    await b.requeue(ids[1]);
    assert.deepStrictEqual((await b.claim(10)).map((j) => ids.indexOf(j.id)), [1, 3]);
    assert.deepStrictEqual(await b.claim(10), []);
    await assertStatsConsistent(b);
  });

  test("pending pages stay right while jobs are claimed between them", async (h) => {
    const b = await h.make();
    const ids: string[] = [];
    const inputs: EnqueueInput[] = [];
    for (let i = 0; i < 30; i++) inputs.push({ type: i % 2 ? "odd" : "even", payload: i });
    for (const r of await b.enqueueBatch(inputs)) ids.push(r.id);
    const high = await b.enqueue({ type: "even", payload: "high", priority: 9 });
    const first = await b.list({ state: "pending", limit: 10 });
    assert.deepStrictEqual(first.jobs.map((j) => j.id), [high.id, ...ids.slice(0, 9)]);
    // Claim the first five (the high one and four from the page): the next page goes on.
    assert.strictEqual((await b.claim(5)).length, 5);
    const second = await b.list({ state: "pending", limit: 10, cursor: first.next_cursor });
    assert.deepStrictEqual(second.jobs.map((j) => j.id), ids.slice(9, 19));
    // Claim past the cursor's job: the rest of its list follows.
    assert.strictEqual((await b.claim(16)).length, 16);
    const third = await b.list({ state: "pending", limit: 10, cursor: second.next_cursor });
    assert.deepStrictEqual(third.jobs.map((j) => j.id), ids.slice(20, 30));
    const evens = await listAll(b, "pending", "even");
    assert.deepStrictEqual(evens.map((j) => j.id), ids.slice(20).filter((_, i) => i % 2 === 0));
    await assert.rejects(
      b.list({ state: "pending", cursor: first.next_cursor?.slice(0, 5) + "!" }),
      InvalidInputError,
    );
  });

  test("a batch with a taken caller-chosen id writes nothing and names the id", async (h) => {
    const b = await h.make();
    const id = crypto.randomUUID();
    await b.enqueue({ type: "t", payload: 1, id });
    const before = await h.snapshot();
    await assert.rejects(
      b.enqueueBatch([{ type: "t", payload: 2 }, { type: "t", payload: 3, id }]),
      (e: unknown) => e instanceof InvalidInputError && e.message.includes(id),
    );
    assert.strictEqual(await h.snapshot(), before);
    assert.strictEqual((await b.stats()).total, 1);
  });

  test("completeMany acks held leases and refuses stale ones in the same call", async (h) => {
    const b = await h.make();
    await b.enqueueBatch([1, 2, 3].map((n) => ({ type: "c", payload: n })));
    const [x, y, z] = await b.claim(3);
    const acks = await b.completeMany([
      { ...x, result: "x" },
      { id: y.id, token: "stale", result: "y" },
      { ...z, result: "z" },
      { ...x, result: "again" },
    ]);
    // The repeat of x's own ack is a success that changes nothing (its result stays "x").
    assert.deepStrictEqual(acks, [true, false, true, true]);
    assert.strictEqual((await b.get(x.id))?.result, "x");
    assert.strictEqual((await b.get(y.id))?.status, "running");
    const stats = await b.stats();
    assert.strictEqual(stats.completed, 2);
    assert.strictEqual(stats.running, 1);
    assert.strictEqual(stats.by_type.c.completed, 2);
    await assertStatsConsistent(b);
  });

  test("stats invariant holds through every transition", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const inputs: EnqueueInput[] = [];
    for (let i = 0; i < 60; i++) {
      inputs.push({
        type: i % 2 ? "odd" : "even",
        payload: i,
        delay_ms: i % 5 === 0 ? 1000 : 0,
        max_attempts: 2,
      });
    }
    await b.enqueueBatch(inputs);
    const jobs = await b.claim(30, { leaseMs: 5000 });
    await b.completeMany(jobs.slice(0, 10).map((j) => ({ ...j, result: j.payload })));
    for (const j of jobs.slice(10, 15)) {
      await b.fail(j.id, j.token, { message: "x", retryable: true, retry_delay_ms: 100 });
    }
    for (const j of jobs.slice(15, 18)) {
      await b.fail(j.id, j.token, { message: "x", retryable: false, retry_delay_ms: 0 });
    }
    await b.cancel(jobs[18].id);
    await b.release(jobs.slice(19, 22));
    const pendingNow = await b.list({ state: "pending", limit: 2 });
    for (const j of pendingNow.jobs) await b.cancel(j.id);
    await assertStatsConsistent(b);
    assert.strictEqual((await b.stats()).total, 60);
    clock.advance(6000);
    await b.maintain();
    await assertStatsConsistent(b);
    const stats = await b.stats();
    assert.strictEqual(stats.total, 60);
    for (const state of JOB_STATES) {
      const sum = (stats.by_type.odd?.[state] ?? 0) + (stats.by_type.even?.[state] ?? 0);
      assert.strictEqual(sum, stats[state], `by_type sums for ${state}`);
    }
    assert.strictEqual(await b.purge("failed"), stats.failed);
    const after = await b.stats();
    assert.strictEqual(after.failed, 0);
    assert.strictEqual(after.total, 60 - stats.failed);
    await assertStatsConsistent(b);
  });

  test("deleteJob removes one finished job and its indexes; live and needed ones are refused", async (h) => {
    const b = await h.make();
    const done = await b.enqueue({ type: "d", payload: 1, idempotency_key: "del-1" });
    const dead = await b.enqueue({ type: "d", payload: 2 });
    const gone = await b.enqueue({ type: "d", payload: 3 });
    const [j1, j2] = await b.claim(2);
    await b.complete(j1.id, j1.token, "ok");
    await b.fail(j2.id, j2.token, { message: "x", retryable: false, retry_delay_ms: 0 });
    await b.cancel(gone.id);
    const running = await b.enqueue({ type: "d", payload: 4 });
    const [held] = await b.claim(1);
    assert.strictEqual(held.id, running.id);
    const pending = await b.enqueue({ type: "d", payload: 5 });
    const later = await b.enqueue({ type: "d", payload: 6, delay_ms: 60_000 });
    // A finished job a waiting job still needs: its outcome is not delivered to it yet.
    const needed = await b.enqueue({ type: "d", payload: 7, priority: 9 });
    const other = await b.enqueue({ type: "d", payload: 8, delay_ms: 60_000 });
    const waiter = await b.enqueue({ type: "d", payload: 9, depends_on: [needed.id, other.id] });
    const [n] = await b.claim(1);
    assert.strictEqual(n.id, needed.id);
    await b.complete(n.id, n.token, "ok");
    const before = await b.stats();

    assert.strictEqual(await b.deleteJob(done.id), "completed");
    assert.strictEqual(await b.deleteJob(dead.id), "failed");
    assert.strictEqual(await b.deleteJob(gone.id), "cancelled");
    for (const id of [done.id, dead.id, gone.id]) assert.strictEqual(await b.get(id), null);
    for (const state of ["completed", "failed", "cancelled"] as const) {
      const ids = (await listAll(b, state)).map((j) => j.id);
      for (const id of [done.id, dead.id, gone.id]) assert.ok(!ids.includes(id), `${state}: ${id}`);
    }
    const after = await b.stats();
    assert.deepStrictEqual(
      [after.completed, after.failed, after.cancelled, after.total],
      [before.completed - 1, before.failed - 1, before.cancelled - 1, before.total - 3],
    );
    // Lifetime totals keep counting what got there.
    assert.deepStrictEqual(
      [after.completed_total, after.failed_total, after.cancelled_total],
      [before.completed_total, before.failed_total, before.cancelled_total],
    );
    for (const state of ["completed", "failed", "cancelled"] as const) {
      assert.strictEqual((await listAll(b, state)).length, after[state], `gauge ${state}`);
    }
    // The idempotency key no longer points at it: the same key makes a new job.
    const again = await b.enqueue({ type: "d", payload: 1, idempotency_key: "del-1" });
    assert.notStrictEqual(again.id, done.id);

    for (const id of [running.id, pending.id, later.id, waiter.id]) {
      const snapshot = await h.snapshot();
      await assert.rejects(b.deleteJob(id), InvalidStateError, id);
      assert.strictEqual(await h.snapshot(), snapshot, `refusing ${id} wrote nothing`);
    }
    await assert.rejects(b.deleteJob(needed.id), /needed by a waiting job/);
    assert.strictEqual((await b.get(needed.id))?.status, "completed");
    await assert.rejects(b.deleteJob(done.id), JobNotFoundError);
    await assert.rejects(b.deleteJob("no-such-job"), JobNotFoundError);
  });

  test("finished states count what is there now; their _total counts never go down", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now, retentionMs: 60_000 });
    const ids = [];
    for (let i = 0; i < 4; i++) ids.push((await b.enqueue({ type: "n", payload: i })).id);
    const jobs = await b.claim(4);
    await b.complete(jobs[0].id, jobs[0].token, 1);
    for (const j of jobs.slice(1, 4)) {
      await b.fail(j.id, j.token, { message: "x", retryable: false, retry_delay_ms: 0 });
    }
    const pick = (s: Stats | Stats["by_type"][string]) => [
      s.completed,
      s.completed_total,
      s.failed,
      s.failed_total,
      s.pending,
    ];
    let stats = await b.stats();
    assert.deepStrictEqual(pick(stats), [1, 1, 3, 3, 0]);
    // A retry takes one out of the dead set: it is pending now, and it did fail.
    await b.requeue(jobs[1].id);
    stats = await b.stats();
    assert.deepStrictEqual(pick(stats), [1, 1, 2, 3, 1]);
    // A purge empties the dead set; the lifetime total stays.
    assert.strictEqual(await b.purge("failed"), 2);
    stats = await b.stats();
    assert.deepStrictEqual(pick(stats), [1, 1, 0, 3, 1]);
    assert.deepStrictEqual(pick(stats.by_type.n), [1, 1, 0, 3, 1]);
    // Retention removes the completed one; the total stays.
    clock.advance(61_000);
    await b.maintain();
    stats = await b.stats();
    assert.deepStrictEqual(pick(stats), [0, 1, 0, 3, 1]);
    assert.deepStrictEqual(pick(stats.by_type.n), [0, 1, 0, 3, 1]);
    assert.strictEqual(stats.total, 1, "total: what is there now");
    assert.strictEqual(stats.by_queue[Object.keys(stats.by_queue)[0]].failed_total, 3);
  });

  test("release returns jobs to pending, restoring the attempt unless told otherwise", async (h) => {
    const b = await h.make();
    const { id } = await b.enqueue({ type: "r", payload: 1, priority: 5, max_attempts: 2 });
    await b.enqueue({ type: "r", payload: 2, priority: 1 });
    let [job] = await b.claim(1);
    assert.strictEqual(job.id, id);
    assert.deepStrictEqual(await b.release([job]), [true]);
    assert.strictEqual((await b.get(id))?.attempts, 0);
    [job] = await b.claim(1);
    assert.strictEqual(job.id, id, "released job keeps its priority");
    assert.strictEqual(job.attempt, 1);
    assert.deepStrictEqual(
      await b.release([job], { restoreAttempt: false, reason: "hard timeout" }),
      [true],
    );
    const released = await b.get(id);
    assert.strictEqual(released?.attempts, 1);
    assert.deepStrictEqual(released?.error_history.map((e) => e.message), ["hard timeout"]);
    [job] = await b.claim(1);
    assert.strictEqual(job.attempt, 2);
    assert.deepStrictEqual(await b.release([job], { restoreAttempt: false, reason: "again" }), [
      true,
    ]);
    assert.strictEqual((await b.get(id))?.status, "failed", "no attempts left");
    await assertStatsConsistent(b);
  });

  test("progress is recorded for the lease holder", async (h) => {
    const b = await h.make();
    const { id } = await b.enqueue({ type: "p", payload: 1 });
    const [job] = await b.claim(1);
    assert.strictEqual(await b.progress(id, job.token, 42), true);
    assert.strictEqual((await b.get(id))?.progress, 42);
    assert.strictEqual(await b.progress(id, "wrong", 50), false);
    await assert.rejects(b.progress(id, job.token, NaN), InvalidInputError);
  });

  test("list: queue order for pending, newest first for finished, cursors and type filter", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const ids: string[] = [];
    for (let i = 0; i < 25; i++) {
      ids.push((await b.enqueue({ type: i % 3 === 0 ? "three" : "other", payload: i })).id);
    }
    const pending = await listAll(b, "pending");
    assert.deepStrictEqual(pending.map((j) => j.id), ids);
    const page = await b.list({ state: "pending", limit: 10 });
    assert.strictEqual(page.jobs.length, 10);
    assert.ok(page.next_cursor);
    const threes = await listAll(b, "pending", "three");
    assert.deepStrictEqual(threes.map((j) => j.id), ids.filter((_, i) => i % 3 === 0));
    // Finish with ties on the finish time, then distinct times.
    const claimed = await b.claim(25);
    for (let i = 0; i < claimed.length; i++) {
      if (i % 4 === 0) clock.advance(1);
      await b.complete(claimed[i].id, claimed[i].token, i);
    }
    const done = await listAll(b, "completed");
    assert.strictEqual(done.length, 25);
    assert.strictEqual(new Set(done.map((j) => j.id)).size, 25);
    const times = done.map((j) => Date.parse(j.completed_at ?? ""));
    assert.deepStrictEqual(times, [...times].sort((x, y) => y - x));
    assert.strictEqual(done[0].id, claimed[24].id);
    await assert.rejects(b.list({ state: "pending", cursor: "!!garbage!!" }), InvalidInputError);
    assert.deepStrictEqual(await b.list({ state: "failed" }), { jobs: [], next_cursor: null });
  });

  test("an ack repeated with the token that made it succeeds and changes nothing", async (h) => {
    const b = await h.make();
    const { id: done } = await b.enqueue({ type: "ack", payload: 1 });
    const [c] = await b.claim(1);
    assert.deepStrictEqual(await b.completeMany([{ ...c, result: "r" }]), [true]);
    const after = await h.snapshot();
    // The reply of the first call was lost; the runner sends it again.
    assert.deepStrictEqual(await b.completeMany([{ ...c, result: "r" }]), [true]);
    await b.complete(done, c.token, "r");
    assert.deepStrictEqual(await b.renew([c], 1000), ["ok"], "nothing left to renew, nothing lost");
    assert.strictEqual(await h.snapshot(), after, "the repeats wrote nothing");
    await assert.rejects(b.complete(done, "someone-else.0:1", "x"), LeaseLostError);

    const { id: retried } = await b.enqueue({ type: "ack", payload: 2, max_attempts: 2 });
    let [f] = await b.claim(1);
    const failure = { message: "boom", retryable: true, retry_delay_ms: 60_000 };
    assert.strictEqual(await b.fail(retried, f.token, failure), "scheduled");
    assert.strictEqual(await b.fail(retried, f.token, failure), "scheduled");
    await assert.rejects(b.complete(retried, f.token, "x"), LeaseLostError, "not its outcome");
    const { id: dead } = await b.enqueue({ type: "ack", payload: 3, max_attempts: 1 });
    [f] = await b.claim(1);
    assert.strictEqual(await b.fail(dead, f.token, failure), "failed");
    assert.strictEqual(await b.fail(dead, f.token, failure), "failed");
    const stats = await b.stats();
    assert.deepStrictEqual(
      [stats.completed, stats.scheduled, stats.failed, stats.retried],
      [1, 1, 1, 1],
      "each outcome counted once",
    );
    const kinds = (await b.readEvents("0", 0)).map((e) => `${e.event.kind} ${e.event.job_id}`);
    assert.deepStrictEqual(
      kinds.filter((k) => !k.startsWith("enqueued") && !k.startsWith("started")),
      [
        `completed ${done}`,
        `retry_scheduled ${retried}`,
        `failed ${dead}`,
      ],
    );
  });

  test("a lease given back or reaped is not its old holder's to re-ack", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id } = await b.enqueue({ type: "ack", payload: 1, max_attempts: 5 });
    const [first] = await b.claim(1, { leaseMs: 1000 });
    await b.release([first], { restoreAttempt: false, reason: "drain" });
    const failure = { message: "x", retryable: true, retry_delay_ms: 0 };
    await assert.rejects(b.fail(id, first.token, failure), LeaseLostError);
    const [second] = await b.claim(1, { leaseMs: 1000 });
    clock.advance(1001);
    await b.maintain(); // reaped
    await assert.rejects(b.fail(id, second.token, failure), LeaseLostError);
    await assert.rejects(b.complete(id, second.token, 1), LeaseLostError);
    // A job cancelled while it waited for its retry: the earlier attempt's fail is not this cancel.
    const [third] = await b.claim(1);
    assert.strictEqual(
      await b.fail(id, third.token, { ...failure, retry_delay_ms: 60_000 }),
      "scheduled",
    );
    await b.cancel(id);
    await assert.rejects(b.fail(id, third.token, failure), LeaseLostError);
  });

  test("reapOwner takes back at once every lease one owner holds", async (h) => {
    const a = await h.make();
    const b = await h.make();
    assert.notStrictEqual(a.owner, b.owner);
    await a.enqueueBatch([1, 2, 3].map((i) => ({ type: "own", payload: i })));
    const held = await a.claim(2);
    const [other] = await b.claim(1);
    assert.strictEqual(await b.reapOwner(a.owner, "worker process died (signal SIGKILL)"), 2);
    for (const job of held) {
      const j = await b.get(job.id);
      assert.strictEqual(j?.status, "pending");
      assert.strictEqual(j?.attempts, 1, "the attempt stays charged, as for any crash");
      assert.deepStrictEqual(j?.error_history.map((e) => e.message), [
        "worker process died (signal SIGKILL)",
      ]);
    }
    assert.strictEqual((await b.get(other.id))?.status, "running", "another owner's lease stays");
    await assert.rejects(a.complete(held[0].id, held[0].token, "late"), LeaseLostError);
    const again = await b.claim(5);
    assert.deepStrictEqual(again.map((j) => j.attempt), [2, 2]);
    assert.strictEqual(await b.reapOwner(a.owner, "again"), 0);
    assert.deepStrictEqual((await b.stats()).running, 3);
    const kinds = (await b.readEvents("0", 0)).map((e) => e.event)
      .filter((e) => e.kind === "recovered").map((e) => e.kind === "recovered" && e.outcome);
    assert.deepStrictEqual(kinds, ["pending", "pending"]);
  });

  test("an owner that stopped heartbeating is reaped by another's maintenance, not after an outage", async (h) => {
    const clock = fakeClock();
    const a = await h.make({ clock: clock.now });
    const b = await h.make({ clock: clock.now });
    await a.enqueueBatch([1, 2].map((i) => ({ type: "hb", payload: i })));
    await a.maintain(); // a's heartbeat
    await b.maintain(); // b's streak begins
    const held = await a.claim(2, { leaseMs: 60_000 });
    // a falls silent; b keeps beating every second.
    for (let i = 0; i < 3; i++) {
      clock.advance(1000);
      assert.strictEqual((await b.maintain()).reaped, 0, `silent ${i + 1} s: not yet`);
    }
    clock.advance(600);
    const m = await b.maintain(); // 3.6 s of silence, seen all along by b
    assert.strictEqual(m.reaped, 2);
    assert.deepStrictEqual(m.recovered.map((r) => r.outcome), ["pending", "pending"]);
    for (const job of held) assert.strictEqual((await b.get(job.id))?.status, "pending");

    // An outage: both silent for 10 s. Whoever beats first has a streak
    // younger than the other's silence, so nobody is judged for it.
    const again = await b.claim(2, { leaseMs: 60_000 });
    await b.maintain();
    await a.maintain();
    clock.advance(10_000);
    assert.strictEqual((await a.maintain()).reaped, 0);
    clock.advance(1000);
    assert.strictEqual((await a.maintain()).reaped, 0);
    clock.advance(1000);
    assert.strictEqual((await a.maintain()).reaped, 0, "b was silent, but a was away too");
    for (const job of again) assert.strictEqual((await a.get(job.id))?.status, "running");
    // b stays silent while a beats on: judged on what a saw since its new streak began.
    clock.advance(1000);
    assert.strictEqual((await a.maintain()).reaped, 0, "3 s seen: not yet");
    clock.advance(1000);
    assert.strictEqual((await a.maintain()).reaped, 2, "4 s seen: dead");
  });

  test("lifecycle events are readable from the stream", async (h) => {
    const b = await h.make();
    const { id } = await b.enqueue({ type: "ev", payload: 1 });
    const [job] = await b.claim(1);
    await b.complete(id, job.token, 1);
    const events = await b.readEvents("0", 0);
    assert.deepStrictEqual(events.map(({ event: e }) => [e.kind, e.job_id, e.type]), [
      ["enqueued", id, "ev"],
      ["started", id, "ev"],
      ["completed", id, "ev"],
    ]);
    const started = events[1].event;
    assert.strictEqual(started.kind === "started" && started.attempt, 1);
    const last = events[2].cursor;
    assert.deepStrictEqual(await b.readEvents(last, 0), []);
    const later = b.readEvents(last, 5000);
    await b.enqueue({ type: "ev", payload: 2 });
    const fresh = await withTimeout(later, 5000, "blocking readEvents");
    assert.deepStrictEqual(fresh.map((e) => e.event.kind), ["enqueued"]);
  });

  test("a batch's events come back one per job, in order", async (h) => {
    const b = await h.make();
    const made = await b.enqueueBatch([0, 1, 2].map((i) => ({ type: `ev${i}`, payload: i })));
    const jobs = await b.claim(3);
    await b.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: null })));
    const events = (await b.readEvents("0", 0)).map((e) => e.event);
    const ids = made.map((m) => m.id);
    assert.deepStrictEqual(events.map((e) => [e.kind, e.job_id]), [
      ...ids.map((id) => ["enqueued", id]),
      ...ids.map((id) => ["started", id]),
      ...ids.map((id) => ["completed", id]),
    ]);
    assert.deepStrictEqual(events.slice(0, 3).map((e) => e.type), ["ev0", "ev1", "ev2"]);
    assert.deepStrictEqual(events.slice(3, 6).map((e) => "attempt" in e && e.attempt), [1, 1, 1]);
    assert.ok(events.slice(6).every((e) => e.kind === "completed" && e.duration_ms >= 0));
    // Reading from any returned cursor resumes after that cursor's entry.
    const all = await b.readEvents("0", 0);
    assert.deepStrictEqual(await b.readEvents(all[8].cursor, 0), []);
  });

  test("every transition writes one typed event with all its fields", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const at0 = clock.now();
    const { id: done } = await b.enqueue({ type: "t", payload: 1, priority: 3 });
    let [j] = await b.claim(1);
    clock.advance(5);
    assert.strictEqual(await b.progress(done, j.token, 40.5), true);
    clock.advance(5);
    await b.complete(done, j.token, "ok");

    const { id: flaky } = await b.enqueue({ type: "t", payload: 2, max_attempts: 2 });
    [j] = await b.claim(1);
    clock.advance(7);
    await b.fail(flaky, j.token, {
      message: "slow",
      retryable: true,
      retry_delay_ms: 0,
      timed_out: "soft",
    });
    clock.advance(1);
    await b.maintain();
    [j] = await b.claim(1);
    await b.fail(flaky, j.token, { message: "boom", retryable: true, retry_delay_ms: 0 });
    await b.requeue(flaky);

    const { id: waiting } = await b.enqueue({ type: "t", payload: 3 });
    await b.cancel(waiting);
    [j] = await b.claim(1); // flaky again, after the requeue
    await b.release([{ id: j.id, token: j.token }], { reason: "drain" });
    [j] = await b.claim(1);
    assert.strictEqual(j.id, flaky);
    clock.advance(31_000);
    await b.maintain(); // its lease expired: recovered back to pending
    [j] = await b.claim(1);
    await b.cancel(flaky);
    await b.fail(flaky, j.token, { message: "cancelled", retryable: false, retry_delay_ms: 0 });

    const events = (await b.readEvents("0", 0, 1000)).map((e) => e.event);
    for (const e of events) assert.ok(e.at >= at0 && e.at <= clock.now(), `${e.kind} at`);
    const shape = events.map(({ at: _at, ...rest }) => rest);
    assert.deepStrictEqual(shape, [
      { kind: "enqueued", job_id: done, type: "t", priority: 3 },
      { kind: "started", job_id: done, type: "t", attempt: 1, queued_ms: 0 },
      { kind: "progress", job_id: done, type: "t", attempt: 1, percent: 40.5 },
      { kind: "completed", job_id: done, type: "t", attempt: 1, duration_ms: 10 },
      { kind: "enqueued", job_id: flaky, type: "t", priority: 0 },
      { kind: "started", job_id: flaky, type: "t", attempt: 1, queued_ms: 0 },
      { kind: "timed_out", job_id: flaky, type: "t", attempt: 1, duration_ms: 7, hard: false },
      {
        kind: "retry_scheduled",
        job_id: flaky,
        type: "t",
        attempt: 1,
        duration_ms: 7,
        error: "slow",
        retry_in_ms: 0,
      },
      { kind: "started", job_id: flaky, type: "t", attempt: 2, queued_ms: 8 },
      { kind: "failed", job_id: flaky, type: "t", attempt: 2, duration_ms: 0, error: "boom" },
      { kind: "requeued", job_id: flaky, type: "t" },
      { kind: "enqueued", job_id: waiting, type: "t", priority: 0 },
      { kind: "cancelled", job_id: waiting, type: "t", attempt: 0 },
      { kind: "started", job_id: flaky, type: "t", attempt: 1, queued_ms: 8 },
      {
        kind: "released",
        job_id: flaky,
        type: "t",
        attempt: 0,
        restored: true,
        reason: "drain",
      },
      { kind: "started", job_id: flaky, type: "t", attempt: 1, queued_ms: 8 },
      { kind: "recovered", job_id: flaky, type: "t", attempt: 1, outcome: "pending" },
      { kind: "started", job_id: flaky, type: "t", attempt: 2, queued_ms: 31_008 },
      { kind: "cancelled", job_id: flaky, type: "t", attempt: 2, duration_ms: 0 },
    ]);
  });

  test("a reaped job that had no attempt left is recovered, then failed", async (h) => {
    const clock = fakeClock();
    const b = await h.make({ clock: clock.now });
    const { id } = await b.enqueue({ type: "t", payload: 1, max_attempts: 1 });
    const [j] = await b.claim(1, { leaseMs: 1000 });
    const { id: kept } = await b.enqueue({ type: "t", payload: 2, max_attempts: 1 });
    const [k] = await b.claim(1);
    await b.release([{ id: k.id, token: k.token }], { restoreAttempt: false, reason: "gone" });
    clock.advance(2000);
    await b.maintain();
    const shape = (await b.readEvents("0", 0)).map(({ event: { at: _at, ...rest } }) => rest)
      .filter((e) => e.kind !== "enqueued" && e.kind !== "started");
    assert.deepStrictEqual(shape, [
      { kind: "failed", job_id: kept, type: "t", attempt: 1, error: "gone" },
      { kind: "recovered", job_id: id, type: "t", attempt: 1, outcome: "failed" },
      { kind: "failed", job_id: id, type: "t", attempt: 1, error: "lease expired" },
    ]);
    assert.strictEqual((await b.get(j.id))?.status, "failed");
  });

  test("claim with waitMs: wakes on enqueue, respects its timeout and abort", async (h) => {
    const b = await h.make();
    const producer = await h.make();
    // Timeout: resolves with nothing after about waitMs.
    let t0 = performance.now();
    assert.deepStrictEqual(await b.claim(1, { waitMs: 300 }), []);
    let waited = performance.now() - t0;
    assert.ok(waited >= 250 && waited < 2000, `timeout wait took ${waited} ms`);
    // Wake: an enqueue ends a long wait early, with the job.
    t0 = performance.now();
    const wait = b.claim(1, { waitMs: 10_000 });
    await new Promise((r) => setTimeout(r, 50));
    const { id } = await producer.enqueue({ type: "w", payload: 1 });
    const [job] = await wait;
    waited = performance.now() - t0;
    assert.ok(waited < 2000, `wake took ${waited} ms`);
    assert.strictEqual(job.id, id);
    // Abort: ends the wait at once.
    const controller = new AbortController();
    t0 = performance.now();
    const aborted = b.claim(1, { waitMs: 10_000, signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    assert.deepStrictEqual(await aborted, []);
    waited = performance.now() - t0;
    assert.ok(waited < 2000, `abort took ${waited} ms`);
    // Still usable after an abort; work already waiting is claimed at once.
    await producer.enqueue({ type: "w", payload: 2 });
    t0 = performance.now();
    const again = await withTimeout(b.claim(5, { waitMs: 10_000 }), 5000, "claim after abort");
    assert.deepStrictEqual(again.map((j) => j.payload), [2]);
    assert.ok(performance.now() - t0 < 2000, "ready work is claimed without waiting");
    assert.deepStrictEqual(await b.claim(1, { waitMs: 0 }), []);
  });

  test("claim with waitMs: a wake that brings nothing for this claim keeps it waiting", async (h) => {
    const a = await h.make();
    const b = await h.make();
    const producer = await h.make();
    const first = a.claim(1, { waitMs: 5000 });
    const second = b.claim(1, { waitMs: 5000 });
    await new Promise((r) => setTimeout(r, 100));
    const { id: one } = await producer.enqueue({ type: "w", payload: 1 });
    const [won, jobs] = await Promise.race([
      first.then((j) => ["first", j] as const),
      second.then((j) => ["second", j] as const),
    ]);
    assert.deepStrictEqual(jobs.map((j) => j.id), [one]);
    const loser = won === "first" ? second : first;
    let settled = false;
    loser.then(() => (settled = true));
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(settled, false, "the other claim is still waiting");
    const { id: two } = await producer.enqueue({ type: "w", payload: 2 });
    assert.deepStrictEqual((await withTimeout(loser, 5000, "second wake")).map((j) => j.id), [two]);
  });

  test("claim with waitMs: jobs come back leased as of the wake, not the wait's start", async (h) => {
    const b = await h.make();
    const producer = await h.make();
    const wait = b.claim(5, { waitMs: 10_000, leaseMs: 30_000 });
    // Long enough that a "now" taken when the wait began would show.
    await new Promise((r) => setTimeout(r, 1500));
    const enqueuedAt = Date.now();
    await producer.enqueueBatch([{ type: "w", payload: 1 }, { type: "w", payload: 2 }]);
    const jobs = await withTimeout(wait, 5000, "claiming wait");
    const wokeAt = Date.now();
    assert.deepStrictEqual(jobs.map((j) => [j.payload, j.attempt]), [[1, 1], [2, 1]]);
    for (const job of jobs) {
      // 100 ms of slack for the clock-offset estimate and scheduling.
      assert.ok(
        job.lease_expires_at >= enqueuedAt + 30_000 - 100 &&
          job.lease_expires_at <= wokeAt + 30_000 + 100,
        `lease ${job.lease_expires_at - enqueuedAt} ms after the enqueue`,
      );
      const stored = await b.get(job.id);
      assert.strictEqual(stored?.status, "running");
      const startedAt = Date.parse(stored!.started_at!);
      assert.ok(startedAt >= enqueuedAt - 100 && startedAt <= wokeAt + 100, "started_at");
    }
    assert.deepStrictEqual(await b.completeMany(jobs.map((j) => ({ ...j, result: null }))), [
      true,
      true,
    ]);
  });

  test("claim with waitMs: an abandoned wait leaves no job running", async (h) => {
    const b = await h.make();
    const producer = await h.make();
    for (let round = 0; round < 6; round++) {
      const controller = new AbortController();
      const wait = b.claim(5, { waitMs: 10_000, signal: controller.signal });
      await new Promise((r) => setTimeout(r, 100));
      // The job and the abort race: the caller gets the job (the wake won),
      // or it stays pending with its attempt unspent, whether or not the
      // claim behind the abandoned wait took it.
      const enqueued = producer.enqueue({ type: "w", payload: round });
      if (round >= 3) await new Promise((r) => setTimeout(r, round - 3)); // vary the race
      controller.abort();
      const got = await wait;
      const { id } = await enqueued;
      if (got.length > 0) {
        assert.deepStrictEqual(got.map((j) => j.id), [id]);
        assert.deepStrictEqual(await b.completeMany([{ ...got[0], result: null }]), [true]);
        continue;
      }
      const deadline = Date.now() + 5000;
      let job = await b.get(id);
      while (job?.status !== "pending" && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
        job = await b.get(id);
      }
      assert.strictEqual(job?.status, "pending");
      assert.strictEqual(job?.attempts, 0);
      const [claimed] = await b.claim(1);
      assert.strictEqual(claimed.id, id);
      assert.strictEqual(claimed.attempt, 1);
      assert.deepStrictEqual(await b.completeMany([{ ...claimed, result: null }]), [true]);
    }
  });

  historyCases(test);
}
