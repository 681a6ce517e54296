/**
 * `GET /api/v1/redis`: the whitelisted INFO figures from a real
 * redis-server, refused to a key without admin or confined to a tenant, and
 * the parser and the Cluster total on fixed INFO text.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { authApp, bearer, keyWith } from "./auth_helpers.ts";
import { combine, humanBytes, parseInfo, summarize } from "../../src/queue/redis_info.ts";

const INFO = [
  "# Server",
  "redis_version:7.0.15",
  "redis_mode:standalone",
  "executable:/usr/bin/redis-server",
  "config_file:/etc/redis/secret.conf",
  "uptime_in_seconds:42",
  "",
  "# Clients",
  "connected_clients:3",
  "# Memory",
  "used_memory:2048",
  "used_memory_human:2.00K",
  "used_memory_peak:4096",
  "used_memory_peak_human:4.00K",
  "maxmemory:0",
  "maxmemory_human:0B",
  "maxmemory_policy:noeviction",
  "# Persistence",
  "rdb_changes_since_last_save:7",
  "rdb_last_save_time:1700000000",
  "rdb_last_bgsave_status:ok",
  "aof_enabled:1",
  "aof_last_write_status:err",
  "# Stats",
  "instantaneous_ops_per_sec:12",
  "keyspace_hits:10",
  "keyspace_misses:5",
  "evicted_keys:1",
  "# Replication",
  "role:master",
  "master_host:10.0.0.9",
  "# Keyspace",
  "db0:keys=5,expires=1,avg_ttl=0",
  "db3:keys=2,expires=0,avg_ttl=0",
].join("\r\n");

Deno.test("redis info: only the whitelisted fields, keyspace summed; the masters' total", () => {
  const node = summarize(parseInfo(INFO));
  assert.deepStrictEqual(node, {
    version: "7.0.15",
    role: "master",
    uptime_s: 42,
    memory: {
      used_bytes: 2048,
      used_human: "2.00K",
      peak_bytes: 4096,
      peak_human: "4.00K",
      max_bytes: 0,
      max_human: "0B",
      policy: "noeviction",
    },
    connected_clients: 3,
    ops_per_s: 12,
    keyspace_hits: 10,
    keyspace_misses: 5,
    evicted_keys: 1,
    keys: 7,
    persistence: {
      aof_enabled: true,
      aof_last_write_ok: false,
      rdb_last_save_at: "2023-11-14T22:13:20.000Z",
      rdb_last_bgsave_ok: true,
      rdb_changes_since_last_save: 7,
    },
  });
  assert.ok(!JSON.stringify(node).includes("secret.conf"));
  assert.ok(!JSON.stringify(node).includes("10.0.0.9"));
  const other = { ...node, version: "7.2.4", uptime_s: 5, memory: { ...node.memory } };
  other.memory.max_bytes = 1024;
  const total = combine([node, other]);
  assert.deepStrictEqual(
    [total.version, total.uptime_s, total.keys, total.ops_per_s, total.memory.used_bytes],
    ["mixed: 7.0.15, 7.2.4", 5, 14, 24, 4096],
  );
  assert.strictEqual(total.memory.max_bytes, 0, "one master without a limit: no limit");
  assert.strictEqual(total.memory.used_human, "4.00K");
  assert.strictEqual(total.persistence.aof_last_write_ok, false);
  assert.strictEqual(humanBytes(512), "512B");
  assert.strictEqual(humanBytes(3 * 1024 * 1024), "3.00M");
});

Deno.test("GET /api/v1/redis: admin keys see the figures; read and tenant keys are refused", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const admin = await keyWith(api.store, "read", "admin");
    const reader = await keyWith(api.store, "read");
    const tenant =
      (await api.store.create({ name: "t", scopes: ["admin", "read"], tenant: "acme" }))
        .key;
    const res = await api.app.request("/api/v1/redis", { headers: bearer(admin) });
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.strictEqual(body.mode, "standalone");
    assert.strictEqual(body.masters, null);
    assert.match(body.version, /^\d+\.\d+\.\d+$/);
    assert.strictEqual(body.role, "master");
    assert.ok(body.connected_clients >= 1);
    assert.ok(body.memory.used_bytes > 0);
    assert.deepStrictEqual(Object.keys(body).sort(), [
      "connected_clients",
      "evicted_keys",
      "keys",
      "keyspace_hits",
      "keyspace_misses",
      "masters",
      "memory",
      "mode",
      "ops_per_s",
      "persistence",
      "role",
      "uptime_s",
      "version",
    ]);
    for (const key of [reader, tenant]) {
      const refused = await api.app.request("/api/v1/redis", { headers: bearer(key) });
      assert.strictEqual(refused.status, 403);
      assert.strictEqual((await refused.json()).error.code, "forbidden");
    }
    assert.strictEqual((await api.app.request("/api/v1/redis")).status, 401);
  } finally {
    await api.close();
    await redis.close();
  }
});
