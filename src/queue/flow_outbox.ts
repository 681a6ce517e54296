/**
 * The flow outbox's drain: the durable path of a dependency's outcome to
 * dependents in other queues (other Cluster slots), of a failure's
 * propagation, and of a new dependent's links into other queues'
 * dependencies. The scripts that make a transition write the entry in the
 * same script (`QueueKeys.outbox`); this module delivers it with a script in
 * the receiving queue's slot (`resolve.lua`, `link.lua`) and only then
 * removes it (`outbox_done.lua`: unless it was written anew meanwhile), so a
 * process that dies in between leaves the entry for the
 * next drain (its own broker right after the transition, or any process's
 * maintenance). Every delivery is idempotent: delivering twice, or two
 * processes draining at once, counts each outcome once.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import type { QueueKeys } from "./keys.ts";
import { F, stateOf, unpackRecord } from "./record.ts";
import { unpack } from "./msgpack.ts";
import type { QueueScripts } from "./scripts.ts";

/** What the drain needs from its broker. */
export interface FlowOutboxDeps {
  /** The keys and scripts of a known queue, or null when it is unknown. */
  queue(name: string): Promise<{ keys: QueueKeys; scripts: QueueScripts } | null>;
  /** Runs a plain command. */
  cmd<T>(run: (client: RedisClient) => Promise<T>): Promise<T>;
  /** The queue a stored job id names. */
  queueOfId(id: string): string;
  clock(): number;
}

/** Entries read per outbox visit; a drain keeps visiting while it finds a full page. */
const PAGE = 100;
/** Dependents per resolve.lua call. */
const CHUNK = 1000;
/** Queue visits per drain: a bound, not a limit reached in practice (each visit empties a page). */
const MAX_VISITS = 10_000;

const utf8 = new TextDecoder();

/** A finished job's outcome as resolve.lua takes it, or null while it has not finished. */
function outcomeOfRecord(data: Uint8Array | null): [string, string, string] | null {
  const r = unpackRecord(data);
  // Gone (expired): what it was is not known any more; never counted as done.
  if (!r) return ["x", "", "expired"];
  const state = stateOf(r);
  const type = typeof r[F.type] === "string" ? r[F.type] as string : "";
  const text = (v: unknown) => typeof v === "string" ? v : "";
  // A completed one's result stays in its record (kept until its dependents finish).
  if (state === "completed") return ["c", type, ""];
  if (state === "failed") return ["f", type, text(r[F.error])];
  if (state === "cancelled") return ["x", type, text(r[F.error])];
  return null;
}

/** Groups ids by the queue they name. */
function byQueue(ids: Iterable<string>, queueOfId: (id: string) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const id of ids) {
    const q = queueOfId(id);
    const list = out.get(q);
    if (list) list.push(id);
    else out.set(q, [id]);
  }
  return out;
}

/** Drains flow outboxes; one per broker. */
export class FlowOutbox {
  readonly #d: FlowOutboxDeps;

  constructor(deps: FlowOutboxDeps) {
    this.#d = deps;
  }

  /**
   * Delivers every entry of the outboxes of `queues`, and of the queues the
   * deliveries write entries into (a failure propagating down the graph),
   * until they are empty. Safe to run from any number of processes at once.
   */
  async drain(queues: Iterable<string>): Promise<void> {
    const todo = new Set(queues);
    for (let visits = 0; todo.size > 0 && visits < MAX_VISITS; visits++) {
      const [queue] = todo;
      todo.delete(queue);
      const q = await this.#d.queue(queue);
      if (!q) continue;
      const flat = await this.#d.cmd((c) => c.zrange(q.keys.outbox, 0, PAGE - 1, "WITHSCORES"));
      for (let i = 0; i + 1 < flat.length; i += 2) {
        for (const touched of await this.#deliver(queue, flat[i])) todo.add(touched);
        // Removed only as it was read: an entry written anew meanwhile stays.
        await q.scripts.outboxDone([{ member: flat[i], score: flat[i + 1] }]);
      }
      if (flat.length === PAGE * 2) todo.add(queue);
    }
  }

  /** Delivers one entry of `queue`'s outbox; returns the queues it may have written entries into. */
  async #deliver(queue: string, entry: string): Promise<string[]> {
    const id = entry.slice(2);
    if (entry.startsWith("d:")) return await this.#deliverOutcome(queue, id);
    if (entry.startsWith("l:")) return await this.#link(queue, id);
    if (entry.startsWith("v:")) return await this.#revive(queue, id);
    if (entry.startsWith("u:")) return await this.#unpin(queue, id);
    return [];
  }

