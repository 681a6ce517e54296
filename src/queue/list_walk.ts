/**
 * The two reading steps a filtered job listing shares, whichever index it
 * walks (`job_listing.ts` for a state, `group_listing.ts` for a group):
 * resuming a pending list after the last id a page showed, and one page of a
 * state's ZSET read in steps, filtered, with a cursor that goes on exactly
 * where the reading stopped.
 *
 * @module
 */
import { FINISHED_STATES, type Job } from "./job.ts";
import type { ZsetState } from "./keys.ts";
import { decodeCursor, encodeCursor } from "./list_cursor.ts";
import type { RunCommand } from "./job_listing.ts";

/**
 * The index to go on reading LIST `key` from after `id`, last seen at
 * `index - 1`. Claims pop list heads meanwhile, so the id is looked up again
 * (LINDEX at its index, else LPOS); gone, it was claimed, and the list is
 * read from its head.
 */
export function resumeIndex(
  cmd: RunCommand,
  key: string,
  index: number,
  id: string,
): Promise<number> {
  return cmd(async (c) => {
    if (index > 0 && (await c.lindex(key, index - 1)) === id) return index;
    const at = await c.lpos(key, id);
    return at === null ? 0 : at + 1;
  });
}

/** What one ZSET page reads and keeps. */
export interface ZsetWalk {
  cmd: RunCommand;
  /** Decoded records of ids, in order (null where missing). */
  records(ids: string[]): Promise<Array<Job | null>>;
  key: string;
  state: ZsetState;
  /** The previous page's `next_cursor`, if any. */
  cursor?: string | null;
  limit: number;
  /** Ids read per step. */
  step: number;
  /** Ids read at most by the page. */
  budget: number;
  match(job: Job | null): job is Job;
}

/**
 * Up to `limit` matching jobs of a state's ZSET in its listing order
 * (finished states newest first). `truncated`: the budget ran out short of
 * `limit`, and `next_cursor` goes on from there.
 */
export async function walkZset(
  o: ZsetWalk,
): Promise<{ jobs: Job[]; next_cursor: string | null; truncated: boolean }> {
  const rev = FINISHED_STATES.includes(o.state);
  const start = o.cursor ? decodeCursor(o.cursor) : null;
  let bound = start?.score ?? (rev ? "+inf" : "-inf");
  let skip = start?.skip ?? 0;
  const jobs: Job[] = [];
  let budget = o.budget;
  let exhausted = false;
  while (jobs.length < o.limit && budget > 0 && !exhausted) {
    const step = Math.min(budget, o.step);
    const reply = await o.cmd((c) =>
      rev
        ? c.zrange(o.key, bound, "-inf", "BYSCORE", "REV", "LIMIT", skip, step, "WITHSCORES")
        : c.zrange(o.key, bound, "+inf", "BYSCORE", "LIMIT", skip, step, "WITHSCORES")
    );
    const members: Array<[string, string]> = [];
    for (let i = 0; i + 1 < reply.length; i += 2) members.push([reply[i], reply[i + 1]]);
    budget -= members.length;
    if (members.length < step) exhausted = true;
    const decoded = await o.records(members.map(([id]) => id));
    for (let i = 0; i < members.length; i++) {
      const score = members[i][1];
      if (score === bound) skip++;
      else [bound, skip] = [score, 1];
      const job = decoded[i];
      if (o.match(job)) jobs.push(job);
      if (jobs.length === o.limit) {
        exhausted = exhausted && i === members.length - 1;
        break;
      }
    }
  }
  return {
    jobs,
    next_cursor: exhausted ? null : encodeCursor({ score: bound, skip }),
    truncated: !exhausted && jobs.length < o.limit,
  };
}
