/** Retry-After parsing and RateLimitedError's documented bounds. */
import assert from "node:assert/strict";
import { rateLimitedByResponse, retryAfterMs } from "../../src/jobs/retry_after.ts";
import {
  MAX_RATE_LIMITED_MS,
  MIN_RATE_LIMITED_MS,
  RateLimitedError,
  rateLimitOf,
} from "../../src/limits/rate_limited_error.ts";

Deno.test("Retry-After: seconds, an HTTP date, or nothing usable", () => {
  const now = Date.parse("2026-12-01T12:00:00Z");
  assert.strictEqual(retryAfterMs("3", now), 3000);
  assert.strictEqual(retryAfterMs(" 0 ", now), 0);
  assert.strictEqual(retryAfterMs("Tue, 01 Dec 2026 12:00:05 GMT", now), 5000);
  assert.strictEqual(retryAfterMs("Tue, 01 Dec 2026 11:00:00 GMT", now), 0);
  assert.strictEqual(retryAfterMs("soon", now), null);
  assert.strictEqual(retryAfterMs("-1", now), null);
  assert.strictEqual(retryAfterMs(null, now), null);
});

Deno.test("a 429 with Retry-After is a RateLimitedError; without one, or another status, it is not", () => {
  const limited = rateLimitedByResponse(
    new Response(null, { status: 429, headers: { "retry-after": "2" } }),
    "m",
  );
  assert.ok(limited instanceof RateLimitedError);
  assert.strictEqual(limited.retryAfterMs, 2000);
  assert.strictEqual(rateLimitedByResponse(new Response(null, { status: 429 }), "m"), null);
  assert.strictEqual(
    rateLimitedByResponse(
      new Response(null, { status: 503, headers: { "retry-after": "2" } }),
      "m",
    ),
    null,
  );
});

Deno.test("RateLimitedError clamps negative, absurd and NaN delays, and keeps only known scopes", () => {
  assert.strictEqual(new RateLimitedError(-5).retryAfterMs, MIN_RATE_LIMITED_MS);
  assert.strictEqual(new RateLimitedError(Number.NaN).retryAfterMs, MIN_RATE_LIMITED_MS);
  assert.strictEqual(new RateLimitedError(1e12).retryAfterMs, MAX_RATE_LIMITED_MS);
  assert.strictEqual(new RateLimitedError(Infinity).retryAfterMs, MAX_RATE_LIMITED_MS);
  assert.strictEqual(new RateLimitedError(1500.4).retryAfterMs, 1500);
  assert.deepStrictEqual(rateLimitOf(new RateLimitedError(100, { scope: "type" })), {
    delay_ms: 100,
    scope: "type",
  });
  // Another copy of the class (a job module's own import) is recognised by shape.
  const foreign = Object.assign(new Error("x"), { name: "RateLimitedError", retryAfterMs: -1 });
  assert.deepStrictEqual(rateLimitOf(foreign), { delay_ms: MIN_RATE_LIMITED_MS, scope: null });
  assert.strictEqual(rateLimitOf(new Error("x")), null);
});
