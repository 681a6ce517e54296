/**
 * Pages of jobs in one state, for `Broker.list`: pending jobs in claim order
 * (priority lists), the others by their state ZSET's score (newest finished
 * first). Read-only: it only issues plain reads through the broker's `cmd`,
 * so connection errors and the storage-format check stay the broker's.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import { decodeJob } from "./record.ts";
import { InvalidInputError } from "./errors.ts";
import { type IdSearch, type Job, JOB_STATES, type JobPage, type ListQuery } from "./job.ts";
import { pendingKey, type QueueKeys, type ZsetState } from "./keys.ts";
import { decodePendingCursor, encodePendingCursor } from "./list_cursor.ts";
import { GroupListing } from "./group_listing.ts";
import { resumeIndex, walkZset } from "./list_walk.ts";

/** Runs one or more plain commands on the broker's connection. */
export type RunCommand = <T>(run: (client: RedisClient) => Promise<T>) => Promise<T>;

/**
 * Lists jobs page by page with opaque cursors.
 *
 * @example
 * ```ts
 * const listing = new JobListing("default", queueKeys("default"), (run) => run(client));
 * const page = await listing.list({ state: "completed", limit: 20 });
 * ```
 */
/**
 * Cursor positions from here on name flow control's held lists (the n-th is
 * HELD_BASE + n), past every priority (at most LIMITS.maxPriority, 100).
 */
const HELD_BASE = 200;
/** Held lists a listing walks (the cursor's position has three digits). */
const MAX_HELD_LISTS = 799;

/** States kept in ZSETs, searched by ZSCAN. */
const ZSET_STATES = [
  "scheduled",
  "running",
  "completed",
  "failed",
  "cancelled",
  "waiting",
] as const;
/**
 * Ids an id search looks at, at most, per queue: ZSCAN and LRANGE steps of
 * SEARCH_STEP, so one search is a few dozen short commands, never one long one.
 */
const SEARCH_BUDGET = 200_000;
const SEARCH_STEP = 1000;
/** An id prefix: UUID characters only, so it is never a glob pattern. */
const ID_PREFIX = /^[0-9a-f-]{1,36}$/;

export class JobListing {
  readonly #queue: string;
  readonly #keys: QueueKeys;
  readonly #cmd: RunCommand;
  readonly #groups: GroupListing;

  constructor(queue: string, keys: QueueKeys, cmd: RunCommand) {
    this.#queue = queue;
    this.#keys = keys;
    this.#cmd = cmd;
    this.#groups = new GroupListing(keys, cmd, (ids) => this.#records(ids));
  }

