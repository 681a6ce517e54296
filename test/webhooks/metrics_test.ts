/**
 * The webhook delivery metrics come from Redis: right from an API process's
 * first scrape (deliveries made before it existed count), and the same on
 * two API replicas.
 */
import assert from "node:assert/strict";
import { Redis } from "ioredis";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { WebhookDispatcher } from "../../src/webhooks/dispatcher.ts";
import { WebhookStore } from "../../src/webhooks/store.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { startReceiver } from "./receiver.ts";

const log = createLogger({ level: "silent" });

Deno.test("webhook metrics: counted in Redis, the same on two API replicas from their first scrape", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: `whm${Date.now()}` });
  const client = new Redis(redis.url);
  const store = new WebhookStore({ client, homeQueue: () => broker.homeQueue() });
  const receiver = startReceiver(await store.secret(), (n) => n === 0 ? 503 : 200);
  const dispatcher = new WebhookDispatcher({
    url: redis.url,
    log,
    homeQueue: () => broker.homeQueue(),
    outboundAllow: ["127.0.0.1"],
    retryDelaysMs: [20],
  });
  dispatcher.start();
  const registry = await loadRegistry();
  const replicas: Array<ReturnType<typeof buildApiApp>> = [];
  try {
    for (let i = 0; i < 2; i++) {
      const { id } = await broker.enqueue({
        type: "email",
        payload: {},
        callback_url: receiver.url,
      });
      const [job] = await broker.claim(1);
      assert.strictEqual(job.id, id);
      await broker.complete(job.id, job.token, null);
    }
    await receiver.accepted(2);
    await new Promise((r) => setTimeout(r, 100)); // the outcome is recorded after the answer
    // Two API processes made only now: their first scrape already counts everything.
    for (let i = 0; i < 2; i++) {
      replicas.push(buildApiApp({
        broker,
        registry,
        log,
        webhooks: new WebhookStore({ client, homeQueue: () => broker.homeQueue() }),
      }));
    }
    const texts = await Promise.all(
      replicas.map(async (r) => await (await r.app.request("/metrics")).text()),
    );
    const webhookLines = (text: string) =>
      text.split("\n").filter((l) => l.startsWith("jobqueue_webhook_"));
    assert.deepStrictEqual(webhookLines(texts[0]), webhookLines(texts[1]));
    const text = texts[0];
    assert.match(text, /^jobqueue_webhook_deliveries_total\{outcome="delivered"\} 2$/m);
    assert.match(text, /^jobqueue_webhook_deliveries_total\{outcome="retried"\} 1$/m);
    assert.match(text, /^jobqueue_webhook_deliveries_total\{outcome="failed"\} 0$/m);
    assert.match(text, /^jobqueue_webhook_delivery_latency_seconds_count 2$/m);
    assert.match(text, /^jobqueue_webhook_delivery_latency_seconds_bucket\{le="\+Inf"\} 2$/m);
    assert.match(text, /^jobqueue_webhook_delivery_latency_seconds_bucket\{le="3600"\} 2$/m);
  } finally {
    for (const r of replicas) await r.close();
    await dispatcher.stop();
    await receiver.close();
    client.disconnect();
    await broker.close();
    await redis.close();
  }
});
