/**
 * Job types for the benchmark, loaded by the worker process through
 * JOB_MODULES. Both accept exactly the spec's email payload (the same bytes
 * the BullMQ baseline stores) and do no work.
 *
 * @module
 */
import { z } from "zod";
import { defineJob } from "../../src/jobs/definition.ts";

/** The email payload every benchmark job carries. */
export const benchSchema = z.object({
  to: z.email(),
  subject: z.string(),
  body: z.string(),
  from: z.email(),
}).strict();

/** No-op: returns `{ok: true}`, like the baseline's processor. */
export const benchNoop = defineJob({
  type: "bench_noop",
  schema: benchSchema,
  handler: () => Promise.resolve({ ok: true }),
});

/** Returns the wall-clock time (epoch ms, sub-ms precision) at which the handler started. */
export const benchLatency = defineJob({
  type: "bench_latency",
  schema: benchSchema,
  handler: () => Promise.resolve(performance.timeOrigin + performance.now()),
});
