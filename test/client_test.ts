import assert from "node:assert/strict";
import { z } from "zod";
import { createClient, JobValidationError } from "../src/client.ts";
import type { LifecycleEvent } from "../src/events/lifecycle.ts";
import { builtinJobs } from "../src/jobs/builtins.ts";
import { defineJob } from "../src/jobs/definition.ts";
import { RedisBroker } from "../src/queue/redis_broker.ts";
import { TestRedis } from "./helpers/redis_server.ts";

const hello = defineJob({
  type: "hello",
  schema: z.object({ name: z.string().min(1), times: z.int().default(1) }),
  defaults: { priority: 7, max_attempts: 2 },
  handler: (_ctx, p) => Promise.resolve(p.name.repeat(p.times)),
});

const EMAIL = {
  to: "user@example.com",
  from: "noreply@example.com",
  subject: "Welcome!",
  body: "Thanks for signing up",
};

async function withClient(
  fn: (
    client: ReturnType<typeof makeClient>,
    broker: RedisBroker,
    events: LifecycleEvent[],
  ) => Promise<void>,
) {
  const redis = await TestRedis.start();
  const events: LifecycleEvent[] = [];
  const broker = new RedisBroker({
    url: redis.url,
    queue: `client_${crypto.randomUUID().slice(0, 8)}`,
    // The client's enqueues are observed through its broker, like the API's.
    onEvents: (batch) => void events.push(...batch),
  });
  try {
    await fn(makeClient(broker), broker, events);
  } finally {
    await broker.close();
    await redis.close();
  }
}

function makeClient(broker: RedisBroker) {
  return createClient(broker, { ...builtinJobs, hello });
}

Deno.test("client: payloads are typed by their definition (compile-time checks)", () => {
  // Never run: only type-checked.
  const typecheck = (client: ReturnType<typeof makeClient>) => {
    void client.enqueue("email", EMAIL, { priority: 5 });
    void client.enqueue("hello", { name: "ann" }); // `times` has a default
    void client.enqueue("compute", { duration_ms: 10, mode: "cpu" });
    // @ts-expect-error: email needs `to`, `from`, `subject`, `body`
    void client.enqueue("email", { to: "user@example.com" });
    // @ts-expect-error: wrong field type
    void client.enqueue("hello", { name: 42 });
    // @ts-expect-error: unknown job type
    void client.enqueue("nope", {});
    void client.enqueueBatch([
      { type: "hello", payload: { name: "a" } },
      { type: "compute", payload: { duration_ms: 1 }, priority: 3 },
      // @ts-expect-error: payload does not match its type
      { type: "compute", payload: { name: "a" } },
    ]);
  };
  assert.strictEqual(typeof typecheck, "function");
});

Deno.test("client: enqueue validates, applies defaults and writes through the broker", async () => {
  await withClient(async (client, broker, events) => {
    const { id, created } = await client.enqueue("hello", { name: "ann" });
    assert.strictEqual(created, true);
    const job = await client.get(id);
    assert.deepStrictEqual(job?.payload, { name: "ann", times: 1 });
    assert.strictEqual(job?.priority, 7);
    assert.strictEqual(job?.max_attempts, 2);
    const email = await client.enqueue("email", EMAIL, { priority: 9, idempotency_key: "k1" });
    assert.strictEqual((await broker.get(email.id))?.priority, 9);
    const again = await client.enqueue("email", EMAIL, { idempotency_key: "k1" });
    assert.deepStrictEqual(again, { id: email.id, created: false });
    await new Promise((r) => setTimeout(r, 0)); // events arrive after the call
    assert.deepStrictEqual(events.map((e) => [e.kind, e.type]), [
      ["enqueued", "hello"],
      ["enqueued", "email"],
    ]);
  });
});

Deno.test("client: invalid payloads are refused before Redis", async () => {
  await withClient(async (client, broker) => {
    const untyped = client as unknown as { enqueue(t: string, p: unknown): Promise<unknown> };
    await assert.rejects(
      untyped.enqueue("email", { ...EMAIL, to: "nope" }),
      (e: unknown) => e instanceof JobValidationError && /to: /.test(e.message),
    );
    await assert.rejects(untyped.enqueue("ghost", {}), /unknown job type "ghost"/);
    await assert.rejects(
      untyped.enqueue("hello", { name: "x".repeat(2 * 1024 * 1024) }),
      (e: unknown) => e instanceof JobValidationError && e.failure.reason === "payload_too_large",
    );
    assert.strictEqual((await broker.stats()).total, 0);
  });
});

Deno.test("client: enqueueBatch is all-or-nothing on validation, one round trip", async () => {
  await withClient(async (client, broker) => {
    const results = await client.enqueueBatch([
      { type: "hello", payload: { name: "a" } },
      { type: "compute", payload: { duration_ms: 1 }, priority: 3 },
    ]);
    assert.strictEqual(results.length, 2);
    assert.strictEqual((await broker.get(results[1].id))?.priority, 3);
    await assert.rejects(
      client.enqueueBatch([
        { type: "hello", payload: { name: "b" } },
        { type: "hello", payload: { name: "" } },
      ]),
      JobValidationError,
    );
    assert.strictEqual((await broker.stats()).total, 2);
  });
});

Deno.test("client: map keys must match definition types", () => {
  assert.throws(
    () => createClient({} as RedisBroker, { wrong: hello }),
    /names type "hello"/,
  );
});
