/**
 * The routes the dashboard's operator views need: a list's total, search by
 * id prefix, run a scheduled job now, and the bulk actions (retry every dead
 * job of a queue, cancel given ids), each audited in the log.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { assertError, postJson, startApi } from "./helpers.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

/** The fixture's broker behind an app whose log lines are kept (the audit). */
async function withAudit(api: Awaited<ReturnType<typeof startApi>>) {
  const lines: Record<string, unknown>[] = [];
  const app = createApp({
    broker: api.broker,
    registry: await loadRegistry(),
    log: createLogger({
      level: "info",
      format: "json",
      sink: (line) => lines.push(JSON.parse(line)),
    }),
  });
  return { app, lines };
}

async function submit(app: Awaited<ReturnType<typeof startApi>>["app"], extra = {}) {
  const res = await postJson(app, "/api/v1/jobs", { ...COMPUTE, ...extra });
  assert.strictEqual(res.status, 201);
  return (await res.json()).job_id as string;
}

/** Claims every pending job and fails it for good: they are dead. */
async function killAll(api: Awaited<ReturnType<typeof startApi>>) {
  for (const job of await api.broker.claim(100)) {
    await api.broker.fail(job.id, job.token, {
      message: "<b>boom</b>",
      retryable: false,
      retry_delay_ms: 0,
    });
  }
}

Deno.test("GET /jobs: total counts the filter over all pages, by type too", async () => {
  const api = await startApi();
  try {
    for (let i = 0; i < 5; i++) await submit(api.app);
    await submit(api.app, {
      type: "email",
      payload: { to: "a@example.com", subject: "s", body: "b" },
    })
      .catch(() => {});
    const page = await (await api.app.request("/api/v1/jobs?status=pending&limit=2")).json();
    assert.strictEqual(page.jobs.length, 2);
    const pending = (await api.broker.stats()).pending;
    assert.strictEqual(page.total, pending);
    const typed = await (await api.app.request("/api/v1/jobs?status=pending&type=compute&limit=2"))
      .json();
    assert.strictEqual(typed.total, 5);
    const none = await (await api.app.request("/api/v1/jobs?status=failed")).json();
    assert.strictEqual(none.total, 0);
    const unknownQueue = await (await api.app.request("/api/v1/jobs?queue=nope")).json();
    assert.deepStrictEqual(unknownQueue, { jobs: [], next_cursor: null, total: 0 });
  } finally {
    await api.close();
  }
});

Deno.test("GET /jobs?id_prefix: finds a job by the start of its id, in any state", async () => {
  const api = await startApi();
  try {
    const ids = [await submit(api.app), await submit(api.app, { delay_ms: 60_000 })];
    for (const id of ids) {
      const res = await api.app.request(`/api/v1/jobs?id_prefix=${id.slice(0, 6)}`);
      assert.strictEqual(res.status, 200);
      const body = await res.json();
      assert.deepStrictEqual(body.jobs.map((j: { job_id: string }) => j.job_id), [id]);
      assert.strictEqual(body.total, 1);
      assert.strictEqual(body.truncated, false);
    }
    // A status given narrows the search.
    const narrowed = await api.app.request(
      `/api/v1/jobs?id_prefix=${ids[1].slice(0, 6)}&status=pending`,
    );
    assert.deepStrictEqual((await narrowed.json()).jobs, []);
    await assertError(await api.app.request("/api/v1/jobs?id_prefix=zz*"), 400, "invalid_query");
  } finally {
    await api.close();
  }
});

