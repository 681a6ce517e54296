import assert from "node:assert/strict";
import { LIFECYCLE_EVENT_KINDS, type LifecycleEvent } from "../../src/events/lifecycle.ts";
import { decodeEntry, encodeEvent, EVENT_FIELDS } from "../../src/events/wire.ts";

const base = { job_id: "j1", type: "email", at: 1_700_000_000_123 };

/** One event of every kind, with every field it can have. */
const SAMPLES: LifecycleEvent[] = [
  { ...base, kind: "enqueued", priority: 5 },
  { ...base, kind: "started", attempt: 2, queued_ms: 40 },
  { ...base, kind: "progress", attempt: 2, percent: 12.5 },
  { ...base, kind: "completed", attempt: 2, duration_ms: 7 },
  { ...base, kind: "retry_scheduled", attempt: 1, duration_ms: 3, error: "x y", retry_in_ms: 1000 },
  { ...base, kind: "failed", attempt: 3, duration_ms: 9, error: "boom" },
  { ...base, kind: "failed", attempt: 3, error: "lease expired" },
  { ...base, kind: "cancelled", attempt: 0 },
  { ...base, kind: "cancelled", attempt: 1, duration_ms: 4 },
  { ...base, kind: "timed_out", attempt: 1, duration_ms: 100, hard: true },
  { ...base, kind: "timed_out", attempt: 1, duration_ms: 100, hard: false },
  { ...base, kind: "released", attempt: 0, restored: true, reason: "drain deadline passed" },
  { ...base, kind: "recovered", attempt: 1, outcome: "cancelled" },
  { ...base, kind: "requeued" },
];

Deno.test("wire codec: every kind round-trips through a plain entry", () => {
  assert.deepStrictEqual(
    [...new Set(SAMPLES.map((e) => e.kind))],
    LIFECYCLE_EVENT_KINDS,
    "a sample of every kind",
  );
  for (const event of SAMPLES) {
    assert.deepStrictEqual(decodeEntry(encodeEvent(event)), [event], event.kind);
  }
});

Deno.test("wire codec: a batch entry gives one event per row, numbers or strings alike", () => {
  const entry = [
    "ev",
    "completed",
    "at",
    "1700000000123",
    "f",
    "id,t,a,dur",
    "rows",
    JSON.stringify([["a", "email", 1, 5], ["b", "sms", "2", "6"]]),
  ];
  assert.deepStrictEqual(decodeEntry(entry), [
    {
      kind: "completed",
      job_id: "a",
      type: "email",
      at: 1_700_000_000_123,
      attempt: 1,
      duration_ms: 5,
    },
    {
      kind: "completed",
      job_id: "b",
      type: "sms",
      at: 1_700_000_000_123,
      attempt: 2,
      duration_ms: 6,
    },
  ]);
  // Replies come as bytes when a script is called for buffers.
  const bytes = entry.map((v) => new TextEncoder().encode(v));
  assert.deepStrictEqual(decodeEntry(bytes), decodeEntry(entry));
});

Deno.test("wire codec: what it cannot read completely is dropped, not guessed", () => {
  const ok = encodeEvent({ ...base, kind: "started", attempt: 1, queued_ms: 0 });
  assert.strictEqual(decodeEntry(ok).length, 1);
  const without = (name: string) => {
    const i = ok.indexOf(name);
    return [...ok.slice(0, i), ...ok.slice(i + 2)];
  };
  assert.deepStrictEqual(decodeEntry(without("a")), [], "a required field missing");
  assert.deepStrictEqual(decodeEntry(without("at")), [], "no time");
  assert.deepStrictEqual(decodeEntry(without("id")), [], "no job");
  assert.deepStrictEqual(decodeEntry(["ev", "dead", ...ok.slice(2)]), [], "an unknown kind");
  assert.deepStrictEqual(
    decodeEntry(["ev", "recovered", "at", "1", "id", "j", "t", "x", "a", "1", "out", "lost"]),
    [],
    "an outcome outside the vocabulary",
  );
  assert.deepStrictEqual(decodeEntry(["ev", "completed", "at", "1", "f", "id", "rows", "{"]), []);
});

Deno.test("wire codec: the field table covers each kind's own fields", () => {
  for (const event of SAMPLES) {
    const own = Object.keys(event).filter((k) => !["kind", "job_id", "type", "at"].includes(k));
    for (const field of own) assert.ok(field in EVENT_FIELDS[event.kind], `${event.kind}.${field}`);
  }
});
