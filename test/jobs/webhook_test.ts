import assert from "node:assert/strict";
import { NonRetryableError } from "../../src/jobs/definition.ts";
import type { JobContext } from "../../src/jobs/definition.ts";
import {
  isRetryableStatus,
  webhookJob,
  type WebhookPayload,
  type WebhookResult,
  webhookSchema,
} from "../../src/jobs/webhook.ts";
import { freePort } from "../helpers/redis_server.ts";
import { fakeContext, localServer } from "./helpers.ts";
import { configureJobSettings, jobSettingsFromEnv } from "../../src/jobs/job_settings.ts";

// The handler's own tests call servers on loopback, which the operator allows
// here; the guard's refusals are tested in outbound_guard_test.ts and e2e.
configureJobSettings({ ...jobSettingsFromEnv(), outboundAllow: ["127.0.0.1"] });

const parse = (p: unknown) => webhookSchema.parse(p);
const run = (ctx: JobContext, p: WebhookPayload) =>
  webhookJob.handler(ctx, p) as Promise<WebhookResult>;

Deno.test("webhook schema: defaults, methods, header injection, GET with body", () => {
  assert.deepStrictEqual(parse({ url: "http://x.io/h" }), {
    url: "http://x.io/h",
    method: "POST",
    timeout_ms: 10_000,
  });
  assert.strictEqual(webhookSchema.safeParse({ url: "ftp://x.io" }).success, false);
  assert.strictEqual(
    webhookSchema.safeParse({ url: "http://x.io", method: "TRACE" }).success,
    false,
  );
  assert.strictEqual(
    webhookSchema.safeParse({ url: "http://x.io", headers: { "x-a": "1\r\nx-b: 2" } }).success,
    false,
  );
  assert.strictEqual(
    webhookSchema.safeParse({ url: "http://x.io", headers: { "x a": "1" } }).success,
    false,
  );
  assert.strictEqual(
    webhookSchema.safeParse({ url: "http://x.io", method: "GET", body: {} }).success,
    false,
  );
  assert.strictEqual(webhookSchema.safeParse({ url: "http://x.io", timeout_ms: 0 }).success, false);
});

Deno.test("webhook: sends JSON with headers and returns status and body", async () => {
  let seen: { method: string; headers: Headers; body: string } | null = null;
  const server = localServer(async (req) => {
    seen = { method: req.method, headers: req.headers, body: await req.text() };
    return new Response("thanks", { status: 202 });
  });
  try {
    const { ctx } = fakeContext();
    const result = await run(
      ctx,
      parse({
        url: `${server.url}/hook`,
        method: "PUT",
        headers: { "x-sig": "abc" },
        body: { a: 1 },
      }),
    );
    assert.deepStrictEqual(result, { status: 202, body: "thanks", truncated: false });
    assert.strictEqual(seen!.method, "PUT");
    assert.strictEqual(seen!.headers.get("x-sig"), "abc");
    assert.strictEqual(seen!.headers.get("content-type"), "application/json");
    assert.strictEqual(seen!.body, '{"a":1}');
    const text = await run(ctx, parse({ url: server.url, body: "plain" }));
    assert.strictEqual(text.status, 202);
    assert.strictEqual(seen!.headers.get("content-type"), "text/plain; charset=utf-8");
  } finally {
    await server.close();
  }
});

Deno.test("webhook: keeps only the first 4 KB of the answer", async () => {
  const server = localServer(() => new Response("y".repeat(100_000)));
  try {
    const result = await run(fakeContext().ctx, parse({ url: server.url }));
    assert.strictEqual(result.body.length, 4096);
    assert.strictEqual(result.truncated, true);
  } finally {
    await server.close();
  }
});

Deno.test("webhook: 4xx is not retryable, 5xx/429/408 are", async () => {
  let status = 400;
  const server = localServer(() => new Response("nope", { status }));
  try {
    for (const s of [400, 401, 404, 410, 422]) {
      status = s;
      await assert.rejects(
        run(fakeContext().ctx, parse({ url: server.url })),
        (e: unknown) => e instanceof NonRetryableError && e.message.includes(String(s)),
      );
    }
    for (const s of [500, 502, 503, 429, 408]) {
      status = s;
      await assert.rejects(
        run(fakeContext().ctx, parse({ url: server.url })),
        (e: unknown) => e instanceof Error && !(e instanceof NonRetryableError),
      );
    }
    assert.strictEqual(isRetryableStatus(404), false);
  } finally {
    await server.close();
  }
});

Deno.test("webhook: network errors are retryable", async () => {
  const port = freePort(); // nothing listens there
  await assert.rejects(
    run(fakeContext().ctx, parse({ url: `http://127.0.0.1:${port}/` })),
    (e: unknown) =>
      e instanceof Error && !(e instanceof NonRetryableError) && /failed/.test(e.message),
  );
});

Deno.test("webhook: times out and honours ctx.signal", async () => {
  const release = Promise.withResolvers<void>();
  const server = localServer(async () => {
    await release.promise;
    return new Response("late");
  });
  try {
    const start = Date.now();
    await assert.rejects(
      run(fakeContext().ctx, parse({ url: server.url, timeout_ms: 100 })),
      (e: unknown) => e instanceof Error && !(e instanceof NonRetryableError),
    );
    assert.ok(Date.now() - start < 2000);
    const { ctx, controller } = fakeContext();
    const running = run(ctx, parse({ url: server.url }));
    const reason = new DOMException("cancelled", "AbortError");
    setTimeout(() => controller.abort(reason), 30);
    await assert.rejects(running, (e: unknown) => e === reason);
  } finally {
    release.resolve();
    await server.close();
  }
});
