/** validate.ts: enqueue input validation and encoding. */
import assert from "node:assert/strict";
import { encodeJob, isUuid } from "../../src/queue/validate.ts";
import { InvalidInputError, PayloadTooLargeError } from "../../src/queue/errors.ts";
import { LIMITS } from "../../src/queue/job.ts";

const HOME = { queue: "default", home: "default" };

Deno.test("encodeJob validates backoff and normalises ids", () => {
  const now = 1000;
  const id = crypto.randomUUID().toUpperCase();
  assert.strictEqual(encodeJob({ type: "t", payload: 1, id }, now, HOME).id, id.toLowerCase());
  assert.ok(isUuid(id));
  assert.strictEqual(encodeJob({ type: "t", payload: undefined }, now, HOME).payload, "null");
  assert.strictEqual(encodeJob({ type: "t", payload: 1, delay_ms: 0 }, now, HOME).dueAt, 0);
  assert.strictEqual(encodeJob({ type: "t", payload: 1, delay_ms: 5 }, now, HOME).dueAt, 1005);
  const bo = { kind: "polynomial" as const, base_ms: 1, factor: 2, max_ms: 5, jitter: 0.1 };
  assert.deepStrictEqual(
    JSON.parse(encodeJob({ type: "t", payload: 1, backoff: bo }, now, HOME).backoff),
    bo,
  );
  assert.throws(
    () => encodeJob({ type: "t", payload: 1, backoff: { ...bo, jitter: 2 } }, now, HOME),
    (e: unknown) => e instanceof InvalidInputError && e.field === "backoff",
  );
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => encodeJob({ type: "t", payload: circular }, now, HOME), InvalidInputError);
  assert.throws(() => encodeJob({ type: "t", payload: () => 1 }, now, HOME), InvalidInputError);
});

Deno.test("encodeJob stores a given payload_json verbatim, and still enforces the size limit", () => {
  const payload = { to: "a@b.co", n: [1, 2] };
  const text = JSON.stringify(payload);
  assert.strictEqual(encodeJob({ type: "t", payload, payload_json: text }, 0, HOME).payload, text);
  assert.strictEqual(encodeJob({ type: "t", payload }, 0, HOME).payload, JSON.stringify(payload));
  // Verbatim: the text given, not the payload serialized again (this one keeps its spaces).
  const spaced = JSON.stringify(payload, null, 1);
  assert.strictEqual(
    encodeJob({ type: "t", payload, payload_json: spaced }, 0, HOME).payload,
    spaced,
  );
  const big = { s: "x".repeat(LIMITS.maxPayloadBytes) };
  assert.throws(
    () => encodeJob({ type: "t", payload: big, payload_json: JSON.stringify(big) }, 0, HOME),
    PayloadTooLargeError,
  );
  assert.throws(() => encodeJob({ type: "t", payload: big }, 0, HOME), PayloadTooLargeError);
  assert.throws(
    () => encodeJob({ type: "t", payload, payload_json: 7 as unknown as string }, 0, HOME),
    (e: unknown) => e instanceof InvalidInputError && e.field === "payload_json",
  );
});
