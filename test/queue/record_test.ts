/** record.ts: new records, and stored records (array or map form) to `Job`. */
import assert from "node:assert/strict";
import { pack, type Packed, unpack } from "../../src/queue/msgpack.ts";
import {
  decodeJob,
  F,
  type NewRecord,
  newRecord,
  RECORD_FIELDS,
  unpackRecord,
} from "../../src/queue/record.ts";

Deno.test("decodeJob reads records and tolerates odd values", () => {
  assert.strictEqual(decodeJob("x", null, "q"), null);
  assert.strictEqual(decodeJob("x", new Uint8Array(), "q"), null);
  assert.strictEqual(decodeJob("x", new Uint8Array([0xc1]), "q"), null, "unsupported type");
  assert.strictEqual(decodeJob("x", pack(7), "q"), null, "not a record");
  assert.strictEqual(decodeJob("x", pack([1, 2]), "q"), null, "no type");
  const bo = { kind: "exponential", base_ms: 1, factor: 2, max_ms: 10, jitter: 0 };
  const r: Packed[] = new Array(RECORD_FIELDS).fill(false);
  r[F.type] = "t";
  r[F.payload] = "not json";
  r[F.state] = 99;
  r[F.createdAt] = 0;
  r[F.history] = [[1, "m", 0], "junk"];
  r[F.backoff] = JSON.stringify(bo);
  r[F.cancel] = true;
  r[F.progress] = "42";
  const job = decodeJob("x", pack(r), "q");
  assert.ok(job);
  assert.strictEqual(job.payload, "not json");
  assert.strictEqual(job.status, "pending");
  assert.strictEqual(job.error_history.length, 2);
  assert.strictEqual(job.error_history[1].message, "");
  assert.strictEqual(job.backoff?.kind, "exponential");
  assert.strictEqual(job.lease_expires_at, null);
  assert.strictEqual(job.cancel_requested, true);
  assert.strictEqual(job.progress, 42);
  assert.strictEqual(job.max_attempts, 1, "absent max attempts");
  // Lua packs a table with holes as a map with integer keys.
  const asMap = pack({
    "1": "t",
    "2": "[1]",
    "7": 2,
    "14": 99,
    "16": { "1": [1, "e", 5] },
    "x": 1,
  });
  const running = decodeJob("y", asMap, "q");
  assert.strictEqual(running?.status, "running");
  assert.deepStrictEqual(running?.payload, [1]);
  assert.strictEqual(running?.lease_expires_at, new Date(99).toISOString());
  assert.deepStrictEqual(running?.error_history.map((e) => e.message), ["e"]);
  assert.deepStrictEqual(unpackRecord(pack("str")), null);
});

/** A new job's record packed on its own, as enqueue embeds it in a batch. */
const packRecord = (job: NewRecord) => pack(newRecord(job));

Deno.test("newRecord: pending, scheduled, and with backoff and idempotency key", () => {
  const base = {
    type: "email",
    payload: '{"to":"a@b.c"}',
    priority: 5,
    maxAttempts: 3,
    timeoutMs: 300000,
    createdAt: 1_800_000_000_000,
    dueAt: 0,
    backoff: "",
    idempotencyKey: "",
  };
  const pending = unpack(packRecord(base)) as Packed[];
  assert.deepStrictEqual(pending, ["email", '{"to":"a@b.c"}', 5, 3, 300000, 1_800_000_000_000, 0]);
  const later = unpackRecord(packRecord({ ...base, dueAt: 1_800_000_001_000 }))!;
  assert.strictEqual(later[F.state], 1);
  assert.strictEqual(later[F.scheduledFor], 1_800_000_001_000);
  assert.strictEqual(later.length, F.scheduledFor + 1);
  const full = unpackRecord(packRecord({ ...base, backoff: "{}", idempotencyKey: "k" }))!;
  // A job of no flow ends at its idempotency key: no dependency fields.
  assert.strictEqual(full.length, F.idempotencyKey + 1);
  assert.strictEqual(full[F.scheduledFor], false);
  assert.strictEqual(full[F.backoff], "{}");
  assert.strictEqual(full[F.idempotencyKey], "k");
  const job = decodeJob("id", packRecord({ ...base, idempotencyKey: "k" }), "q");
  assert.strictEqual(job?.backoff, null);
  assert.strictEqual(job?.scheduled_for, null);
  assert.strictEqual(job?.timeout_ms, 300000);
  assert.strictEqual(job?.dependencies, null);
  const waiting = unpackRecord(packRecord({ ...base, depsTotal: 3, depPolicy: "c" }))!;
  assert.strictEqual(waiting.length, F.depPolicy + 1);
  assert.deepStrictEqual(waiting.slice(F.depsTotal), [3, 0, 0, "c"]);
  assert.deepStrictEqual(
    decodeJob("id", packRecord({ ...base, depsTotal: 3 }), "q")?.dependencies,
    {
      total: 3,
      completed: 0,
      failed: 0,
      pending: 3,
    },
  );
});
