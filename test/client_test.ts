import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { z } from "zod";
import { createClient, JobValidationError } from "../src/client.ts";
import type { LifecycleEvent } from "../src/events/lifecycle.ts";
import { builtinJobs } from "../src/jobs/builtins.ts";
import { defineJob } from "../src/jobs/definition.ts";
import type { Broker } from "../src/queue/broker.ts";
import { OutcomeUnknownError, UnknownDependencyError } from "../src/queue/errors.ts";
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

function makeClient(broker: Broker) {
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

Deno.test("client: depends_on on enqueue and batch; unknown dependencies refused", async () => {
  await withClient(async (client, broker) => {
    const a = await client.enqueue("hello", { name: "a" });
    const b = await client.enqueue("hello", { name: "b" }, { depends_on: [a.id] });
    assert.strictEqual((await broker.get(b.id))?.status, "waiting");
    const parent = crypto.randomUUID();
    const [p, c] = await client.enqueueBatch([
      { type: "hello", payload: { name: "p" }, id: parent },
      {
        type: "compute",
        payload: { duration_ms: 1 },
        depends_on: [parent, a.id],
        on_dependency_failure: "ignore",
      },
    ]);
    assert.strictEqual(p.id, parent);
    assert.deepStrictEqual((await broker.get(c.id))?.dependencies, {
      total: 2,
      completed: 0,
      failed: 0,
      pending: 2,
    });
    const before = (await broker.stats()).total;
    await assert.rejects(
      client.enqueue("hello", { name: "x" }, { depends_on: [crypto.randomUUID()] }),
      UnknownDependencyError,
    );
    assert.strictEqual((await broker.stats()).total, before);
  });
});

Deno.test("client: map keys must match definition types", () => {
  assert.throws(
    () => createClient({} as RedisBroker, { wrong: hello }),
    /names type "hello"/,
  );
});

/** A broker on a server of the test's own (DEBUG SLEEP allowed), recording each enqueue call. */
async function withStallableClient(
  fn: (ctx: {
    client: ReturnType<typeof makeClient>;
    broker: RedisBroker;
    /** Each broker enqueue/enqueueBatch call's outcome, in order: "ok" or the error's name. */
    calls: string[];
    /** Sleeps Redis for `seconds` (the command timeout is 300 ms); resolves when it woke. */
    stall(seconds: number): Promise<unknown>;
    jobCount(): Promise<number>;
  }) => Promise<void>,
) {
  const redis = await TestRedis.start({ args: ["--enable-debug-command", "yes"] });
  const broker = new RedisBroker({
    url: redis.url,
    queue: `client_${crypto.randomUUID().slice(0, 8)}`,
    commandTimeoutMs: 300,
  });
  const admin = new Redis(redis.url, { commandTimeout: 10_000 });
  const calls: string[] = [];
  const recorded = new Proxy(broker, {
    get(target, name) {
      const value = Reflect.get(target, name);
      if (name !== "enqueue" && name !== "enqueueBatch") {
        return typeof value === "function" ? value.bind(target) : value;
      }
      return async (...args: unknown[]) => {
        try {
          const out = await value.apply(target, args);
          calls.push("ok");
          return out;
        } catch (error) {
          calls.push((error as Error).name);
          throw error;
        }
      };
    },
  });
  try {
    await broker.enqueue({ type: "warm", payload: 0 }); // format check and scripts loaded
    await fn({
      client: makeClient(recorded),
      broker,
      calls,
      async stall(seconds) {
        const woke = admin.call("DEBUG", "SLEEP", String(seconds));
        await new Promise((r) => setTimeout(r, 50));
        return woke;
      },
      async jobCount() {
        return (await admin.keys(`${broker.keys.jobPrefix}*`)).length - 1; // minus the warm-up
      },
    });
  } finally {
    admin.disconnect();
    await broker.close();
    await redis.close();
  }
}

Deno.test({
  name: "client: an enqueue whose answer is lost is retried with its own id: one job, created",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ client, broker, calls, stall, jobCount }) => {
      const woke = stall(1);
      const result = await client.enqueue("hello", { name: "ann" });
      await woke;
      // Attempt 1 timed out on the socket (Redis ran it on waking); a retry was refused
      // because the client's own id existed: proof the job is stored, so "created".
      assert.strictEqual(calls[0], "OutcomeUnknownError");
      assert.strictEqual(calls.at(-1), "InvalidInputError");
      assert.strictEqual(result.created, true);
      assert.strictEqual(await jobCount(), 1);
      assert.deepStrictEqual((await broker.get(result.id))?.payload, { name: "ann", times: 1 });
    });
  },
});

Deno.test({
  name: "client: a caller-chosen id taken on a retry is not claimed as created",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ client, calls, stall, jobCount }) => {
      const id = crypto.randomUUID();
      const woke = stall(1);
      await assert.rejects(client.enqueue("hello", { name: "bo" }, { id }), OutcomeUnknownError);
      await woke;
      assert.strictEqual(calls[0], "OutcomeUnknownError");
      assert.strictEqual(calls.at(-1), "InvalidInputError"); // the id exists: whose, it cannot say
      assert.strictEqual(await jobCount(), 1, "stored once, by the first attempt");
    });
  },
});

Deno.test({
  name: "client: a caller's idempotency key keeps its meaning on a retry (answered from the key)",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ client, broker, calls, stall, jobCount }) => {
      const woke = stall(1);
      const result = await client.enqueue("hello", { name: "cy" }, { idempotency_key: "k-cy" });
      await woke;
      assert.strictEqual(calls[0], "OutcomeUnknownError");
      assert.strictEqual(calls.at(-1), "ok");
      assert.strictEqual(result.created, false, "the key matched the first attempt's job");
      assert.strictEqual(await jobCount(), 1);
      assert.ok(await broker.get(result.id));
    });
  },
});

