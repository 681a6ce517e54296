/**
 * Named queues on a real three-master Redis Cluster: two queues whose hash
 * tags land on different masters, one broker serving both. Its waits run one
 * per queue (one BLPOP cannot span slots) and the first to bring work wins;
 * pause works there too.
 */
import assert from "node:assert/strict";
import { Cluster } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { clusterTestsEnabled, TestRedisCluster } from "../helpers/redis_cluster.ts";
import type { ClaimedJob } from "../../src/queue/job.ts";

const enabled = clusterTestsEnabled();

/** Two queue names whose keys live on different masters. */
async function queuesOnTwoMasters(admin: Cluster, prefix: string): Promise<[string, string]> {
  const masterOf = async (queue: string) => {
    const key = `${prefix}:{${queue}}:probe`;
    await admin.set(key, "1");
    for (const [i, node] of admin.nodes("master").entries()) {
      // A master that does not own the slot answers MOVED.
      if ((await node.exists(key).catch(() => 0)) === 1) {
        await admin.del(key);
        return i;
      }
    }
    throw new Error(`no master holds ${key}`);
  };
  const first = "qa";
  const home = await masterOf(first);
  for (let i = 0; i < 50; i++) {
    const other = `qb${i}`;
    if ((await masterOf(other)) !== home) return [first, other];
  }
  throw new Error("no two queues on different masters");
}

Deno.test({
  name: "cluster: one broker serves two queues on different masters; both drain; pause holds",
  ignore: !enabled,
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const cluster = await TestRedisCluster.start();
    const admin = new Cluster(cluster.ports.map((port) => ({ host: "127.0.0.1", port })));
    admin.on("error", () => {});
    const prefix = `jq${crypto.randomUUID().slice(0, 6)}`;
    const [a, b] = await queuesOnTwoMasters(admin, prefix);
    const api = new RedisBroker({ url: cluster.url, prefix, queue: a });
    const worker = new RedisBroker({
      url: cluster.url,
      prefix,
      queue: a,
      serve: { queues: [{ name: a, weight: 1 }, { name: b, weight: 1 }], order: "weighted" },
    });
    const queueOf = (id: string) => id.includes(":") ? id.slice(0, id.indexOf(":")) : a;
    const drain = async (until: (seen: string[]) => boolean) => {
      const seen: string[] = [];
      const deadline = Date.now() + 15_000;
      while (!until(seen) && Date.now() < deadline) {
        const jobs: ClaimedJob[] = await worker.claim(20, { waitMs: 500 });
        for (const j of jobs) seen.push(queueOf(j.id));
        if (jobs.length) {
          await worker.completeMany(jobs.map((j) => ({ id: j.id, token: j.token, result: 1 })));
        }
      }
      return seen;
    };
    try {
      // A wait on both queues (one connection each) ends with the job of either.
      const waiting = worker.claim(5, { waitMs: 10_000 });
      await new Promise((r) => setTimeout(r, 300));
      const started = performance.now();
      const { id } = await api.enqueue({ type: "t", payload: 0, queue: b });
      const woken = await waiting;
      assert.deepStrictEqual(woken.map((j) => j.id), [id]);
      assert.ok(performance.now() - started < 1000, "woken at once");
      await worker.completeMany(woken.map((j) => ({ id: j.id, token: j.token, result: 1 })));

      const jobs = (queue: string) =>
        Array.from({ length: 50 }, (_, i) => ({ type: "t", payload: i, queue }));
      await api.enqueueBatch(jobs(a));
      await api.enqueueBatch(jobs(b));
      // Both drain through the one broker.
      const both = await drain((seen) => seen.length >= 100);
      assert.strictEqual(both.filter((q) => q === a).length, 50);
      assert.strictEqual(both.filter((q) => q === b).length, 50);
      // A busy worker claims where work is without starting a wait per queue
      // each time: its blocking connections stay few.
      let blocking = 0;
      for (const node of admin.nodes("master")) {
        const list = String(await node.call("CLIENT", "LIST"));
        blocking += list.split("\n").filter((line) => / name=jq:block /.test(line)).length;
      }
      console.log(`blocking connections after the drain: ${blocking}`);
      assert.ok(blocking <= 4, `${blocking} blocking connections`);

      // Pause a: b drains, a keeps every job pending; resume: a drains too.
      await api.enqueueBatch(jobs(a));
      await api.enqueueBatch(jobs(b));
      assert.strictEqual((await api.setPaused(a, true)).paused, true);
      const whilePaused = await drain((seen) => seen.length >= 50);
      assert.deepStrictEqual(new Set(whilePaused), new Set([b]));
      assert.strictEqual(whilePaused.length, 50);
      assert.deepStrictEqual(await worker.claim(20, { waitMs: 1000 }), []);
      assert.strictEqual((await api.queueInfo(a))?.pending, 50);
      await api.setPaused(a, false);
      const resumed = await drain((seen) => seen.length >= 50);
      assert.deepStrictEqual(new Set(resumed), new Set([a]));
      const stats = await api.stats();
      assert.strictEqual(stats.by_queue[a].completed, 100);
      assert.strictEqual(stats.by_queue[b].completed, 101);
    } finally {
      await worker.close();
      await api.close();
      admin.disconnect();
      cluster.killSync();
    }
  },
});
