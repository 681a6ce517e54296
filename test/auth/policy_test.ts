/** The start-up decision, the address rule, and the pieces keys are made of. */
import assert from "node:assert/strict";
import { decideAuthMode, isLoopbackHost } from "../../src/auth/policy.ts";
import { FailLimiter } from "../../src/auth/fail_limiter.ts";
import { hashKey, keyId, newKey, sameHash } from "../../src/auth/secret.ts";
import { parseScopes } from "../../src/auth/scopes.ts";
import { bearerToken } from "../../src/auth/bearer.ts";
import { metricsTokenCheck } from "../../src/auth/metrics_token.ts";

Deno.test("policy: loopback addresses", () => {
  for (const h of ["127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]", "::ffff:127.0.0.1"]) {
    assert.ok(isLoopbackHost(h), h);
  }
  for (const h of ["0.0.0.0", "::", "10.0.0.1", "192.168.1.2", "example.com", "128.0.0.1", ""]) {
    assert.ok(!isLoopbackHost(h), h);
  }
});

Deno.test("policy: the mode table, and the refusal says how to create a key", () => {
  const d = (
    setting: "auto" | "on" | "off",
    host: string,
    adminKey: boolean,
    keys: number | null,
  ) => decideAuthMode({ setting, host, adminKey, storedKeys: keys });
  assert.deepStrictEqual(d("off", "0.0.0.0", false, 0), { mode: "off" });
  assert.deepStrictEqual(d("on", "127.0.0.1", false, 0), { mode: "on" });
  assert.deepStrictEqual(d("auto", "0.0.0.0", true, null), { mode: "on" });
  assert.deepStrictEqual(d("auto", "0.0.0.0", false, 2), { mode: "on" });
  assert.deepStrictEqual(d("auto", "127.0.0.1", false, 2), { mode: "on" });
  assert.deepStrictEqual(d("auto", "127.0.0.1", false, 0), { mode: "first_key" });
  assert.deepStrictEqual(d("auto", "localhost", false, null), { mode: "first_key" });
  assert.deepStrictEqual(d("auto", "0.0.0.0", false, null), { mode: "on" }, "fail closed");
  const refused = d("auto", "0.0.0.0", false, 0);
  assert.ok("refuse" in refused);
  assert.match(refused.refuse, /0\.0\.0\.0/);
  assert.match(refused.refuse, /deno task keys create/);
  assert.match(refused.refuse, /ADMIN_API_KEY/);
  assert.match(refused.refuse, /AUTH=off/);
});

Deno.test("secret: 256-bit keys, the id inside, hashes compared whole", () => {
  const a = newKey();
  const b = newKey();
  assert.notStrictEqual(a.key, b.key);
  assert.match(a.key, /^jq_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
  assert.strictEqual(keyId(a.key), a.id);
  assert.strictEqual(keyId("jq_short"), null);
  assert.strictEqual(keyId(a.key + "x"), null);
  assert.ok(sameHash(hashKey(a.key), hashKey(a.key)));
  assert.ok(!sameHash(hashKey(a.key), hashKey(b.key)));
  assert.ok(!sameHash("abc", "abcd"));
});

Deno.test("scopes, bearer tokens and the metrics token", () => {
  assert.deepStrictEqual(parseScopes("admin, read,read"), ["read", "admin"]);
  assert.throws(() => parseScopes("root"), /unknown scope/);
  assert.throws(() => parseScopes(" , "), /no scope/);
  assert.strictEqual(bearerToken("Bearer abc"), "abc");
  assert.strictEqual(bearerToken("bearer abc "), "abc");
  assert.strictEqual(bearerToken("Basic abc"), null);
  assert.strictEqual(bearerToken("Bearer "), null);
  assert.strictEqual(bearerToken(undefined), null);
  const open = metricsTokenCheck(undefined);
  assert.ok(open(null));
  const check = metricsTokenCheck("t0123456789abcdef");
  assert.ok(check("Bearer t0123456789abcdef"));
  assert.ok(!check("Bearer t0123456789abcdeX"));
  assert.ok(!check(null));
});

Deno.test("fail limiter: max failures per window and address, then Retry-After until it ends", () => {
  let now = 0;
  const limiter = new FailLimiter({ max: 2, windowMs: 10_000, maxAddresses: 3, now: () => now });
  assert.strictEqual(limiter.retryAfter("a"), 0);
  limiter.fail("a");
  limiter.fail("a");
  assert.strictEqual(limiter.retryAfter("a"), 10);
  assert.strictEqual(limiter.retryAfter("b"), 0);
  now = 9_001;
  assert.strictEqual(limiter.retryAfter("a"), 1);
  now = 10_000;
  assert.strictEqual(limiter.retryAfter("a"), 0);
  // Bounded memory: many addresses evict the oldest windows.
  for (const x of ["c", "d", "e", "f", "g"]) limiter.fail(x);
  limiter.fail("g");
  assert.strictEqual(limiter.retryAfter("g"), 10);
});
