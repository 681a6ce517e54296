import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import { BodyBudget } from "../../src/api/body_budget.ts";
import { createApp } from "../../src/api/app.ts";
import { HttpError } from "../../src/api/errors.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { assertError, postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

Deno.test("BodyBudget: tickets take and give back bytes; release is idempotent", () => {
  const budget = new BodyBudget(100);
  const a = budget.ticket();
  const b = budget.ticket();
  a.take(60);
  assert.throws(() => b.take(41), (e) => e instanceof HttpError && e.code === "overloaded");
  b.take(40);
  assert.strictEqual(budget.inUse, 100);
  a.release();
  a.release();
  assert.strictEqual(budget.inUse, 40);
  a.take(10); // after release: no effect, nothing held
  assert.strictEqual(budget.inUse, 40);
  b.release();
  assert.strictEqual(budget.inUse, 0);
});

/** Waits until `cond()` holds; fails after `ms` instead of hanging. */
async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** The spec's email submit padded to about `bytes` bytes of JSON. */
function bigSubmit(bytes: number, tag: string) {
  const body = JSON.stringify(SPEC_EMAIL);
  return {
    ...SPEC_EMAIL,
    payload: { ...SPEC_EMAIL.payload, body: tag.padEnd(bytes - body.length) },
  };
}

Deno.test("POST /jobs past the body budget: 503 overloaded with Retry-After, nothing stored; the budget comes back", async () => {
  const api = await startApi();
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  let waiting = 0;
  // The real broker, with enqueue held until `open()`: the first submits stay in flight.
  const held = new Proxy(api.broker, {
    get(target, prop) {
      if (prop === "enqueue") {
        return async (input: Parameters<Broker["enqueue"]>[0]) => {
          waiting++;
          await gate;
          return target.enqueue(input);
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  const app = createApp({
    broker: held,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    maxBodyBytes: 2000,
    bodyBudgetBytes: 3000,
    brokerTimeoutMs: 10_000,
  });
  try {
    const first = postJson(app, "/api/v1/jobs", bigSubmit(1200, "a"));
    const second = postJson(app, "/api/v1/jobs", bigSubmit(1200, "b"));
    await until(() => waiting === 2, "two submits in flight");

    // 2400 of 3000 bytes held: a third 1200-byte body does not fit, declared or streamed.
    const refused = await postJson(app, "/api/v1/jobs", bigSubmit(1200, "c"));
    assert.strictEqual(refused.headers.get("retry-after"), "1");
    await assertError(refused, 503, "overloaded");
    const text = new TextEncoder().encode(JSON.stringify(bigSubmit(1200, "d")));
    const streamed = await app.request("/api/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: new ReadableStream({
        start(c) {
          c.enqueue(text.subarray(0, 600));
          c.enqueue(text.subarray(600));
          c.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    await assertError(streamed, 503, "overloaded");
    // A small body still fits next to the held ones (and waits like them).
    const small = postJson(app, "/api/v1/jobs", SPEC_EMAIL);
    await until(() => waiting === 3, "the small submit in flight");

    open();
    for (const r of await Promise.all([first, second, small])) assert.strictEqual(r.status, 201);
    assert.strictEqual((await api.broker.stats()).pending, 3, "the refused submits stored nothing");

    // Every ticket came back, on success and on error paths alike: bodies that
    // together far exceed the budget pass one after another.
    for (let i = 0; i < 5; i++) {
      const bad = await postJson(app, "/api/v1/jobs", "{" + "x".repeat(1500));
      await assertError(bad, 400, "invalid_json");
    }
    const again = await postJson(app, "/api/v1/jobs", bigSubmit(1200, "c"));
    assert.strictEqual(again.status, 201);
    const batch = await postJson(app, "/api/v1/jobs/batch", {
      jobs: [bigSubmit(1000, "e"), bigSubmit(1000, "f")],
    });
    assert.strictEqual(batch.status, 201);
    assert.strictEqual((await api.broker.stats()).pending, 6);
  } finally {
    open();
    await api.close();
  }
});
