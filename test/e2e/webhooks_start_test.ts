/**
 * Completion webhooks through the real process tree (`deno task start`: the
 * API and a supervised worker, whose dispatcher sends): a job submitted over
 * HTTP with a callback_url reaches a receiver, which verifies the signature
 * with the `standardwebhooks` package against the secret the API hands out.
 * The receiver fails the first attempt on purpose.
 */
import assert from "node:assert/strict";
import { startService, waitFor } from "./start_service.ts";
import { startReceiver } from "../webhooks/receiver.ts";

Deno.test({
  name: "webhooks e2e: a submit's callback_url gets a verified job.completed from the worker",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    let secret = "";
    const receiver = startReceiver(() => secret, (n) => n === 0 ? 500 : 200);
    const port = new URL(receiver.url).port;
    const service = await startService({
      OUTBOUND_ALLOW: `127.0.0.1:${port}`,
      WEBHOOK_RETRY_DELAYS_MS: "50",
    });
    try {
      const s = await fetch(`${service.origin}/api/v1/webhooks/secret`);
      assert.strictEqual(s.status, 200);
      secret = (await s.json()).secret;
      const submitted = await fetch(`${service.origin}/api/v1/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "compute",
          payload: { duration_ms: 5 },
          callback_url: receiver.url,
        }),
      });
      assert.strictEqual(submitted.status, 201);
      const { job_id } = await submitted.json();
      const [ok] = await receiver.accepted(1, 30_000);
      assert.strictEqual(receiver.received.length, 2, "one refused attempt, then the delivery");
      assert.ok(receiver.received.every((r) => r.verified));
      assert.strictEqual(receiver.received[0].id, ok.id, "the same webhook-id on the retry");
      assert.strictEqual(ok.body?.type, "job.completed");
      assert.strictEqual(ok.body?.data.job_id, job_id);
      assert.strictEqual(ok.body?.data.status, "completed");
      // The API's /metrics counts it (from Redis).
      const metrics = await waitFor("delivered counted", 5000, async () => {
        const text = await (await fetch(`${service.origin}/metrics`)).text();
        return /jobqueue_webhook_deliveries_total\{outcome="delivered"\} 1/.test(text)
          ? text
          : null;
      });
      assert.match(metrics, /jobqueue_webhook_deliveries_total\{outcome="retried"\} 1/);
      // A literal private address is refused at submit.
      const refused = await fetch(`${service.origin}/api/v1/jobs`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({
          type: "compute",
          payload: { duration_ms: 1 },
          callback_url: "http://10.0.0.1/hook",
        }),
      });
      assert.strictEqual(refused.status, 422);
      await refused.body?.cancel();
    } finally {
      assert.strictEqual(await service.stop(), 0);
      await receiver.close();
    }
  },
});
