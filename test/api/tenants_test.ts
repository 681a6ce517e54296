/**
 * Tenant isolation through the composed app (`app.request()`, real Redis):
 * a key confined to a tenant lands in its own queues, and everything of
 * another tenant (job ids on every job route, lists, stats, queues, purge,
 * the event stream, schedules, keys, quotas) answers as if it did not exist.
 * An admin key without a tenant sees everything.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { TestRedis } from "../helpers/redis_server.ts";
import { type AuthApp, authApp } from "./auth_helpers.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

interface Answer {
  status: number;
  // deno-lint-ignore no-explicit-any
  body: any;
}

async function call(
  app: Hono,
  method: string,
  path: string,
  key: string,
  body?: unknown,
): Promise<Answer> {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: body === undefined ? (method === "POST" ? "" : undefined) : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

const seg = (id: string) => id.replaceAll("/", "%2F");

async function tenantKey(api: AuthApp, tenant: string): Promise<string> {
  return (await api.store.create({
    name: `${tenant} all`,
    scopes: ["submit", "read", "admin"],
    tenant,
  })).key;
}

Deno.test("tenants: another tenant's jobs, queues and stats answer as unknown ones", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const root = (await api.store.create({ name: "root", scopes: ["submit", "read", "admin"] }))
      .key;
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const { app } = api;

    // Submits land in the tenant's own queues; another tenant's queue name is refused.
    const a1 = await call(app, "POST", "/api/v1/jobs", acme, COMPUTE);
    assert.strictEqual(a1.status, 201);
    assert.match(a1.body.job_id, /^acme\/default:/);
    const a2 = await call(app, "POST", "/api/v1/jobs", acme, { ...COMPUTE, queue: "reports" });
    assert.match(a2.body.job_id, /^acme\/reports:/);
    const a3 = await call(app, "POST", "/api/v1/jobs", acme, { ...COMPUTE, queue: "acme/x" });
    assert.match(a3.body.job_id, /^acme\/x:/);
    const foreign = await call(app, "POST", "/api/v1/jobs", acme, {
      ...COMPUTE,
      queue: "globex/default",
    });
    assert.strictEqual(foreign.status, 422);
    assert.strictEqual(foreign.body.error.code, "validation_error");
    const batch = await call(app, "POST", "/api/v1/jobs/batch", acme, {
      jobs: [COMPUTE, { ...COMPUTE, queue: "globex/x" }],
    });
    assert.strictEqual(batch.status, 207);
    assert.match(batch.body.results[0].job_id, /^acme\/default:/);
    assert.strictEqual(batch.body.results[1].error.code, "validation_error");
    const g1 = await call(app, "POST", "/api/v1/jobs", globex, COMPUTE);
    assert.match(g1.body.job_id, /^globex\/default:/);
    const acmeId = a1.body.job_id as string;

    // Every job route: another tenant's id is 404 with the body of an id that does not exist.
    const unknown = `acme/default:${crypto.randomUUID()}`;
    for (
      const [method, suffix] of [["GET", ""], ["DELETE", ""], ["POST", "/retry"], [
        "POST",
        "/run",
      ]] as const
    ) {
      const theirs = await call(app, method, `/api/v1/jobs/${seg(acmeId)}${suffix}`, globex);
      const none = await call(app, method, `/api/v1/jobs/${seg(unknown)}${suffix}`, acme);
      assert.strictEqual(theirs.status, 404, `${method} ${suffix}`);
      assert.strictEqual(none.status, 404);
      assert.strictEqual(theirs.body.error.code, none.body.error.code);
      assert.strictEqual(
        theirs.body.error.message.replace(acmeId, "ID"),
        none.body.error.message.replace(unknown, "ID"),
      );
    }
    // Bulk actions: another tenant's id is an unknown one, another tenant's queue a 404.
    const bulk = await call(app, "POST", "/api/v1/jobs/cancel", globex, { ids: [acmeId] });
    assert.strictEqual(bulk.status, 207);
    assert.strictEqual(bulk.body.results[0].error.code, "not_found");
    const deleted = await call(app, "POST", "/api/v1/jobs/delete", globex, { ids: [acmeId] });
    assert.strictEqual(deleted.status, 207);
    assert.strictEqual(deleted.body.results[0].error.code, "not_found");
    const retryTheirs = await call(app, "POST", "/api/v1/jobs/retry", globex, {
      status: "failed",
      queue: "acme/default",
    });
    assert.strictEqual(retryTheirs.status, 404);
    // ... and nothing changed: the job is still pending, seen by its tenant and by root.
    assert.strictEqual(
      (await call(app, "GET", `/api/v1/jobs/${seg(acmeId)}`, acme)).body.status,
      "pending",
    );
    assert.strictEqual((await call(app, "GET", `/api/v1/jobs/${seg(acmeId)}`, root)).status, 200);

    // Lists: relative names, own queues only; another tenant's queue is unknown.
    const own = await call(app, "GET", "/api/v1/jobs?status=pending", globex);
    assert.deepStrictEqual(own.body.jobs.map((j: { job_id: string }) => j.job_id), [
      g1.body.job_id,
    ]);
    const theirs = await call(app, "GET", "/api/v1/jobs?queue=acme%2Fdefault", globex);
    assert.strictEqual(theirs.status, 404);
    const acmeList = await call(app, "GET", "/api/v1/jobs?queue=default", acme);
    assert.strictEqual(acmeList.body.jobs.length, 2);
    // Stats: own queues only; root sees both tenants.
    const gStats = await call(app, "GET", "/api/v1/stats", globex);
    assert.strictEqual(gStats.body.pending, 1);
    assert.deepStrictEqual(Object.keys(gStats.body.by_queue), ["globex/default"]);
    assert.strictEqual(
      (await call(app, "GET", "/api/v1/stats?queue=acme%2Fdefault", globex)).status,
      404,
    );
    const rootStats = await call(app, "GET", "/api/v1/stats", root);
    assert.ok(rootStats.body.pending >= 5);

    // Queues: own only; another tenant's cannot be read or paused.
    const gQueues = await call(app, "GET", "/api/v1/queues", globex);
    assert.deepStrictEqual(gQueues.body.queues.map((q: { name: string }) => q.name), [
      "globex/default",
    ]);
    assert.strictEqual(
      (await call(app, "GET", "/api/v1/queues/acme%2Fdefault", globex)).status,
      404,
    );
    assert.strictEqual(
      (await call(app, "POST", "/api/v1/queues/acme%2Fdefault/pause", globex)).status,
      404,
    );
    assert.strictEqual((await api.broker.queueInfo("acme/default"))?.paused, false);
    const paused = await call(app, "POST", "/api/v1/queues/default/pause", globex);
    assert.deepStrictEqual(paused.body, { name: "globex/default", paused: true });

    // Purge reaches own queues only.
    await call(app, "DELETE", `/api/v1/jobs/${seg(a2.body.job_id)}`, acme);
    await call(app, "DELETE", `/api/v1/jobs/${seg(g1.body.job_id)}`, globex);
    const purged = await call(app, "DELETE", "/api/v1/jobs?status=cancelled", globex);
    assert.deepStrictEqual(purged.body, { status: "cancelled", purged: 1 });
    assert.strictEqual((await api.broker.get(a2.body.job_id))?.status, "cancelled");

    // Keys: a tenant's admin makes keys of its tenant only, lists and revokes only those.
    const made = await call(app, "POST", "/api/v1/keys", acme, { name: "k", scopes: ["read"] });
    assert.strictEqual(made.status, 201);
    assert.strictEqual(made.body.tenant, "acme");
    const other = await call(app, "POST", "/api/v1/keys", acme, {
      name: "k",
      scopes: ["read"],
      tenant: "globex",
    });
    assert.strictEqual(other.status, 422);
    const listed = await call(app, "GET", "/api/v1/keys", acme);
    assert.ok(listed.body.keys.every((k: { tenant: string }) => k.tenant === "acme"));
    const gKeys = (await call(app, "GET", "/api/v1/keys", globex)).body.keys;
    assert.strictEqual(
      (await call(app, "DELETE", `/api/v1/keys/${gKeys[0].id}`, acme)).status,
      404,
      "another tenant's key is unknown",
    );
    assert.ok((await api.store.get(gKeys[0].id)) !== null, "and still there");
    assert.strictEqual((await call(app, "GET", "/api/v1/keys", root)).body.keys.length >= 4, true);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("tenants: a group's list reaches the tenant's own queues only", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const root = (await api.store.create({ name: "root", scopes: ["submit", "read", "admin"] }))
      .key;
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const { app } = api;
    // The same group in another tenant is not listed.
    const ag = await call(app, "POST", "/api/v1/jobs", acme, { ...COMPUTE, group: "g" });
    const gg = await call(app, "POST", "/api/v1/jobs", globex, { ...COMPUTE, group: "g" });
    const grouped = await call(app, "GET", "/api/v1/jobs?group=g", globex);
    assert.deepStrictEqual(grouped.body.jobs.map((j: { job_id: string }) => j.job_id), [
      gg.body.job_id,
    ]);
    assert.strictEqual(
      (await call(app, "GET", "/api/v1/jobs?group=g&queue=acme%2Fdefault", globex)).status,
      404,
    );
    const rootGroup = await call(app, "GET", "/api/v1/jobs?group=g&queue=acme%2Fdefault", root);
    assert.deepStrictEqual(rootGroup.body.jobs.map((j: { job_id: string }) => j.job_id), [
      ag.body.job_id,
    ]);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("tenants: the event stream carries the tenant's own jobs and stats only", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const res = await api.app.request("/api/v1/events", {
      headers: { authorization: `Bearer ${globex}` },
    });
    assert.strictEqual(res.status, 200);
    const reader = res.body!.getReader();
    const a = await call(api.app, "POST", "/api/v1/jobs", acme, COMPUTE);
    const g = await call(api.app, "POST", "/api/v1/jobs", globex, COMPUTE);
    let text = "";
    const until = Date.now() + 8000;
    while (!text.includes(g.body.job_id) || !text.includes('"by_queue"')) {
      assert.ok(Date.now() < until, `no event for the tenant's own job: ${text.slice(0, 500)}`);
      const { value } = await reader.read();
      text += new TextDecoder().decode(value);
    }
    await reader.cancel();
    assert.ok(!text.includes(a.body.job_id), "another tenant's job was streamed");
    assert.ok(
      !text.includes("acme/"),
      `another tenant's queue was streamed: ${
        text.slice(text.indexOf("acme/") - 300, text.indexOf("acme/") + 100)
      }`,
    );
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("tenants: schedule names are per tenant and their jobs go to the tenant's queues", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, commandTimeoutMs: 1000 });
  const schedules = await startSchedules({
    url: redis.url,
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    tick: false,
  });
  const api = await authApp(redis, { schedules: schedules.service });
  try {
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const body = { name: "nightly", cron: "0 3 * * *", ...COMPUTE };
    const a = await call(api.app, "POST", "/api/v1/schedules", acme, body);
    assert.strictEqual(a.status, 201, JSON.stringify(a.body));
    assert.strictEqual(a.body.name, "acme/nightly");
    const g = await call(api.app, "POST", "/api/v1/schedules", globex, body);
    assert.strictEqual(g.status, 201, "the same name in another tenant");
    assert.deepStrictEqual(
      (await call(api.app, "GET", "/api/v1/schedules", globex)).body.schedules
        .map((s: { name: string }) => s.name),
      ["globex/nightly"],
    );
    assert.strictEqual(
      (await call(api.app, "GET", "/api/v1/schedules/acme%2Fnightly", globex)).status,
      404,
    );
    assert.strictEqual(
      (await call(api.app, "DELETE", "/api/v1/schedules/acme%2Fnightly", globex)).status,
      404,
    );
    const t = await call(api.app, "POST", "/api/v1/schedules/nightly/trigger", acme);
    assert.strictEqual(t.status, 201);
    assert.match(t.body.job_id, /^acme\/default:/);
    const listed = await call(api.app, "GET", "/api/v1/jobs?schedule=nightly", acme);
    assert.deepStrictEqual(listed.body.jobs.map((j: { job_id: string }) => j.job_id), [
      t.body.job_id,
    ]);
    assert.strictEqual(
      (await call(api.app, "GET", "/api/v1/jobs?schedule=acme%2Fnightly", globex)).status,
      404,
    );
    const foreign = await call(api.app, "POST", "/api/v1/schedules", acme, {
      ...body,
      name: "q",
      queue: "globex/default",
    });
    assert.strictEqual(foreign.status, 422);
  } finally {
    await api.close();
    await schedules.close();
    await broker.close();
    await redis.close();
  }
});

Deno.test("tenants: max_pending refuses past the quota (nothing written), also under concurrency", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const root = (await api.store.create({ name: "root", scopes: ["admin", "read"] })).key;
    const acme = await tenantKey(api, "acme");
    const set = await call(api.app, "PUT", "/api/v1/tenants/acme", root, { max_pending: 5 });
    assert.strictEqual(set.status, 201);
    assert.strictEqual(
      (await call(api.app, "PUT", "/api/v1/tenants/acme", acme, { max_pending: 99 })).status,
      403,
      "a tenant cannot raise its own quota",
    );
    // Two queues of the tenant share the quota.
    await call(api.app, "POST", "/api/v1/jobs", acme, { ...COMPUTE, queue: "other" });
    await call(api.app, "POST", "/api/v1/jobs", acme, { ...COMPUTE, delay_ms: 60_000 });
    // 20 concurrent submits for the 3 places left: exactly 3 pass.
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(api.app, "POST", "/api/v1/jobs", acme, COMPUTE)),
    );
    const statuses = answers.map((a) => a.status);
    assert.strictEqual(statuses.filter((s) => s === 201).length, 3, String(statuses));
    const refused = answers.find((a) => a.status === 429)!;
    assert.strictEqual(refused.body.error.code, "quota_exceeded");
    assert.strictEqual(refused.body.error.details.quota, "max_pending");
    const stats = (await call(api.app, "GET", "/api/v1/stats", acme)).body;
    assert.strictEqual(stats.pending + stats.scheduled, 5);
    assert.strictEqual(stats.total, 5, "nothing of the refused ones was written");
    const tenant = await call(api.app, "GET", "/api/v1/tenants/acme", acme);
    assert.deepStrictEqual(tenant.body, {
      name: "acme",
      max_pending: 5,
      submit_rate: null,
      waiting: 5,
    });
    // A started job frees a place: a batch of 2 gets one in, one refused.
    assert.strictEqual(await claimFrom(redis.url, "acme/default"), 1);
    const batch = await call(api.app, "POST", "/api/v1/jobs/batch", acme, {
      jobs: [COMPUTE, COMPUTE],
    });
    assert.strictEqual(batch.status, 207, JSON.stringify(batch.body));
    assert.strictEqual(batch.body.created, 1);
    assert.strictEqual(batch.body.results[1].error.code, "quota_exceeded");
    // Lifted: submits pass again.
    assert.strictEqual((await call(api.app, "DELETE", "/api/v1/tenants/acme", root)).status, 200);
    assert.strictEqual((await call(api.app, "POST", "/api/v1/jobs", acme, COMPUTE)).status, 201);
  } finally {
    await api.close();
    await redis.close();
  }
});

/** Claims one job of `queue` with a broker serving it; how many it claimed. */
async function claimFrom(url: string, queue: string): Promise<number> {
  const worker = new RedisBroker({
    url,
    queue,
    serve: { queues: [{ name: queue, weight: 1 }], order: "strict" },
    commandTimeoutMs: 1000,
  });
  try {
    return (await worker.claim(1)).length;
  } finally {
    await worker.close();
  }
}

