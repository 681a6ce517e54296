/**
 * API_THREADS=2: two isolates serve one port. Every request is answered, the
 * jobs are stored, `/metrics` reports one consistent sum whichever isolate a
 * scrape lands on, and shutdown stops both.
 */
import assert from "node:assert/strict";
import { loadConfig } from "../../src/config.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { serveApi } from "../../src/roles/api.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const BODY = JSON.stringify({
  type: "email",
  payload: { to: "a@example.com", from: "b@example.com", subject: "s", body: "b" },
});

/** One HTTP/1.1 exchange on a fresh TCP connection (so the kernel picks an isolate each time). */
async function exchange(
  port: number,
  method: string,
  path: string,
  body = "",
): Promise<{ status: number; body: string }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const head = [
      `${method} ${path} HTTP/1.1`,
      "Host: 127.0.0.1",
      "Connection: close",
      ...(body ? ["Content-Type: application/json", `Content-Length: ${body.length}`] : []),
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(head + body));
    const text = new TextDecoder().decode(
      await new Response(conn.readable).arrayBuffer(),
    );
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    return { status, body: text.slice(text.indexOf("\r\n\r\n") + 4) };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by the response stream
    }
  }
}

function submitted(metrics: string): number {
  const line = metrics.split("\n").find((l) =>
    l.startsWith('jobqueue_http_requests_total{method="POST",route="/api/v1/jobs",status="201"}')
  );
  return line ? Number(line.split(" ").pop()) : 0;
}

Deno.test({
  name: "API_THREADS=2: both isolates serve one port; /metrics sums them wherever it lands",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const queue = `threads_${Date.now().toString(36)}`;
    const config = loadConfig([], {
      REDIS_URL: redis.url,
      QUEUE: queue,
      HOST: "127.0.0.1",
      PORT: "0",
      API_THREADS: "2",
    });
    const api = await serveApi(config, redis.url, createLogger({ level: "error" }));
    const broker = new RedisBroker({ url: redis.url, queue });
    try {
      const N = 100;
      const answers = await Promise.all(
        Array.from({ length: N }, () => exchange(api.port, "POST", "/api/v1/jobs", BODY)),
      );
      assert.deepStrictEqual(answers.map((a) => a.status), Array(N).fill(201));
      assert.strictEqual((await broker.stats()).total, N);
      // Fresh connections land on either isolate; every scrape must see the same sum.
      const seen = new Set<number>();
      for (let i = 0; i < 20; i++) {
        const scrape = await exchange(api.port, "GET", "/metrics");
        assert.strictEqual(scrape.status, 200);
        seen.add(submitted(scrape.body));
      }
      assert.deepStrictEqual([...seen], [N]);
    } finally {
      await api.shutdown();
      await broker.close();
    }
    // Both listeners are closed: nothing answers on the port any more.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: api.port }));
    await redis.close();
  },
});