Deno.test({
  name: "client: a batch chunk whose answer is lost is retried: stored once, every id answered",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ client, broker, calls, stall, jobCount }) => {
      // Own ids only: the retry's refusal names one of them.
      let woke = stall(1);
      const plain = await client.enqueueBatch([
        { type: "hello", payload: { name: "a" } },
        { type: "hello", payload: { name: "b" } },
      ]);
      await woke;
      assert.strictEqual(calls[0], "OutcomeUnknownError");
      assert.strictEqual(calls.at(-1), "InvalidInputError"); // its own id exists: stored
      calls.length = 0;
      assert.deepStrictEqual(plain.map((r) => r.created), [true, true]);
      for (const r of plain) assert.ok(await broker.get(r.id), r.id);
      assert.strictEqual(await jobCount(), 2);
      // A caller's id first (the refusal names it), a keyed job, then own ids: the chunk is
      // proven stored by one of its own ids, and the keyed job's id is asked of its key.
      const callerId = crypto.randomUUID().toUpperCase(); // answered as the broker stores it
      woke = stall(1);
      const mixed = await client.enqueueBatch([
        { type: "hello", payload: { name: "c" }, id: callerId },
        { type: "hello", payload: { name: "d" }, idempotency_key: "k-d" },
        { type: "hello", payload: { name: "e" } },
      ]);
      await woke;
      // Unknown, refused (the caller's id exists), then the keyed job asked again.
      assert.strictEqual(calls[0], "OutcomeUnknownError");
      assert.deepStrictEqual(calls.slice(-2), ["InvalidInputError", "ok"]);
      assert.strictEqual(mixed[0].id, callerId.toLowerCase());
      assert.deepStrictEqual(mixed.map((r) => r.created), [true, false, true]);
      const names = await Promise.all(mixed.map(async (r) => (await broker.get(r.id))?.payload));
      assert.deepStrictEqual(names, [{ name: "c", times: 1 }, { name: "d", times: 1 }, {
        name: "e",
        times: 1,
      }]);
      assert.strictEqual(await jobCount(), 5, "no job twice");
    });
  },
});

Deno.test({
  name: "client: retries off (attempts: 1) give the first answer as it is",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ broker, calls, stall, jobCount }) => {
      const once = createClient(broker, { hello }, { attempts: 1 });
      const woke = stall(1);
      await assert.rejects(once.enqueue("hello", { name: "x" }), OutcomeUnknownError);
      await woke;
      assert.deepStrictEqual(calls, []); // not the recorded broker: nothing to record
      assert.strictEqual(await jobCount(), 1, "it was stored: only the answer was lost");
    });
  },
});

Deno.test({
  name: "client: a batch over 1000 is checked whole before its first chunk is written",
  ignore: Deno.env.get("REDIS_URL") !== undefined,
  async fn() {
    await withStallableClient(async ({ client, jobCount }) => {
      const items = Array.from({ length: 1500 }, (_, i) => ({
        type: "hello" as const,
        payload: { name: `n${i}` },
        priority: i === 1200 ? 101 : undefined,
      }));
      await assert.rejects(client.enqueueBatch(items), /jobs\[1200\]: priority/);
      const id = crypto.randomUUID();
      await assert.rejects(
        client.enqueueBatch([
          { type: "hello", payload: { name: "a" }, id },
          ...items.slice(0, 1100).map((item) => ({ ...item, priority: 1 })),
          { type: "hello", payload: { name: "b" }, id },
        ]),
        /duplicate id in batch/,
      );
      assert.strictEqual(await jobCount(), 0);
      const ok = await client.enqueueBatch(items.map((item) => ({ ...item, priority: 1 })));
      assert.strictEqual(ok.length, 1500);
      assert.strictEqual(await jobCount(), 1500);
    });
  },
});

Deno.test("client: a job goes to its submit's queue, else its type's own, else the default", async () => {
  const mailer = defineJob({
    type: "mailer",
    queue: "mail",
    schema: z.object({ to: z.string() }),
    handler: () => Promise.resolve(null),
  });
  await withClient(async (_client, broker) => {
    const client = createClient(broker, { hello, mailer });
    const own = await client.enqueue("mailer", { to: "a" });
    assert.match(own.id, /^mail:/);
    assert.strictEqual((await client.get(own.id))?.queue, "mail");
    const chosen = await client.enqueue("mailer", { to: "b" }, { queue: "urgent" });
    assert.strictEqual((await client.get(chosen.id))?.queue, "urgent");
    const plain = await client.enqueue("hello", { name: "c" });
    assert.strictEqual((await client.get(plain.id))?.queue, broker.defaultQueue);
    const batch = await client.enqueueBatch([
      { type: "mailer", payload: { to: "d" } },
      { type: "hello", payload: { name: "e" }, queue: "urgent" },
    ]);
    assert.deepStrictEqual(
      await Promise.all(batch.map(async (r) => (await client.get(r.id))?.queue)),
      ["mail", "urgent"],
    );
    await assert.rejects(client.enqueue("hello", { name: "f" }, { queue: "no good" }), /queue/);
  });
  assert.throws(
    () => createClient(broker0(), { bad: defineJob({ ...hello, type: "bad", queue: "a b" }) }),
    /queue "a b" is not a queue name/,
  );
});

/** A broker nobody calls (the client refuses the map before any call). */
function broker0(): Broker {
  return {} as Broker;
}
