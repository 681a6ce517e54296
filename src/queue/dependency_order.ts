/**
 * Orders a batch of jobs so that every job comes after the jobs of the same
 * batch it depends on (enqueue.lua links a dependent to a dependency's
 * record, so the dependency must be written first), and finds the
 * dependencies outside the batch, which must exist already. Pure: no Redis.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";

/** What the ordering needs of a job. */
export interface DependentJob {
  id: string;
  dependsOn: readonly string[];
}

/**
 * `jobs` in an order where each job's in-batch dependencies come first
 * (stable otherwise), with the positions each came from. InvalidInputError
 * (field `depends_on`) naming the jobs of a cycle.
 *
 * @example
 * ```ts
 * orderByDependencies([{ id: "b", dependsOn: ["a"] }, { id: "a", dependsOn: [] }]);
 * // { order: [1, 0] }
 * ```
 */
export function orderByDependencies(jobs: readonly DependentJob[]): { order: number[] } {
  const index = new Map(jobs.map((job, i) => [job.id, i]));
  const state = new Uint8Array(jobs.length); // 0 new, 1 on the path, 2 placed
  const order: number[] = [];
  for (let start = 0; start < jobs.length; start++) {
    if (state[start] !== 0) continue;
    // Iterative depth-first search: a 1,000-long chain must not overflow the stack.
    const stack: Array<{ at: number; next: number }> = [{ at: start, next: 0 }];
    state[start] = 1;
    while (stack.length > 0) {
      const top = stack[stack.length - 1];
      const deps = jobs[top.at].dependsOn;
      if (top.next < deps.length) {
        const dep = index.get(deps[top.next++]);
        if (dep === undefined || state[dep] === 2) continue;
        if (state[dep] === 1) {
          const cycle = stack.slice(stack.findIndex((s) => s.at === dep)).map((s) => jobs[s.at].id);
          throw new InvalidInputError(
            `depends_on forms a cycle: ${[...cycle, jobs[dep].id].join(" -> ")}`,
            "depends_on",
          );
        }
        state[dep] = 1;
        stack.push({ at: dep, next: 0 });
      } else {
        state[top.at] = 2;
        order.push(top.at);
        stack.pop();
      }
    }
  }
  return { order };
}

/** The dependencies of `jobs` that are not jobs of the batch, distinct. */
export function externalDependencies(jobs: readonly DependentJob[]): string[] {
  const ids = new Set(jobs.map((job) => job.id));
  const out = new Set<string>();
  for (const job of jobs) for (const dep of job.dependsOn) if (!ids.has(dep)) out.add(dep);
  return [...out];
}
