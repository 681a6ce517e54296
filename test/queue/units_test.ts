/** Pure helpers of the queue core: URL parsing, cursors, record codec, error mapping. */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { clusterNodes, redisOptions, toQueueError } from "../../src/queue/connect.ts";
import {
  decodeCursor,
  decodePendingCursor,
  encodeCursor,
  encodePendingCursor,
} from "../../src/queue/list_cursor.ts";
import { Embedded, pack, type Packed, unpack } from "../../src/queue/msgpack.ts";
import {
  decodeJob,
  F,
  type NewRecord,
  newRecord,
  RECORD_FIELDS,
  unpackRecord,
} from "../../src/queue/record.ts";
import { mapScriptError, QueueScripts, SCRIPT_COMMANDS } from "../../src/queue/scripts.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import { parseStream } from "../../src/queue/stream_events.ts";
import {
  InvalidInputError,
  InvalidStateError,
  JobNotFoundError,
  PayloadTooLargeError,
  QueueUnavailableError,
} from "../../src/queue/errors.ts";
import { encodeJob, isUuid } from "../../src/queue/validate.ts";
import { LIMITS } from "../../src/queue/job.ts";

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

Deno.test("the queue's scripts bypass auto-pipelining; other commands keep it", async () => {
  const options = redisOptions({ notAutoPipelined: SCRIPT_COMMANDS });
  assert.strictEqual(options.enableAutoPipelining, true);
  assert.deepStrictEqual(options.autoPipeliningIgnoredCommands, [...SCRIPT_COMMANDS]);
  assert.strictEqual(redisOptions({ blocking: true }).enableAutoPipelining, false);
  // The names are exactly the commands QueueScripts defines (ioredis matches them by name).
  const client = new Redis({ lazyConnect: true });
  await QueueScripts.create(client, queueKeys("units"), {
    retentionMs: 1000,
    finishedTtlMs: 2000,
    eventsMaxLen: 0,
    errorHistory: 1,
  });
  const defined = Object.keys((client as unknown as { scriptsSet: object }).scriptsSet);
  assert.deepStrictEqual(defined.sort(), [...SCRIPT_COMMANDS].sort());
  assert.ok(SCRIPT_COMMANDS.includes("jq_claim") && SCRIPT_COMMANDS.includes("jq_enqueue"));
  client.disconnect();
  // Only blocking clients keep an offline queue (connect.ts explains why).
  assert.strictEqual(redisOptions().enableOfflineQueue, false);
  assert.strictEqual(redisOptions({ blocking: true }).enableOfflineQueue, true);
});

Deno.test("cursors round-trip and reject garbage", () => {
  for (const score of ["0", "1800000000000", "-inf", "109951162777600123"]) {
    assert.deepStrictEqual(decodeCursor(encodeCursor({ score, skip: 3 })), { score, skip: 3 });
  }
  assert.throws(() => decodeCursor("%%%"), InvalidInputError);
  assert.throws(() => decodeCursor(btoa("abc:1")), InvalidInputError);
});

Deno.test("decodeJob reads records and tolerates odd values", () => {
  assert.strictEqual(decodeJob("x", null), null);
  assert.strictEqual(decodeJob("x", new Uint8Array()), null);
  assert.strictEqual(decodeJob("x", new Uint8Array([0xc1])), null, "unsupported type");
  assert.strictEqual(decodeJob("x", pack(7)), null, "not a record");
  assert.strictEqual(decodeJob("x", pack([1, 2])), null, "no type");
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
  const job = decodeJob("x", pack(r));
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
  const running = decodeJob("y", asMap);
  assert.strictEqual(running?.status, "running");
  assert.deepStrictEqual(running?.payload, [1]);
  assert.strictEqual(running?.lease_expires_at, new Date(99).toISOString());
  assert.deepStrictEqual(running?.error_history.map((e) => e.message), ["e"]);
  assert.deepStrictEqual(unpackRecord(pack("str")), null);
});

