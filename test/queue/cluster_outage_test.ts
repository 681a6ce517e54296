/**
 * Redis Cluster outages: the node holding a queue's slot dies. Calls must fail
 * fast, a refused call must never run later behind the caller's back (Cluster
 * node connections keep ioredis' offline queue, see connect.ts), and the
 * broker must recover once the node is back. Its own cluster: it kills a
 * node, which the shared suite's cluster must not see. A write there fails
 * with OutcomeUnknownError, not QueueUnavailableError: the node's connection
 * queues it and would have written it had the node come back in time, so the
 * broker cannot say it was not stored (connect.ts `toWriteError`).
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { OutcomeUnknownError, QueueUnavailableError } from "../../src/queue/errors.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";

const enabled = clusterTestsEnabled();
if (!enabled) console.log("skipping the Cluster outage test: redis-cli missing or REDIS_URL set");

Deno.test({
  name: "Cluster: a dead slot owner fails calls fast, refused calls never run later, recovery",
  ignore: !enabled,
  // ioredis' Cluster keeps reconnect timers of the dead node until it is back.
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const queue = `o${crypto.randomUUID().slice(0, 8)}`;
    const broker = new RedisBroker({ url: cluster.url, queue, commandTimeoutMs: 500 });
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    try {
      await broker.enqueue({ type: "o", payload: 1 });
      // The master owning the queue's hash slot.
      const slot = Number(await admin.cluster("KEYSLOT", broker.keys.stats));
      const slots = await admin.cluster("SLOTS");
      const owner = slots.find(([from, to]) => slot >= from && slot <= to)![2][1];
      await cluster.killNode(owner);

      const t0 = performance.now();
      await assert.rejects(broker.enqueue({ type: "o", payload: 2 }), OutcomeUnknownError);
      await assert.rejects(broker.claim(5), OutcomeUnknownError);
      // Reads have no outcome to be unsure of.
      await assert.rejects(broker.stats(), QueueUnavailableError);
      const elapsed = performance.now() - t0;
      assert.ok(elapsed < 10_000, `failing took ${elapsed} ms`);

      await cluster.restartNode(owner);
      // The restarted node is empty: anything stored on it now was replayed.
      let stats = null;
      const deadline = Date.now() + 20_000;
      while (stats === null && Date.now() < deadline) {
        stats = await broker.stats().catch(() => null);
        if (stats === null) await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(stats !== null, "the broker recovered");
      await new Promise((r) => setTimeout(r, 1000)); // time for any late replay
      stats = await broker.stats();
      assert.strictEqual(stats.total, 0, "a refused enqueue was stored after all");
      assert.strictEqual(stats.running, 0, "a refused claim leased jobs after all");
      assert.strictEqual((await broker.enqueue({ type: "o", payload: 3 })).created, true);
      assert.strictEqual((await broker.stats()).pending, 1);
    } finally {
      await broker.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});
