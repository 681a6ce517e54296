/**
 * The buffered log sink writes a task's stdout lines in one write and keeps
 * their order relative to stderr lines.
 */
import assert from "node:assert/strict";
import { nextTask } from "../../src/timing/after_microtasks.ts";
import { bufferedSink } from "../../src/worker/log_sink.ts";

Deno.test("bufferedSink: one stdout write per task; stderr lines keep their place", async () => {
  const writes: Array<[string, string]> = [];
  const dec = new TextDecoder();
  const out = bufferedSink({
    stdout: (b) => writes.push(["out", dec.decode(b)]),
    stderr: (b) => writes.push(["err", dec.decode(b)]),
  }, 40);
  out.sink("a", "info");
  out.sink("b", "debug");
  assert.deepStrictEqual(writes, []);
  out.sink("W", "warn"); // flushes a, b first
  out.sink("c", "info");
  out.sink("d".repeat(40), "info"); // past the cap: written at once
  out.sink("e", "info");
  assert.deepStrictEqual(writes, [["out", "a\nb\n"], ["err", "W\n"], [
    "out",
    `c\n${"d".repeat(40)}\n`,
  ]]);
  await nextTask();
  assert.deepStrictEqual(writes.at(-1), ["out", "e\n"]);
  out.flush();
  assert.strictEqual(writes.length, 4);
});
