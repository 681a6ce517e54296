/**
 * A flow request (`POST /api/v1/flows`) turned into one batch of broker
 * inputs: every job gets its id now, and each `depends_on` entry, a ref of
 * the flow or an existing job's id, becomes an id. Refused before anything
 * is written: duplicate refs, refs naming no job of the flow (and no job id
 * either), cycles; each refusal names them.
 *
 * @module
 */
import type { EnqueueInput } from "../queue/job.ts";
import { jobIdFor, parseJobId } from "../queue/job_id.ts";
import { InvalidInputError } from "../queue/errors.ts";
import { orderByDependencies } from "../queue/dependency_order.ts";

/** Why a flow was refused: a stable code, a message, and what it names. */
export class FlowRefusal extends Error {
  constructor(
    readonly code: "duplicate_ref" | "unknown_ref" | "cycle",
    message: string,
    readonly details: Record<string, unknown>,
  ) {
    super(message);
    this.name = "FlowRefusal";
  }
}

/** One job of a flow: its input (without dependencies), its ref and what it depends on. */
export interface FlowJob {
  ref: string;
  input: EnqueueInput;
  dependsOn: readonly string[];
}

/** A built flow: the batch to write, and each ref's job id. */
export interface BuiltFlow {
  inputs: EnqueueInput[];
  ids: Record<string, string>;
}

/**
 * Builds the batch of a flow. `home`: the deployment's home queue;
 * `defaultQueue`: where a job naming no queue goes. Throws `FlowRefusal`.
 *
 * @example
 * ```ts
 * const flow = buildFlow([
 *   { ref: "fetch", input: { type: "fetch", payload: {} }, dependsOn: [] },
 *   { ref: "report", input: { type: "report", payload: {} }, dependsOn: ["fetch"] },
 * ], "default", "default");
 * await broker.enqueueBatch(flow.inputs);
 * ```
 */
export function buildFlow(jobs: readonly FlowJob[], home: string, defaultQueue: string): BuiltFlow {
  const ids: Record<string, string> = {};
  const seen = new Set<string>();
  const duplicates = new Set<string>();
  for (const job of jobs) {
    if (seen.has(job.ref)) duplicates.add(job.ref);
    seen.add(job.ref);
  }
  if (duplicates.size > 0) {
    const refs = [...duplicates];
    throw new FlowRefusal("duplicate_ref", `duplicate refs: ${refs.join(", ")}`, { refs });
  }
  const unknown = new Set<string>();
  for (const job of jobs) {
    for (const dep of job.dependsOn) if (!seen.has(dep) && !parseJobId(dep, home)) unknown.add(dep);
  }
  if (unknown.size > 0) {
    const refs = [...unknown];
    throw new FlowRefusal(
      "unknown_ref",
      `depends_on names neither a ref of the flow nor a job id: ${refs.join(", ")}`,
      { refs },
    );
  }
  try {
    orderByDependencies(jobs.map((job) => ({ id: job.ref, dependsOn: job.dependsOn })));
  } catch (error) {
    if (!(error instanceof InvalidInputError)) throw error;
    const refs = error.message.replace(/^.*: /, "").split(" -> ");
    throw new FlowRefusal("cycle", `the flow has a cycle: ${refs.join(" -> ")}`, { refs });
  }
  for (const job of jobs) {
    ids[job.ref] = jobIdFor(job.input.queue ?? defaultQueue, home, crypto.randomUUID());
  }
  const inputs = jobs.map((job): EnqueueInput => ({
    ...job.input,
    id: ids[job.ref],
    fresh_id: true,
    ...(job.dependsOn.length > 0
      ? { depends_on: job.dependsOn.map((dep) => seen.has(dep) ? ids[dep] : dep) }
      : {}),
  }));
  return { inputs, ids };
}
