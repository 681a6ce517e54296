/** METRICS_TOKEN on a worker's /metrics (the API's is in test/api/auth_routes_test.ts). */
import assert from "node:assert/strict";
import { serveWorkerMetrics, WorkerMetrics } from "../../src/metrics/worker_metrics.ts";
import { freePort } from "../helpers/redis_server.ts";

Deno.test("worker /metrics: 401 without the token, 200 with it; /health stays open; loopback by default", async () => {
  const token = "scrape-token-0123456789";
  const server = serveWorkerMetrics(freePort(), new WorkerMetrics().registry, { token })!;
  try {
    const base = `http://127.0.0.1:${server.port}`;
    const refused = await fetch(`${base}/metrics`);
    assert.strictEqual(refused.status, 401);
    assert.match(refused.headers.get("www-authenticate") ?? "", /^Bearer/);
    await refused.body?.cancel();
    const wrong = await fetch(`${base}/metrics`, { headers: { authorization: "Bearer nope" } });
    assert.strictEqual(wrong.status, 401);
    await wrong.body?.cancel();
    const ok = await fetch(`${base}/metrics`, { headers: { authorization: `Bearer ${token}` } });
    assert.strictEqual(ok.status, 200);
    assert.match(await ok.text(), /jobqueue_worker_/);
    const health = await fetch(`${base}/health`);
    assert.strictEqual(health.status, 200);
    await health.body?.cancel();
  } finally {
    await server.shutdown();
  }
  // No hostname given: it listens on loopback, so another address of this host is refused.
  const other = Deno.networkInterfaces().find((n) =>
    n.family === "IPv4" && !n.address.startsWith("127.")
  );
  const local = serveWorkerMetrics(freePort(), new WorkerMetrics().registry)!;
  try {
    const ok = await fetch(`http://127.0.0.1:${local.port}/health`);
    assert.strictEqual(ok.status, 200);
    await ok.body?.cancel();
    if (other) {
      await assert.rejects(() => Deno.connect({ hostname: other.address, port: local.port }));
    }
  } finally {
    await local.shutdown();
  }
});
