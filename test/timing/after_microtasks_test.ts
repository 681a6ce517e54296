/** `afterMicrotasks` and `nextTask` run after every queued microtask of the task, before any timer. */
import assert from "node:assert/strict";
import { afterMicrotasks, nextTask } from "../../src/timing/after_microtasks.ts";

Deno.test("afterMicrotasks: runs after every queued microtask, long before a timer", async () => {
  const order: string[] = [];
  // Not a 0 ms timer: once its 1 ms floor has passed (a loaded machine, tests
  // run in parallel) the event loop may run it before the check phase.
  const timer = new Promise<void>((r) =>
    setTimeout(() => {
      order.push("timeout");
      r();
    }, 50)
  );
  afterMicrotasks(() => order.push("after"));
  (async () => {
    for (let i = 0; i < 100; i++) await null;
    order.push("microtasks");
  })();
  await timer;
  assert.deepStrictEqual(order, ["microtasks", "after", "timeout"]);
});

Deno.test("nextTask: resolves after the task's microtasks, before a timer", async () => {
  const order: string[] = [];
  const timer = setTimeout(() => order.push("timeout"), 50);
  queueMicrotask(() => order.push("microtask"));
  await nextTask();
  order.push("next task");
  assert.deepStrictEqual(order, ["microtask", "next task"]);
  clearTimeout(timer);
});
