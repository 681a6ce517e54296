/**
 * `Deadlines`: one timer for many calls sharing a timeout; each call gets its
 * answer or the timeout error, in order, and nothing is left armed.
 */
import assert from "node:assert/strict";
import { Deadlines } from "../../src/timing/deadlines.ts";
import { TimeoutError } from "../../src/timing/timeout.ts";
import { QueueUnavailableError } from "../../src/queue/errors.ts";

const never = () => new Promise<never>(() => {});
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("Deadlines: answers pass through, hung calls fail after the timeout, in order", async () => {
  const deadlines = new Deadlines(
    60,
    (ms) => new QueueUnavailableError(`queue did not answer within ${ms} ms`),
  );
  assert.strictEqual(await deadlines.call(Promise.resolve(7)), 7);
  await assert.rejects(deadlines.call(Promise.reject(new RangeError("x"))), RangeError);
  const start = performance.now();
  const first = deadlines.call(never());
  await sleep(30);
  const second = deadlines.call(never());
  const quick = deadlines.call(sleep(5).then(() => "ok"));
  assert.strictEqual(await quick, "ok");
  await assert.rejects(first, QueueUnavailableError);
  const firstAt = performance.now() - start;
  await assert.rejects(second, QueueUnavailableError);
  const secondAt = performance.now() - start;
  assert.ok(firstAt >= 55 && firstAt < 1000, `first failed after ${firstAt} ms`);
  assert.ok(secondAt >= 85 && secondAt < 1000, `second failed after ${secondAt} ms`);
  // A late rejection after the deadline is swallowed (no unhandled rejection).
  let late: (e: Error) => void = () => {};
  const lateCall = deadlines.call(new Promise<never>((_, reject) => (late = reject)));
  await assert.rejects(lateCall, QueueUnavailableError);
  late(new Error("too late"));
  await sleep(1);
  // Nothing in flight: no timer left behind (the test sanitizer checks this).
});

Deno.test("Deadlines: the default timeout error is a TimeoutError with the timeout", async () => {
  const deadlines = new Deadlines(20);
  await assert.rejects(deadlines.call(never()), (error) => {
    assert.ok(error instanceof TimeoutError);
    assert.strictEqual(error.ms, 20);
    return true;
  });
});
