/**
 * The Redis view (`#/redis`, admin keys): version, mode, memory against its
 * limit and eviction policy, clients, ops/s, hit rate, evictions and
 * persistence (GET /api/v1/redis), and on Cluster one row per master. Read
 * every 5 s while shown.
 *
 * @module
 */
import { getRedis } from "./api.js";
import { byId, duration, el, replace, when } from "./dom.js";
import { Polled } from "./polled.js";

/**
 * @typedef {{used_human: string, peak_human: string, max_bytes: number, max_human: string,
 *   policy: string}} Memory
 * @typedef {{aof_enabled: boolean, aof_last_write_ok: boolean, rdb_last_save_at: string | null,
 *   rdb_last_bgsave_ok: boolean, rdb_changes_since_last_save: number}} Persistence
 * @typedef {{version: string, role: string, uptime_s: number, memory: Memory,
 *   connected_clients: number, ops_per_s: number, keyspace_hits: number,
 *   keyspace_misses: number, evicted_keys: number, keys: number,
 *   persistence: Persistence}} Summary
 * @typedef {Summary & {mode: string, masters: (Summary & {address: string})[] | null}} Info
 */

/** @param {unknown} n */
const count = (n) => (typeof n === "number" ? n.toLocaleString() : "—");

/** @param {Summary} r */
function hitRate(r) {
  const all = r.keyspace_hits + r.keyspace_misses;
  return all > 0 ? `${Math.round((r.keyspace_hits / all) * 1000) / 10} %` : "—";
}

/** @param {Summary} r */
function memory(r) {
  const m = r.memory;
  const max = m.max_bytes > 0 ? `of ${m.max_human}` : "no limit";
  return `${m.used_human} ${max} (peak ${m.peak_human}; policy ${m.policy})`;
}

/** @param {Persistence} p */
function persistence(p) {
  const rdb = `RDB ${p.rdb_last_bgsave_ok ? "ok" : "FAILED"}, saved ${when(p.rdb_last_save_at)}` +
    `, ${count(p.rdb_changes_since_last_save)} changes since`;
  const aof = p.aof_enabled
    ? `AOF on${p.aof_last_write_ok ? "" : ", last write FAILED"}`
    : "AOF off";
  return `${rdb}; ${aof}`;
}

export class RedisPanel {
  constructor() {
    this.box = byId("redis-facts");
    this.masters = byId("redis-masters");
    this.poll = new Polled("redis", 5000, () => this.load());
  }

  async load() {
    /** @type {Info} */
    const r = await getRedis();
    /** @type {[string, string][]} */
    const facts = [
      ["Mode", `${r.mode}${r.masters ? ` (${r.masters.length} masters)` : ""}`],
      ["Version", String(r.version)],
      ["Role", String(r.role)],
      ["Uptime", duration(r.uptime_s * 1000)],
      ["Memory", memory(r)],
      ["Clients", count(r.connected_clients)],
      ["Ops/s", count(r.ops_per_s)],
      ["Keys", count(r.keys)],
      [
        "Hit rate",
        `${hitRate(r)} (${count(r.keyspace_hits)} hits, ${count(r.keyspace_misses)} misses)`,
      ],
      ["Evicted keys", r.evicted_keys > 0 ? `${count(r.evicted_keys)}: jobs may be lost` : "0"],
      ["Persistence", persistence(r.persistence)],
    ];
    replace(this.box, facts.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { text: v })]));
    this.masters.hidden = !r.masters;
    if (!r.masters) return;
    replace(
      byId("redis-masters-body"),
      r.masters.map((m) =>
        el(
          "tr",
          {},
          el("th", { scope: "row", text: m.address }),
          el("td", { text: m.version }),
          el("td", { text: memory(m) }),
          el("td", { class: "num", text: count(m.connected_clients) }),
          el("td", { class: "num", text: count(m.ops_per_s) }),
          el("td", { class: "num", text: count(m.keys) }),
          el("td", { class: "num", text: count(m.evicted_keys) }),
          el("td", { text: persistence(m.persistence) }),
        )
      ),
    );
  }
}
