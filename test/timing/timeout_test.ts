/** withTimeout: the value, the promise's own error, or TimeoutError; never a leftover timer. */
import assert from "node:assert/strict";
import { TimeoutError, withTimeout } from "../../src/timing/timeout.ts";

Deno.test("withTimeout passes a value or an error through and clears its timer", async () => {
  // The test sanitizer fails the test if either race leaves its 10 s timer running.
  assert.strictEqual(await withTimeout(Promise.resolve(7), 10_000), 7);
  await assert.rejects(withTimeout(Promise.reject(new RangeError("own")), 10_000), RangeError);
});

Deno.test("withTimeout rejects with TimeoutError when the time runs out first", async () => {
  const never = new Promise<never>(() => {});
  const t0 = performance.now();
  await assert.rejects(withTimeout(never, 30), (error) => {
    assert.ok(error instanceof TimeoutError);
    assert.strictEqual(error.ms, 30);
    assert.strictEqual(error.name, "TimeoutError");
    return true;
  });
  assert.ok(performance.now() - t0 >= 25);
});