  /** Records of `ids` in one round trip, decoded (null where missing). */
  async #records(ids: string[]): Promise<Array<Job | null>> {
    if (ids.length === 0) return [];
    const records = await this.#cmd(async (c) => {
      const pipe = c.pipeline();
      for (const id of ids) pipe.getBuffer(this.#keys.jobPrefix + id);
      return (await pipe.exec()) ?? [];
    });
    return ids.map((id, i) =>
      decodeJob(id, (records[i]?.[1] ?? null) as Uint8Array | null, this.#queue)
    );
  }

  /**
   * Up to `limit` jobs whose id (the UUID, without a queue) starts with
   * `prefix`, in any state: ZSCAN MATCH over each state ZSET (Redis filters),
   * then the pending lists read in steps. Bounded by SEARCH_BUDGET ids looked
   * at (`truncated` says it stopped there), so a search never blocks Redis.
   */
  async findByIdPrefix(prefix: string, limit: number): Promise<IdSearch> {
    if (!ID_PREFIX.test(prefix)) throw new InvalidInputError("invalid id prefix", "id_prefix");
    const found = new Set<string>();
    let budget = SEARCH_BUDGET;
    let truncated = false;
    const full = () => found.size >= limit;
    for (const state of ZSET_STATES) {
      let cursor = "0";
      do {
        if (full()) break;
        if (budget <= 0) {
          truncated = true;
          break;
        }
        const [next, members] = await this.#cmd((c) =>
          c.zscan(this.#keys[state], cursor, "MATCH", `${prefix}*`, "COUNT", SEARCH_STEP)
        );
        budget -= SEARCH_STEP;
        cursor = next;
        // ZSCAN answers member, score pairs (a member may come twice: the Set keeps one).
        for (let i = 0; i < members.length && !full(); i += 2) found.add(members[i]);
      } while (cursor !== "0");
    }
    const prios = full() ? [] : await this.#cmd((c) => c.zrange(this.#keys.priorities, 0, -1));
    for (const p of prios) {
      const list = pendingKey(this.#keys, p);
      for (let index = 0; !full(); index += SEARCH_STEP) {
        if (budget <= 0) {
          truncated = true;
          break;
        }
        const ids = await this.#cmd((c) => c.lrange(list, index, index + SEARCH_STEP - 1));
        budget -= SEARCH_STEP;
        for (const id of ids) if (id.startsWith(prefix) && !full()) found.add(id);
        if (ids.length < SEARCH_STEP) break;
      }
    }
    const jobs = (await this.#records([...found])).filter((j): j is Job => j !== null);
    return { jobs, truncated };
  }

  async list(query: ListQuery): Promise<JobPage> {
    const state = query.state;
    if (!JOB_STATES.includes(state)) throw new InvalidInputError("unknown state", "state");
    const limit = Math.min(1000, Math.max(1, Math.floor(query.limit ?? 50)));
    // A group's jobs have no index of their own but (some) held lists: group_listing.ts.
    const group = query.group;
    if (group !== undefined) return await this.#groups.list({ ...query, group }, limit);
    return state === "pending"
      ? await this.#listPending(query, limit)
      : await this.#listZset(state, query, limit);
  }

  /**
   * Pending jobs in claim order: priorities high to low, FIFO within one. The
   * cursor is (priority, index, last id); claims pop from the head meanwhile,
   * so the last id is looked up again (LINDEX at the index, else LPOS) and a
   * last id that is gone was claimed: everything left in its list comes after it.
   */
  async #listPending(query: ListQuery, limit: number): Promise<JobPage> {
    const start = query.cursor ? decodePendingCursor(query.cursor) : null;
    // Flow control's parked jobs come after the pending lists (see HELD_BASE).
    const inHeld = start !== null && start.priority >= HELD_BASE;
    const prios = inHeld
      ? []
      : (await this.#cmd((c) => c.zrange(this.#keys.priorities, 0, -1, "REV")))
        .map(Number).filter((p) => start === null || p <= start.priority);
    const held = await this.#heldLists();
    const lists: Array<{ position: number; key: string }> = [
      ...prios.map((p) => ({ position: p, key: pendingKey(this.#keys, p) })),
      ...held.map((key, i) => ({ position: HELD_BASE + i, key }))
        .filter(({ position }) => start === null || !inHeld || position >= start.priority),
    ];
    const chunk = query.type ? Math.min(1000, limit * 4) : limit;
    const jobs: Job[] = [];
    let last: { priority: number; index: number; id: string } | null = null;
    let more = false;
    for (const { position: priority, key: list } of lists) {
      let index = 0;
      if (start && priority === start.priority) {
        index = await resumeIndex(this.#cmd, list, start.index, start.id);
      }
      let listEnded = false;
      for (let round = 0; round < 50; round++) {
        const ids = await this.#cmd((c) => c.lrange(list, index, index + chunk - 1));
        const decoded = await this.#records(ids);
        for (let i = 0; i < ids.length && jobs.length < limit; i++) {
          const job = decoded[i];
          last = { priority, index: index + i + 1, id: ids[i] };
          if (job && job.status === "pending" && (!query.type || job.type === query.type)) {
            jobs.push(job);
          }
        }
        if (jobs.length === limit) {
          more = true;
          break;
        }
        if (ids.length < chunk) {
          listEnded = true;
          break;
        }
        index += ids.length;
      }
      // The round budget ran out inside this list: the page ends where the
      // reading stopped (short, `truncated`), and the cursor goes on from there
      // rather than skipping the rest of the list.
      if (!more && !listEnded) {
        more = true;
        break;
      }
      if (more) break;
    }
    return {
      jobs,
      next_cursor: more && last ? encodePendingCursor(last) : null,
      ...(more && jobs.length < limit ? { truncated: true } : {}),
    };
  }

  /**
   * Flow control's held lists (parked pending jobs, `QueueKeys.limitPrefix`),
   * sorted by type, then group (a type or group first parked between two
   * pages shifts the positions after it: the next page may repeat or skip some).
   */
  async #heldLists(): Promise<string[]> {
    const prefix = this.#keys.limitPrefix;
    const members = (await this.#cmd((c) => c.smembers(this.#keys.heldTypes))).sort();
    const out: string[] = [];
    for (const member of members) {
      if (!member.startsWith("g:")) {
        out.push(`${prefix}h:${member}`);
        continue;
      }
      const type = member.slice(2);
      const groups = await this.#cmd((c) => c.lrange(`${prefix}ring:${type}`, 0, MAX_HELD_LISTS));
      for (const g of groups.sort()) out.push(`${prefix}h:${type}|${g}`);
    }
    return out.slice(0, MAX_HELD_LISTS);
  }

  async #listZset(state: ZsetState, query: ListQuery, limit: number): Promise<JobPage> {
    // With a type filter, read ahead in bigger chunks; the filter runs here.
    const step = query.type ? Math.min(1000, limit * 4) : limit;
    const { jobs, next_cursor } = await walkZset({
      cmd: this.#cmd,
      records: (ids) => this.#records(ids),
      key: this.#keys[state],
      state,
      cursor: query.cursor,
      limit,
      step,
      budget: 50 * step,
      match: (job): job is Job => job !== null && (!query.type || job.type === query.type),
    });
    return { jobs, next_cursor };
  }
}
