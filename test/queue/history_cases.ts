/**
 * The shared broker suite's cases for `Broker.history()` (kept in a file of
 * their own: the suite is long). The counts must be those of the minute each
 * transition happened in, whoever made it, and the latency measured from
 * when the job became runnable.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import { emptyMinute, type HistoryMinute, LATENCY_BUCKETS_MS } from "../../src/queue/history.ts";
import { fakeClock, type SuiteHarness } from "./broker_suite.ts";

/** The suite's test registrar. */
export type SuiteTest = (title: string, fn: (h: SuiteHarness) => Promise<void>) => void;

/** A minute with `latencies` (ms) tallied and the given counts. */
export function expectedMinute(
  minute: number,
  counts: Partial<Pick<HistoryMinute, "completed" | "failed" | "retried">>,
  latencies: number[] = [],
): HistoryMinute {
  const m = { ...emptyMinute(minute), ...counts };
  for (const ms of latencies) {
    const i = LATENCY_BUCKETS_MS.findIndex((bound) => ms <= bound);
    m.latency[i < 0 ? LATENCY_BUCKETS_MS.length : i] += 1;
    m.latency_sum_ms += ms;
  }
  return m;
}

async function queueOf(b: Broker): Promise<string> {
  const queues = await b.queues();
  const q = queues.find((q) => q.name === b.defaultQueue);
  assert.ok(q, "the test's queue is known");
  return q.name;
}

/** Registers the history cases with the suite's `test`. */
export function historyCases(test: SuiteTest): void {
  test("history: a dead worker's leases taken back count as retried, or failed on the last attempt", async (h) => {
    const clock = fakeClock();
    const m0 = clock.now() / 60_000;
    const b = await h.make({ clock: clock.now });
    await b.enqueue({ type: "o", payload: 1, max_attempts: 2 });
    await b.enqueue({ type: "o", payload: 2, max_attempts: 1 });
    assert.strictEqual((await b.claim(2)).length, 2);
    clock.advance(61_000);
    assert.strictEqual(await b.reapOwner(b.owner, "worker died"), 2);
    assert.deepStrictEqual(await b.history(await queueOf(b), m0, m0 + 1), [
      expectedMinute(m0, {}, [0, 0]),
      expectedMinute(m0 + 1, { retried: 1, failed: 1 }),
    ]);
  });

  test("history: completes, retries and final failures counted in their minute; latency from runnable", async (h) => {
    const clock = fakeClock(); // starts on a minute boundary
    const m0 = clock.now() / 60_000;
    const b = await h.make({ clock: clock.now });
    const ids = [];
    for (let i = 0; i < 5; i++) {
      ids.push((await b.enqueue({ type: "h", payload: i, max_attempts: 2 })).id);
    }
    clock.advance(30);
    const jobs = await b.claim(5);
    assert.strictEqual(jobs.length, 5);
    clock.advance(1000);
    assert.deepStrictEqual(
      await b.completeMany([{ ...jobs[0], result: 1 }, { ...jobs[4], result: 1 }]),
      [true, true],
    );
    await b.complete(jobs[1].id, jobs[1].token, 2);
    assert.strictEqual(
      await b.fail(jobs[2].id, jobs[2].token, {
        message: "again",
        retryable: true,
        retry_delay_ms: 60_000,
      }),
      "scheduled",
    );
    assert.strictEqual(
      await b.fail(jobs[3].id, jobs[3].token, {
        message: "fatal",
        retryable: false,
        retry_delay_ms: 0,
      }),
      "failed",
    );
    const queue = await queueOf(b);
    assert.deepStrictEqual(await b.history(queue, m0, m0), [
      expectedMinute(m0, { completed: 3, failed: 1, retried: 1 }, [30, 30, 30, 30, 30]),
    ]);

    // The retry comes due in the next minute and starts 2.5 s after its due
    // time (not after its creation); then its lease expires on the last
    // attempt and the reaper fails it: counted where that happened.
    clock.advance(60_000);
    assert.strictEqual((await b.maintain()).promoted, 1);
    clock.advance(2500);
    const [retry] = await b.claim(1, { leaseMs: 1000 });
    assert.strictEqual(retry.id, jobs[2].id);
    clock.advance(1001);
    assert.strictEqual((await b.maintain()).reaped, 1);
    assert.deepStrictEqual(await b.history(queue, m0 - 1, m0 + 2), [
      expectedMinute(m0 - 1, {}),
      expectedMinute(m0, { completed: 3, failed: 1, retried: 1 }, [30, 30, 30, 30, 30]),
      expectedMinute(m0 + 1, { failed: 1 }, [2500]),
      expectedMinute(m0 + 2, {}),
    ]);
    assert.strictEqual(await b.history("no-such-queue", m0, m0), null);

    // The dead job requeued by an operator an hour later: its start is not
    // timed (from its creation it would be an hour; the requeue's moment is not kept).
    clock.advance(3_600_000);
    await b.requeue(jobs[3].id);
    clock.advance(5);
    const [revived] = await b.claim(1);
    assert.strictEqual(revived.id, jobs[3].id);
    const m = Math.floor(clock.now() / 60_000);
    assert.deepStrictEqual(await b.history(queue, m, m), [expectedMinute(m, {})]);
  });

  test("history: a delayed job waits from its due time; a lost lease requeued counts as retried, its rerun no latency", async (h) => {
    const clock = fakeClock();
    const m0 = clock.now() / 60_000;
    const b = await h.make({ clock: clock.now });
    await b.enqueue({ type: "d", payload: null, delay_ms: 10_000, max_attempts: 3 });
    clock.advance(10_000);
    await b.maintain();
    clock.advance(7);
    const [first] = await b.claim(1, { leaseMs: 1000 });
    assert.ok(first);
    clock.advance(1001);
    assert.strictEqual((await b.maintain()).reaped, 1);
    clock.advance(3);
    const [again] = await b.claim(1);
    assert.strictEqual(again.attempt, 2);
    await b.complete(again.id, again.token, null);
    const queue = await queueOf(b);
    // Started twice: 7 ms after its due time, then again after a requeue
    // whose moment the record does not keep, so only the first is timed.
    assert.deepStrictEqual(await b.history(queue, m0, m0), [
      expectedMinute(m0, { completed: 1, retried: 1 }, [7]),
    ]);
  });
}
