/**
 * The API of flows: `depends_on` and `on_complete` on single and batch
 * submits, `POST /api/v1/flows` (refs, existing ids, refusals naming what is
 * wrong, nothing written), the status's `dependencies`/`dependents`, and the
 * graph of `GET /api/v1/flows/:id`.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { assertError, postJson, startApi } from "./helpers.ts";
import { scanKeys } from "../helpers/scan.ts";

const job = (extra: Record<string, unknown> = {}) => ({
  type: "compute",
  payload: { duration_ms: 0 },
  ...extra,
});

/** Every key in Redis, for "nothing was written". */
async function allKeys(url: string): Promise<string[]> {
  const redis = new Redis(url);
  try {
    return (await scanKeys(redis, "*")).sort();
  } finally {
    redis.disconnect();
  }
}

async function status(app: { request: (p: string) => Response | Promise<Response> }, id: string) {
  const res = await app.request(`/api/v1/jobs/${id}`);
  assert.strictEqual(res.status, 200);
  return await res.json();
}

Deno.test({
  name: "api flows: depends_on on submit and batch, status with dependencies and dependents",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const api = await startApi();
    try {
      const a = await (await postJson(api.app, "/api/v1/jobs", job())).json();
      const res = await postJson(api.app, "/api/v1/jobs", job({ depends_on: [a.job_id] }));
      assert.strictEqual(res.status, 201);
      const d = await res.json();
      const shown = await status(api.app, d.job_id);
      assert.strictEqual(shown.status, "waiting");
      assert.deepStrictEqual(shown.dependencies, { total: 1, completed: 0, failed: 0, pending: 1 });
      assert.strictEqual(shown.on_dependency_failure, "fail");
      const parent = await status(api.app, a.job_id);
      assert.deepStrictEqual(parent.dependents, { ids: [d.job_id], next_cursor: null });
      assert.strictEqual(parent.dependencies, null);
      const batch = await postJson(api.app, "/api/v1/jobs/batch", {
        jobs: [job({ depends_on: [a.job_id], on_dependency_failure: "ignore" }), job()],
      });
      assert.strictEqual(batch.status, 201);
      const { results } = await batch.json();
      assert.strictEqual((await status(api.app, results[0].job_id)).status, "waiting");
      const stats = await (await api.app.request("/api/v1/stats")).json();
      assert.strictEqual(stats.waiting, 2);
      const listed = await (await api.app.request(
        `/api/v1/jobs?status=waiting&queue=${api.broker.defaultQueue}`,
      )).json();
      assert.strictEqual(listed.jobs.length, 2);
    } finally {
      await api.close();
    }
  },
});

Deno.test({
  name: "api flows: bad dependencies are 422 with what is wrong, and write nothing",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const api = await startApi();
    try {
      const a = await (await postJson(api.app, "/api/v1/jobs", job())).json();
      const before = await allKeys(api.redis.url);
      const ghost = crypto.randomUUID();
      const unknown = await assertError(
        await postJson(api.app, "/api/v1/jobs", job({ depends_on: [a.job_id, ghost] })),
        422,
        "unknown_dependency",
      );
      assert.deepStrictEqual(unknown.details, { ids: [ghost] });
      await assertError(
        await postJson(api.app, "/api/v1/jobs", job({ depends_on: a.job_id })),
        422,
        "validation_error",
      );
      await assertError(
        await postJson(api.app, "/api/v1/jobs", job({ depends_on: ["nope"] })),
        422,
        "validation_error",
      );
      const many = Array.from({ length: 1001 }, () => crypto.randomUUID());
      await assertError(
        await postJson(api.app, "/api/v1/jobs", job({ depends_on: many })),
        422,
        "validation_error",
      );
      await assertError(
        await postJson(
          api.app,
          "/api/v1/jobs",
          job({ depends_on: [a.job_id], on_dependency_failure: "maybe" }),
        ),
        422,
        "validation_error",
      );
      const flow = (jobs: unknown[]) => postJson(api.app, "/api/v1/flows", { jobs });
      const dup = await assertError(
        await flow([job({ ref: "x" }), job({ ref: "x" })]),
        422,
        "duplicate_ref",
      );
      assert.deepStrictEqual(dup.details, { refs: ["x"] });
      const unknownRef = await assertError(
        await flow([job({ ref: "x", depends_on: ["y"] })]),
        422,
        "unknown_ref",
      );
      assert.deepStrictEqual(unknownRef.details, { refs: ["y"] });
      const cycle = await assertError(
        await flow([
          job({ ref: "x", depends_on: ["z"] }),
          job({ ref: "y", depends_on: ["x"] }),
          job({ ref: "z", depends_on: ["y"] }),
        ]),
        422,
        "cycle",
      );
      assert.deepStrictEqual((cycle.details as { refs: string[] }).refs.sort(), [
        "x",
        "x",
        "y",
        "z",
      ]);
      await assertError(await flow([job({ ref: "self", depends_on: ["self"] })]), 422, "cycle");
      await assertError(
        await flow([job({ ref: "x" }), job({ ref: "y", depends_on: ["x", ghost] })]),
        422,
        "unknown_dependency",
      );
      const tooMany = Array.from({ length: 1001 }, (_, i) => job({ ref: `j${i}` }));
      await assertError(await flow(tooMany), 422, "validation_error");
      const badItem = await assertError(
        await flow([job({ ref: "x" }), {
          ref: "y",
          type: "compute",
          payload: { duration_ms: -1 },
        }]),
        422,
        "invalid_payload",
      );
      assert.match(JSON.stringify(badItem.details), /jobs\.1\.payload/);
      assert.deepStrictEqual(await allKeys(api.redis.url), before, "nothing was written");
    } finally {
      await api.close();
    }
  },
});

