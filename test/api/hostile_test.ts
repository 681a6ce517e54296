/**
 * Hostile input: hundreds of malformed requests must each get a 4xx in the
 * JSON error shape, and the server must still serve a valid request after.
 */
import assert from "node:assert/strict";
import type { Hono } from "hono";
import { assertError, postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

type Case = { name: string; path: string; init: RequestInit };

const JSON_HEADERS = { "content-type": "application/json" };
const post = (
  name: string,
  body: string,
  path = "/api/v1/jobs",
  headers: Record<string, string> = JSON_HEADERS,
): Case => ({
  name,
  path,
  init: { method: "POST", headers, body },
});

function hostileCases(): Case[] {
  const cases: Case[] = [];
  const valid = JSON.stringify(SPEC_EMAIL);
  // Truncated JSON at many points.
  for (let i = 1; i < valid.length; i += Math.ceil(valid.length / 40)) {
    cases.push(post(`truncated at ${i}`, valid.slice(0, i)));
  }
  // Deep nesting, inside and outside the payload.
  for (const depth of [65, 1000, 10_000]) {
    cases.push(post(`array depth ${depth}`, "[".repeat(depth) + "]".repeat(depth)));
    cases.push(
      post(
        `payload depth ${depth}`,
        `{"type":"email","payload":${'{"a":'.repeat(depth)}1${"}".repeat(depth)}}`,
      ),
    );
  }
  cases.push(post("unclosed depth 10000", "[".repeat(10_000)));
  // Syntax junk.
  for (
    const body of [
      "",
      " ",
      "null",
      "true",
      "42",
      '"str"',
      "[]",
      "{",
      "}",
      "{}}",
      "{'a':1}",
      "NaN",
      "undefined",
      '{"type":}',
      "\u0000",
      '{"type":"email"\u0000}',
      "\ufeff{}",
      "/* */{}",
      '{"a":1,}',
      "[1,]",
      "0x10",
    ]
  ) {
    cases.push(post(`junk ${JSON.stringify(body).slice(0, 20)}`, body));
  }
  // Wrong types and ranges on every envelope field.
  const wrong: unknown[] = [
    null,
    true,
    "5",
    -1,
    1.5,
    1e309,
    -1e309,
    1e300,
    2 ** 53 + 2,
    [],
    {},
    "\u0000",
    "😀".repeat(10),
  ];
  for (
    const field of [
      "type",
      "priority",
      "max_attempts",
      "timeout_ms",
      "delay_ms",
      "run_at",
      "backoff",
      "idempotency_key",
    ]
  ) {
    for (const value of wrong) {
      if (field === "idempotency_key" && value === "5") continue; // a fine key
      const raw = JSON.stringify({ ...SPEC_EMAIL, [field]: value }).replace("1e+309", "1e309");
      cases.push(post(`${field}=${String(value).slice(0, 10)}`, raw));
    }
  }
  cases.push(
    post("huge number literal", `{"type":"email","payload":{},"priority":${"9".repeat(5000)}}`),
  );
  // Payload attacks.
  for (
    const payload of [
      null,
      [],
      "x",
      1,
      { to: "a@b.co" },
      { ...SPEC_EMAIL.payload, subject: "x\r\nBcc: evil@x.com" },
      { ...SPEC_EMAIL.payload, to: "a@b.co\r\nBcc: x@y.z" },
      { ...SPEC_EMAIL.payload, extra: 1 },
      { ...SPEC_EMAIL.payload, body: 5 },
    ]
  ) {
    cases.push(
      post(
        `payload ${JSON.stringify(payload).slice(0, 30)}`,
        JSON.stringify({ type: "email", payload }),
      ),
    );
  }
  for (
    const type of [
      "",
      " ",
      "../../etc/passwd",
      "\u0000",
      "x".repeat(129),
      "__proto__",
      "constructor",
      "toString",
      "EMAIL",
      "email\u0000",
    ]
  ) {
    cases.push(
      post(`type ${JSON.stringify(type).slice(0, 20)}`, JSON.stringify({ type, payload: {} })),
    );
  }
  cases.push(post("proto pollution", '{"type":"email","payload":{},"__proto__":{"admin":true}}'));
  cases.push(
    post(
      "constructor key",
      '{"type":"compute","payload":{"duration_ms":1,"constructor":{"prototype":{"x":1}}}}',
    ),
  );
  // Bad UTF-8 and content types.
  cases.push({
    name: "invalid utf-8",
    path: "/api/v1/jobs",
    init: { method: "POST", headers: JSON_HEADERS, body: new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]) },
  });
  for (
    const ct of [
      undefined,
      "text/plain",
      "application/x-www-form-urlencoded",
      "multipart/form-data; boundary=x",
      "application/jsonx",
      "json",
      "",
      "application/xml",
    ]
  ) {
    const headers: Record<string, string> = ct === undefined ? {} : { "content-type": ct };
    cases.push(post(`content-type ${ct}`, valid, "/api/v1/jobs", headers));
  }
  // Oversized bodies.
  cases.push(
    post(
      "2 MB body",
      JSON.stringify({
        ...SPEC_EMAIL,
        payload: { ...SPEC_EMAIL.payload, body: "x".repeat(2 * 1024 * 1024) },
      }),
    ),
  );
  cases.push(post("2 MB whitespace", " ".repeat(2 * 1024 * 1024)));
  cases.push({
    name: "lying content-length",
    path: "/api/v1/jobs",
    init: {
      method: "POST",
      headers: { ...JSON_HEADERS, "content-length": "99999999999" },
      body: valid,
    },
  });
  // Oversized and hostile headers.
  cases.push(
    post("long idempotency key", valid, "/api/v1/jobs", {
      ...JSON_HEADERS,
      "idempotency-key": "k".repeat(100_000),
    }),
  );
  cases.push(
    post("idempotency key with spaces", valid, "/api/v1/jobs", {
      ...JSON_HEADERS,
      "idempotency-key": "a b",
    }),
  );
  // Hostile ids on every id route.
  const ids = [
    "../../etc/passwd",
    "..%2F..%2Fetc%2Fpasswd",
    "%00",
    "abc%00def",
    "x".repeat(10_000),
    "%",
    "%zz",
    "1",
    "00000000-0000-0000-0000-00000000000g",
    "00000000-0000-0000-0000-0000000000000",
    "{queue}",
    "*",
    "jq:{default}:job:1",
    "%E0%A4%A",
    "%F0%9F%98%80",
    "null",
    "undefined",
    "' OR 1=1 --",
    "<script>",
    "\u202e",
  ];
  for (const id of ids) {
    const encoded = id.startsWith("%") || id.includes("%") ? id : encodeURIComponent(id);
    cases.push({ name: `GET id ${id.slice(0, 20)}`, path: `/api/v1/jobs/${encoded}`, init: {} });
    cases.push({
      name: `DELETE id ${id.slice(0, 20)}`,
      path: `/api/v1/jobs/${encoded}`,
      init: { method: "DELETE" },
    });
    cases.push({
      name: `retry id ${id.slice(0, 20)}`,
      path: `/api/v1/jobs/${encoded}/retry`,
      init: { method: "POST" },
    });
  }
  cases.push({ name: "raw traversal", path: "/api/v1/jobs/../../etc/passwd", init: {} });
  cases.push({ name: "unknown job", path: `/api/v1/jobs/${crypto.randomUUID()}`, init: {} });
  // Hostile queries.
  for (
    const q of [
      "limit=-1",
      "limit=abc",
      "limit=1e309",
      "limit=99999999999999999999",
      "status=../../x",
      "status=",
      "cursor=" + "c".repeat(1000),
      "type=" + "t".repeat(200),
      "limit=%00",
    ]
  ) {
    cases.push({ name: `list ${q.slice(0, 20)}`, path: `/api/v1/jobs?${q}`, init: {} });
  }
  for (const q of ["", "status=pending", "status=running", "status=%00"]) {
    cases.push({ name: `purge ${q}`, path: `/api/v1/jobs?${q}`, init: { method: "DELETE" } });
  }
  // Batch abuse.
  cases.push(post("batch not array", '{"jobs":{}}', "/api/v1/jobs/batch"));
  cases.push(
    post(
      "batch too many",
      JSON.stringify({ jobs: Array(1001).fill(SPEC_EMAIL) }),
      "/api/v1/jobs/batch",
    ),
  );
  cases.push(
    post(
      "batch all invalid",
      JSON.stringify({ jobs: Array(50).fill({ type: "x" }) }),
      "/api/v1/jobs/batch",
    ),
  );
  cases.push(
    post("batch deep", `{"jobs":${"[".repeat(5000)}${"]".repeat(5000)}}`, "/api/v1/jobs/batch"),
  );
  cases.push(post("batch junk", '{"jobs":[', "/api/v1/jobs/batch"));
  // Unknown routes and methods.
  for (
    const [method, path] of [
      ["PUT", "/api/v1/jobs"],
      ["PATCH", "/api/v1/stats"],
      ["GET", "/api/v2/jobs"],
      ["GET", "/api/v1/" + "a".repeat(5000)],
      ["POST", "/health"],
      ["GET", "/%2e%2e/%2e%2e/etc/passwd"],
    ]
  ) {
    cases.push({ name: `${method} ${path.slice(0, 30)}`, path, init: { method } });
  }
  return cases;
}

