/**
 * Flows across Cluster slots, on a real three-master Redis Cluster: a
 * dependency in one queue and its dependents in another queue on another
 * master. The completion, the failure's propagation and the dependent's
 * links travel through the outbox; a completer that dies right after its
 * transition leaves the entry, and another process's maintenance delivers it.
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import {
  clusterTestsEnabled,
  queuesOnTwoMasters,
  TestRedisCluster,
} from "../helpers/redis_cluster.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import { QueueScripts } from "../../src/queue/scripts.ts";

Deno.test({
  name:
    "cluster flows: a dependency on one master releases, fails and cancels dependents on another",
  ignore: !clusterTestsEnabled(),
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
    const [up, down] = await queuesOnTwoMasters(admin, prefix);
    const serve = {
      queues: [{ name: up, weight: 1 }, { name: down, weight: 1 }],
      order: "strict" as const,
    };
    const broker = new RedisBroker({ url: cluster.url, prefix, queue: down, serve });
    const other = new RedisBroker({ url: cluster.url, prefix, queue: down, serve });
    try {
      // The maintainer has visited every queue once: from now on it visits only those due.
      await other.maintain({ onlyDue: true });
      const a = await broker.enqueue({ type: "fetch", payload: 1, queue: up });
      const bad = await broker.enqueue({ type: "fetch", payload: 2, queue: up });
      const d = await broker.enqueue({ type: "report", payload: 3, depends_on: [a.id] });
      const c = await broker.enqueue({
        type: "report",
        payload: 4,
        depends_on: [bad.id],
        on_dependency_failure: "cancel",
      });
      const f = await broker.enqueue({ type: "report", payload: 5, depends_on: [c.id] });
      assert.strictEqual((await broker.get(d.id))?.status, "waiting");
      // The links were made on the other master.
      assert.deepStrictEqual((await broker.dependents(a.id)).ids, [d.id]);

      const claimed = await broker.claim(2);
      assert.deepStrictEqual(claimed.map((j) => j.id).sort(), [a.id, bad.id].sort());
      const byId = new Map(claimed.map((j) => [j.id, j]));
      // The completer dies right after its transition: raw script, no drain.
      const upKeys = { ...queueKeys(up, prefix), owners: `${prefix}:{#}:owners` };
      const raw = await QueueScripts.create(admin, upKeys, {
        retentionMs: 86_400_000,
        finishedTtlMs: 90_000_000,
        eventsMaxLen: 0,
        errorHistory: 10,
      });
      await raw.completeMany(
        [{ id: a.id, token: byId.get(a.id)!.token, resultJson: "[1,2]" }],
        Date.now(),
      );
      assert.strictEqual((await broker.get(d.id))?.status, "waiting");
      assert.strictEqual(await admin.zcard(upKeys.outbox), 1);
      // An idle maintainer visits only the queues due: the entry announced itself
      // for a look a grace after it was written (its writer would have delivered it).
      await other.maintain({ onlyDue: true });
      assert.strictEqual((await broker.get(d.id))?.status, "waiting", "not due yet");
      await new Promise((r) => setTimeout(r, 2100));
      await other.maintain({ onlyDue: true });
      assert.strictEqual((await broker.get(d.id))?.status, "pending");
      assert.deepStrictEqual((await broker.dependencies(d.id))?.[0].result, [1, 2]);

      // A failure propagates across the slots and down two levels.
      await broker.fail(bad.id, byId.get(bad.id)!.token, {
        message: "down",
        retryable: false,
        retry_delay_ms: 0,
      });
      assert.strictEqual((await broker.get(c.id))?.status, "cancelled");
      assert.strictEqual((await broker.get(f.id))?.status, "failed");
      assert.strictEqual(await admin.exists(upKeys.outbox), 0);
      assert.strictEqual(await admin.exists(queueKeys(down, prefix).outbox), 0);
    } finally {
      await broker.close();
      await other.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});
