/**
 * Every route of the API process against the access table: the table covers
 * exactly the served routes, and per route a request without a key, with an
 * unknown key and with a key of each single scope answers 401, 401 and 403
 * unless the key holds the route's scope; refused requests write nothing.
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { ROUTE_ACCESS } from "../../src/api/auth/access.ts";
import { apiGuard } from "../../src/api/auth/guard.ts";
import { installErrorHandlers } from "../../src/api/app.ts";
import { createLogger } from "../../src/log.ts";
import { SCOPES } from "../../src/auth/scopes.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { authApp, bearer, keyWith } from "./auth_helpers.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };

Deno.test("auth: the access table lists exactly the routes the API process serves", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const served = api.app.routes
      .filter((r) => r.method !== "ALL" && r.path !== "/*")
      .map((r) => `${r.method} ${r.path}`);
    const listed = ROUTE_ACCESS.map((r) => `${r.method} ${r.path}`);
    assert.deepStrictEqual([...new Set(served)].sort(), [...listed].sort());
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("auth: 401 without or with an unknown key, 403 without the scope, on every route", async () => {
  const redis = await TestRedis.start();
  // Every route tries unknown keys from one address: more than the limiter's default minute allows.
  const api = await authApp(redis, {
    metricsToken: "metrics-token-0123456789",
    failures: { max: 1000 },
  });
  try {
    const keys = Object.fromEntries(
      await Promise.all(SCOPES.map(async (s) => [s, await keyWith(api.store, s)] as const)),
    );
    const jobId = (await api.broker.enqueue(COMPUTE)).id;
    const someKey = (await api.store.create({ name: "victim", scopes: ["read"] })).record.id;
    const queue = api.broker.defaultQueue;
    const bodies: Record<string, unknown> = {
      "POST /api/v1/jobs": COMPUTE,
      "POST /api/v1/jobs/batch": { jobs: [COMPUTE] },
      "POST /api/v1/keys": { name: "made", scopes: ["read"] },
    };
    const send = async (method: string, path: string, headers: Record<string, string>) => {
      const url = path.replace(":id", path.includes("/keys/") ? someKey : jobId)
        .replace(":name", queue) +
        (method === "DELETE" && path === "/api/v1/jobs" ? "?status=failed" : "");
      const body = bodies[`${method} ${path}`];
      const res = await api.app.request(url, {
        method,
        // JSON on every POST: the cross-site guard is not what is tested here.
        headers: { "content-type": "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = res.headers.get("content-type")?.includes("event-stream")
        ? (await res.body?.cancel(), "")
        : await res.text();
      return { res, text };
    };
    const before = await api.broker.stats();
    for (const { method, path, access } of ROUTE_ACCESS) {
      const op = `${method} ${path}`;
      if (access === "public") {
        const { res, text } = await send(method, path, {});
        assert.ok(res.status < 400, `${op} is public: ${res.status} ${text}`);
        continue;
      }
      if (access === "metrics") {
        assert.strictEqual((await send(method, path, {})).res.status, 401, op);
        assert.strictEqual((await send(method, path, bearer(keys.admin))).res.status, 401, op);
        const ok = await send(method, path, bearer("metrics-token-0123456789"));
        assert.strictEqual(ok.res.status, 200, op);
        continue;
      }
      const none = await send(method, path, {});
      if (access === "optional") {
        assert.strictEqual(none.res.status, 200, `${op}: ${none.text}`);
      } else {
        assert.strictEqual(none.res.status, 401, `${op} without a key: ${none.text}`);
        assert.strictEqual(JSON.parse(none.text).error.code, "unauthorized", op);
        assert.match(none.res.headers.get("www-authenticate") ?? "", /^Bearer/, op);
      }
      const unknown = await send(method, path, bearer(`jq_0123456789abcdef_${"A".repeat(43)}`));
      assert.strictEqual(unknown.res.status, 401, `${op} unknown key: ${unknown.text}`);
      assert.match(unknown.res.headers.get("www-authenticate") ?? "", /invalid_token/, op);
      const garbage = await send(method, path, { authorization: "Basic dXNlcjpwYXNz" });
      assert.strictEqual(garbage.res.status, 401, `${op} basic auth: ${garbage.text}`);
      for (const scope of SCOPES) {
        const { res, text } = await send(method, path, bearer(keys[scope]));
        if (access === "optional" || access === scope) {
          assert.ok(![401, 403].includes(res.status), `${op} with ${scope}: ${res.status} ${text}`);
        } else {
          assert.strictEqual(res.status, 403, `${op} with ${scope}: ${text}`);
          const error = JSON.parse(text).error;
          assert.strictEqual(error.code, "forbidden", op);
          assert.match(error.message, new RegExp(`"${access}"`), op);
          assert.deepStrictEqual(error.details, { required_scope: access }, op);
          assert.match(res.headers.get("www-authenticate") ?? "", /insufficient_scope/, op);
        }
      }
    }
    // The allowed requests above wrote (a submit, a batch, a cancel, a key); refused ones nothing:
    // one request of each kind was allowed, exactly once.
    const after = await api.broker.stats();
    assert.strictEqual(after.total - before.total, 2, "one submit and one batch item");
    assert.strictEqual((await api.store.list()).filter((k) => k.name === "made").length, 1);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("auth: refused requests change nothing (submit, cancel, retry, purge, pause, keys)", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const reader = await keyWith(api.store, "read");
    const pending = (await api.broker.enqueue(COMPUTE)).id;
    const cancelled = (await api.broker.enqueue(COMPUTE)).id;
    await api.broker.cancel(cancelled);
    const keysBefore = await api.store.list();
    const statsBefore = await api.broker.stats();
    const json = { "content-type": "application/json" };
    const attempts: Array<[string, string, unknown?]> = [
      ["POST", "/api/v1/jobs", COMPUTE],
      ["POST", "/api/v1/jobs/batch", { jobs: [COMPUTE] }],
      ["DELETE", `/api/v1/jobs/${pending}`],
      ["POST", `/api/v1/jobs/${cancelled}/retry`],
      ["DELETE", "/api/v1/jobs?status=cancelled"],
      ["POST", `/api/v1/queues/${api.broker.defaultQueue}/pause`],
      ["POST", "/api/v1/keys", { name: "sneaky", scopes: ["admin"] }],
      ["DELETE", `/api/v1/keys/${keysBefore[0].id}`],
    ];
    for (const [method, path, body] of attempts) {
      for (const headers of [json, { ...json, ...bearer(reader) }]) {
        const res = await api.app.request(path, {
          method,
          headers,
          body: body === undefined ? undefined : JSON.stringify(body),
        });
        assert.ok([401, 403].includes(res.status), `${method} ${path}: ${res.status}`);
        await res.body?.cancel();
      }
    }
    assert.deepStrictEqual(await api.broker.stats(), statsBefore);
    assert.strictEqual((await api.broker.get(pending))?.status, "pending");
    assert.strictEqual((await api.broker.get(cancelled))?.status, "cancelled");
    assert.strictEqual((await api.broker.queueInfo(api.broker.defaultQueue))?.paused, false);
    assert.deepStrictEqual(
      (await api.store.list()).map((k) => k.id),
      keysBefore.map((k) => k.id),
    );
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("auth: a route missing from the access table needs the admin scope", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  try {
    const app = new Hono();
    app.use("/api/v1/*", apiGuard(api.auth));
    app.get("/api/v1/brand-new", (c) => c.json({ ok: true }));
    installErrorHandlers(app, createLogger({ level: "silent" }));
    const reader = await keyWith(api.store, "read", "submit");
    const admin = await keyWith(api.store, "admin");
    assert.strictEqual((await app.request("/api/v1/brand-new")).status, 401);
    const res = await app.request("/api/v1/brand-new", { headers: bearer(reader) });
    assert.strictEqual(res.status, 403);
    assert.strictEqual((await res.json()).error.details.required_scope, "admin");
    assert.strictEqual(
      (await app.request("/api/v1/brand-new", { headers: bearer(admin) })).status,
      200,
    );
  } finally {
    await api.close();
    await redis.close();
  }
});
