/**
 * The shared behaviour suite of job dependencies (flows) every `Broker`
 * must pass: the `waiting` state, `depends_on` with each failure policy and
 * its propagation, results forward, cancel cascade, purge protection, bad
 * input writing nothing, and dependencies across queues.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import { InvalidInputError, UnknownDependencyError } from "../../src/queue/errors.ts";
import type { ClaimedJob, EnqueueInput, JobState } from "../../src/queue/job.ts";
import type { SuiteHarness } from "./broker_suite.ts";

/** Claims every ready job (serving `queues`' default broker), asserting the ids claimed. */
async function claimAll(b: Broker, max = 100): Promise<ClaimedJob[]> {
  return await b.claim(max);
}

async function status(b: Broker, id: string): Promise<JobState | undefined> {
  return (await b.get(id))?.status;
}

/** Claims the one ready job, which must be `id`, and completes it with `result`. */
async function runOne(b: Broker, id: string, result: unknown): Promise<void> {
  const claimed = await claimAll(b);
  assert.deepStrictEqual(claimed.map((j) => j.id), [id], "exactly the expected job is ready");
  await b.complete(id, claimed[0].token, result);
}

/** Claims the one ready job, which must be `id`, and fails it for good. */
async function failOne(b: Broker, id: string): Promise<void> {
  const claimed = await claimAll(b);
  assert.deepStrictEqual(claimed.map((j) => j.id), [id]);
  assert.strictEqual(
    await b.fail(id, claimed[0].token, { message: "boom", retryable: false, retry_delay_ms: 0 }),
    "failed",
  );
}

const job = (extra: Partial<EnqueueInput> = {}): EnqueueInput => ({
  type: "t",
  payload: {},
  ...extra,
});

