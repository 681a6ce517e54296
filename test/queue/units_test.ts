/** Pure helpers of the queue core: URL parsing, cursors, codec, error mapping. */
import assert from "node:assert/strict";
import { clusterNodes, toQueueError } from "../../src/queue/connect.ts";
import { decodeCursor, encodeCursor } from "../../src/queue/list_cursor.ts";
import { decodeJob } from "../../src/queue/codec.ts";
import { mapScriptError } from "../../src/queue/scripts.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
  QueueUnavailableError,
} from "../../src/queue/errors.ts";
import { encodeJob, isUuid } from "../../src/queue/validate.ts";

Deno.test("clusterNodes parses cluster URLs and comma lists, null for one server", () => {
  assert.strictEqual(clusterNodes("redis://localhost:6379"), null);
  assert.deepStrictEqual(clusterNodes("redis-cluster://a:7000,b:7001"), [
    { host: "a", port: 7000 },
    { host: "b", port: 7001 },
  ]);
  assert.deepStrictEqual(clusterNodes("redis://u:p@a:7000/0, b"), [
    { host: "a", port: 7000 },
    { host: "b", port: 6379 },
  ]);
});

Deno.test("cursors round-trip and reject garbage", () => {
  for (const score of ["0", "1800000000000", "-inf", "109951162777600123"]) {
    assert.deepStrictEqual(decodeCursor(encodeCursor({ score, skip: 3 })), { score, skip: 3 });
  }
  assert.throws(() => decodeCursor("%%%"), InvalidInputError);
  assert.throws(() => decodeCursor(btoa("abc:1")), InvalidInputError);
});

Deno.test("decodeJob maps short fields and tolerates odd values", () => {
  assert.strictEqual(decodeJob("x", {}), null);
  const job = decodeJob("x", {
    t: "t",
    d: "not json",
    s: "weird",
    c: "0",
    eh: '[[1,"m",0],"junk"]',
    bo: JSON.stringify({ kind: "exponential", base_ms: 1, factor: 2, max_ms: 10, jitter: 0 }),
  });
  assert.ok(job);
  assert.strictEqual(job.payload, "not json");
  assert.strictEqual(job.status, "pending");
  assert.strictEqual(job.error_history.length, 2);
  assert.strictEqual(job.backoff?.kind, "exponential");
  assert.strictEqual(job.lease_expires_at, null);
});

Deno.test("script errors map to typed errors; connection errors to QueueUnavailableError", () => {
  const reply = (message: string) => Object.assign(new Error(message), { name: "ReplyError" });
  assert.ok(mapScriptError(reply("JQ_NOT_FOUND x"), "x", "cancel") instanceof JobNotFoundError);
  const state = mapScriptError(reply("JQ_INVALID_STATE completed"), "x", "cancel");
  assert.ok(state instanceof InvalidStateError && state.state === "completed");
  assert.ok(mapScriptError(reply("JQ_EXISTS x"), "x", "enqueue") instanceof InvalidInputError);
  const other = reply("JQ_SOMETHING_NEW");
  assert.strictEqual(mapScriptError(other, "x", "op"), other);
  const wrongType = reply("WRONGTYPE Operation");
  assert.strictEqual(mapScriptError(wrongType, "x", "op"), wrongType);
  assert.ok(toQueueError(new Error("Command timed out")) instanceof QueueUnavailableError);
  assert.strictEqual(toQueueError("string"), "string");
});

Deno.test("encodeJob validates backoff and normalises ids", () => {
  const now = 1000;
  const id = crypto.randomUUID().toUpperCase();
  assert.strictEqual(encodeJob({ type: "t", payload: 1, id }, now).id, id.toLowerCase());
  assert.ok(isUuid(id));
  assert.strictEqual(encodeJob({ type: "t", payload: undefined }, now).payload, "null");
  assert.strictEqual(encodeJob({ type: "t", payload: 1, delay_ms: 0 }, now).dueAt, 0);
  assert.strictEqual(encodeJob({ type: "t", payload: 1, delay_ms: 5 }, now).dueAt, 1005);
  const bo = { kind: "polynomial" as const, base_ms: 1, factor: 2, max_ms: 5, jitter: 0.1 };
  assert.deepStrictEqual(
    JSON.parse(encodeJob({ type: "t", payload: 1, backoff: bo }, now).backoff),
    bo,
  );
  assert.throws(
    () => encodeJob({ type: "t", payload: 1, backoff: { ...bo, jitter: 2 } }, now),
    (e: unknown) => e instanceof InvalidInputError && e.field === "backoff",
  );
  const circular: Record<string, unknown> = {};
  circular.self = circular;
  assert.throws(() => encodeJob({ type: "t", payload: circular }, now), InvalidInputError);
  assert.throws(() => encodeJob({ type: "t", payload: () => 1 }, now), InvalidInputError);
});
