/**
 * The graph a job belongs to (`GET /api/v1/flows/:id`): every job reachable
 * from it through dependencies and dependents, with its state, and the
 * edges. Read level by level through the `Broker` (one round of reads per
 * level), bounded by a node limit.
 *
 * @module
 */
import type { Broker } from "../queue/broker.ts";
import type { Job, JobState } from "../queue/job.ts";

/** One job of the graph; a job gone (expired) has status `unknown`. */
export interface FlowNode {
  job_id: string;
  type: string | null;
  queue: string;
  status: JobState | "unknown";
}

/** The graph: nodes, edges from dependency to dependent, and whether the limit cut it. */
export interface FlowGraph {
  nodes: FlowNode[];
  edges: Array<{ from: string; to: string }>;
  truncated: boolean;
}

/** Most nodes one answer shows (two full flows). */
export const MAX_GRAPH_NODES = 2000;

/** Every dependent id of `id`, following the pages. */
async function allDependents(broker: Broker, id: string): Promise<string[]> {
  const out: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await broker.dependents(id, cursor, 500);
    out.push(...page.ids);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return out;
}

/**
 * The graph around job `id`, or null when no such job exists.
 *
 * @example
 * ```ts
 * const graph = await flowGraph(broker, id);
 * ```
 */
export async function flowGraph(
  broker: Broker,
  id: string,
  maxNodes = MAX_GRAPH_NODES,
): Promise<FlowGraph | null> {
  const first = await broker.get(id);
  if (!first) return null;
  const nodes = new Map<string, FlowNode>();
  const edges = new Map<string, { from: string; to: string }>();
  const queueOf = (jobId: string, job: Job | null) =>
    job?.queue ?? (jobId.includes(":") ? jobId.slice(0, jobId.lastIndexOf(":")) : first.queue);
  let level: Array<{ id: string; job: Job | null }> = [{ id: first.id, job: first }];
  let truncated = false;
  while (level.length > 0) {
    const next = new Set<string>();
    await Promise.all(level.map(async ({ id: at, job }) => {
      nodes.set(at, {
        job_id: at,
        type: job?.type ?? null,
        queue: queueOf(at, job),
        status: job?.status ?? "unknown",
      });
      const [deps, dependents] = await Promise.all([
        job?.dependencies ? broker.dependencies(at) : Promise.resolve(null),
        job?.has_dependents ? allDependents(broker, at) : Promise.resolve([]),
      ]);
      for (const dep of deps ?? []) {
        edges.set(`${dep.id}>${at}`, { from: dep.id, to: at });
        next.add(dep.id);
      }
      for (const d of dependents) {
        edges.set(`${at}>${d}`, { from: at, to: d });
        next.add(d);
      }
    }));
    const fresh = [...next].filter((n) => !nodes.has(n));
    const room = maxNodes - nodes.size;
    if (fresh.length > room) truncated = true;
    const take = fresh.slice(0, Math.max(0, room));
    const jobs = await Promise.all(take.map((n) => broker.get(n)));
    level = take.map((n, i) => ({ id: n, job: jobs[i] }));
  }
  const shown = [...edges.values()].filter((e) => nodes.has(e.from) && nodes.has(e.to));
  return { nodes: [...nodes.values()], edges: shown, truncated };
}
