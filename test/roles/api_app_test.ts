/** The API process's composed app: every surface mounted, one JSON error shape at the top. */
import assert from "node:assert/strict";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";

Deno.test("buildApiApp mounts API, metrics, dashboard; unknown paths get the JSON 404", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: `srv${Date.now()}` });
  const http = buildApiApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
  });
  try {
    const missing = await http.app.request("/definitely/not/here");
    assert.strictEqual(missing.status, 404);
    assert.deepStrictEqual(await missing.json(), {
      error: { code: "not_found", message: "no route for GET /definitely/not/here" },
    });
    const health = await http.app.request("/health");
    assert.strictEqual(health.status, 200);
    await health.body?.cancel();
    const submit = await http.app.request("/api/v1/jobs", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ type: "compute", payload: { duration_ms: 1 } }),
    });
    assert.strictEqual(submit.status, 201);
    await submit.body?.cancel();
    const metrics = await (await http.app.request("/metrics")).text();
    assert.match(metrics, /jobqueue_queue_jobs\{queue="[^"]+",state="pending"\} 1/);
    assert.match(metrics, /jobqueue_http_requests_total\{[^}]*route="\/api\/v1\/jobs"/);
    const page = await http.app.request("/");
    assert.strictEqual(page.status, 200);
    assert.match(await page.text(), /<html/i);
  } finally {
    await http.close();
    await broker.close();
    await redis.close();
  }
});
