import assert from "node:assert/strict";
import { LogObserver } from "../../src/events/log_observer.ts";
import { EventBus } from "../../src/events/bus.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";

function capture(level: LogLevel = "debug") {
  const lines: Array<{ level: LogLevel; entry: Record<string, unknown> }> = [];
  const log = createLogger({
    level,
    format: "json",
    sink: (line, lvl) => lines.push({ level: lvl, entry: JSON.parse(line) }),
  });
  return { lines, log };
}

Deno.test("LogObserver writes one structured line per state change", () => {
  const { lines, log } = capture();
  const bus = new EventBus();
  bus.subscribe(new LogObserver(log));
  const base = { job_id: "j1", type: "email", at: Date.now() };
  bus.emit({ ...base, kind: "started", attempt: 1, queued_ms: 3 });
  bus.emit({
    ...base,
    kind: "retry_scheduled",
    attempt: 1,
    duration_ms: 12,
    error: "boom",
    retry_in_ms: 1000,
  });
  bus.emit({ ...base, kind: "failed", attempt: 3, duration_ms: 5, error: "boom" });
  bus.emit({ ...base, kind: "completed", attempt: 2, duration_ms: 7 });
  bus.emit({ ...base, kind: "released", attempt: 1, restored: true, reason: "drain" });
  bus.emit({ ...base, kind: "requeued" });
  assert.deepStrictEqual(lines.map((l) => l.level), [
    "debug",
    "warn",
    "error",
    "debug",
    "info",
    "info",
  ]);
  assert.strictEqual(lines[1].entry.msg, "job retry scheduled");
  assert.strictEqual(lines[2].entry.msg, "job failed permanently");
  assert.strictEqual(lines[4].entry.reason, "drain");
  assert.strictEqual(lines[1].entry.job_id, "j1");
  assert.strictEqual(lines[1].entry.type, "email");
  assert.strictEqual(lines[1].entry.attempt, 1);
  assert.strictEqual(lines[1].entry.duration_ms, 12);
  assert.strictEqual(lines[3].entry.duration_ms, 7);
  assert.ok(!("kind" in lines[0].entry));
});

Deno.test("LogObserver respects the level: the healthy path only at debug", () => {
  const { lines, log } = capture("info");
  const observer = new LogObserver(log);
  observer.onEvent({ kind: "progress", job_id: "j", type: "t", at: 0, attempt: 1, percent: 50 });
  observer.onEvent({ kind: "started", job_id: "j", type: "t", at: 0, attempt: 1, queued_ms: 1 });
  observer.onEvent({
    kind: "completed",
    job_id: "j",
    type: "t",
    at: 0,
    attempt: 1,
    duration_ms: 1,
  });
  assert.strictEqual(lines.length, 0);
  observer.onEvent({
    kind: "recovered",
    job_id: "j",
    type: "t",
    at: 0,
    attempt: 1,
    outcome: "pending",
  });
  assert.strictEqual(lines.length, 1);
  assert.strictEqual(lines[0].level, "warn");
});
