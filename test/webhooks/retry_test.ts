/** The webhook retry schedule: which answers are retried, the delays, Retry-After's bounds. */
import assert from "node:assert/strict";
import {
  DEFAULT_RETRY_DELAYS_MS,
  MAX_RETRY_AFTER_MS,
  nextDelayMs,
  retryableStatus,
} from "../../src/webhooks/retry.ts";

Deno.test("webhook retries: 5xx, 408 and 429 are retried, other answers are final", () => {
  for (const status of [500, 502, 503, 504, 408, 429]) {
    assert.ok(retryableStatus(status), `${status}`);
  }
  for (const status of [301, 400, 401, 403, 404, 410, 422]) {
    assert.ok(!retryableStatus(status), `${status}`);
  }
});

Deno.test("webhook retries: 8 attempts over about an hour, then given up", () => {
  const mid = () => 0.5; // no jitter
  const delays = DEFAULT_RETRY_DELAYS_MS.map((_, i) =>
    nextDelayMs(i + 1, DEFAULT_RETRY_DELAYS_MS, null, mid)!
  );
  assert.strictEqual(delays.length + 1, 8);
  const total = delays.reduce((a, b) => a + b, 0);
  assert.ok(total > 55 * 60_000 && total < 65 * 60_000, `${total} ms`);
  assert.strictEqual(nextDelayMs(8, DEFAULT_RETRY_DELAYS_MS, null, mid), null);
  // Jitter stays within ±10 %.
  assert.strictEqual(nextDelayMs(1, [1000], null, () => 0), 900);
  assert.strictEqual(nextDelayMs(1, [1000], null, () => 1), 1100);
});

Deno.test("webhook retries: a longer Retry-After is honoured up to an hour, a shorter one is not", () => {
  const mid = () => 0.5;
  assert.strictEqual(nextDelayMs(1, [1000], 5000, mid), 5000);
  assert.strictEqual(nextDelayMs(1, [1000], 10, mid), 1000);
  assert.strictEqual(nextDelayMs(1, [1000], 10 * MAX_RETRY_AFTER_MS, mid), MAX_RETRY_AFTER_MS);
});
