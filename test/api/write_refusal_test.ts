/**
 * Redis refusing writes (OOM under `maxmemory` + `noeviction`, a read-only
 * replica, MISCONF) answers 503 `unavailable` with Retry-After, never 500;
 * `/ready` is 503 meanwhile and recovers by itself.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { createApp } from "../../src/api/app.ts";
import { toHttpError } from "../../src/api/errors.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { connect, toQueueError, toWriteError } from "../../src/queue/connect.ts";
import { writeRefusal, WritesRefusedError } from "../../src/queue/errors.ts";
import { globalKeys } from "../../src/queue/keys.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { WriteProbe } from "../../src/queue/write_probe.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { assertError, postJson, SPEC_EMAIL } from "./helpers.ts";

async function appOn(url: string) {
  const broker = new RedisBroker({
    url,
    queue: `wr_${crypto.randomUUID().slice(0, 8)}`,
    commandTimeoutMs: 1000,
  });
  const probe = new WriteProbe(connect(url, { commandTimeoutMs: 1000 }), globalKeys().writeProbe, {
    cacheMs: 200,
  });
  const app = createApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
    writeCheck: probe,
  });
  return {
    app,
    async close() {
      probe.close();
      await broker.close();
    },
  };
}

async function until(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

Deno.test("Redis out of memory (noeviction): 503 unavailable with Retry-After, /ready 503, then recovery", async () => {
  const redis = await TestRedis.start();
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  const api = await appOn(redis.url);
  try {
    assert.strictEqual((await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).status, 201);
    assert.strictEqual((await api.app.request("/ready")).status, 200);
    await admin.config("SET", "maxmemory-policy", "noeviction");
    await admin.config("SET", "maxmemory", "1"); // used memory is far past it: full

    const refused = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    assert.strictEqual(refused.headers.get("retry-after"), "5");
    const error = await assertError(refused, 503, "unavailable");
    assert.deepStrictEqual(error.details, { reason: "OOM" });
    assert.doesNotMatch(error.message, /script|@user_script/, "no internals in the answer");
    const batch = await postJson(api.app, "/api/v1/jobs/batch", { jobs: [SPEC_EMAIL] });
    assert.ok(batch.headers.get("retry-after"));
    await assertError(batch, 503, "unavailable");
    const ready = await api.app.request("/ready");
    assert.ok(ready.headers.get("retry-after"));
    await assertError(ready, 503, "unavailable");
    // Reads still work meanwhile.
    assert.strictEqual((await api.app.request("/api/v1/stats")).status, 200);

    await admin.config("SET", "maxmemory", "0");
    await until("/ready 200", async () => {
      const res = await api.app.request("/ready");
      await res.body?.cancel();
      return res.status === 200;
    });
    assert.strictEqual((await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL)).status, 201);
    const stats = await (await api.app.request("/api/v1/stats")).json();
    assert.strictEqual(stats.total, 2, "the refused submits stored nothing");
  } finally {
    await admin.config("SET", "maxmemory", "0").catch(() => {});
    admin.disconnect();
    await api.close();
    await redis.close();
  }
});

Deno.test("a read-only replica: submit 503 unavailable with Retry-After, /ready 503", async () => {
  const primary = await TestRedis.start();
  const replica = await TestRedis.start({
    args: ["--replicaof", "127.0.0.1", String(primary.port)],
  });
  const api = await appOn(replica.url);
  try {
    const refused = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    assert.strictEqual(refused.headers.get("retry-after"), "5");
    const error = await assertError(refused, 503, "unavailable");
    assert.deepStrictEqual(error.details, { reason: "READONLY" });
    await assertError(await api.app.request("/ready"), 503, "unavailable");
  } finally {
    await api.close();
    await replica.close();
    await primary.close();
  }
});

/** An error shaped as ioredis' ReplyError. */
function replyError(message: string): Error {
  const error = new Error(message);
  error.name = "ReplyError";
  return error;
}

Deno.test("write refusals map to WritesRefusedError on every path; other replies pass through", () => {
  const misconf = replyError(
    "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk.",
  );
  const sent = {
    client: connect("redis://127.0.0.1:1", { connectTimeoutMs: 10 }),
    status: "ready",
  };
  try {
    for (const mapped of [toQueueError(misconf), toWriteError(misconf, sent)]) {
      assert.ok(mapped instanceof WritesRefusedError);
      assert.strictEqual(mapped.reason, "MISCONF");
      assert.strictEqual(mapped.code, "unavailable");
    }
    const inScript = replyError(
      "OOM command not allowed when used memory > 'maxmemory'. script: abc, on @user_script:506.",
    );
    assert.strictEqual(writeRefusal(inScript)?.reason, "OOM");
    // Unmapped on some path: the API still answers 503, not 500.
    const http = toHttpError(replyError("READONLY You can't write against a read only replica."));
    assert.strictEqual(http.status, 503);
    assert.strictEqual(http.code, "unavailable");
    assert.strictEqual(http.headers?.["Retry-After"], "5");
    const other = replyError("WRONGTYPE Operation against a key holding the wrong kind of value");
    assert.strictEqual(toQueueError(other), other);
    assert.strictEqual(writeRefusal(other), null);
    assert.strictEqual(writeRefusal(new Error("OOM but not a reply")), null);
    assert.strictEqual(toHttpError(other).status, 500);
  } finally {
    sent.client.disconnect();
  }
});
