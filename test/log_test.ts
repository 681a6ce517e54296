import assert from "node:assert/strict";
import { createLogger, type LogLevel } from "../src/log.ts";

function capture(options: Parameters<typeof createLogger>[0] = {}) {
  const lines: Array<{ line: string; level: LogLevel }> = [];
  const log = createLogger({ ...options, sink: (line, level) => lines.push({ line, level }) });
  return { lines, log };
}

Deno.test("log: one JSON object per line with level, msg, time and fields", () => {
  const { lines, log } = capture({ level: "info", format: "json", fields: { role: "worker" } });
  log.debug("hidden");
  log.info("job completed", { job_id: "j1", type: "email", attempt: 1, duration_ms: 12 });
  log.error("boom", { error: new TypeError("bad") });
  assert.strictEqual(lines.length, 2);
  const first = JSON.parse(lines[0].line);
  assert.strictEqual(first.level, "info");
  assert.strictEqual(first.msg, "job completed");
  assert.strictEqual(first.role, "worker");
  assert.strictEqual(first.job_id, "j1");
  assert.strictEqual(first.duration_ms, 12);
  assert.ok(!Number.isNaN(Date.parse(first.time)));
  // Errors are logged by name and message (no stack frames in the stream).
  assert.deepStrictEqual(JSON.parse(lines[1].line).error, { name: "TypeError", message: "bad" });
  assert.strictEqual(lines[1].level, "error");
});

Deno.test("log: pretty format is one readable line; child loggers add fields", () => {
  const { lines, log } = capture({ level: "debug", format: "pretty" });
  log.child({ job_id: "j2" }).warn("job failed; retry scheduled", { attempt: 2 });
  assert.strictEqual(lines.length, 1);
  assert.match(
    lines[0].line,
    /^\d\d:\d\d:\d\d\.\d{3} WARN {2}job failed; retry scheduled job_id=j2 attempt=2$/,
  );
});

Deno.test("log: silent writes nothing; levels filter", () => {
  const silent = capture({ level: "silent", format: "json" });
  silent.log.error("x");
  assert.strictEqual(silent.lines.length, 0);
  const warn = capture({ level: "warn", format: "json" });
  warn.log.info("no");
  warn.log.warn("yes");
  assert.deepStrictEqual(warn.lines.map((l) => JSON.parse(l.line).msg), ["yes"]);
});

Deno.test("log: enabled() tells whether a level is written", () => {
  const { log } = capture({ level: "warn", format: "json" });
  assert.deepStrictEqual(
    (["debug", "info", "warn", "error", "silent"] as const).map((l) => log.enabled(l)),
    [false, false, true, true, false],
  );
  assert.strictEqual(log.child({ a: 1 }).enabled("error"), true);
});
