/**
 * The zero-delay batching primitives: `Batcher` (runner <-> thread messages)
 * flushes once the current task's microtasks are done, or at once at its size
 * cap; the buffered log sink writes a task's stdout lines in one write and
 * keeps their order relative to stderr lines.
 */
import assert from "node:assert/strict";
import { afterMicrotasks, Batcher, nextTask } from "../../src/worker/messages.ts";
import { bufferedSink } from "../../src/worker/log_sink.ts";

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

Deno.test("afterMicrotasks: runs after every queued microtask, long before a timer", async () => {
  const order: string[] = [];
  const timer = new Promise<void>((r) =>
    setTimeout(() => {
      order.push("timeout");
      r();
    }, 0)
  );
  afterMicrotasks(() => order.push("after"));
  (async () => {
    for (let i = 0; i < 100; i++) await null;
    order.push("microtasks");
  })();
  await timer;
  assert.deepStrictEqual(order, ["microtasks", "after", "timeout"]);
});

Deno.test("bufferedSink: one stdout write per task; stderr lines keep their place", async () => {
  const writes: Array<[string, string]> = [];
  const dec = new TextDecoder();
  const out = bufferedSink({
    stdout: (b) => writes.push(["out", dec.decode(b)]),
    stderr: (b) => writes.push(["err", dec.decode(b)]),
  }, 40);
  out.sink("a", "info");
  out.sink("b", "debug");
  assert.deepStrictEqual(writes, []);
  out.sink("W", "warn"); // flushes a, b first
  out.sink("c", "info");
  out.sink("d".repeat(40), "info"); // past the cap: written at once
  out.sink("e", "info");
  assert.deepStrictEqual(writes, [["out", "a\nb\n"], ["err", "W\n"], [
    "out",
    `c\n${"d".repeat(40)}\n`,
  ]]);
  await nextTask();
  assert.deepStrictEqual(writes.at(-1), ["out", "e\n"]);
  out.flush();
  assert.strictEqual(writes.length, 4);
});