async function expect4xx(app: Hono, c: Case): Promise<void> {
  const res = await app.request(c.path, c.init);
  assert.ok(res.status >= 400 && res.status < 500, `${c.name}: got ${res.status}`);
  await assertError(res, res.status);
}

Deno.test("200+ hostile requests all get a 4xx JSON error; the app keeps serving", async () => {
  const api = await startApi();
  try {
    const cases = hostileCases();
    assert.ok(cases.length >= 200, `only ${cases.length} cases`);
    for (const c of cases) {
      try {
        await expect4xx(api.app, c);
      } catch (error) {
        throw new Error(`case ${JSON.stringify(c.name)}: ${(error as Error).message}`);
      }
    }
    const ok = await postJson(api.app, "/api/v1/jobs", SPEC_EMAIL);
    assert.strictEqual(ok.status, 201);
    const stats = await (await api.app.request("/api/v1/stats")).json();
    assert.strictEqual(stats.total, 1, "no hostile request may have created a job");
  } finally {
    await api.close();
  }
});

Deno.test("hostile requests through a real socket; the server stays up", async () => {
  const api = await startApi();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, api.app.fetch);
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    const cases = hostileCases().filter((_, i) => i % 7 === 0);
    for (const c of cases) {
      const res = await fetch(base + c.path, c.init);
      assert.ok(res.status >= 400 && res.status < 500, `${c.name}: got ${res.status}`);
      await assertError(res, res.status);
    }
    // A 20 MB upload streamed at the server: refused at the limit, connection survives.
    const big = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 320; i++) controller.enqueue(new Uint8Array(65536).fill(0x20));
        controller.close();
      },
    });
    const res = await fetch(`${base}/api/v1/jobs`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: big,
    });
    await assertError(res, 413, "payload_too_large");
    // Raw bytes the client library would refuse to send.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await conn.write(new TextEncoder().encode(
      `POST /api/v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10\r\nConnection: close\r\n\r\n{"type":\u0000}`,
    ));
    const buf = new Uint8Array(4096);
    const n = await conn.read(buf);
    conn.close();
    assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 4\d\d/);
    // Oversized headers: the HTTP layer refuses them (4xx), the process lives on.
    const huge = await fetch(`${base}/api/v1/stats`, { headers: { "x-big": "a".repeat(200_000) } });
    assert.ok(huge.status >= 400 && huge.status < 500, `huge header: ${huge.status}`);
    await huge.body?.cancel();
    const ok = await fetch(`${base}/api/v1/jobs`, {
      method: "POST",
      headers: JSON_HEADERS,
      body: JSON.stringify(SPEC_EMAIL),
    });
    assert.strictEqual(ok.status, 201);
    await ok.body?.cancel();
  } finally {
    await server.shutdown();
    await api.close();
  }
});
