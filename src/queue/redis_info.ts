/**
 * What the dashboard's Redis view shows, read from `INFO`: a fixed list of
 * health figures (version, memory, clients count, ops/s, hit rate,
 * evictions, persistence), and for Cluster one summary per master.
 *
 * A whitelist, not a pass-through: INFO also holds the config file's path,
 * the executable, the process id, the replicas' addresses and the like,
 * which help an attacker and no operator watching load. Nothing from
 * CONFIG, ACL or CLIENT LIST is read.
 *
 * @module
 */
import { Cluster } from "ioredis";
import type { RedisClient } from "./connect.ts";

/** Memory figures of one node (or the sum over masters). */
export interface RedisMemory {
  used_bytes: number;
  used_human: string;
  peak_bytes: number;
  peak_human: string;
  /** 0: no limit. */
  max_bytes: number;
  max_human: string;
  policy: string;
}

/** RDB snapshots and the AOF. */
export interface RedisPersistence {
  aof_enabled: boolean;
  aof_last_write_ok: boolean;
  rdb_last_save_at: string | null;
  rdb_last_bgsave_ok: boolean;
  rdb_changes_since_last_save: number;
}

/** One node's figures (a standalone server, a Cluster master, or the masters' total). */
export interface RedisNodeSummary {
  version: string;
  role: string;
  uptime_s: number;
  memory: RedisMemory;
  connected_clients: number;
  ops_per_s: number;
  keyspace_hits: number;
  keyspace_misses: number;
  evicted_keys: number;
  keys: number;
  persistence: RedisPersistence;
}

/** `GET /api/v1/redis`. */
export interface RedisInfo extends RedisNodeSummary {
  mode: "standalone" | "cluster";
  /** Cluster: each master (`address` is host:port); standalone: null. */
  masters: Array<RedisNodeSummary & { address: string }> | null;
}

/** INFO's text as `field -> value` (section headers and blank lines skipped). */
export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    if (line === "" || line.startsWith("#")) continue;
    const at = line.indexOf(":");
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1));
  }
  return fields;
}

const num = (f: Map<string, string>, k: string) => {
  const n = Number(f.get(k));
  return Number.isFinite(n) ? n : 0;
};

/** Bytes as INFO's `*_human` fields write them (1024-based). */
export function humanBytes(bytes: number): string {
  const units = ["B", "K", "M", "G", "T"];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${v}B` : `${v.toFixed(2)}${units[u]}`;
}

/** The whitelisted figures of one node's INFO. */
export function summarize(f: Map<string, string>): RedisNodeSummary {
  let keys = 0;
  for (const [k, v] of f) {
    if (/^db\d+$/.test(k)) keys += Number(/keys=(\d+)/.exec(v)?.[1] ?? 0);
  }
  const saved = num(f, "rdb_last_save_time");
  return {
    version: f.get("redis_version") ?? "unknown",
    role: f.get("role") ?? "unknown",
    uptime_s: num(f, "uptime_in_seconds"),
    memory: {
      used_bytes: num(f, "used_memory"),
      used_human: f.get("used_memory_human") ?? humanBytes(num(f, "used_memory")),
      peak_bytes: num(f, "used_memory_peak"),
      peak_human: f.get("used_memory_peak_human") ?? humanBytes(num(f, "used_memory_peak")),
      max_bytes: num(f, "maxmemory"),
      max_human: f.get("maxmemory_human") ?? humanBytes(num(f, "maxmemory")),
      policy: f.get("maxmemory_policy") ?? "unknown",
    },
    connected_clients: num(f, "connected_clients"),
    ops_per_s: num(f, "instantaneous_ops_per_sec"),
    keyspace_hits: num(f, "keyspace_hits"),
    keyspace_misses: num(f, "keyspace_misses"),
    evicted_keys: num(f, "evicted_keys"),
    keys,
    persistence: {
      aof_enabled: f.get("aof_enabled") === "1",
      aof_last_write_ok: f.get("aof_last_write_status") !== "err",
      rdb_last_save_at: saved > 0 ? new Date(saved * 1000).toISOString() : null,
      rdb_last_bgsave_ok: f.get("rdb_last_bgsave_status") !== "err",
      rdb_changes_since_last_save: num(f, "rdb_changes_since_last_save"),
    },
  };
}

/**
 * The masters' total: counters and memory summed, the uptime of the
 * youngest master (the cluster has been whole that long at most), and
 * persistence healthy only if every master's is.
 */
export function combine(nodes: RedisNodeSummary[]): RedisNodeSummary {
  const sum = (pick: (n: RedisNodeSummary) => number) => nodes.reduce((t, n) => t + pick(n), 0);
  const versions = [...new Set(nodes.map((n) => n.version))];
  const used = sum((n) => n.memory.used_bytes);
  const peak = sum((n) => n.memory.peak_bytes);
  const max = nodes.some((n) => n.memory.max_bytes === 0) ? 0 : sum((n) => n.memory.max_bytes);
  const saves = nodes.map((n) => n.persistence.rdb_last_save_at).filter((s) => s !== null).sort();
  return {
    version: versions.length === 1 ? versions[0] : `mixed: ${versions.join(", ")}`,
    role: "master",
    uptime_s: Math.min(...nodes.map((n) => n.uptime_s)),
    memory: {
      used_bytes: used,
      used_human: humanBytes(used),
      peak_bytes: peak,
      peak_human: humanBytes(peak),
      max_bytes: max,
      max_human: humanBytes(max),
      policy: [...new Set(nodes.map((n) => n.memory.policy))].join(", "),
    },
    connected_clients: sum((n) => n.connected_clients),
    ops_per_s: sum((n) => n.ops_per_s),
    keyspace_hits: sum((n) => n.keyspace_hits),
    keyspace_misses: sum((n) => n.keyspace_misses),
    evicted_keys: sum((n) => n.evicted_keys),
    keys: sum((n) => n.keys),
    persistence: {
      aof_enabled: nodes.every((n) => n.persistence.aof_enabled),
      aof_last_write_ok: nodes.every((n) => n.persistence.aof_last_write_ok),
      rdb_last_save_at: saves[0] ?? null,
      rdb_last_bgsave_ok: nodes.every((n) => n.persistence.rdb_last_bgsave_ok),
      rdb_changes_since_last_save: sum((n) => n.persistence.rdb_changes_since_last_save),
    },
  };
}

/** Reads INFO from the server (standalone) or from every master (Cluster). */
export async function readRedisInfo(client: RedisClient): Promise<RedisInfo> {
  if (!(client instanceof Cluster)) {
    return { mode: "standalone", ...summarize(parseInfo(await client.info())), masters: null };
  }
  const masters = await Promise.all(
    client.nodes("master").map(async (node) => ({
      address: `${node.options.host}:${node.options.port}`,
      ...summarize(parseInfo(await node.info())),
    })),
  );
  masters.sort((a, b) => a.address.localeCompare(b.address));
  return { mode: "cluster", ...combine(masters), masters };
}
