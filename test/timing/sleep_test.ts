/** `sleep`: waits its time, or less on abort; never leaves a timer or a listener behind. */
import assert from "node:assert/strict";
import { sleep } from "../../src/timing/sleep.ts";

Deno.test("sleep waits about its time", async () => {
  const t0 = performance.now();
  await sleep(30);
  assert.ok(performance.now() - t0 >= 25);
});

Deno.test("sleep resolves early on abort and clears its timer", async () => {
  // The test sanitizer fails the test if the 10 s timer is left running.
  const ac = new AbortController();
  const t0 = performance.now();
  const slept = sleep(10_000, ac.signal);
  setTimeout(() => ac.abort(), 10);
  await slept;
  assert.ok(performance.now() - t0 < 1000);
  // Already aborted: returns at once.
  await sleep(10_000, ac.signal);
});

Deno.test("sleep removes its abort listener when the time runs out", async () => {
  const ac = new AbortController();
  let added = 0;
  let removed = 0;
  const signal = ac.signal;
  const add = signal.addEventListener.bind(signal);
  const remove = signal.removeEventListener.bind(signal);
  signal.addEventListener = (...args: Parameters<AbortSignal["addEventListener"]>) => {
    added++;
    add(...args);
  };
  signal.removeEventListener = (...args: Parameters<AbortSignal["removeEventListener"]>) => {
    removed++;
    remove(...args);
  };
  await sleep(5, signal);
  assert.deepStrictEqual([added, removed], [1, 1]);
});
