import assert from "node:assert/strict";
import { EventBus } from "../../src/events/bus.ts";
import type { LifecycleEvent, Observer } from "../../src/events/lifecycle.ts";

const event: LifecycleEvent = { kind: "enqueued", job_id: "j", type: "t", at: 0, priority: 0 };

Deno.test("EventBus isolates a throwing or rejecting observer from the others", async () => {
  const errors: string[] = [];
  const bus = new EventBus((observer) => errors.push(observer.name));
  const seen: string[] = [];
  bus.subscribe({
    name: "sync-throw",
    onEvent: () => {
      throw new Error("x");
    },
  });
  bus.subscribe({ name: "async-reject", onEvent: () => Promise.reject(new Error("y")) });
  bus.subscribe({ name: "good", onEvent: (e) => void seen.push(e.kind) });
  bus.emit(event);
  bus.emit(event);
  await new Promise((r) => setTimeout(r, 0));
  assert.deepStrictEqual(seen, ["enqueued", "enqueued"]);
  assert.deepStrictEqual(errors.sort(), [
    "async-reject",
    "async-reject",
    "sync-throw",
    "sync-throw",
  ]);
});

Deno.test("EventBus unsubscribe stops delivery, even from inside a handler", () => {
  const bus = new EventBus();
  const seen: string[] = [];
  let off = () => {};
  const once: Observer = {
    name: "once",
    onEvent: () => {
      seen.push("once");
      off();
    },
  };
  off = bus.subscribe(once);
  bus.subscribe({ name: "always", onEvent: () => void seen.push("always") });
  bus.emit(event);
  bus.emit(event);
  assert.deepStrictEqual(seen, ["once", "always", "always"]);
});

Deno.test("EventBus survives an error handler that throws", () => {
  const bus = new EventBus(() => {
    throw new Error("handler");
  });
  bus.subscribe({
    name: "bad",
    onEvent: () => {
      throw new Error("x");
    },
  });
  bus.emit(event); // must not throw
});