/** Registers the flow suite's tests for one implementation. */
export function flowSuite(name: string, setup: () => Promise<SuiteHarness>): void {
  const test = (title: string, fn: (h: SuiteHarness, b: Broker) => Promise<void>) =>
    Deno.test({
      name: `${name} flows: ${title}`,
      sanitizeOps: false,
      sanitizeResources: false,
      fn: async () => {
        const h = await setup();
        try {
          await fn(h, await h.make());
        } finally {
          await h.cleanup();
        }
      },
    });

  test("a chain runs in order, each job seeing its dependency's result", async (_h, b) => {
    const a = await b.enqueue(job({ payload: "a" }));
    const bb = await b.enqueue(job({ payload: "b", depends_on: [a.id] }));
    const c = await b.enqueue(job({ payload: "c", depends_on: [bb.id] }));
    assert.strictEqual(await status(b, bb.id), "waiting");
    assert.strictEqual(await status(b, c.id), "waiting");
    const stats = await b.stats();
    assert.strictEqual(stats.waiting, 2);
    assert.strictEqual(stats.total, 3);
    assert.deepStrictEqual((await b.get(c.id))?.dependencies, {
      total: 1,
      completed: 0,
      failed: 0,
      pending: 1,
    });
    assert.deepStrictEqual(
      (await b.list({ state: "waiting" })).jobs.map((j) => j.id).sort(),
      [
        bb.id,
        c.id,
      ].sort(),
    );
    await runOne(b, a.id, { from: "a" });
    assert.strictEqual(await status(b, bb.id), "pending");
    assert.deepStrictEqual(await b.dependencies(bb.id), [
      { id: a.id, type: "t", status: "completed", result: { from: "a" } },
    ]);
    const claimedB = await claimAll(b);
    assert.deepStrictEqual(claimedB.map((j) => j.id), [bb.id]);
    assert.strictEqual(claimedB[0].dependency_count, 1);
    await b.complete(bb.id, claimedB[0].token, { from: "b" });
    assert.deepStrictEqual((await b.dependencies(c.id))?.[0].result, { from: "b" });
    await runOne(b, c.id, null);
    assert.deepStrictEqual((await b.dependents(a.id)).ids, [bb.id]);
    assert.strictEqual((await b.get(a.id))?.has_dependents, true);
    assert.strictEqual((await b.stats()).waiting, 0);
  });

  test("a dependency completed already counts as done at once", async (_h, b) => {
    const a = await b.enqueue(job());
    await runOne(b, a.id, 42);
    const d = await b.enqueue(job({ depends_on: [a.id] }));
    assert.strictEqual(await status(b, d.id), "pending");
    assert.deepStrictEqual((await b.get(d.id))?.dependencies, {
      total: 1,
      completed: 1,
      failed: 0,
      pending: 0,
    });
    assert.deepStrictEqual((await b.dependencies(d.id))?.[0].result, 42);
  });

  test("fan-in: the dependent is released by the last dependency only", async (_h, b) => {
    const parents = await b.enqueueBatch([job({ payload: 1 }), job({ payload: 2 }), job()]);
    const d = await b.enqueue(job({ depends_on: parents.map((p) => p.id) }));
    const claimed = await claimAll(b);
    assert.strictEqual(claimed.length, 3);
    for (const [i, c] of claimed.entries()) {
      assert.strictEqual(await status(b, d.id), "waiting", "still waiting before the last");
      await b.complete(c.id, c.token, i);
    }
    assert.strictEqual(await status(b, d.id), "pending");
    const deps = await b.dependencies(d.id);
    assert.deepStrictEqual(deps?.map((x) => x.status), ["completed", "completed", "completed"]);
  });

  test("policy fail propagates through two levels, naming the dependency", async (_h, b) => {
    const a = await b.enqueue(job());
    const c1 = await b.enqueue(job({ depends_on: [a.id] }));
    const c2 = await b.enqueue(job({ depends_on: [c1.id] }));
    await failOne(b, a.id);
    const j1 = await b.get(c1.id);
    assert.strictEqual(j1?.status, "failed");
    assert.match(j1?.error ?? "", new RegExp(`dependency ${a.id} failed`));
    assert.strictEqual(await status(b, c2.id), "failed");
    assert.deepStrictEqual(await claimAll(b), []);
    const stats = await b.stats();
    assert.strictEqual(stats.failed, 3);
    assert.strictEqual(stats.waiting, 0);
  });

  test("policy cancel propagates as cancelled; a cancel cascades too", async (_h, b) => {
    const a = await b.enqueue(job());
    const c1 = await b.enqueue(job({ depends_on: [a.id], on_dependency_failure: "cancel" }));
    const c2 = await b.enqueue(job({ depends_on: [c1.id], on_dependency_failure: "cancel" }));
    await failOne(b, a.id);
    assert.strictEqual(await status(b, c1.id), "cancelled");
    assert.strictEqual(await status(b, c2.id), "cancelled");
    // Cancelling a job cascades: its dependent (policy fail) fails.
    const x = await b.enqueue(job());
    const y = await b.enqueue(job({ depends_on: [x.id] }));
    assert.strictEqual(await b.cancel(x.id), "cancelled");
    const yj = await b.get(y.id);
    assert.strictEqual(yj?.status, "failed");
    assert.match(yj?.error ?? "", /was cancelled/);
    // A waiting job can be cancelled itself.
    const p = await b.enqueue(job());
    const w = await b.enqueue(job({ depends_on: [p.id] }));
    assert.strictEqual(await b.cancel(w.id), "cancelled");
    assert.strictEqual((await b.stats()).waiting, 0);
  });

  test("policy ignore runs once every dependency finished, through two levels", async (_h, b) => {
    const a = await b.enqueue(job());
    const ok = await b.enqueue(job());
    const c1 = await b.enqueue(job({ depends_on: [a.id, ok.id], on_dependency_failure: "ignore" }));
    const c2 = await b.enqueue(job({ depends_on: [c1.id], on_dependency_failure: "ignore" }));
    const claimed = await claimAll(b);
    const byId = new Map(claimed.map((c) => [c.id, c]));
    await b.fail(a.id, byId.get(a.id)!.token, {
      message: "boom",
      retryable: false,
      retry_delay_ms: 0,
    });
    assert.strictEqual(await status(b, c1.id), "waiting", "one dependency still runs");
    await b.complete(ok.id, byId.get(ok.id)!.token, "fine");
    assert.strictEqual(await status(b, c1.id), "pending");
    const deps = await b.dependencies(c1.id);
    assert.deepStrictEqual(
      deps?.map((d) => d.status).sort(),
      ["completed", "failed"],
    );
    await failOne(b, c1.id);
    assert.strictEqual(await status(b, c2.id), "pending");
  });

  test("a dependency already failed decides the policy at once", async (_h, b) => {
    const a = await b.enqueue(job());
    await failOne(b, a.id);
    const f = await b.enqueue(job({ depends_on: [a.id] }));
    const c = await b.enqueue(job({ depends_on: [a.id], on_dependency_failure: "cancel" }));
    const i = await b.enqueue(job({ depends_on: [a.id], on_dependency_failure: "ignore" }));
    assert.strictEqual(await status(b, f.id), "failed");
    assert.strictEqual(await status(b, c.id), "cancelled");
    assert.strictEqual(await status(b, i.id), "pending");
  });

  test("bad dependencies are refused and write nothing", async (h, b) => {
    const a = await b.enqueue(job());
    const before = await h.snapshot();
    const ghost = crypto.randomUUID();
    await assert.rejects(
      b.enqueue(job({ depends_on: [a.id, ghost] })),
      (e: unknown) => e instanceof UnknownDependencyError && e.ids.join() === ghost,
    );
    await assert.rejects(
      b.enqueueBatch([job(), job({ depends_on: [ghost] })]),
      UnknownDependencyError,
    );
    const other = `elsewhere:${crypto.randomUUID()}`;
    await assert.rejects(b.enqueue(job({ depends_on: [other] })), UnknownDependencyError);
    await assert.rejects(
      b.enqueue(job({ depends_on: "x" as unknown as string[] })),
      InvalidInputError,
    );
    await assert.rejects(b.enqueue(job({ depends_on: ["not-an-id"] })), InvalidInputError);
    await assert.rejects(
      b.enqueue(job({ depends_on: Array.from({ length: 1001 }, () => crypto.randomUUID()) })),
      /limit is 1000/,
    );
    const self = crypto.randomUUID();
    await assert.rejects(b.enqueue(job({ id: self, depends_on: [self] })), /itself/);
    await assert.rejects(
      b.enqueue(job({ depends_on: [a.id], on_dependency_failure: "x" as "fail" })),
      InvalidInputError,
    );
    // A cycle inside one batch.
    const [x, y] = [crypto.randomUUID(), crypto.randomUUID()];
    await assert.rejects(
      b.enqueueBatch([job({ id: x, depends_on: [y] }), job({ id: y, depends_on: [x] })]),
      /cycle/,
    );
    assert.strictEqual(await h.snapshot(), before, "nothing was written");
  });

  test("a batch may depend on its own jobs, in any order", async (_h, b) => {
    const [p, c] = [crypto.randomUUID(), crypto.randomUUID()];
    const out = await b.enqueueBatch([job({ id: c, depends_on: [p] }), job({ id: p })]);
    assert.deepStrictEqual(out.map((r) => r.id), [c, p]);
    assert.strictEqual(await status(b, c), "waiting");
    await runOne(b, p, "first");
    assert.strictEqual(await status(b, c), "pending");
  });

  test(
    "purge keeps a finished job until its dependents finish (they read its result)",
    async (_h, b) => {
      const a = await b.enqueue(job());
      const w = await b.enqueue(job({ depends_on: [a.id] }));
      await runOne(b, a.id, "kept");
      assert.strictEqual(await status(b, w.id), "pending");
      assert.strictEqual(await b.purge("completed"), 0, "w has not run yet");
      const [claimed] = await claimAll(b);
      assert.deepStrictEqual((await b.dependencies(w.id))?.[0].result, "kept");
      await b.complete(w.id, claimed.token, null);
      // Both finished: the purge takes them.
      assert.strictEqual(await b.purge("completed"), 2);
      assert.strictEqual(await b.get(a.id), null);
    },
  );

  test("dependencies across queues: released, failed and cancelled", async (_h, b) => {
    const a = await b.enqueue(job({ queue: "upstream" }));
    const d = await b.enqueue(job({ depends_on: [a.id] }));
    const e = await b.enqueue(job({ depends_on: [a.id], queue: "side" }));
    assert.strictEqual(await status(b, d.id), "waiting");
    const up = await b.enqueue(job({ queue: "upstream" }));
    const f = await b.enqueue(job({ depends_on: [up.id], on_dependency_failure: "cancel" }));
    assert.deepStrictEqual((await b.dependents(a.id)).ids.sort(), [d.id, e.id].sort());
    // The default broker serves its default queue only: a broker for "upstream" runs a.
    const h2 = await b.enqueue(job({ queue: "upstream" }));
    assert.ok(h2.id);
    await b.cancel(h2.id);
    await b.cancel(up.id);
    assert.strictEqual(await status(b, f.id), "cancelled");
    assert.strictEqual(await status(b, d.id), "waiting");
  });

  test("a retry revives the dependents it took down only when asked", async (_h, b) => {
    const a = await b.enqueue(job());
    const c1 = await b.enqueue(job({ depends_on: [a.id] }));
    const c2 = await b.enqueue(job({ depends_on: [c1.id], on_dependency_failure: "cancel" }));
    await failOne(b, a.id);
    assert.strictEqual(await status(b, c2.id), "cancelled");
    // A plain retry: a runs again, its dependents stay ended.
    await b.requeue(a.id);
    await runOne(b, a.id, "second try");
    assert.strictEqual(await status(b, c1.id), "failed");
    // Asked to revive: they wait for it again, down the graph, and run after it.
    const x = await b.enqueue(job());
    const y1 = await b.enqueue(job({ depends_on: [x.id] }));
    const y2 = await b.enqueue(job({ depends_on: [y1.id] }));
    await failOne(b, x.id);
    assert.strictEqual(await status(b, y2.id), "failed");
    await b.requeue(x.id, { revive_dependents: true });
    assert.strictEqual(await status(b, y1.id), "waiting");
    assert.strictEqual(await status(b, y2.id), "waiting");
    assert.strictEqual((await b.stats()).waiting, 2);
    await runOne(b, x.id, "fixed");
    await runOne(b, y1.id, null);
    await runOne(b, y2.id, null);
    assert.deepStrictEqual((await b.dependencies(y1.id))?.[0].result, "fixed");
  });

  test("a released job with a due time ahead is scheduled, at its priority", async (_h, b) => {
    const a = await b.enqueue(job());
    const later = await b.enqueue(job({ depends_on: [a.id], delay_ms: 60_000 }));
    const high = await b.enqueue(job({ depends_on: [a.id], priority: 9 }));
    const low = await b.enqueue(job({ depends_on: [a.id], priority: 1 }));
    assert.strictEqual(await status(b, later.id), "waiting");
    await runOne(b, a.id, null);
    assert.strictEqual(await status(b, later.id), "scheduled");
    const claimed = await claimAll(b);
    assert.deepStrictEqual(claimed.map((j) => j.id), [high.id, low.id], "priority order");
  });
}
