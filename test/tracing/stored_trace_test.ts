/**
 * The trace context a job stores (record field `trace`) through a real
 * redis-server: enqueued with the job, handed to the claimer, shown as
 * `trace_id`; none stored (and the record no longer) without one; a
 * malformed one refused before anything is written. And the typed client
 * takes the caller's active span as the parent.
 */
import assert from "node:assert/strict";
import { z } from "zod";
import { context, ROOT_CONTEXT, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { InvalidInputError } from "../../src/queue/errors.ts";
import { createClient } from "../../src/client.ts";
import { defineJob } from "../../src/jobs/definition.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { F } from "../../src/queue/record.ts";
import { unpack } from "../../src/queue/msgpack.ts";
import { Redis } from "ioredis";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";
const TP = `00-${TRACE}-${SPAN}-01`;

const hello = defineJob({
  type: "hello",
  schema: z.object({}),
  handler: () => Promise.resolve(null),
});

Deno.test("a job stores its trace context, claims carry it, and the status shows its trace id", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url });
  const raw = new Redis(redis.url);
  try {
    const traced = await broker.enqueue({
      type: "t",
      payload: {},
      traceparent: TP,
      tracestate: "k=v",
    });
    const plain = await broker.enqueue({ type: "t", payload: {} });
    const [batchTraced] = await broker.enqueueBatch([{ type: "t", payload: {}, traceparent: TP }]);
    assert.strictEqual((await broker.get(traced.id))?.trace_id, TRACE);
    assert.strictEqual((await broker.get(batchTraced.id))?.trace_id, TRACE);
    assert.strictEqual((await broker.get(plain.id))?.trace_id, null);
    // No trace: the record ends where it did before tracing existed.
    const keys = await raw.keys("*");
    const recordOf = async (id: string) => {
      const key = keys.find((k) => k.endsWith(id) && !k.includes(":i:"))!;
      return unpack(new Uint8Array(await raw.getBuffer(key) as Uint8Array)) as unknown[];
    };
    assert.ok((await recordOf(plain.id)).length <= F.trace, "no trace field written");
    assert.strictEqual((await recordOf(traced.id))[F.trace], `${TP}k=v`);
    const claimed = await broker.claim(3, { leaseMs: 30_000 });
    const byId = new Map(claimed.map((j) => [j.id, j]));
    assert.strictEqual(byId.get(traced.id)?.trace, `${TP}k=v`);
    assert.strictEqual(byId.get(plain.id)?.trace, null);
    // The claim rewrote the record: the field is still there once the job completes.
    await broker.complete(traced.id, byId.get(traced.id)!.token, null);
    assert.strictEqual((await broker.get(traced.id))?.trace_id, TRACE);
    await assert.rejects(
      () => broker.enqueue({ type: "t", payload: {}, traceparent: "00-nope" }),
      (e) => e instanceof InvalidInputError && e.field === "traceparent",
    );
    assert.strictEqual((await broker.stats()).pending, 0, "the refused job wrote nothing");
  } finally {
    raw.disconnect();
    await broker.close();
    await redis.close();
  }
});

Deno.test("the typed client stores the caller's active span, or the traceparent it is given", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url });
  const manager = new AsyncLocalStorageContextManager().enable();
  context.setGlobalContextManager(manager);
  try {
    const client = createClient(broker, { hello });
    assert.strictEqual((await broker.get((await client.enqueue("hello", {})).id))?.trace_id, null);
    const active = trace.setSpanContext(ROOT_CONTEXT, {
      traceId: TRACE,
      spanId: SPAN,
      traceFlags: 1,
    });
    const { id } = await context.with(active, () => client.enqueue("hello", {}));
    assert.strictEqual((await broker.get(id))?.trace_id, TRACE);
    const other = "11111111111111111111111111111111";
    const explicit = await client.enqueue("hello", {}, {
      traceparent: `00-${other}-${SPAN}-00`,
    });
    assert.strictEqual((await broker.get(explicit.id))?.trace_id, other);
  } finally {
    context.disable();
    await broker.close();
    await redis.close();
  }
});
