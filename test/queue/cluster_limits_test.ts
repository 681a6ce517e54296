/**
 * Flow control on a real three-master Redis Cluster: a type's limit, set
 * once under the deployment's `{#}` tag, is mirrored into two queues whose
 * slots live on different masters; each queue's claim script enforces it
 * atomically in its own slot (per queue there: see the README), a waiting
 * claim held back by a rate wakes when the next start is allowed (published
 * wakes, no BLPOP), and a freed slot wakes a waiting claimer.
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import {
  clusterTestsEnabled,
  queuesOnTwoMasters,
  TestRedisCluster,
} from "../helpers/redis_cluster.ts";

Deno.test({
  name: "cluster: a type's limits hold in queues on two masters; rate and slot wakes",
  ignore: !clusterTestsEnabled(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
    const [a, b] = await queuesOnTwoMasters(admin, prefix);
    const inA = new RedisBroker({ url: cluster.url, prefix, queue: a });
    const inB = new RedisBroker({ url: cluster.url, prefix, queue: b });
    try {
      await inA.enqueueBatch(Array.from({ length: 5 }, () => ({ type: "x", payload: 0 })));
      await inB.enqueueBatch(Array.from({ length: 5 }, () => ({ type: "x", payload: 0 })));
      await inA.setLimit("type", "x", { rate: null, concurrency: 2 });
      const [heldA, heldB] = [await inA.claim(10), await inB.claim(10)];
      assert.deepStrictEqual([heldA.length, heldB.length], [2, 2]);
      assert.deepStrictEqual(await inB.claim(10), []);
      // A waiting claim in b is woken by the end of one of b's jobs.
      const waiting = inB.claim(10, { waitMs: 8_000 });
      await new Promise((r) => setTimeout(r, 300));
      const t0 = Date.now();
      await inB.complete(heldB[0].id, heldB[0].token, null);
      assert.strictEqual((await waiting).length, 1);
      assert.ok(Date.now() - t0 < 2_000, `woken after ${Date.now() - t0} ms`);

      // A rate: the waiting claim sleeps until its window lets the next start in.
      await inA.setLimit("type", "x", { rate: { max: 1, per_ms: 600 }, concurrency: null });
      await inA.completeMany(heldA.map((j) => ({ id: j.id, token: j.token, result: null })));
      assert.strictEqual((await inA.claim(10)).length, 1);
      const t1 = Date.now();
      const next = await inA.claim(10, { waitMs: 5_000 });
      assert.strictEqual(next.length, 1);
      const waited = Date.now() - t1;
      assert.ok(waited >= 500 && waited < 2_500, `woken after ${waited} ms`);
      assert.deepStrictEqual((await inB.limits()).map((l) => [l.scope, l.name]), [["type", "x"]]);
    } finally {
      await inA.close();
      await inB.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});