Deno.test("tenants: submit_rate refuses with Retry-After; a quota change reaches another process within a second", async () => {
  const redis = await TestRedis.start();
  const one = await authApp(redis);
  const two = await authApp(redis);
  try {
    const root = (await one.store.create({ name: "root", scopes: ["admin"] })).key;
    const acme = await tenantKey(one, "acme");
    // Process two reads the (absent) quota first, so it holds a cached "no quota".
    assert.strictEqual((await call(two.app, "POST", "/api/v1/jobs", acme, COMPUTE)).status, 201);
    const set = await call(one.app, "PUT", "/api/v1/tenants/acme", root, {
      submit_rate: { max: 2, per_ms: 60_000 },
    });
    assert.strictEqual(set.status, 201);
    await new Promise((r) => setTimeout(r, 1100));
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(await call(i % 2 ? one.app : two.app, "POST", "/api/v1/jobs", acme, COMPUTE));
    }
    assert.deepStrictEqual(answers.map((a) => a.status), [201, 201, 429]);
    assert.strictEqual(answers[2].body.error.details.quota, "submit_rate");
    const res = await two.app.request("/api/v1/jobs", {
      method: "POST",
      headers: { authorization: `Bearer ${acme}`, "content-type": "application/json" },
      body: JSON.stringify(COMPUTE),
    });
    assert.strictEqual(res.status, 429);
    assert.ok(Number(res.headers.get("retry-after")) >= 1);
    await res.body?.cancel();
    const big = await call(one.app, "POST", "/api/v1/jobs/batch", acme, {
      jobs: [COMPUTE, COMPUTE, COMPUTE],
    });
    assert.strictEqual(big.status, 429, "a batch above the burst can never pass");
  } finally {
    await one.close();
    await two.close();
    await redis.close();
  }
});

