/** prepareEnqueue: the payload serialized once, for the size check and for the broker. */
import assert from "node:assert/strict";
import { z } from "zod";
import { defineJob } from "../../src/jobs/definition.ts";
import { prepareEnqueue } from "../../src/jobs/prepare.ts";
import { JobRegistry } from "../../src/jobs/registry.ts";
import { encodeJob } from "../../src/queue/validate.ts";
import { LIMITS } from "../../src/queue/job.ts";

const hello = defineJob({
  type: "hello",
  description: "greets",
  schema: z.object({ name: z.string(), times: z.int().default(1) }),
  handler: (_ctx, p) => Promise.resolve(`hi ${p.name}`.repeat(p.times)),
});
const anything = defineJob({
  type: "anything",
  description: "takes any payload",
  schema: z.unknown(),
  handler: () => Promise.resolve(null),
});
const registry = new JobRegistry().register(hello).register(anything);

Deno.test("prepareEnqueue hands the broker the validated payload's JSON text", () => {
  const prepared = prepareEnqueue(registry, { type: "hello", payload: { name: "ann" } });
  assert.ok(prepared.ok);
  assert.deepStrictEqual(prepared.input.payload, { name: "ann", times: 1 });
  assert.strictEqual(prepared.input.payload_json, '{"name":"ann","times":1}');
  // The broker stores that text as it is.
  assert.strictEqual(
    encodeJob(prepared.input, 0, { queue: "default", home: "default" }).payload,
    '{"name":"ann","times":1}',
  );
});

Deno.test("prepareEnqueue replaces a caller's payload_json with its own", () => {
  const prepared = prepareEnqueue(registry, {
    type: "hello",
    payload: { name: "bob" },
    payload_json: '{"name":"mallory"}',
  });
  assert.ok(prepared.ok);
  assert.strictEqual(prepared.input.payload_json, '{"name":"bob","times":1}');
});

Deno.test("prepareEnqueue: payloads JSON cannot hold, or too large for it", () => {
  // No text for a value JSON cannot represent: the broker refuses it as before.
  const fn = prepareEnqueue(registry, { type: "anything", payload: () => 1 });
  assert.ok(fn.ok);
  assert.strictEqual("payload_json" in fn.input, false);
  assert.throws(
    () => encodeJob(fn.input, 0, { queue: "default", home: "default" }),
    /not JSON-serializable/,
  );
  const nothing = prepareEnqueue(registry, { type: "anything", payload: undefined });
  assert.ok(nothing.ok);
  assert.strictEqual(nothing.input.payload_json, "null");
  const big = prepareEnqueue(registry, {
    type: "anything",
    payload: "x".repeat(LIMITS.maxPayloadBytes),
  });
  assert.strictEqual(big.ok, false);
  assert.strictEqual(!big.ok && big.reason, "payload_too_large");
});
