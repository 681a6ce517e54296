/**
 * The history routes: points shaped from what the scripts counted (one
 * queue's and the sum), the 1 h and 24 h windows, percentiles from the
 * buckets, the refusals, and a tenant's key seeing only its own queues.
 */
import assert from "node:assert/strict";
import {
  historyBody,
  type HistoryPoint,
  quantile,
  windowRange,
} from "../../src/api/history_points.ts";
import { emptyMinute, LATENCY_BUCKET_COUNT } from "../../src/queue/history.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { authApp, bearer } from "./auth_helpers.ts";
import { startApi } from "./helpers.ts";

const seg = (name: string) => name.replaceAll("/", "%2F");

/** Runs `n` jobs of `broker`'s queue to completion and `failed` more to a final failure. */
async function burst(broker: RedisBroker, n: number, failed = 0): Promise<void> {
  for (let i = 0; i < n + failed; i++) await broker.enqueue({ type: "compute", payload: i });
  const jobs = await broker.claim(n + failed);
  assert.strictEqual(jobs.length, n + failed);
  await broker.completeMany(jobs.slice(0, n).map((j) => ({ ...j, result: null })));
  for (const j of jobs.slice(n)) {
    await broker.fail(j.id, j.token, { message: "no", retryable: false, retry_delay_ms: 0 });
  }
}

const sum = (points: HistoryPoint[], field: "completed" | "failed" | "retried") =>
  points.reduce((n, p) => n + p[field], 0);

Deno.test("history points: percentiles interpolate inside the bucket; none without samples", () => {
  const counts = new Array(LATENCY_BUCKET_COUNT).fill(0);
  assert.strictEqual(quantile(counts, 0.5), null);
  counts[4] = 10; // (25, 50] ms
  assert.strictEqual(quantile(counts, 0.5), 37.5);
  assert.strictEqual(quantile(counts, 0.1), 27.5);
  counts[LATENCY_BUCKET_COUNT - 1] = 990; // past the last bound: that bound
  assert.strictEqual(quantile(counts, 0.99), 3_600_000);
  assert.strictEqual(quantile(counts, 0.005), 37.5);
});

Deno.test("history points: windows are aligned to their step, 24 h summed into 15-minute points", () => {
  const now = Date.UTC(2026, 0, 2, 10, 7, 30);
  const m = Math.floor(now / 60_000);
  assert.deepStrictEqual(windowRange("1h", now), { from: m - 59, to: m });
  const day = windowRange("24h", now);
  assert.strictEqual(day.to, m);
  assert.strictEqual(day.from % 15, 0);
  const a = { ...emptyMinute(day.to), completed: 3 };
  const b = { ...emptyMinute(day.to - 2), completed: 4, failed: 1 }; // 10:05, same step as 10:07
  const c = { ...emptyMinute(day.from), retried: 2 };
  const body = historyBody("q", "24h", day, [a, b, c, emptyMinute(day.from - 1)]);
  assert.strictEqual(body.points.length, 96);
  assert.strictEqual(body.step_s, 900);
  assert.strictEqual(body.points[95].t, "2026-01-02T10:00:00.000Z");
  assert.deepStrictEqual(
    [body.points[95].completed, body.points[95].failed, body.points[0].retried],
    [7, 1, 2],
  );
  assert.deepStrictEqual(
    [body.totals.completed, body.totals.failed, body.totals.retried, body.totals.latency_ms],
    [7, 1, 2, null],
  );
});

