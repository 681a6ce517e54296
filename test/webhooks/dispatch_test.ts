/**
 * Completion webhooks against a real redis-server and a receiver that
 * verifies every signature with the `standardwebhooks` package: deliveries
 * recorded by the finishing scripts themselves (no dispatcher running at
 * the transition), retried with the same webhook-id, given up, listed and
 * redelivered; the outbound guard's refusal; the cost of a job without one.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { queueKeys } from "../../src/queue/keys.ts";
import { createLogger } from "../../src/log.ts";
import { WebhookDispatcher } from "../../src/webhooks/dispatcher.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import { QueueScripts } from "../../src/queue/scripts.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { startReceiver } from "./receiver.ts";

const log = createLogger({ level: "silent" });
let seq = 0;

function setup(redis: TestRedis) {
  const queue = `wh_${Date.now().toString(36)}_${seq++}`;
  const broker = new RedisBroker({ url: redis.url, queue, commandTimeoutMs: 2000 });
  const client = new Redis(redis.url);
  const store = new WebhookStore({ client, homeQueue: () => broker.homeQueue() });
  const dispatchers: WebhookDispatcher[] = [];
  const dispatcher = (options: { allow?: string[]; delays?: number[] } = {}) => {
    const d = new WebhookDispatcher({
      url: redis.url,
      log,
      homeQueue: () => broker.homeQueue(),
      outboundAllow: options.allow ?? ["127.0.0.1"],
      retryDelaysMs: options.delays ?? [30, 30],
    });
    dispatchers.push(d);
    d.start();
    return d;
  };
  /** Runs one job to its end: completed with `result`, or failed dead. */
  const finish = async (id: string, outcome: "completed" | "failed") => {
    const [claimed] = await broker.claim(1);
    assert.strictEqual(claimed.id, id);
    if (outcome === "completed") await broker.complete(id, claimed.token, { ok: true });
    else {
      await broker.fail(id, claimed.token, {
        message: "boom",
        retryable: false,
        retry_delay_ms: 0,
      });
    }
  };
  return {
    queue,
    broker,
    client,
    store,
    dispatcher,
    finish,
    keys: queueKeys(queue),
    async close() {
      await Promise.all(dispatchers.map((d) => d.stop()));
      client.disconnect();
      await broker.close();
    },
  };
}

