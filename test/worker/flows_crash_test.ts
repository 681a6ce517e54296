/**
 * Crash safety of flows: a seeded random graph of 200 jobs (each with up to
 * three dependencies among the earlier ones, a random policy, one in ten
 * failing for good) runs on two worker processes while one of them is
 * killed with SIGKILL 20 times, each time right as it completes jobs, and
 * replaced. Every node must end in the state its policy dictates, none may
 * have started before its dependencies completed (every attempt's start is
 * logged), and none may be left waiting with all its dependencies finished.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { type SpawnedWorker, spawnWorker, testBroker, waitFor } from "./helpers.ts";
import type { DependencyPolicy, Job, JobState } from "../../src/queue/job.ts";
import { Rng } from "../api/openapi_cases.ts";

interface Node {
  deps: number[];
  policy: DependencyPolicy;
  fail: boolean;
}

/** The seeded graph: node i depends on up to three of nodes 0..i-1. */
function graph(n: number, seed: number): Node[] {
  const rng = new Rng(seed);
  const nodes: Node[] = [];
  for (let i = 0; i < n; i++) {
    const deps = new Set<number>();
    const count = i === 0 ? 0 : rng.int(0, Math.min(3, i));
    while (deps.size < count) deps.add(rng.int(Math.max(0, i - 30), i - 1));
    nodes.push({
      deps: [...deps],
      policy: rng.pick(["fail", "fail", "cancel", "ignore"] as const),
      fail: rng.chance(0.1),
    });
  }
  return nodes;
}

/** The state each node must end in, from its dependencies' and its own. */
function expected(nodes: Node[]): JobState[] {
  const out: JobState[] = [];
  nodes.forEach((node, i) => {
    const bad = node.deps.some((d) => out[d] !== "completed");
    if (bad && node.policy === "fail") out[i] = "failed";
    else if (bad && node.policy === "cancel") out[i] = "cancelled";
    else out[i] = node.fail ? "failed" : "completed";
  });
  return out;
}

Deno.test({
  name: "flows crash safety: 20 kill -9 over a 200-node graph end every node as its policy says",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const broker = testBroker(redis.url, "flowcrash");
    const dir = await Deno.makeTempDir({ prefix: "jq-flowcrash-" });
    const file = `${dir}/starts.log`;
    const env = { TEST_RECORD_DIR: dir, LOG_LEVEL: "error" };
    const args = (concurrency: number) => [
      "--queue",
      broker.defaultQueue,
      "--concurrency",
      String(concurrency),
      "--lease-ms",
      "1000",
    ];
    // The victim does most of the work; the steady one keeps the graph moving meanwhile.
    const spawn = () => spawnWorker(redis.url, args(8), env);
    let victim: SpawnedWorker = spawn();
    const steady: SpawnedWorker = spawnWorker(redis.url, args(2), env);
    try {
      const nodes = graph(200, 17);
      const ids: string[] = nodes.map(() => crypto.randomUUID());
      await broker.enqueueBatch(nodes.map((node, i) => ({
        id: ids[i],
        type: "test_flow_node",
        payload: { file, sleep_ms: 100 + (i % 5) * 50, fail: node.fail },
        max_attempts: 25,
        depends_on: node.deps.map((d) => ids[d]),
        on_dependency_failure: node.policy,
      })));

      // Kill the victim right as it completes jobs, 20 times, replacing it each time.
      let kills = 0;
      const rng = new Rng(5);
      const open = async () => {
        const s = await broker.stats();
        return s.waiting + s.pending + s.running + s.scheduled;
      };
      while (kills < 20 && await open() > 0) {
        // The victim holds jobs (the steady worker holds at most 2) and is finishing some.
        await waitFor("the victim running jobs", async () => {
          const s = await broker.stats();
          return s.running > 2 || await open() === 0;
        }, 30_000);
        await new Promise((r) => setTimeout(r, rng.int(50, 300)));
        victim.kill("SIGKILL");
        await victim.status;
        kills++;
        victim = spawn();
      }
      const finished = ["completed", "failed", "cancelled"];
      const jobs = await waitFor("every node settled", async () => {
        const all = await Promise.all(ids.map((id) => broker.get(id)));
        return all.every((j) => j && finished.includes(j.status)) ? all as Job[] : null;
      }, 60_000);

      assert.deepStrictEqual(jobs.map((j) => j.status), expected(nodes), "each node's end");
      // No waiting job has all its dependencies finished (here: none waits at all).
      const waiting = (await broker.list({ state: "waiting", limit: 1000 })).jobs;
      for (const w of waiting) {
        const deps = await broker.dependencies(w.id);
        assert.ok(deps?.some((d) => d.status === "pending"), `${w.id} waits with all done`);
      }
      assert.strictEqual((await broker.stats()).waiting, 0);
      // No attempt started before every dependency had completed.
      const completedAt = new Map(jobs.map((j, i) => [ids[i], Date.parse(j.completed_at ?? "")]));
      const starts = (await Deno.readTextFile(file)).trim().split("\n").map((line) => {
        const [id, at] = line.split(" ");
        return { id, at: Number(at) };
      });
      const index = new Map(ids.map((id, i) => [id, i]));
      for (const start of starts) {
        const node = nodes[index.get(start.id)!];
        if (node.policy === "ignore") continue; // runs after failures too, by design
        for (const d of node.deps) {
          assert.strictEqual(jobs[d].status, "completed", `${start.id} ran after a failure`);
          assert.ok(start.at >= completedAt.get(ids[d])!, `${start.id} started early`);
        }
      }
      // Every node that ran to an end was started; kills forced some reruns.
      const reran = starts.length - new Set(starts.map((x) => x.id)).size;
      console.log(
        `${kills} kills, ${starts.length} starts (${reran} reruns) for ${ids.length} nodes`,
      );
      assert.strictEqual(kills, 20);
      // A kill can take a job claimed but not yet started (its start never logged): its
      // attempt was charged all the same, so a job with more than one shows the kill too.
      const charged = jobs.filter((j) => j.attempts > 1).length;
      assert.ok(reran + charged > 0, "the kills hit claimed jobs");
    } finally {
      victim.kill("SIGKILL");
      steady.kill("SIGTERM");
      await Promise.all([victim.status, steady.status]);
      await broker.close();
      await redis.close();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});
