import assert from "node:assert/strict";
import {
  computeJob,
  type ComputePayload,
  type ComputeResult,
  computeSchema,
  MAX_COMPUTE_MS,
} from "../../src/jobs/compute.ts";
import type { JobContext } from "../../src/jobs/definition.ts";
import { fakeContext } from "./helpers.ts";

const run = (ctx: JobContext, p: ComputePayload) =>
  computeJob.handler(ctx, p) as Promise<ComputeResult>;

Deno.test("compute schema: bounded duration, sleep by default", () => {
  assert.deepStrictEqual(computeSchema.parse({ duration_ms: 5 }), {
    duration_ms: 5,
    mode: "sleep",
  });
  assert.strictEqual(computeSchema.safeParse({ duration_ms: MAX_COMPUTE_MS + 1 }).success, false);
  assert.strictEqual(computeSchema.safeParse({ duration_ms: -1 }).success, false);
  assert.strictEqual(computeSchema.safeParse({ duration_ms: 1, mode: "gpu" }).success, false);
});

Deno.test("compute sleep: waits about duration_ms", async () => {
  const { ctx } = fakeContext();
  const start = Date.now();
  const result = await run(ctx, { duration_ms: 50, mode: "sleep" });
  assert.ok(Date.now() - start >= 45);
  assert.strictEqual(result.mode, "sleep");
  assert.strictEqual(result.duration_ms, 50);
});

Deno.test("compute sleep: rejects with the abort reason, promptly", async () => {
  const { ctx, controller } = fakeContext();
  const start = Date.now();
  const running = run(ctx, { duration_ms: 60_000, mode: "sleep" });
  setTimeout(() => controller.abort(new DOMException("cancelled", "AbortError")), 20);
  await assert.rejects(
    running,
    (e: unknown) => e instanceof DOMException && e.name === "AbortError",
  );
  assert.ok(Date.now() - start < 1000);
});

Deno.test("compute sleep: reports progress on long sleeps", async () => {
  const { ctx, progress } = fakeContext();
  await run(ctx, { duration_ms: 1000, mode: "sleep" });
  assert.ok(progress.length >= 5, `progress ${progress}`);
});

Deno.test("compute cpu: burns without yielding to the event loop", async () => {
  const { ctx, controller, progress } = fakeContext();
  let timerFired = false;
  const timer = setTimeout(() => timerFired = true, 0);
  controller.abort(); // a cpu job cannot see its signal: it runs on regardless
  const start = Date.now();
  const promise = run(ctx, { duration_ms: 100, mode: "cpu" });
  // The handler ran synchronously to the end before returning its promise.
  assert.ok(Date.now() - start >= 100);
  assert.strictEqual(timerFired, false);
  const result = await promise;
  clearTimeout(timer);
  assert.strictEqual(result.mode, "cpu");
  assert.ok((result.iterations ?? 0) > 0);
  assert.ok(progress.length >= 5);
});
