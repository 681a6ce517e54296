/**
 * Read deadlines and aborted uploads through real sockets: headers that never
 * complete, bodies that stall, 300 stalled uploads next to a good submit, and
 * a client that hangs up mid-body (499 in the metrics, no error line).
 */
import assert from "node:assert/strict";
import { Hono } from "hono";
import { createApp } from "../../src/api/app.ts";
import { serveHttp } from "../../src/api/http_server.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger, type LogLevel } from "../../src/log.ts";
import { HttpMetrics, httpMetricsMiddleware } from "../../src/metrics/http_metrics.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { SPEC_EMAIL } from "./helpers.ts";

const encoder = new TextEncoder();

interface Served {
  port: number;
  metrics: HttpMetrics;
  lines: Array<{ level: LogLevel; line: string }>;
  close(): Promise<void>;
}

/** The versioned API behind the HTTP metrics, on a real port, with short deadlines. */
async function serve(
  redis: TestRedis,
  options: { headerTimeoutMs?: number; bodyGraceMs?: number } = {},
): Promise<Served> {
  const broker = new RedisBroker({
    url: redis.url,
    queue: `dl_${crypto.randomUUID().slice(0, 8)}`,
    commandTimeoutMs: 1000,
  });
  const lines: Served["lines"] = [];
  const log = createLogger({ level: "debug", sink: (line, level) => lines.push({ level, line }) });
  const metrics = new HttpMetrics();
  const app = new Hono();
  app.use("*", httpMetricsMiddleware(metrics));
  app.route(
    "/",
    createApp({
      broker,
      registry: await loadRegistry(),
      log,
      bodyGraceMs: options.bodyGraceMs ?? 10_000,
      bodyMinBytesPerS: 1024,
    }),
  );
  const server = serveHttp({
    hostname: "127.0.0.1",
    port: 0,
    headerTimeoutMs: options.headerTimeoutMs ?? 10_000,
  }, app.fetch);
  assert.ok(server.headerDeadline, "this Deno serves per connection (http_server.ts)");
  return {
    port: server.addr.port,
    metrics,
    lines,
    async close() {
      await server.shutdown();
      await broker.close();
    },
  };
}

async function rawConnect(port: number, text: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  if (text) await conn.write(encoder.encode(text));
  return conn;
}

/** Everything the server sends until it closes the connection, and how long that took. */
async function readUntilClosed(
  conn: Deno.Conn,
  maxMs: number,
): Promise<{ text: string; ms: number }> {
  const start = performance.now();
  const timer = setTimeout(() => conn.close(), maxMs);
  const chunks: string[] = [];
  const buf = new Uint8Array(4096);
  try {
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(new TextDecoder().decode(buf.subarray(0, n)));
    }
  } finally {
    clearTimeout(timer);
  }
  try {
    conn.close();
  } catch { /* closed by the timer */ }
  return { text: chunks.join(""), ms: performance.now() - start };
}

const uploadHead = (length: number) =>
  `POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n` +
  `Content-Length: ${length}\r\n\r\n`;

