/** This API process's HTTP metrics, as `/metrics` exposes them. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { ClusterMetrics } from "../../src/metrics/cluster_metrics.ts";
import { HttpMetrics } from "../../src/metrics/http_metrics.ts";
import { value } from "./exposition.ts";
import { fakeBroker } from "./fake_broker.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";

Deno.test("HTTP middleware labels by route pattern, not raw path", async () => {
  const http = new HttpMetrics();
  const app = new Hono();
  app.use("*", http.middleware);
  const api = new Hono();
  api.get("/jobs/:id", (c) => c.json({ id: c.req.param("id") }));
  app.route("/api/v1", api);
  const metrics = new ClusterMetrics(fakeBroker(), { http });
  app.route("/", metrics.routes());
  await (await app.request("/api/v1/jobs/abc")).text();
  await (await app.request("/api/v1/jobs/def")).text();
  await (await app.request("/nope/123")).text();
  const text = await (await app.request("/metrics")).text();
  assert.strictEqual(
    value(
      text,
      'jobqueue_http_requests_total{method="GET",route="/api/v1/jobs/:id",status="200"}',
    ),
    2,
  );
  assert.strictEqual(
    value(text, 'jobqueue_http_requests_total{method="GET",route="unmatched",status="404"}'),
    1,
  );
  assert.match(text, /jobqueue_http_request_duration_seconds_bucket/);
  assert.doesNotMatch(text, /abc|def/);
  await metrics.close();
});

Deno.test("the composed API labels each route by its pattern, the dashboard's files as one", async () => {
  const broker = fakeBroker();
  const api = buildApiApp({
    broker,
    registry: await loadRegistry(),
    log: createLogger({ level: "silent" }),
  });
  try {
    for (
      const path of [
        "/api/v1/jobs/0b6c3d1e-8f4a-4b2c-9d7e-1a2b3c4d5e6f",
        "/api/v1/stats",
        "/api/v1/queues/default",
        "/",
        "/app.js",
        "/api/v1/nope",
      ]
    ) {
      await (await api.app.request(path)).body?.cancel();
    }
    const text = await (await api.app.request("/metrics")).text();
    const routes = new Set(
      [...text.matchAll(/jobqueue_http_requests_total\{[^}]*route="([^"]*)"/g)].map((m) => m[1]),
    );
    for (
      const want of ["/api/v1/jobs/:id", "/api/v1/stats", "/api/v1/queues/:name", "static"]
    ) assert.ok(routes.has(want), `${want} in ${[...routes]}`);
    assert.ok(routes.has("unmatched"), `unmatched in ${[...routes]}`);
    assert.ok(!routes.has("/*"), "no catch-all label");
  } finally {
    await api.close();
  }
});