Deno.test("tenants: flows, dependencies and follow-ups stay in the tenant's namespace", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const theirs = (await call(api.app, "POST", "/api/v1/jobs", globex, COMPUTE)).body.job_id;
    const flow = await call(api.app, "POST", "/api/v1/flows", acme, {
      jobs: [{ ref: "a", ...COMPUTE }, { ref: "b", ...COMPUTE, depends_on: ["a"] }],
    });
    assert.strictEqual(flow.status, 201, JSON.stringify(flow.body));
    assert.match(flow.body.jobs.a, /^acme\/default:/);
    assert.match(flow.body.jobs.b, /^acme\/default:/);
    const graph = await call(api.app, "GET", `/api/v1/flows/${seg(flow.body.jobs.b)}`, acme);
    assert.strictEqual(graph.status, 200);
    assert.strictEqual(graph.body.nodes.length, 2);
    assert.strictEqual(
      (await call(api.app, "GET", `/api/v1/flows/${seg(flow.body.jobs.b)}`, globex)).status,
      404,
    );
    // Another tenant's job as a dependency is as unknown as a job that never existed.
    for (
      const body of [
        { ...COMPUTE, depends_on: [theirs] },
        { jobs: [{ ref: "x", ...COMPUTE, depends_on: [theirs] }] },
      ]
    ) {
      const path = "jobs" in body ? "/api/v1/flows" : "/api/v1/jobs";
      const refused = await call(api.app, "POST", path, acme, body);
      assert.strictEqual(refused.status, 422, path);
      assert.strictEqual(refused.body.error.code, "unknown_dependency");
    }
    const chained = await call(api.app, "POST", "/api/v1/jobs", acme, {
      ...COMPUTE,
      on_complete: COMPUTE,
    });
    assert.strictEqual(chained.status, 201, JSON.stringify(chained.body));
    assert.match(chained.body.on_complete_id, /^acme\/default:/);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("tenants: a flow past max_pending is refused whole, nothing written", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const acme = await tenantKey(api, "acme");
    await api.quotas.set("acme", { max_pending: 2, submit_rate: null });
    const flow = await call(api.app, "POST", "/api/v1/flows", acme, {
      jobs: [
        { ref: "a", ...COMPUTE },
        { ref: "b", ...COMPUTE, depends_on: ["a"] },
        { ref: "c", ...COMPUTE, depends_on: ["b"] },
      ],
    });
    assert.strictEqual(flow.status, 429);
    assert.strictEqual(flow.body.error.code, "quota_exceeded");
    const chained = await call(api.app, "POST", "/api/v1/jobs", acme, {
      ...COMPUTE,
      on_complete: COMPUTE,
    });
    assert.strictEqual(chained.status, 201, "a job and its follow-up fit the 2 places");
    const stats = (await call(api.app, "GET", "/api/v1/stats", acme)).body;
    assert.strictEqual(stats.total, 2, "the refused flow wrote nothing");
  } finally {
    await api.close();
    await redis.close();
  }
});