Deno.test({
  name: "api flows: POST /flows creates the graph; GET /flows/:id shows it; on_complete chains",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const api = await startApi();
    try {
      const existing = await (await postJson(api.app, "/api/v1/jobs", job())).json();
      const res = await postJson(api.app, "/api/v1/flows", {
        jobs: [
          job({ ref: "report", depends_on: ["fetch", "other", existing.job_id] }),
          job({ ref: "fetch" }),
          job({ ref: "other", queue: "side" }),
        ],
      });
      assert.strictEqual(res.status, 201);
      const { jobs } = await res.json();
      assert.deepStrictEqual(Object.keys(jobs).sort(), ["fetch", "other", "report"]);
      assert.match(jobs.other, /^side:/);
      assert.strictEqual((await status(api.app, jobs.report)).status, "waiting");
      const graph = await (await api.app.request(`/api/v1/flows/${jobs.fetch}`)).json();
      assert.deepStrictEqual(
        graph.nodes.map((n: { job_id: string }) => n.job_id).sort(),
        [jobs.fetch, jobs.other, jobs.report, existing.job_id].sort(),
      );
      assert.deepStrictEqual(
        graph.edges.map((e: { from: string; to: string }) => `${e.from}>${e.to}`).sort(),
        [jobs.fetch, jobs.other, existing.job_id].map((p) => `${p}>${jobs.report}`).sort(),
      );
      assert.strictEqual(graph.truncated, false);
      await assertError(await api.app.request(`/api/v1/flows/${crypto.randomUUID()}`), 404);

      const chained = await postJson(api.app, "/api/v1/jobs", {
        ...job(),
        on_complete: job({ payload: { duration_ms: 1 } }),
      });
      assert.strictEqual(chained.status, 201);
      const { job_id, on_complete_id } = await chained.json();
      const next = await status(api.app, on_complete_id);
      assert.strictEqual(next.status, "waiting");
      assert.strictEqual(next.on_dependency_failure, "cancel");
      assert.deepStrictEqual(
        (await status(api.app, job_id)).dependents.ids,
        [on_complete_id],
      );
      // Completing the first job releases its follow-up in the same script.
      const claimed = await api.broker.claim(10);
      const first = claimed.find((c) => c.id === job_id);
      assert.ok(first);
      await api.broker.complete(job_id, first.token, { n: 1 });
      assert.strictEqual((await status(api.app, on_complete_id)).status, "pending");
      assert.deepStrictEqual((await api.broker.dependencies(on_complete_id))?.[0].result, { n: 1 });

      // A retry asked to revive brings back what the failure took down.
      const p = await (await postJson(api.app, "/api/v1/jobs", job())).json();
      const q = await (await postJson(api.app, "/api/v1/jobs", job({ depends_on: [p.job_id] })))
        .json();
      const [pc] = (await api.broker.claim(10)).filter((x) => x.id === p.job_id);
      await api.broker.fail(p.job_id, pc.token, {
        message: "x",
        retryable: false,
        retry_delay_ms: 0,
      });
      assert.strictEqual((await status(api.app, q.job_id)).status, "failed");
      const retried = await postJson(api.app, `/api/v1/jobs/${p.job_id}/retry`, {
        revive_dependents: true,
      });
      assert.strictEqual(retried.status, 200);
      assert.strictEqual((await status(api.app, q.job_id)).status, "waiting");

      // A flow of 1,000 jobs in one request (the figure is a benchmark's; here it must work).
      const big = Array.from(
        { length: 1000 },
        (_, i) =>
          job({ ref: `n${i}`, ...(i > 0 ? { depends_on: [`n${Math.floor((i - 1) / 2)}`] } : {}) }),
      );
      const t0 = performance.now();
      const bigRes = await postJson(api.app, "/api/v1/flows", { jobs: big });
      const ms = performance.now() - t0;
      assert.strictEqual(bigRes.status, 201);
      console.log(`flow of 1,000 jobs created in ${ms.toFixed(0)} ms`);
      const bigJobs = (await bigRes.json()).jobs;
      assert.strictEqual(Object.keys(bigJobs).length, 1000);
      assert.strictEqual((await status(api.app, bigJobs.n999)).status, "waiting");
    } finally {
      await api.close();
    }
  },
});
