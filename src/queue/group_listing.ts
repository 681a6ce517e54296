/**
 * Pages of one flow-control group's jobs in one state, for `Broker.list`
 * with `group`. No index keeps a state's jobs by group, except one: a claim
 * that finds a group without room parks its pending jobs in the group's own
 * held list (`${limitPrefix}h:<type>|<group>`, claim.lua). So a pending page
 * reads those lists first (every id there is the group's: exact), then the
 * lists where the group's other pending jobs may be (the priority lists, jobs
 * not parked yet; a plain type's held list `h:<type>`), filtered; every other
 * state's ZSET is filtered in its listing order. Filtering reads each record,
 * so a page looks at most SCAN_BUDGET of them and, short of `limit`, says
 * `truncated` with a cursor that goes on from there: bounded work per
 * request, never a stalled Redis, like the id search.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";
import { type Job, type JobPage, LIMITS, type ListQuery } from "./job.ts";
import { pendingKey, type QueueKeys, type ZsetState } from "./keys.ts";
import { decodePendingCursor, encodePendingCursor } from "./list_cursor.ts";
import type { RunCommand } from "./job_listing.ts";
import { resumeIndex, walkZset } from "./list_walk.ts";

/** Records looked at, at most, by one page (each one GET in a pipeline of a chunk). */
export const SCAN_BUDGET = 5000;
/** Ids read per step of a filtered list. */
const STEP = 500;
/**
 * Cursor positions (three digits, `list_cursor.ts`): the group's held lists
 * are GROUP_BASE + n, the priority lists their priority (0..100), plain held
 * lists PLAIN_BASE + n; a page walks them in that order.
 */
const GROUP_BASE = 200;
const PLAIN_BASE = 500;
const MAX_LISTS = 499;

const utf8 = new TextEncoder();

/** One list a pending page walks. */
interface Walked {
  position: number;
  key: string;
  /** Every id in it is the group's (only the state and type are checked). */
  exact: boolean;
}

/** Where a position comes in the walk: group lists, then priorities high to low, then plain. */
function rank(position: number): number {
  if (position >= PLAIN_BASE) return 2000 + position;
  if (position >= GROUP_BASE) return position - GROUP_BASE;
  return 1000 + (100 - position);
}

/** Throws `InvalidInputError` for a group no job can have. */
export function checkGroup(group: string): void {
  const bytes = utf8.encode(group).length;
  if (bytes === 0 || bytes > LIMITS.maxGroupBytes) {
    throw new InvalidInputError(`group must be 1..${LIMITS.maxGroupBytes} bytes`, "group");
  }
}

/** Reads pages of one group's jobs; `records` decodes ids in one round trip. */
export class GroupListing {
  readonly #keys: QueueKeys;
  readonly #cmd: RunCommand;
  readonly #records: (ids: string[]) => Promise<Array<Job | null>>;

  constructor(
    keys: QueueKeys,
    cmd: RunCommand,
    records: (ids: string[]) => Promise<Array<Job | null>>,
  ) {
    this.#keys = keys;
    this.#cmd = cmd;
    this.#records = records;
  }

  /** One page of `query.group`'s jobs in `query.state`, at most `limit`. */
  async list(query: ListQuery & { group: string }, limit: number): Promise<JobPage> {
    checkGroup(query.group);
    const match = (job: Job | null): job is Job =>
      job !== null && job.status === query.state && job.group === query.group &&
      (query.type === undefined || job.type === query.type);
    return query.state === "pending"
      ? await this.#pending(query, limit, match)
      : await this.#zset(query.state, query, limit, match);
  }

  /** The pending lists a group's jobs may be in, in walk order. */
  async #lists(group: string, type: string | undefined): Promise<Walked[]> {
    const prefix = this.#keys.limitPrefix;
    const [members, prios] = await this.#cmd((c) =>
      Promise.all([
        c.smembers(this.#keys.heldTypes),
        c.zrange(this.#keys.priorities, 0, -1, "REV"),
      ])
    );
    members.sort();
    const grouped = members.filter((m) => m.startsWith("g:")).map((m) => m.slice(2))
      .filter((t) => type === undefined || t === type)
      .map((t) => `${prefix}h:${t}|${group}`);
    // A type's group list exists only while the group has jobs parked there.
    const lengths = grouped.length === 0 ? [] : await this.#cmd(async (c) => {
      const pipe = c.pipeline();
      for (const key of grouped) pipe.llen(key);
      return ((await pipe.exec()) ?? []).map((r) => Number(r[1] ?? 0));
    });
    const own = grouped.filter((_, i) => lengths[i] > 0).slice(0, MAX_LISTS)
      .map((key, n) => ({ position: GROUP_BASE + n, key, exact: true }));
    const plain = members.filter((m) => !m.startsWith("g:"))
      .filter((t) => type === undefined || t === type).slice(0, MAX_LISTS)
      .map((t, n) => ({ position: PLAIN_BASE + n, key: `${prefix}h:${t}`, exact: false }));
    return [
      ...own,
      ...prios.map((p) => ({ position: Number(p), key: pendingKey(this.#keys, p), exact: false })),
      ...plain,
    ];
  }

  /**
   * The group's pending jobs in walk order. The cursor is (position, index,
   * last id) as the plain listing's: claims pop list heads meanwhile, so the
   * last id is looked up again (LINDEX at the index, else LPOS); gone, it was
   * claimed and the list is read from its head. A group list that empties
   * between pages shifts the positions after it (a page may repeat some).
   */
  async #pending(
    query: ListQuery & { group: string },
    limit: number,
    match: (job: Job | null) => job is Job,
  ): Promise<JobPage> {
    const start = query.cursor ? decodePendingCursor(query.cursor) : null;
    const lists = (await this.#lists(query.group, query.type))
      .filter((l) => start === null || rank(l.position) >= rank(start.priority));
    const jobs: Job[] = [];
    let budget = SCAN_BUDGET;
    let last: { priority: number; index: number; id: string } | null = null;
    let stopped = false;
    for (const list of lists) {
      let index = start && list.position === start.priority
        ? await resumeIndex(this.#cmd, list.key, start.index, start.id)
        : 0;
      while (!stopped) {
        if (jobs.length === limit || budget <= 0) {
          stopped = true;
          break;
        }
        const step = Math.min(budget, list.exact ? limit - jobs.length : STEP);
        const ids = await this.#cmd((c) => c.lrange(list.key, index, index + step - 1));
        budget -= ids.length;
        const decoded = await this.#records(ids);
        let seen = 0;
        for (; seen < ids.length && jobs.length < limit; seen++) {
          last = { priority: list.position, index: index + seen + 1, id: ids[seen] };
          const job = decoded[seen];
          if (match(job)) jobs.push(job);
        }
        index += seen;
        // The list's end: on to the next one.
        if (ids.length < step && seen === ids.length) break;
      }
      if (stopped) break;
    }
    // Stopped with nothing looked at past the last list: there is no more.
    const more = stopped && last !== null;
    return {
      jobs,
      next_cursor: more && last ? encodePendingCursor(last) : null,
      truncated: more && jobs.length < limit,
    };
  }

  /** The group's jobs of a ZSET state, in its listing order (finished: newest first). */
  #zset(
    state: ZsetState,
    query: ListQuery,
    limit: number,
    match: (job: Job | null) => job is Job,
  ): Promise<JobPage> {
    return walkZset({
      cmd: this.#cmd,
      records: this.#records,
      key: this.#keys[state],
      state,
      cursor: query.cursor,
      limit,
      step: STEP,
      budget: SCAN_BUDGET,
      match,
    });
  }
}
