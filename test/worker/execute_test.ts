/** Unit tests of job execution inside a thread, without a Web Worker. */
import assert from "node:assert/strict";
import { z } from "zod";
import { defineJob, type JobDefinition, NonRetryableError } from "../../src/jobs/definition.ts";
import { LIMITS } from "../../src/queue/job.ts";
import { errorMessage, executeJob, isRetryable } from "../../src/worker/execute.ts";
import type { LogLine, RunRequest } from "../../src/worker/messages.ts";
import { normalizeWorkerArgs } from "../../src/worker/worker_main.ts";
import { permissionKey, threadPermissions } from "../../src/worker/pool.ts";

const request = (payload: unknown): RunRequest => ({
  id: "j1",
  type: "t",
  payload_json: JSON.stringify(payload),
  attempt: 2,
  max_attempts: 3,
});

const def = (handler: JobDefinition["handler"]) =>
  defineJob({
    type: "t",
    schema: z.object({ n: z.number().default(1) }),
    handler,
  }) as JobDefinition;

Deno.test("executeJob: parsed payload and context reach the handler; result is JSON", async () => {
  const logs: LogLine[] = [];
  const progress: number[] = [];
  const result = await executeJob(
    def((ctx, p) => {
      ctx.log.info("hi", { x: 1 });
      ctx.progress(50);
      return Promise.resolve({ p, attempt: ctx.attempt, id: ctx.jobId, when: new Date(0) });
    }),
    request({}),
    new AbortController().signal,
    { log: (l) => logs.push(l), progress: (_id, pct) => progress.push(pct) },
  );
  assert.deepStrictEqual(result, {
    id: "j1",
    ok: true,
    result_json: JSON.stringify({
      p: { n: 1 },
      attempt: 2,
      id: "j1",
      when: "1970-01-01T00:00:00.000Z",
    }),
  });
  assert.deepStrictEqual(logs, [{ id: "j1", level: "info", message: "hi", fields: { x: 1 } }]);
  assert.deepStrictEqual(progress, [50]);
});

Deno.test("executeJob: invalid payload and unknown type fail without retry", async () => {
  const noop = { log: () => {}, progress: () => {} };
  const signal = new AbortController().signal;
  const bad = await executeJob(def(() => Promise.resolve(null)), request({ n: "x" }), signal, noop);
  assert.strictEqual(bad.ok, false);
  assert.ok(!bad.ok && !bad.retryable && /invalid payload: n:/.test(bad.error));
  const unknown = await executeJob(undefined, request({}), signal, noop);
  assert.ok(!unknown.ok && !unknown.retryable && /unknown job type/.test(unknown.error));
  const garbled = await executeJob(
    def(() => Promise.resolve(null)),
    { ...request({}), payload_json: "{not json" },
    signal,
    noop,
  );
  assert.ok(!garbled.ok && !garbled.retryable && /invalid payload: not JSON/.test(garbled.error));
  const unserializable = await executeJob(
    def(() => Promise.resolve(10n)),
    request({}),
    signal,
    noop,
  );
  assert.ok(!unserializable.ok && /BigInt/.test(unserializable.error));
  const fn = await executeJob(def(() => Promise.resolve(() => 1)), request({}), signal, noop);
  assert.ok(!fn.ok && /not JSON-serializable/.test(fn.error));
  const nothing = await executeJob(
    def(() => Promise.resolve(undefined)),
    request({}),
    signal,
    noop,
  );
  assert.deepStrictEqual(nothing, { id: "j1", ok: true, result_json: "null" });
});

Deno.test("executeJob: thrown errors keep their message and retryability", async () => {
  const noop = { log: () => {}, progress: () => {} };
  const signal = new AbortController().signal;
  const run = (error: unknown) =>
    executeJob(def(() => Promise.reject(error)), request({}), signal, noop);
  assert.deepStrictEqual(await run(new Error("boom")), {
    id: "j1",
    ok: false,
    error: "boom",
    retryable: true,
  });
  assert.deepStrictEqual(await run(new NonRetryableError("4xx")), {
    id: "j1",
    ok: false,
    error: "4xx",
    retryable: false,
  });
  const flagged = Object.assign(new Error("nope"), { retryable: false });
  assert.strictEqual((await run(flagged)).ok, false);
  assert.strictEqual(isRetryable(flagged), false);
  const denied = new Deno.errors.NotCapable('Requires net access to "x:1"');
  assert.strictEqual(isRetryable(denied), false);
  assert.strictEqual(errorMessage(denied), 'NotCapable: Requires net access to "x:1"');
  assert.strictEqual(errorMessage("plain"), "plain");
});

Deno.test("progress is throttled and clamped, the last value gets out", async () => {
  const seen: number[] = [];
  const result = await executeJob(
    def(async (ctx) => {
      ctx.progress(10);
      ctx.progress(20);
      ctx.progress(300);
      await new Promise((r) => setTimeout(r, 300));
    }),
    request({}),
    new AbortController().signal,
    { log: () => {}, progress: (_id, pct) => seen.push(pct) },
  );
  assert.strictEqual(result.ok, true);
  assert.deepStrictEqual(seen, [10, 100]);
});

Deno.test("thread permissions: exactly what the type declared", () => {
  assert.deepStrictEqual(threadPermissions(undefined), {
    net: false,
    read: false,
    write: false,
    env: false,
    run: false,
    ffi: false,
    sys: false,
    import: false,
  });
  const p = threadPermissions({ net: ["example.com"], env: true, read: [] });
  assert.deepStrictEqual([p.net, p.env, p.read], [["example.com"], true, false]);
  assert.strictEqual(permissionKey({}), permissionKey(undefined));
  assert.strictEqual(permissionKey({ net: ["b", "a"] }), permissionKey({ net: ["a", "b", "a"] }));
  assert.notStrictEqual(permissionKey({ net: ["a"] }), permissionKey({ read: ["a"] }));
});

Deno.test("worker flags: short aliases map onto the shared config", () => {
  assert.deepStrictEqual(
    normalizeWorkerArgs(["--concurrency", "5", "--threads=2", "--queue", "q"]),
    [
      "--worker-concurrency",
      "5",
      "--worker-threads=2",
      "--queue",
      "q",
    ],
  );
});

Deno.test("executeJob: a result over the 1 MiB limit fails the attempt for good; at the limit it passes", async () => {
  const hooks = { log: () => {}, progress: () => {} };
  const run = (value: unknown) =>
    executeJob(def(() => Promise.resolve(value)), request({}), new AbortController().signal, hooks);
  const over = await run("é".repeat(LIMITS.maxResultBytes / 2)); // 2 bytes per character
  assert.strictEqual(over.ok, false);
  assert.ok(!over.ok && over.retryable === false);
  assert.match(!over.ok ? over.error : "", /^result is 1048578 bytes; the limit is 1048576/);
  const edge = await run("x".repeat(LIMITS.maxResultBytes - 2));
  assert.strictEqual(edge.ok, true);
});
