/**
 * `Broker.redisInfo` on a real three-master Redis Cluster: one summary per
 * master, and a top level that sums them (`src/queue/redis_info.ts`).
 */
import assert from "node:assert/strict";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import type { RedisNodeSummary } from "../../src/queue/redis_info.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";

Deno.test({
  name: "redisInfo on Cluster: each master, and their total",
  ignore: !clusterTestsEnabled(),
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const cluster = await TestRedisCluster.start();
    const broker = new RedisBroker({ url: cluster.url, queue: "info" });
    try {
      await broker.enqueue({ type: "t", payload: 1 });
      const info = await broker.redisInfo();
      assert.strictEqual(info.mode, "cluster");
      const masters = info.masters ?? [];
      assert.deepStrictEqual(
        masters.map((m) => m.address),
        cluster.ports.map((p) => `127.0.0.1:${p}`).sort(),
      );
      for (const m of masters) assert.strictEqual(m.role, "master");
      const sum = (pick: (m: RedisNodeSummary) => number) =>
        masters.reduce((t, m) => t + pick(m), 0);
      assert.strictEqual(info.keys, sum((m) => m.keys));
      assert.ok(info.keys > 0);
      assert.strictEqual(info.memory.used_bytes, sum((m) => m.memory.used_bytes));
      assert.strictEqual(info.connected_clients, sum((m) => m.connected_clients));
      assert.strictEqual(info.uptime_s, Math.min(...masters.map((m) => m.uptime_s)));
    } finally {
      await broker.close();
      cluster.killSync();
    }
  },
});