Deno.test("webhooks: recorded with the transition, retried on 503 with one webhook-id, delivered once", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  const secret = await t.store.secret();
  const receiver = startReceiver(secret, (n) => n < 2 ? 503 : 200);
  try {
    const { id } = await t.broker.enqueue({
      type: "email",
      payload: { to: "a@b.c" },
      callback_url: receiver.url,
    });
    await t.finish(id, "completed");
    // No dispatcher ran: the delivery is in Redis, written by complete.lua.
    assert.strictEqual(await t.client.zcard(t.keys.webhookDue), 1);
    t.dispatcher();
    const [ok] = await receiver.accepted(1);
    assert.strictEqual(receiver.received.length, 3);
    assert.ok(receiver.received.every((r) => r.verified), "every request verifies");
    assert.deepStrictEqual(new Set(receiver.received.map((r) => r.id)).size, 1);
    assert.strictEqual(ok.id, `${id}~1`);
    assert.strictEqual(ok.body?.type, "job.completed");
    assert.strictEqual(ok.body?.data.job_id, id);
    assert.strictEqual(ok.body?.data.status, "completed");
    assert.deepStrictEqual(ok.body?.data.result, { ok: true });
    assert.strictEqual(ok.body?.data.callback_url, receiver.url);
    // Delivered: dropped from Redis; counted.
    await waitFor(async () => (await t.client.zcard(t.keys.webhookDue)) === 0);
    const stats = await t.client.hgetall(t.keys.webhookStats);
    assert.strictEqual(stats.delivered, "1");
    assert.strictEqual(stats.retried, "2");
    assert.strictEqual(stats["lat:count"], "1");
    assert.strictEqual(await t.client.hexists(t.keys.webhookDeliveries, ok.id), 0);
    // Nothing more arrives.
    await new Promise((r) => setTimeout(r, 200));
    assert.strictEqual(receiver.received.length, 3);
  } finally {
    await receiver.close();
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: given up after the last attempt, listed as failed, redelivered with the same id", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  const secret = await t.store.secret();
  let up = false;
  const receiver = startReceiver(secret, () => up ? 200 : 500);
  try {
    const { id } = await t.broker.enqueue({
      type: "email",
      payload: {},
      callback_url: receiver.url,
      callback_events: ["failed"],
    });
    await t.finish(id, "failed");
    t.dispatcher({ delays: [20, 20] });
    await receiver.requests(3);
    await waitFor(async () => (await t.client.zcard(t.keys.webhookFailed)) === 1);
    const [failed] = await t.store.deliveries("failed", null, 10);
    assert.strictEqual(failed.id, `${id}~1`);
    assert.strictEqual(failed.event, "failed");
    assert.strictEqual(failed.attempts, 3);
    assert.strictEqual(failed.lastStatus, 500);
    assert.ok(failed.failedAt !== null);
    await new Promise((r) => setTimeout(r, 100));
    assert.strictEqual(receiver.received.length, 3, "no fourth attempt");
    up = true;
    assert.strictEqual(await t.store.redeliver(failed.id, null), true);
    const [ok] = await receiver.accepted(1);
    assert.strictEqual(ok.id, failed.id);
    assert.strictEqual(ok.body?.type, "job.failed");
    assert.strictEqual(ok.body?.data.error, "boom");
    assert.deepStrictEqual(await t.store.deliveries("failed", null, 10), []);
    // Only given-up deliveries can be redelivered.
    assert.strictEqual(await t.store.redeliver(failed.id, null), false);
    const stats = await t.client.hgetall(t.keys.webhookStats);
    assert.deepStrictEqual([stats.failed, stats.retried, stats.delivered], ["1", "2", "1"]);
  } finally {
    await receiver.close();
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: a 4xx gives up at once; a private address is refused unless allowed", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  const secret = await t.store.secret();
  const gone = startReceiver(secret, () => 410);
  const never = startReceiver(secret);
  try {
    const a = await t.broker.enqueue({ type: "email", payload: {}, callback_url: gone.url });
    await t.finish(a.id, "completed");
    const b = await t.broker.enqueue({ type: "email", payload: {}, callback_url: never.url });
    await t.finish(b.id, "completed");
    // A dispatcher with no OUTBOUND_ALLOW: 127.0.0.1 is refused (b), and a's
    // receiver too: both given up after one attempt.
    const guarded = t.dispatcher({ allow: [], delays: [20, 20, 20] });
    await waitFor(async () => (await t.client.zcard(t.keys.webhookFailed)) === 2);
    await guarded.stop();
    assert.strictEqual(gone.received.length, 0);
    assert.strictEqual(never.received.length, 0);
    const failed = await t.store.deliveries("failed", null, 10);
    assert.ok(failed.every((d) => d.attempts === 1 && /refused|loopback/i.test(d.lastError ?? "")));
    // Allowed: a's 410 gives up at once, b arrives.
    const allowed = t.dispatcher({ allow: ["127.0.0.1"], delays: [20, 20, 20] });
    for (const d of failed) await t.store.redeliver(d.id, null);
    await never.accepted(1);
    await gone.requests(1);
    await waitFor(async () => (await t.client.zcard(t.keys.webhookFailed)) === 1);
    await new Promise((r) => setTimeout(r, 150));
    assert.strictEqual(gone.received.length, 1, "a 410 is not retried");
    const [given] = await t.store.deliveries("failed", null, 10);
    assert.strictEqual(given.lastStatus, 410);
    await allowed.stop();
  } finally {
    await gone.close();
    await never.close();
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: a job without a callback in a queue without subscriptions writes no webhook key", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  try {
    const { id } = await t.broker.enqueue({ type: "email", payload: {} });
    await t.finish(id, "completed");
    for (const key of [t.keys.webhookDeliveries, t.keys.webhookDue, t.keys.webhookWake]) {
      assert.strictEqual(await t.client.exists(key), 0, key);
    }
  } finally {
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: a subscription gets its queue's and type's ends, signed with its own secret", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  let secret = "";
  const receiver = startReceiver(() => secret);
  try {
    // Made before the queue exists: the queue's first registration mirrors it in.
    const sub = await t.store.create({ url: receiver.url, events: ["failed", "cancelled"] }, null);
    const typed = await t.store.create(
      { url: receiver.url, events: ["completed"], queue: t.queue, type: "compute" },
      null,
    );
    secret = sub.secret;
    assert.match(sub.secret, /^whsec_/);
    const done = await t.broker.enqueue({ type: "email", payload: {} });
    await t.finish(done.id, "completed"); // neither applies: completed email
    const dead = await t.broker.enqueue({ type: "email", payload: {} });
    await t.finish(dead.id, "failed");
    const cancelled = await t.broker.enqueue({ type: "email", payload: {}, delay_ms: 60_000 });
    await t.broker.cancel(cancelled.id);
    t.dispatcher();
    const got = await receiver.accepted(2);
    assert.deepStrictEqual(
      got.map((r) => [r.body?.type, r.body?.data.job_id]).sort(),
      [["job.cancelled", cancelled.id], ["job.failed", dead.id]].sort(),
    );
    // The typed one, with its own secret.
    secret = typed.secret;
    const c = await t.broker.enqueue({ type: "compute", payload: { duration_ms: 0 } });
    await t.finish(c.id, "completed");
    const [, , third] = await receiver.accepted(3);
    assert.strictEqual(third.body?.type, "job.completed");
    assert.strictEqual(third.body?.data.job_id, c.id);
    // Deleted: its pending deliveries are dropped, new ends record none.
    assert.strictEqual(await t.store.remove(sub.id, null), true);
    const after = await t.broker.enqueue({ type: "email", payload: {} });
    await t.finish(after.id, "failed");
    assert.strictEqual(await t.client.hlen(t.keys.webhookSubs), 1);
  } finally {
    await receiver.close();
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: deliveries a deleted subscription left pending are dropped unsent, and counted", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  const receiver = startReceiver(() => "unused");
  try {
    // Made on a fresh deployment, before its home queue is decided: the queue
    // registered then gets it too.
    const sub = await t.store.create({ url: receiver.url, events: ["failed"] }, null);
    // Two ends recorded while no dispatcher runs, then the subscription goes.
    for (let i = 0; i < 2; i++) {
      const { id } = await t.broker.enqueue({ type: "email", payload: {} });
      await t.finish(id, "failed");
    }
    const pending = async () =>
      (await t.client.hkeys(t.keys.webhookDeliveries)).filter((k) => !k.startsWith("#")).length;
    assert.strictEqual(await pending(), 2);
    assert.strictEqual(await t.store.remove(sub.id, null), true);
    t.dispatcher();
    const deadline = Date.now() + 10_000;
    while (await pending() > 0) {
      if (Date.now() > deadline) throw new Error("the deliveries were never dropped");
      await new Promise((r) => setTimeout(r, 20));
    }
    const stats = await t.store.stats();
    assert.deepStrictEqual(
      [stats.dropped, stats.delivered, stats.failed, stats.retried],
      [2, 0, 0, 0],
    );
    assert.strictEqual(receiver.received.length, 0, "nothing was sent");
  } finally {
    await receiver.close();
    await t.close();
    await redis.close();
  }
});

Deno.test("webhooks: a lease expiring on the last attempt records the delivery; a dead dispatcher's attempt is sent again", async () => {
  const redis = await TestRedis.start();
  const t = setup(redis);
  const secret = await t.store.secret();
  const receiver = startReceiver(secret);
  try {
    const { id } = await t.broker.enqueue({
      type: "email",
      payload: {},
      max_attempts: 1,
      callback_url: receiver.url,
    });
    // The worker holding it dies: its lease runs out, maintenance ends it dead (maintain.lua).
    const [held] = await t.broker.claim(1, { leaseMs: 30 });
    assert.strictEqual(held.id, id);
    await new Promise((r) => setTimeout(r, 60));
    await t.broker.maintain();
    assert.strictEqual((await t.broker.get(id))?.status, "failed");
    // A dispatcher claims the delivery and dies before answering (its lease: 100 ms).
    const scripts = await QueueScripts.create(t.client, t.keys, {
      retentionMs: 1000,
      finishedTtlMs: 1000,
      eventsMaxLen: 0,
      errorHistory: 0,
    });
    const dead = await scripts.webhookClaim(10, 100, "dead.1", Date.now());
    assert.strictEqual(dead.claimed.length, 1);
    const [claimed] = dead.claimed;
    // Another dispatcher finds nothing due until that lease ends, then sends it.
    const started = Date.now();
    t.dispatcher();
    const [ok] = await receiver.accepted(1);
    assert.ok(Date.now() - started >= 80, "not sent while the dead one's lease held");
    assert.strictEqual(ok.id, claimed.id);
    assert.strictEqual(ok.body?.type, "job.failed");
    // The dead one's late outcome is refused (its token is stale).
    const late = await scripts.webhookDone({
      delivery: claimed.id,
      token: "dead.1",
      outcome: "failed",
      keepFailedMs: 1000,
      maxFailed: 10,
      buckets: [1],
    }, Date.now());
    assert.strictEqual(late, false);
  } finally {
    await receiver.close();
    await t.close();
    await redis.close();
  }
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}