Deno.test("GET /jobs?group: one group's jobs, paged, without a total; a bad group is 422", async () => {
  const api = await startApi();
  try {
    const hostile = "<img src=x onerror=alert(1)>&é";
    const g = [await submit(api.app, { group: hostile }), await submit(api.app)];
    g.push(await submit(api.app, { group: hostile, priority: 3 }));
    const other = await submit(api.app, { group: "other" });
    const url = (q: string) => `/api/v1/jobs?group=${encodeURIComponent(hostile)}${q}`;
    const first = await (await api.app.request(url("&limit=1"))).json();
    assert.deepStrictEqual(first.jobs.map((j: { job_id: string }) => j.job_id), [g[2]]);
    assert.strictEqual(first.jobs[0].group, hostile);
    assert.deepStrictEqual([first.truncated, "total" in first], [false, false]);
    const second = await (await api.app.request(url(`&limit=1&cursor=${first.next_cursor}`)))
      .json();
    assert.deepStrictEqual(second.jobs.map((j: { job_id: string }) => j.job_id), [g[0]]);
    const last = await (await api.app.request(url(`&limit=1&cursor=${second.next_cursor}`)))
      .json();
    assert.deepStrictEqual(last, { jobs: [], next_cursor: null, truncated: false });
    assert.deepStrictEqual((await (await api.app.request(url("&status=failed"))).json()).jobs, []);
    // It narrows an id search too.
    const search = await (await api.app.request(`/api/v1/jobs?id_prefix=${other}&group=x`))
      .json();
    assert.deepStrictEqual([search.jobs, search.total], [[], 0]);
    const found = await (await api.app.request(`/api/v1/jobs?id_prefix=${other}&group=other`))
      .json();
    assert.deepStrictEqual(found.jobs.map((j: { job_id: string }) => j.job_id), [other]);
    const unknownQueue = await (await api.app.request("/api/v1/jobs?queue=nope&group=a")).json();
    assert.deepStrictEqual(unknownQueue, { jobs: [], next_cursor: null, truncated: false });
    for (const bad of ["", "x".repeat(257), "é".repeat(129)]) {
      const error = await assertError(
        await api.app.request(`/api/v1/jobs?group=${encodeURIComponent(bad)}`),
        422,
        "validation_error",
      );
      assert.match(error.message, /^group: /);
    }
    assert.strictEqual(
      (await api.app.request(`/api/v1/jobs?group=${"é".repeat(128)}`)).status,
      200,
    );
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs/:id/run: a scheduled job is pending now; 409 otherwise, 404 unknown", async () => {
  const api = await startApi();
  try {
    const { app, lines } = await withAudit(api);
    const later = await submit(app, { delay_ms: 3_600_000 });
    const res = await postJson(app, `/api/v1/jobs/${later}/run`, "");
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { job_id: later, status: "pending" });
    assert.strictEqual((await api.broker.get(later))?.status, "pending");
    assert.ok(lines.some((l) => l.msg === "job run now" && l.job_id === later));
    await assertError(await postJson(app, `/api/v1/jobs/${later}/run`, ""), 409, "invalid_state");
    await assertError(
      await postJson(app, `/api/v1/jobs/${crypto.randomUUID()}/run`, ""),
      404,
      "not_found",
    );
    await assertError(await postJson(app, "/api/v1/jobs/nope/run", ""), 400, "invalid_job_id");
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs/retry: every dead job of the queue (of a type) is pending again, audited", async () => {
  const api = await startApi();
  try {
    const { app, lines } = await withAudit(api);
    const ids = [];
    for (let i = 0; i < 7; i++) ids.push(await submit(app));
    await killAll(api);
    assert.strictEqual((await api.broker.stats()).failed, 7);
    // Another type's dead jobs stay when the type is given.
    const wrongType = await postJson(app, "/api/v1/jobs/retry", {
      status: "failed",
      type: "email",
    });
    assert.deepStrictEqual(await wrongType.json(), { retried: 0, more: false });
    const res = await postJson(app, "/api/v1/jobs/retry", { status: "failed", type: "compute" });
    assert.strictEqual(res.status, 200);
    assert.deepStrictEqual(await res.json(), { retried: 7, more: false });
    const stats = await api.broker.stats();
    assert.strictEqual(stats.failed, 0);
    assert.strictEqual(stats.pending, 7);
    for (const id of ids) assert.strictEqual((await api.broker.get(id))?.status, "pending");
    const audit = lines.find((l) => l.msg === "bulk retry" && l.retried === 7);
    assert.ok(audit, JSON.stringify(lines));
    assert.strictEqual(audit.queue, api.broker.defaultQueue);
    await assertError(await postJson(app, "/api/v1/jobs/retry", { status: "pending" }), 422);
    await assertError(await postJson(app, "/api/v1/jobs/retry", { status: "failed", x: 1 }), 422);
    await assertError(await postJson(app, "/api/v1/jobs/retry", "{"), 400, "invalid_json");
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs/cancel: one result per id; 207 when some were refused", async () => {
  const api = await startApi();
  try {
    const { app, lines } = await withAudit(api);
    const a = await submit(app);
    const b = await submit(app, { delay_ms: 60_000 });
    const unknown = crypto.randomUUID();
    const res = await postJson(app, "/api/v1/jobs/cancel", { ids: [a, b, unknown] });
    assert.strictEqual(res.status, 207);
    const body = await res.json();
    assert.deepStrictEqual(body.results.slice(0, 2), [
      { job_id: a, status: "cancelled" },
      { job_id: b, status: "cancelled" },
    ]);
    assert.strictEqual(body.results[2].job_id, unknown);
    assert.strictEqual(body.results[2].error.code, "not_found");
    assert.strictEqual(body.cancelled, 2);
    assert.strictEqual(body.refused, 1);
    assert.strictEqual((await api.broker.get(a))?.status, "cancelled");
    assert.ok(lines.some((l) => l.msg === "bulk cancel" && l.cancelled === 2));
    // Cancelling them again: finished, refused one by one.
    const again = await postJson(app, "/api/v1/jobs/cancel", { ids: [a] });
    assert.strictEqual(again.status, 207);
    assert.strictEqual((await again.json()).results[0].error.code, "invalid_state");
    const c = await submit(app);
    const ok = await postJson(app, "/api/v1/jobs/cancel", { ids: [c] });
    assert.strictEqual(ok.status, 200);
    await assertError(await postJson(app, "/api/v1/jobs/cancel", { ids: [] }), 422);
    await assertError(
      await postJson(app, "/api/v1/jobs/cancel", { ids: Array(1001).fill(a) }),
      422,
    );
    await assertError(await postJson(app, "/api/v1/jobs/cancel", { ids: ["x"] }), 422);
  } finally {
    await api.close();
  }
});

Deno.test("POST /jobs/delete: finished jobs deleted whole, live ones refused per id", async () => {
  const api = await startApi();
  try {
    const { app, lines } = await withAudit(api);
    const dead = await submit(app);
    await killAll(api);
    const done = await submit(app);
    const [job] = await api.broker.claim(1);
    await api.broker.complete(job.id, job.token, 1);
    const live = await submit(app);
    const unknown = crypto.randomUUID();
    const res = await postJson(app, "/api/v1/jobs/delete", { ids: [dead, done, live, unknown] });
    assert.strictEqual(res.status, 207);
    const body = await res.json();
    assert.deepStrictEqual(body.results.slice(0, 2), [
      { job_id: dead, status: "deleted" },
      { job_id: done, status: "deleted" },
    ]);
    assert.deepStrictEqual(
      body.results.slice(2).map((r: { error: { code: string } }) => r.error.code),
      ["invalid_state", "not_found"],
    );
    assert.match(body.results[2].error.message, /pending/);
    assert.deepStrictEqual([body.deleted, body.refused], [2, 2]);
    assert.strictEqual(await api.broker.get(dead), null);
    assert.strictEqual(await api.broker.get(done), null);
    assert.strictEqual((await api.broker.get(live))?.status, "pending");
    assert.strictEqual((await app.request(`/api/v1/jobs/${dead}`)).status, 404);
    assert.ok(lines.some((l) => l.msg === "bulk delete" && l.deleted === 2 && l.refused === 2));
    await api.broker.cancel(live);
    const ok = await postJson(app, "/api/v1/jobs/delete", { ids: [live] });
    assert.strictEqual(ok.status, 200);
    assert.deepStrictEqual((await ok.json()).deleted, 1);
    await assertError(await postJson(app, "/api/v1/jobs/delete", { ids: [] }), 422);
    await assertError(await postJson(app, "/api/v1/jobs/delete", { ids: ["x"] }), 422);
  } finally {
    await api.close();
  }
});
