/**
 * Reads of a job's place in a flow: its dependencies with their outcomes
 * (the `:d` HASH, see `QueueKeys.waiting`; a completed one's result from its
 * own record, kept until its dependents finish) and its dependents (the `:r`
 * SET, paginated). Plain reads.
 *
 * @module
 */
import type { RedisClient } from "./connect.ts";
import type { DependencyInfo } from "./job.ts";
import type { QueueKeys } from "./keys.ts";
import { dependenciesKey, dependentsKey } from "./keys.ts";
import { unpack } from "./msgpack.ts";
import { F, unpackRecord } from "./record.ts";

/** A page of dependent ids. */
export interface DependencyPage {
  ids: string[];
  /** Pass back for the next page; null when there is none. */
  next_cursor: string | null;
}

const STATUS = { c: "completed", f: "failed", x: "cancelled" } as const;

/** One stored dependency entry as a `DependencyInfo`. */
export function dependencyInfo(id: string, value: Uint8Array): DependencyInfo {
  if (value.length === 1 && value[0] === 0x30) {
    return { id, type: null, status: "pending", result: null };
  }
  const [code, type, text] = unpack(value) as [keyof typeof STATUS, string | false, string | false];
  let result: unknown = null;
  if (typeof text === "string") {
    if (code === "c") {
      try {
        result = JSON.parse(text);
      } catch {
        result = text;
      }
    } else result = text;
  }
  return {
    id,
    type: typeof type === "string" ? type : null,
    status: STATUS[code] ?? "cancelled",
    result,
  };
}

/** The dependencies of job `id`, in id order; null when it has none stored. */
export async function readDependencies(
  client: RedisClient,
  keys: QueueKeys,
  id: string,
): Promise<DependencyInfo[] | null> {
  const raw = await client.hgetallBuffer(dependenciesKey(keys, id));
  const entries = Object.entries(raw);
  if (entries.length === 0) return null;
  return entries.map(([dep, value]) => dependencyInfo(dep, value)).sort((a, b) =>
    a.id < b.id ? -1 : a.id > b.id ? 1 : 0
  );
}

/**
 * Fills in the results of the completed ones of `deps` from their records,
 * which `record` reads (null: gone, then the result stays null).
 */
export async function withResults(
  deps: DependencyInfo[],
  record: (id: string) => Promise<Uint8Array | null>,
): Promise<DependencyInfo[]> {
  await Promise.all(deps.map(async (dep) => {
    if (dep.status !== "completed") return;
    const r = unpackRecord(await record(dep.id));
    const text = r?.[F.result];
    if (typeof text !== "string") return;
    try {
      dep.result = JSON.parse(text);
    } catch {
      dep.result = text;
    }
  }));
  return deps;
}

/** A page of job `id`'s dependents (SSCAN: about `count` per page). */
export async function readDependents(
  client: RedisClient,
  keys: QueueKeys,
  id: string,
  cursor: string,
  count: number,
): Promise<DependencyPage> {
  const [next, ids] = await client.sscan(dependentsKey(keys, id), cursor, "COUNT", count);
  return { ids: ids.map((x) => String(x)), next_cursor: next === "0" ? null : next };
}
