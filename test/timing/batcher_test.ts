/**
 * `Batcher` (runner <-> thread messages) flushes once the current task's
 * microtasks are done, or at once at its size cap.
 */
import assert from "node:assert/strict";
import { Batcher } from "../../src/timing/batcher.ts";
import { nextTask } from "../../src/timing/after_microtasks.ts";

Deno.test("Batcher: items settled through chains of awaits in one task make one batch", async () => {
  const batches: number[][] = [];
  const b = new Batcher<number>((items) => batches.push(items));
  // Like handlers finishing a few awaits apart within the same task.
  await Promise.all(Array.from({ length: 50 }, async (_, i) => {
    for (let k = 0; k < i % 7; k++) await null;
    b.push(i);
  }));
  assert.strictEqual(batches.length, 0, "nothing is sent before the task's microtasks are done");
  await nextTask();
  assert.strictEqual(batches.length, 1);
  assert.strictEqual(batches[0].length, 50);
});

Deno.test("Batcher: a full batch is sent at once; flushNow sends what is queued", async () => {
  const batches: number[][] = [];
  const b = new Batcher<number>((items) => batches.push(items), 3);
  for (let i = 0; i < 7; i++) b.push(i);
  assert.deepStrictEqual(batches, [[0, 1, 2], [3, 4, 5]]);
  b.flushNow();
  assert.deepStrictEqual(batches, [[0, 1, 2], [3, 4, 5], [6]]);
  await nextTask();
  assert.strictEqual(batches.length, 3, "the scheduled flush finds nothing left");
  b.push(9);
  await nextTask();
  assert.deepStrictEqual(batches.at(-1), [9]);
});