Deno.test("headers that never complete, or never start: the connection is closed at the deadline", async () => {
  const redis = await TestRedis.start();
  const api = await serve(redis, { headerTimeoutMs: 400 });
  try {
    const partial = await rawConnect(api.port, "POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\n");
    const silent = await rawConnect(api.port, "");
    const [a, b] = await Promise.all([
      readUntilClosed(partial, 5000),
      readUntilClosed(silent, 5000),
    ]);
    for (const r of [a, b]) {
      assert.ok(r.ms >= 300 && r.ms < 2000, `closed after ${Math.round(r.ms)} ms`);
      assert.strictEqual(r.text, "", "no answer: hyper has no request to answer");
    }
    // A well-behaved request on a fresh connection is served, and its
    // keep-alive connection is kept while a second request follows soon.
    const res = await fetch(`http://127.0.0.1:${api.port}/health`);
    assert.strictEqual(res.status, 200);
    await res.body?.cancel();
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("a body that stalls is answered 408 with Connection: close, and the connection closes", async () => {
  const redis = await TestRedis.start();
  const api = await serve(redis, { bodyGraceMs: 300 });
  try {
    // Read chunk by chunk (large) and in one go (small: due after the head start plus its
    // declared length at the minimum pace, 1 KiB/s here).
    for (const declared of [1024 * 1024, 512]) {
      const conn = await rawConnect(api.port, uploadHead(declared) + "{");
      const { text, ms } = await readUntilClosed(conn, 5000);
      assert.match(text, /^HTTP\/1\.1 408 /, `${declared}: ${text}`);
      assert.match(text, /connection: close/i);
      assert.match(text, /"code":"request_timeout"/);
      assert.ok(ms < 3000, `${declared}: answered after ${Math.round(ms)} ms`);
    }
    // A slow but steady body keeps its pace (1 KiB/s past the head start) and is served.
    const body = encoder.encode(JSON.stringify(SPEC_EMAIL));
    const steady = await rawConnect(api.port, uploadHead(body.byteLength));
    for (let i = 0; i < body.byteLength; i += 40) {
      await steady.write(body.subarray(i, i + 40));
      await new Promise((r) => setTimeout(r, 25));
    }
    const answer = await readUntilClosed(steady, 1500);
    assert.match(answer.text, /^HTTP\/1\.1 201 /, answer.text);
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("300 stalled 1 MiB uploads do not starve a well-behaved submit", async () => {
  const redis = await TestRedis.start();
  // The default body budget (256 MiB): charged by declared lengths, 300 x 1 MiB would exhaust it.
  const api = await serve(redis);
  const stalled: Deno.TcpConn[] = [];
  try {
    for (let i = 0; i < 300; i++) {
      stalled.push(await rawConnect(api.port, uploadHead(1024 * 1024) + "{"));
    }
    // Let the server read every head and start every body before the good submit.
    await new Promise((r) => setTimeout(r, 300));
    const res = await fetch(`http://127.0.0.1:${api.port}/api/v1/jobs`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(SPEC_EMAIL),
    });
    const text = await res.text();
    assert.strictEqual(res.status, 201, text);
  } finally {
    for (const conn of stalled) conn.close();
    await api.close();
    await redis.close();
  }
});

Deno.test("a client that aborts its upload: 499 in the metrics, no error line, no 5xx", async () => {
  const redis = await TestRedis.start();
  const api = await serve(redis);
  try {
    const conn = await rawConnect(api.port, uploadHead(4096) + '{"type":"email",');
    await new Promise((r) => setTimeout(r, 100));
    conn.close();
    const deadline = Date.now() + 5000;
    let labels: Record<string, string | number>[] = [];
    while (Date.now() < deadline) {
      labels = (await api.metrics.requests.get()).values.map((v) => v.labels);
      if (labels.length > 0) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.deepStrictEqual(labels, [{ method: "POST", route: "/api/v1/jobs", status: "499" }]);
    const loud = api.lines.filter((l) => l.level === "error" || l.level === "warn");
    assert.deepStrictEqual(loud, [], "an aborted upload is not a server problem");
  } finally {
    await api.close();
    await redis.close();
  }
});

Deno.test("a streaming answer (SSE) outlives the header deadline; the idle connection after it does not", async () => {
  const server = serveHttp({ hostname: "127.0.0.1", port: 0, headerTimeoutMs: 200 }, () => {
    let n = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        timer = setInterval(() => {
          controller.enqueue(encoder.encode(`data: ${n}\n\n`));
          if (++n === 8) {
            clearInterval(timer);
            controller.close();
          }
        }, 100);
      },
      cancel() {
        clearInterval(timer);
      },
    });
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  });
  try {
    const conn = await rawConnect(server.addr.port, "GET /events HTTP/1.1\r\nHost: x\r\n\r\n");
    const { text, ms } = await readUntilClosed(conn, 5000);
    assert.match(text, /data: 7/, "all 8 events, over ~800 ms, through a 200 ms deadline");
    // Closed once idle: the answer's end plus the deadline, not the client's 5 s.
    assert.ok(ms < 2000, `closed after ${Math.round(ms)} ms`);
  } finally {
    await server.shutdown();
  }
});

Deno.test("HTTP_HEADER_TIMEOUT_MS=0: plain Deno.serve, no deadline", async () => {
  const server = serveHttp(
    { hostname: "127.0.0.1", port: 0, headerTimeoutMs: 0 },
    () => new Response("ok"),
  );
  try {
    assert.strictEqual(server.headerDeadline, false);
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/`);
    assert.strictEqual(await res.text(), "ok");
  } finally {
    await server.shutdown();
  }
});
