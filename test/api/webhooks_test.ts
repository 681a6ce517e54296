/**
 * The webhook routes through `app.request()` on a real redis-server:
 * subscription CRUD, the secret, submit-time checks of callback_url, the
 * deliveries list and redeliver, and tenant isolation (another tenant's
 * subscriptions and deliveries answer exactly as unknown ones).
 */
import assert from "node:assert/strict";
import { authApp, bearer, keyWith } from "./auth_helpers.ts";
import type { AuthApp } from "./auth_helpers.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { connect, whenReady } from "../../src/queue/connect.ts";
import { queueKeys } from "../../src/queue/keys.ts";

async function tenantKey(
  api: AuthApp,
  tenant: string,
  ...scopes: Array<"submit" | "read" | "admin">
) {
  return (await api.store.create({
    name: `${tenant} key`,
    scopes: scopes.length ? scopes : ["submit", "read", "admin"],
    tenant,
  })).key;
}

async function call(api: AuthApp, key: string, method: string, path: string, body?: unknown) {
  const res = await api.app.request(`/api/v1${path}`, {
    method,
    headers: { ...bearer(key), "content-type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers };
}

Deno.test("webhooks API: subscriptions are made, listed, read and deleted by admins only", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const admin = await keyWith(api.store, "admin", "read", "submit");
    const reader = await keyWith(api.store, "read", "submit");
    const made = await call(api, admin, "POST", "/webhooks", {
      url: "https://hooks.example.com/jobs",
      events: ["failed"],
      type: "email",
    });
    assert.strictEqual(made.status, 201);
    assert.match(made.body.secret, /^whsec_/);
    assert.strictEqual(made.headers.get("location"), `/api/v1/webhooks/${made.body.id}`);
    assert.deepStrictEqual(made.body.events, ["failed"]);
    assert.strictEqual(made.body.queue, null);
    // A given secret is kept.
    const secret = `whsec_${btoa("x".repeat(32))}`;
    const own = await call(api, admin, "POST", "/webhooks", {
      url: "https://hooks.example.com/b",
      secret,
      queue: "reports",
    });
    assert.strictEqual(own.body.secret, secret);
    // The queue it names mirrors it at once, even before the queue has jobs.
    const client = connect(redis.url);
    await whenReady(client);
    assert.strictEqual(
      await client.hget(queueKeys("reports").webhookSubs, own.body.id),
      "cfx|",
    );
    const list = await call(api, admin, "GET", "/webhooks");
    assert.deepStrictEqual(
      list.body.webhooks.map((w: { id: string }) => w.id).sort(),
      [made.body.id, own.body.id].sort(),
    );
    assert.ok(list.body.webhooks.every((w: Record<string, unknown>) => !("secret" in w)));
    const one = await call(api, admin, "GET", `/webhooks/${made.body.id}`);
    assert.strictEqual(one.status, 200);
    assert.strictEqual(one.body.type, "email");
    assert.strictEqual(one.body.secret, undefined);
    // Read keys may not; bad bodies are 422.
    assert.strictEqual((await call(api, reader, "GET", "/webhooks")).status, 403);
    assert.strictEqual(
      (await call(api, reader, "POST", "/webhooks", { url: "https://x.y" })).status,
      403,
    );
    for (
      const bad of [
        { url: "ftp://hooks.example.com" },
        { url: "https://hooks.example.com", events: ["started"] },
        { url: "https://hooks.example.com", events: [] },
        { url: "https://hooks.example.com", secret: "nope" },
        { url: "https://hooks.example.com", extra: 1 },
        { url: "http://127.0.0.1:9/hook" },
        { url: "http://[::1]/hook" },
        { url: "http://10.1.2.3/hook" },
      ]
    ) {
      const r = await call(api, admin, "POST", "/webhooks", bad);
      assert.strictEqual(r.status, 422, JSON.stringify(bad));
      assert.ok(r.body.error.code, JSON.stringify(r.body));
    }
    // Delete: 200, then 404 like an unknown one.
    const gone = await call(api, admin, "DELETE", `/webhooks/${own.body.id}`);
    assert.deepStrictEqual(gone.body, { id: own.body.id, deleted: true });
    assert.strictEqual(await client.hexists(queueKeys("reports").webhookSubs, own.body.id), 0);
    const again = await call(api, admin, "DELETE", `/webhooks/${own.body.id}`);
    assert.strictEqual(again.status, 404);
    assert.strictEqual((await call(api, admin, "GET", "/webhooks/whsub_nope")).status, 404);
    // The deployment's secret: generated once, the same on every read.
    const s1 = await call(api, admin, "GET", "/webhooks/secret");
    const s2 = await call(api, admin, "GET", "/webhooks/secret");
    assert.match(s1.body.secret, /^whsec_/);
    assert.deepStrictEqual(s1.body, s2.body);
    assert.strictEqual(s1.body.source, "generated");
    client.disconnect();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("webhooks API: callback_url is checked at submit (single, batch) and shown in the status", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const key = await keyWith(api.store, "admin", "read", "submit");
    const ok = await call(api, key, "POST", "/jobs", {
      type: "email",
      payload: { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" },
      callback_url: "https://hooks.example.com/done",
      callback_events: ["completed", "cancelled"],
    });
    assert.strictEqual(ok.status, 201, JSON.stringify(ok.body));
    const job = await call(api, key, "GET", `/jobs/${ok.body.job_id}`);
    assert.strictEqual(job.body.callback_url, "https://hooks.example.com/done");
    assert.deepStrictEqual(job.body.callback_events, ["completed", "cancelled"]);
    const plain = await call(api, key, "POST", "/jobs", {
      type: "email",
      payload: { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" },
    });
    const plainJob = await call(api, key, "GET", `/jobs/${plain.body.job_id}`);
    assert.strictEqual(plainJob.body.callback_url, null);
    assert.strictEqual(plainJob.body.callback_events, null);
    const payload = { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" };
    for (
      const bad of [
        { callback_url: "file:///etc/passwd" },
        { callback_url: "not a url" },
        { callback_url: "https://u:p@hooks.example.com/" },
        { callback_url: "https://hooks.example.com/", callback_events: ["done"] },
        { callback_events: ["completed"] },
        { callback_url: "http://127.0.0.1:8080/" },
        { callback_url: "http://169.254.169.254/latest" },
      ]
    ) {
      const r = await call(api, key, "POST", "/jobs", { type: "email", payload, ...bad });
      assert.strictEqual(r.status, 422, JSON.stringify(bad) + JSON.stringify(r.body));
      assert.ok(r.body.error.code);
    }
    const batch = await call(api, key, "POST", "/jobs/batch", {
      jobs: [
        { type: "email", payload, callback_url: "https://hooks.example.com/a" },
        { type: "email", payload, callback_url: "http://192.168.1.1/" },
      ],
    });
    assert.strictEqual(batch.status, 207);
    assert.strictEqual(batch.body.results[0].created, true);
    assert.match(JSON.stringify(batch.body.results[1].error), /jobs\.1\.callback_url/);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("webhooks API: a tenant's admin sees only its subscriptions and deliveries", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  const client = connect(redis.url);
  try {
    await whenReady(client);
    const root = await keyWith(api.store, "admin", "read", "submit");
    const acme = await tenantKey(api, "acme");
    const globex = await tenantKey(api, "globex");
    const a = await call(api, acme, "POST", "/webhooks", { url: "https://a.example.com/h" });
    assert.strictEqual(a.status, 201);
    const g = await call(api, globex, "POST", "/webhooks", {
      url: "https://g.example.com/h",
      queue: "default",
    });
    assert.strictEqual(g.status, 201);
    assert.strictEqual(g.body.queue, "globex/default");
    // Another tenant's queue in the body: refused.
    const other = await call(api, acme, "POST", "/webhooks", {
      url: "https://a.example.com/h",
      queue: "globex/default",
    });
    assert.strictEqual(other.status, 422);
    // Lists: own only; root: all.
    const mine = await call(api, acme, "GET", "/webhooks");
    assert.deepStrictEqual(mine.body.webhooks.map((w: { id: string }) => w.id), [a.body.id]);
    const all = await call(api, root, "GET", "/webhooks");
    assert.strictEqual(all.body.webhooks.length, 2);
    // Another tenant's subscription: 404 with an unknown one's body.
    const theirs = await call(api, acme, "GET", `/webhooks/${g.body.id}`);
    const unknown = await call(api, acme, "GET", "/webhooks/whsub_0000");
    assert.strictEqual(theirs.status, 404);
    assert.deepStrictEqual(
      theirs.body.error.code,
      unknown.body.error.code,
    );
    assert.strictEqual((await call(api, acme, "DELETE", `/webhooks/${g.body.id}`)).status, 404);
    assert.strictEqual((await call(api, globex, "GET", `/webhooks/${g.body.id}`)).status, 200);
    // The deployment's secret is not a tenant's to read.
    assert.strictEqual((await call(api, acme, "GET", "/webhooks/secret")).status, 403);
    // A tenant's queue-less subscription covers its queues only (mirrors).
    await call(api, acme, "POST", "/jobs", {
      type: "email",
      payload: { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" },
    });
    await call(api, globex, "POST", "/jobs", {
      type: "email",
      payload: { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" },
    });
    assert.deepStrictEqual(
      Object.keys(await client.hgetall(queueKeys("acme/default").webhookSubs)),
      [a.body.id],
    );
    assert.deepStrictEqual(
      Object.keys(await client.hgetall(queueKeys("globex/default").webhookSubs)),
      [g.body.id],
    );
    // Deliveries: a globex job's failed delivery is globex's only.
    const job = await call(api, globex, "POST", "/jobs", {
      type: "email",
      payload: { to: "a@example.com", from: "n@example.com", subject: "s", body: "b" },
      callback_url: "https://g.example.com/cb",
    });
    // Make a failed delivery directly: the job cancelled, its delivery given up by hand.
    await call(api, globex, "DELETE", `/jobs/${encodeURIComponent(job.body.job_id)}`);
    const keys = queueKeys("globex/default");
    const dues = await client.zrange(keys.webhookDue, 0, -1);
    assert.ok(dues.length >= 1, "the cancel recorded deliveries");
    for (const id of dues) {
      await client.zrem(keys.webhookDue, id);
      await client.zadd(keys.webhookFailed, Date.now(), id);
    }
    const theirList = await call(api, globex, "GET", "/webhooks/deliveries?status=failed");
    assert.strictEqual(theirList.status, 200);
    assert.strictEqual(theirList.body.deliveries.length, dues.length);
    const d = theirList.body.deliveries.find((x: { url: string | null }) => x.url !== null);
    assert.strictEqual(d.job_id, job.body.job_id);
    assert.strictEqual(d.event, "cancelled");
    const acmeList = await call(api, acme, "GET", "/webhooks/deliveries?status=failed");
    assert.deepStrictEqual(acmeList.body.deliveries, []);
    const seg = encodeURIComponent(d.id);
    const refused = await call(api, acme, "POST", `/webhooks/deliveries/${seg}/redeliver`);
    assert.strictEqual(refused.status, 404);
    const redone = await call(api, globex, "POST", `/webhooks/deliveries/${seg}/redeliver`);
    assert.strictEqual(redone.status, 202);
    assert.deepStrictEqual(redone.body, { delivery_id: d.id, status: "pending" });
    assert.notStrictEqual(await client.zscore(keys.webhookDue, d.id), null);
    const twice = await call(api, globex, "POST", `/webhooks/deliveries/${seg}/redeliver`);
    assert.strictEqual(twice.status, 404);
    assert.strictEqual(
      (await call(api, globex, "GET", "/webhooks/deliveries?status=nope")).status,
      422,
    );
  } finally {
    client.disconnect();
    await api.close();
    await redis.close();
  }
});
