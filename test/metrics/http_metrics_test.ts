/** This API process's HTTP metrics, as `/metrics` exposes them. */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { ClusterMetrics } from "../../src/metrics/cluster_metrics.ts";
import { HttpMetrics } from "../../src/metrics/http_metrics.ts";
import { value } from "./exposition.ts";
import { fakeBroker } from "./fake_broker.ts";

Deno.test("HTTP middleware labels by route pattern, not raw path", async () => {
  const http = new HttpMetrics();
  const app = new Hono();
  app.use("*", http.middleware);
  const api = new Hono();
  api.get("/jobs/:id", (c) => c.json({ id: c.req.param("id") }));
  app.route("/api/v1", api);
  const metrics = new ClusterMetrics(fakeBroker(), { http, feed: false });
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