Deno.test("msgpack round-trips every width the records use", () => {
  const values: Packed[] = [
    null,
    true,
    false,
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    1_800_000_000_000,
    Number.MAX_SAFE_INTEGER,
    -1,
    -32,
    -33,
    -(2 ** 31),
    -(2 ** 31) - 1,
    0.5,
    -1.25,
    2 ** 64,
    "",
    "a".repeat(31),
    "b".repeat(32),
    "c".repeat(255),
    "d".repeat(256),
    "e".repeat(65536),
    "é漢😀",
    [],
    Array.from({ length: 16 }, (_, i) => i),
    Array.from({ length: 70000 }, () => 1),
    { a: 1, b: [true, null] },
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`${i}`, 0])),
  ];
  for (const v of values) {
    const out = unpack(pack(v));
    assert.deepStrictEqual(out, v, `round trip of ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  // Widths other encoders use: float32, int8/16/64, uint widths as given, str/bin 8/16/32.
  const bytes = (...b: number[]) => new Uint8Array(b);
  assert.strictEqual(unpack(bytes(0xca, 0x3f, 0xc0, 0, 0)), 1.5);
  assert.strictEqual(unpack(bytes(0xd0, 0xff)), -1);
  assert.strictEqual(unpack(bytes(0xd1, 0xff, 0xfe)), -2);
  assert.strictEqual(unpack(bytes(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd)), -3);
  assert.strictEqual(unpack(bytes(0xc4, 1, 0x41)), "A");
  assert.strictEqual(unpack(bytes(0xc5, 0, 1, 0x42)), "B");
  assert.strictEqual(unpack(bytes(0xc6, 0, 0, 0, 1, 0x43)), "C");
  assert.deepStrictEqual(unpack(bytes(0xdd, 0, 0, 0, 1, 1)), [1]);
  assert.deepStrictEqual(unpack(bytes(0xdf, 0, 0, 0, 1, 0xa1, 0x6b, 2)), { k: 2 });
  // Raw bytes (a packed record inside the enqueue batch) travel as msgpack str.
  for (const n of [3, 300, 70000]) {
    assert.strictEqual(unpack(pack(new Uint8Array(n).fill(0x61))), "a".repeat(n));
  }
  assert.throws(() => unpack(bytes(0xd9, 5, 0x41)), /truncated/);
  assert.throws(() => unpack(bytes(1, 2)), /trailing/);
  assert.throws(() => unpack(bytes(0xc1)), /unsupported/);
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
  assert.strictEqual(full.length, RECORD_FIELDS);
  assert.strictEqual(full[F.scheduledFor], false);
  assert.strictEqual(full[F.backoff], "{}");
  assert.strictEqual(full[F.idempotencyKey], "k");
  const job = decodeJob("id", packRecord({ ...base, idempotencyKey: "k" }));
  assert.strictEqual(job?.backoff, null);
  assert.strictEqual(job?.scheduled_for, null);
  assert.strictEqual(job?.timeout_ms, 300000);
});

Deno.test("pending cursors round-trip and reject garbage", () => {
  const id = crypto.randomUUID();
  const position = { priority: 100, index: 12345, id };
  assert.deepStrictEqual(decodePendingCursor(encodePendingCursor(position)), position);
  assert.throws(() => decodePendingCursor("%%%"), InvalidInputError);
  assert.throws(
    () => decodePendingCursor(encodeCursor({ score: "5", skip: 1 })),
    InvalidInputError,
  );
  assert.throws(
    () => decodePendingCursor(encodePendingCursor({ ...position, id: "nope" })),
    InvalidInputError,
  );
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

Deno.test("pack: Embedded values and the ASCII fast path give the same bytes as the slow path", () => {
  const record = ["t", '{"a":"é"}', 5, 3, 1000, 1_800_000_000_000, 0, false, "k".repeat(40)];
  const inner = new Uint8Array(pack(record));
  // [["id", <str32 holding exactly the record packed on its own>]]
  const expected = [0x91, 0x92, 0xa2, 0x69, 0x64, 0xdb, 0, 0, 0, inner.length, ...inner];
  assert.deepStrictEqual([...new Uint8Array(pack([["id", new Embedded(record)]]))], expected);
  assert.deepStrictEqual(unpack(pack(record)), record);
  for (
    const s of [
      "",
      "a",
      "x".repeat(31),
      "x".repeat(32),
      "x".repeat(255),
      "x".repeat(256),
      "é",
      "aé",
      "€".repeat(100),
    ]
  ) {
    assert.strictEqual(unpack(pack(s)), s, `round trip of ${s.length} chars`);
  }
});

Deno.test("encodeJob stores a given payload_json verbatim, and still enforces the size limit", () => {
  const payload = { to: "a@b.co", n: [1, 2] };
  const text = JSON.stringify(payload);
  assert.strictEqual(encodeJob({ type: "t", payload, payload_json: text }, 0).payload, text);
  assert.strictEqual(encodeJob({ type: "t", payload }, 0).payload, JSON.stringify(payload));
  // Verbatim: the text given, not the payload serialized again (this one keeps its spaces).
  const spaced = JSON.stringify(payload, null, 1);
  assert.strictEqual(encodeJob({ type: "t", payload, payload_json: spaced }, 0).payload, spaced);
  const big = { s: "x".repeat(LIMITS.maxPayloadBytes) };
  assert.throws(
    () => encodeJob({ type: "t", payload: big, payload_json: JSON.stringify(big) }, 0),
    PayloadTooLargeError,
  );
  assert.throws(() => encodeJob({ type: "t", payload: big }, 0), PayloadTooLargeError);
  assert.throws(
    () => encodeJob({ type: "t", payload, payload_json: 7 as unknown as string }, 0),
    (e: unknown) => e instanceof InvalidInputError && e.field === "payload_json",
  );
});

Deno.test("parseStream: plain entries, batch entries expanded per row, garbage skipped", () => {
  const reply = [[
    "jq:{q}:events",
    [
      ["1-0", ["ev", "enqueued", "id", "a", "t", "email", "p", "0"]],
      ["2-0", ["ev", "started", "f", "id,t,a,q", "rows", '[["b","x",1,5],["c","y",2,null]]']],
      ["3-0", ["ev", "completed", "f", "id,t", "rows", "{not json"]],
      ["4-0", ["ev", "completed", "f", "id,t", "rows", '{"id":"d"}']],
      ["5-0", ["ev", "completed", "f", "id,t", "rows", '[7, ["e","z"]]']],
    ],
  ]];
  assert.deepStrictEqual(parseStream(reply), [
    { stream_id: "1-0", event: "enqueued", job_id: "a", type: "email", data: { p: "0" } },
    { stream_id: "2-0", event: "started", job_id: "b", type: "x", data: { a: "1", q: "5" } },
    { stream_id: "2-0", event: "started", job_id: "c", type: "y", data: { a: "2" } },
    { stream_id: "5-0", event: "completed", job_id: "e", type: "z", data: {} },
  ]);
  assert.deepStrictEqual(parseStream(null), []);
});
