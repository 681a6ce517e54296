import assert from "node:assert/strict";
import { DeadlineTimer } from "../../src/timing/deadline_timer.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test("DeadlineTimer fires by the earliest armed deadline, once", async () => {
  let fired = 0;
  const timer = new DeadlineTimer(() => fired++);
  timer.arm(Date.now() + 10_000);
  timer.arm(Date.now() + 20); // earlier: re-armed
  timer.arm(Date.now() + 5_000); // later: ignored
  await sleep(80);
  assert.strictEqual(fired, 1);
  timer.arm(Date.now() + 10); // armed again after firing
  await sleep(60);
  assert.strictEqual(fired, 2);
});

Deno.test("DeadlineTimer.clear disarms; a past deadline fires at once", async () => {
  let fired = 0;
  const timer = new DeadlineTimer(() => fired++);
  timer.arm(Date.now() + 20);
  timer.clear();
  await sleep(60);
  assert.strictEqual(fired, 0);
  timer.arm(Date.now() - 1000);
  await sleep(10);
  assert.strictEqual(fired, 1);
});