Deno.test("GET /queues/:name/history and /history: what the scripts counted, 1 h and 24 h", async () => {
  const api = await startApi();
  const other = new RedisBroker({ url: api.redis.url, queue: `other_${Date.now()}` });
  try {
    await burst(api.broker, 5, 2);
    await burst(other, 3);
    const q = api.broker.defaultQueue;
    const res = await api.app.request(`/api/v1/queues/${seg(q)}/history`);
    assert.strictEqual(res.status, 200);
    assert.strictEqual(res.headers.get("cache-control"), "no-store");
    const hour = await res.json();
    assert.strictEqual(hour.queue, q);
    assert.strictEqual(hour.window, "1h");
    assert.strictEqual(hour.step_s, 60);
    assert.strictEqual(hour.points.length, 60);
    // The burst ran just now: the last point (or the one before, if the minute turned).
    assert.deepStrictEqual(
      [sum(hour.points.slice(-2), "completed"), sum(hour.points.slice(-2), "failed")],
      [5, 2],
    );
    assert.deepStrictEqual([hour.totals.completed, hour.totals.failed, hour.totals.started], [
      5,
      2,
      7,
    ]);
    const lat = hour.totals.latency_ms;
    assert.ok(lat && lat.p50 >= 0 && lat.p50 <= lat.p90 && lat.p90 <= lat.p99, JSON.stringify(lat));

    const day = await (await api.app.request(`/api/v1/queues/${seg(q)}/history?window=24h`))
      .json();
    assert.strictEqual(day.points.length, 96);
    assert.strictEqual(day.step_s, 900);
    assert.deepStrictEqual([day.totals.completed, day.totals.failed], [5, 2]);

    const all = await (await api.app.request("/api/v1/history?window=1h")).json();
    assert.strictEqual(all.queue, null);
    assert.deepStrictEqual([all.totals.completed, all.totals.failed], [8, 2]);

    for (const path of ["/api/v1/history?window=7d", `/api/v1/queues/${q}/history?window=`]) {
      const bad = await api.app.request(path);
      assert.strictEqual(bad.status, 422, path);
      const body = await bad.json();
      assert.strictEqual(body.error.code, "validation_error");
      assert.match(body.error.message, /window is one of 1h, 24h/);
    }
    const unknown = await api.app.request("/api/v1/queues/nosuch/history");
    assert.strictEqual(unknown.status, 404);
    assert.strictEqual((await unknown.json()).error.code, "not_found");
    assert.strictEqual((await api.app.request("/api/v1/queues/a%20b/history")).status, 422);
  } finally {
    await other.close();
    await api.close();
  }
});

Deno.test("history: a tenant's key sees only its own queues' history", async () => {
  const redis = await TestRedis.start();
  const api = await authApp(redis);
  const acmeQueue = new RedisBroker({ url: redis.url, queue: "acme/default" });
  const globexQueue = new RedisBroker({ url: redis.url, queue: "globex/default" });
  try {
    await burst(acmeQueue, 4);
    await burst(globexQueue, 2);
    const key = async (tenant: string) =>
      (await api.store.create({ name: tenant, scopes: ["read"], tenant })).key;
    const acme = await key("acme");
    const get = async (path: string, k: string) => {
      const res = await api.app.request(path, { headers: bearer(k) });
      return { status: res.status, body: await res.json() };
    };
    const own = await get("/api/v1/queues/default/history", acme);
    assert.strictEqual(own.status, 200);
    assert.strictEqual(own.body.queue, "acme/default");
    assert.strictEqual(own.body.totals.completed, 4);
    assert.strictEqual((await get("/api/v1/history", acme)).body.totals.completed, 4);
    const theirs = await get("/api/v1/queues/globex%2Fdefault/history", acme);
    assert.strictEqual(theirs.status, 404);
    const none = await get("/api/v1/queues/nosuch/history", acme);
    assert.strictEqual(
      theirs.body.error.message.replace("globex/default", "Q"),
      none.body.error.message.replace("acme/nosuch", "Q"),
    );
    const root = (await api.store.create({ name: "root", scopes: ["read"] })).key;
    assert.strictEqual((await get("/api/v1/history", root)).body.totals.completed, 6);
    const writer = (await api.store.create({ name: "w", scopes: ["submit"] })).key;
    assert.strictEqual((await get("/api/v1/history", writer)).status, 403);
  } finally {
    await acmeQueue.close();
    await globexQueue.close();
    await api.close();
    await redis.close();
  }
});
