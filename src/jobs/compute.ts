/**
 * `compute`: a stand-in for CPU-bound or long work, used by demos, benchmarks
 * and the timeout tests. `sleep` waits politely and stops on abort; `cpu`
 * burns CPU in a loop that never yields, on purpose: it cannot see its
 * AbortSignal, so only the worker's hard timeout (terminating the thread)
 * stops it. That is the case the pool must survive.
 *
 * @module
 */
import { z } from "zod";
import { defineJob, type JobContext } from "./definition.ts";

/** Upper bound on one job's requested duration. */
export const MAX_COMPUTE_MS = 10 * 60 * 1000;

/** Payload of a compute job. */
export const computeSchema = z.object({
  duration_ms: z.int().min(0).max(MAX_COMPUTE_MS).describe("How long to sleep or burn CPU"),
  mode: z.enum(["sleep", "cpu"]).default("sleep")
    .describe("sleep: wait, honouring cancellation; cpu: busy loop that never yields"),
}).strict();

/** Payload type of a compute job. */
export type ComputePayload = z.output<typeof computeSchema>;

/** Result of a compute job. */
export interface ComputeResult {
  mode: "sleep" | "cpu";
  duration_ms: number;
  elapsed_ms: number;
  /** cpu mode: loop iterations, so the work cannot be optimised away. */
  iterations?: number;
}

function sleep(ms: number, ctx: JobContext): Promise<void> {
  return new Promise((resolve, reject) => {
    if (ctx.signal.aborted) return reject(ctx.signal.reason);
    const start = Date.now();
    const done = setTimeout(finish, ms);
    // Progress every 10% for long sleeps, so dashboards show movement.
    const tick = ms >= 1000
      ? setInterval(() => ctx.progress(((Date.now() - start) / ms) * 100), ms / 10)
      : undefined;
    const onAbort = () => {
      clearTimeout(done);
      clearInterval(tick);
      reject(ctx.signal.reason);
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    function finish() {
      clearInterval(tick);
      ctx.signal.removeEventListener("abort", onAbort);
      resolve();
    }
  });
}

function burn(ms: number, ctx: JobContext): number {
  const start = Date.now();
  let x = 0;
  let iterations = 0;
  let nextReport = 10;
  // Deliberately synchronous: no await, no check of ctx.signal.
  while (Date.now() - start < ms) {
    for (let i = 0; i < 1000; i++) x = Math.sqrt(x + i);
    iterations++;
    const percent = ((Date.now() - start) / ms) * 100;
    if (percent >= nextReport) {
      ctx.progress(Math.min(100, percent)); // posts a message; needs no yield
      nextReport += 10;
    }
  }
  return x >= 0 ? iterations : -1;
}

/** The `compute` job type. */
export const computeJob = defineJob({
  type: "compute",
  description: "Sleeps (cancellable) or burns CPU without yielding for duration_ms.",
  schema: computeSchema,
  defaults: {
    // A deterministic burn that timed out will time out again: do not retry by default.
    max_attempts: 1,
  },
  // Needs no I/O at all.
  permissions: {},
  handler: async (ctx, payload): Promise<ComputeResult> => {
    const start = Date.now();
    if (payload.mode === "sleep") {
      await sleep(payload.duration_ms, ctx);
      return { mode: "sleep", duration_ms: payload.duration_ms, elapsed_ms: Date.now() - start };
    }
    const iterations = burn(payload.duration_ms, ctx);
    return {
      mode: "cpu",
      duration_ms: payload.duration_ms,
      elapsed_ms: Date.now() - start,
      iterations,
    };
  },
});

export default computeJob;
