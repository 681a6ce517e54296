/**
 * API keys end to end through `app.request()` over a real Redis: creating,
 * listing, using and revoking keys; revocation seen by a second API process
 * within a second; `last_used_at`; the failed-attempt limit; ADMIN_API_KEY;
 * and the laptop mode that turns auth on when the first key appears.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { authApp, bearer, dropKeys, keyWith } from "./auth_helpers.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };
const JSON_TYPE = { "content-type": "application/json" };

function submit(
  app: { request: (p: string, i: RequestInit) => Response | Promise<Response> },
  key?: string,
) {
  return app.request("/api/v1/jobs", {
    method: "POST",
    headers: { ...JSON_TYPE, ...(key ? bearer(key) : {}) },
    body: JSON.stringify(COMPUTE),
  });
}

Deno.test("keys: create (secret once), list (no secret), use, whoami, revoke", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const admin = await keyWith(api.store, "admin");
    const created = await api.app.request("/api/v1/keys", {
      method: "POST",
      headers: { ...JSON_TYPE, ...bearer(admin) },
      body: JSON.stringify({ name: "producer", scopes: ["submit", "read"] }),
    });
    assert.strictEqual(created.status, 201);
    const body = await created.json();
    assert.match(body.key, /^jq_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    assert.strictEqual(created.headers.get("location"), `/api/v1/keys/${body.id}`);
    assert.deepStrictEqual(
      { name: body.name, scopes: body.scopes, tenant: body.tenant, last: body.last_used_at },
      { name: "producer", scopes: ["submit", "read"], tenant: null, last: null },
    );

    const listed = await (await api.app.request("/api/v1/keys", { headers: bearer(admin) })).json();
    const mine = listed.keys.find((k: { id: string }) => k.id === body.id);
    assert.ok(mine);
    assert.ok(!("key" in mine) && !("hash" in mine), JSON.stringify(mine));
    // Not in Redis either: only the SHA-256 of the secret is stored.
    const raw = await api.store.list();
    assert.ok(!JSON.stringify(raw).includes(body.key.slice(20)));

    const res = await submit(api.app, body.key);
    assert.strictEqual(res.status, 201);
    await res.body?.cancel();
    const who = await (await api.app.request("/api/v1/auth", { headers: bearer(body.key) })).json();
    assert.deepStrictEqual(who, {
      auth: "on",
      key: { id: body.id, name: "producer", scopes: ["submit", "read"], tenant: null },
    });
    assert.deepStrictEqual(await (await api.app.request("/api/v1/auth")).json(), {
      auth: "on",
      key: null,
    });

    // Bad input: unknown scope, empty scopes, a tenant (not supported yet), extra fields.
    for (
      const bad of [
        { name: "x", scopes: ["root"] },
        { name: "x", scopes: [] },
        { name: "", scopes: ["read"] },
        { name: "x", scopes: ["read"], tenant: "../x" },
        { name: "x", scopes: ["read"], extra: 1 },
      ]
    ) {
      const r = await api.app.request("/api/v1/keys", {
        method: "POST",
        headers: { ...JSON_TYPE, ...bearer(admin) },
        body: JSON.stringify(bad),
      });
      assert.strictEqual(r.status, 422, JSON.stringify(bad));
      await r.body?.cancel();
    }

    const revoked = await api.app.request(`/api/v1/keys/${body.id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    assert.deepStrictEqual(await revoked.json(), { id: body.id, revoked: true });
    // The revoking process forgets it at once.
    const after = await submit(api.app, body.key);
    assert.strictEqual(after.status, 401);
    await after.body?.cancel();
    const again = await api.app.request(`/api/v1/keys/${body.id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    assert.strictEqual(again.status, 404);
    await again.body?.cancel();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("keys: a revoke is honoured within 1 s by another API process that cached the key", async () => {
  const redis = await TestRedis.start();
  const one = await authApp(redis);
  const two = await authApp(redis, { queue: one.broker.defaultQueue });
  try {
    const admin = await keyWith(one.store, "admin");
    const { key, record } = await one.store.create({ name: "doomed", scopes: ["submit"] });
    // Process two has it cached and uses it steadily.
    for (let i = 0; i < 5; i++) {
      const r = await submit(two.app, key);
      assert.strictEqual(r.status, 201);
      await r.body?.cancel();
    }
    const revoke = await one.app.request(`/api/v1/keys/${record.id}`, {
      method: "DELETE",
      headers: bearer(admin),
    });
    assert.strictEqual(revoke.status, 200);
    await revoke.body?.cancel();
    const t0 = performance.now();
    let status = 201;
    while (status !== 401 && performance.now() - t0 < 3000) {
      const r = await submit(two.app, key);
      status = r.status;
      await r.body?.cancel();
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - t0;
    assert.strictEqual(status, 401);
    assert.ok(ms < 1000, `refused ${ms.toFixed(0)} ms after the revoke`);
  } finally {
    await one.close();
    await two.close();
    await redis.close();
  }
});

Deno.test("keys: last_used_at is written on use, at most once a minute", async () => {
  const redis = await TestRedis.start();
  let now = Date.now();
  const api = await authApp(redis, { now: () => now });
  try {
    const { key, record } = await api.store.create({ name: "used", scopes: ["read"] });
    assert.strictEqual(record.last_used_at, null);
    const read = async () => {
      const r = await api.app.request("/api/v1/stats", { headers: bearer(key) });
      assert.strictEqual(r.status, 200);
      await r.body?.cancel();
      await new Promise((r) => setTimeout(r, 50));
      return (await api.store.get(record.id))?.last_used_at;
    };
    const first = await read();
    assert.strictEqual(first, new Date(now).toISOString());
    now += 200;
    assert.strictEqual(await read(), first, "not rewritten within the minute");
    now += 61_000;
    assert.strictEqual(await read(), new Date(now).toISOString());
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("keys: failed attempts are limited per client address (429 with Retry-After)", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis, { failures: { max: 3, windowMs: 60_000 } });
  try {
    const good = await keyWith(api.store, "read");
    const from = (address: string) => ({ remoteAddr: { hostname: address, port: 1 } });
    const stats = (key: string, address: string) =>
      api.app.request("/api/v1/stats", { headers: bearer(key) }, from(address));
    // The good key, cached, keeps working from the guessing address.
    assert.strictEqual((await stats(good, "10.0.0.1")).status, 200);
    for (let i = 0; i < 3; i++) {
      const r = await stats(`jq_0123456789abcdef_${String(i).repeat(43)}`, "10.0.0.1");
      assert.strictEqual(r.status, 401);
      await r.body?.cancel();
    }
    const limited = await stats(`jq_0123456789abcdef_${"z".repeat(43)}`, "10.0.0.1");
    assert.strictEqual(limited.status, 429);
    assert.strictEqual((await limited.json()).error.code, "rate_limited");
    const wait = Number(limited.headers.get("retry-after"));
    assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
    assert.strictEqual((await stats(good, "10.0.0.1")).status, 200, "a cached good key passes");
    // Another address is not affected.
    const other = await stats(`jq_0123456789abcdef_${"y".repeat(43)}`, "10.0.0.2");
    assert.strictEqual(other.status, 401);
    await other.body?.cancel();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("keys: ADMIN_API_KEY is a key with every scope that lives in the environment", async () => {
  const redis = await TestRedis.start();
  const adminKey = "an-admin-key-for-tests-0123456789abcdef";
  const api = await authApp(redis, { adminKey });
  try {
    const who = await (await api.app.request("/api/v1/auth", { headers: bearer(adminKey) })).json();
    assert.deepStrictEqual(who.key, {
      id: "env",
      name: "ADMIN_API_KEY",
      scopes: ["submit", "read", "admin"],
      tenant: null,
    });
    const created = await api.app.request("/api/v1/keys", {
      method: "POST",
      headers: { ...JSON_TYPE, ...bearer(adminKey) },
      body: JSON.stringify({ name: "first", scopes: ["read"] }),
    });
    assert.strictEqual(created.status, 201);
    await created.body?.cancel();
    const wrong = await api.app.request("/api/v1/auth", { headers: bearer(adminKey + "x") });
    assert.strictEqual(wrong.status, 401);
    await wrong.body?.cancel();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("keys: without keys on loopback auth is off, and turns on for good with the first key", async () => {
  const redis = await TestRedis.start();
  await dropKeys(redis);
  const api = await authApp(redis, { mode: "first_key" });
  try {
    assert.deepStrictEqual(await (await api.app.request("/api/v1/auth")).json(), {
      auth: "off",
      key: null,
    });
    const open = await submit(api.app);
    assert.strictEqual(open.status, 201);
    await open.body?.cancel();
    // Open on loopback names only: another name is a page that rebound its DNS to us.
    for (const host of ["127.0.0.1", "localhost", "[::1]"]) {
      const r = await api.app.request(`http://${host}/api/v1/stats`);
      assert.strictEqual(r.status, 200, host);
      await r.body?.cancel();
    }
    const rebound = await api.app.request("http://attacker.example/api/v1/stats");
    assert.strictEqual(rebound.status, 403);
    assert.strictEqual((await rebound.json()).error.code, "forbidden_host");
    const { key } = await api.store.create({ name: "first", scopes: ["submit"] });
    const t0 = performance.now();
    let status = 201;
    while (status !== 401 && performance.now() - t0 < 3000) {
      const r = await submit(api.app);
      status = r.status;
      await r.body?.cancel();
      if (status !== 401) await new Promise((r) => setTimeout(r, 20));
    }
    assert.strictEqual(status, 401);
    assert.ok(performance.now() - t0 < 1000);
    assert.strictEqual(api.auth.mode, "on");
    const withKey = await submit(api.app, key);
    assert.strictEqual(withKey.status, 201);
    await withKey.body?.cancel();
    // Revoking every key does not turn it off again.
    await dropKeys(redis);
    await new Promise((r) => setTimeout(r, 1000));
    const still = await submit(api.app);
    assert.strictEqual(still.status, 401);
    await still.body?.cancel();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("keys: an open event stream ends soon after its key is revoked", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const { key, record } = await api.store.create({ name: "watcher", scopes: ["read"] });
    const res = await api.app.request("/api/v1/events", { headers: bearer(key) });
    assert.strictEqual(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (!text.includes("event: stats")) text += (await reader.read()).value ?? "";
    // Revoked elsewhere (not through this process): the cache notices within a second.
    await api.store.revoke(record.id);
    const t0 = performance.now();
    const ended = (async () => {
      for (;;) if ((await reader.read()).done) return performance.now() - t0;
    })();
    const ms = await Promise.race([
      ended,
      new Promise<number>((r) => setTimeout(() => r(-1), 5000)),
    ]);
    assert.ok(ms >= 0 && ms < 3500, `the stream ended ${ms.toFixed(0)} ms after the revoke`);
  } finally {
    await api.close();
    await redis.close();
  }
});
