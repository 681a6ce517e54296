/**
 * Concurrency of flows: 8 claimers (brokers of their own, claiming batches
 * and completing them at once) over a seeded random DAG of 2,000 jobs. At
 * its claim, each job must find every dependency completed (its
 * dependencies HASH says so, with their results), and each is claimed
 * exactly once (no failures here, so one run per job).
 */
import assert from "node:assert/strict";
import { redisTest } from "./redis_harness.ts";
import { Rng } from "../api/openapi_cases.ts";
import type { ClaimedJob } from "../../src/queue/job.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";

const N = 2000;

redisTest(
  "flows: 8 claimers over a 2,000-job random DAG run each job once, after its dependencies",
  async (h) => {
    const rng = new Rng(99);
    const ids = Array.from({ length: N }, () => crypto.randomUUID() as string);
    const deps = ids.map((_, i) => {
      const set = new Set<string>();
      const count = i === 0 ? 0 : rng.int(0, Math.min(4, i));
      while (set.size < count) set.add(ids[rng.int(Math.max(0, i - 200), i - 1)]);
      return [...set];
    });
    const producer = await h.makeRedis();
    // Two batches, the second depending on the first: dependencies outside the batch too.
    const inputs = ids.map((id, i) => ({ id, type: "t", payload: i, depends_on: deps[i] }));
    await producer.enqueueBatch(inputs.slice(0, 1000));
    await producer.enqueueBatch(inputs.slice(1000));
    assert.strictEqual((await producer.stats()).total, N);

    const claims = new Map<string, number>();
    const violations: string[] = [];
    const index = new Map(ids.map((id, i) => [id, i]));
    const claimer = async (b: RedisBroker) => {
      for (;;) {
        const s = await b.stats();
        if (s.completed === N) return;
        const jobs: ClaimedJob[] = await b.claim(rng.int(1, 20));
        if (jobs.length === 0) {
          await new Promise((r) => setTimeout(r, 2));
          continue;
        }
        for (const job of jobs) {
          claims.set(job.id, (claims.get(job.id) ?? 0) + 1);
          const seen = await b.dependencies(job.id);
          const wanted = deps[index.get(job.id)!];
          const done = (seen ?? []).filter((d) => d.status === "completed").map((d) => d.id);
          if (done.length !== wanted.length || !wanted.every((d) => done.includes(d))) {
            violations.push(job.id);
          }
          if ((seen ?? []).some((d) => d.result !== index.get(d.id))) violations.push(job.id);
        }
        const acked = await b.completeMany(
          jobs.map((j) => ({ id: j.id, token: j.token, result: index.get(j.id) })),
        );
        assert.ok(acked.every(Boolean));
      }
    };
    const brokers = await Promise.all(Array.from({ length: 8 }, () => h.makeRedis()));
    await Promise.all(brokers.map(claimer));
    assert.deepStrictEqual(violations, [], "a job claimed before its dependencies completed");
    assert.strictEqual(claims.size, N);
    assert.ok([...claims.values()].every((n) => n === 1), "each job claimed exactly once");
    const stats = await producer.stats();
    assert.strictEqual(stats.completed, N);
    assert.strictEqual(stats.waiting, 0);
  },
);