  /** `d:<id>`: the finished job's outcome to each of its dependents. */
  async #deliverOutcome(queue: string, id: string): Promise<string[]> {
    const q = await this.#d.queue(queue);
    if (!q) return [];
    const [record, dependents] = await this.#d.cmd((c) =>
      Promise.all([c.getBuffer(q.keys.jobPrefix + id), c.smembers(`${q.keys.jobPrefix}${id}:r`)])
    );
    const outcome = outcomeOfRecord(record);
    // Not finished (requeued since): its next end writes a new entry.
    if (!outcome) return [];
    const touched: string[] = [];
    for (const [target, ids] of byQueue(dependents, this.#d.queueOfId)) {
      // Its own queue's dependents were released by the completion itself.
      if (target === queue && outcome[0] === "c") continue;
      const t = await this.#d.queue(target);
      if (!t) continue;
      for (let i = 0; i < ids.length; i += CHUNK) {
        await t.scripts.resolve(id, ...outcome, ids.slice(i, i + CHUNK), this.#d.clock());
      }
      touched.push(target);
    }
    return touched;
  }

  /** `v:<id>`: a requeued job brings back the dependents its end took down. */
  async #revive(queue: string, id: string): Promise<string[]> {
    const q = await this.#d.queue(queue);
    if (!q) return [];
    const dependents = await this.#d.cmd((c) => c.smembers(`${q.keys.jobPrefix}${id}:r`));
    const touched: string[] = [];
    for (const [target, ids] of byQueue(dependents, this.#d.queueOfId)) {
      const t = await this.#d.queue(target);
      if (!t) continue;
      for (let i = 0; i < ids.length; i += CHUNK) {
        await t.scripts.resolve(id, "r", "", "", ids.slice(i, i + CHUNK), this.#d.clock());
      }
      touched.push(target);
    }
    return touched;
  }

  /** `u:<id>`: a job finished; its dependencies in other queues need not stay for it. */
  async #unpin(queue: string, id: string): Promise<string[]> {
    const q = await this.#d.queue(queue);
    if (!q) return [];
    // Its links first, when still to be made (a job that ended at its enqueue):
    // unpinned before being linked, a dependency would keep itself for it.
    if (await this.#d.cmd((c) => c.zscore(q.keys.outbox, `l:${id}`)) !== null) {
      await this.#link(queue, id);
    }
    const deps = await this.#d.cmd((c) => c.hkeys(`${q.keys.jobPrefix}${id}:d`));
    const elsewhere = deps.filter((dep) => this.#d.queueOfId(dep) !== queue);
    for (const [target, ids] of byQueue(elsewhere, this.#d.queueOfId)) {
      const t = await this.#d.queue(target);
      if (t) await t.scripts.link(id, ids, "unpin");
    }
    return [];
  }

  /** `l:<id>`: a waiting job's links into its dependencies in other queues. */
  async #link(queue: string, id: string): Promise<string[]> {
    const q = await this.#d.queue(queue);
    if (!q) return [];
    const deps = await this.#d.cmd((c) => c.hgetallBuffer(`${q.keys.jobPrefix}${id}:d`));
    const pending: string[] = [];
    for (const [dep, value] of Object.entries(deps)) {
      if (this.#d.queueOfId(dep) !== queue && utf8.decode(value) === "0") pending.push(dep);
    }
    let delivered = false;
    for (const [target, ids] of byQueue(pending, this.#d.queueOfId)) {
      const t = await this.#d.queue(target);
      const outcomes = t ? await t.scripts.link(id, ids) : ids.map(() => null);
      for (let i = 0; i < ids.length; i++) {
        const packed = outcomes[i];
        // An unknown queue has none of its jobs: the dependency is gone.
        const found: Array<string | false> | null = packed
          ? unpack(packed) as Array<string | false>
          : t
          ? null
          : ["x", false, "expired"];
        if (!found) continue;
        const [code, type, value] = found.map((v) => typeof v === "string" ? v : "");
        await q.scripts.resolve(ids[i], code, type, value, [id], this.#d.clock());
        delivered = true;
      }
    }
    return delivered ? [queue] : [];
  }
}
