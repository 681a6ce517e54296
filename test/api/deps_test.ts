/**
 * The routes' shared helpers: the gate that lines up concurrent submits, and
 * the body reader's two paths.
 */
import assert from "node:assert/strict";
import { SubmitGate } from "../../src/api/deps.ts";
import { jsonDepth, readJsonBody } from "../../src/api/body.ts";
import { HttpError } from "../../src/api/errors.ts";
import { postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

Deno.test("SubmitGate: concurrent submits reach the broker in one turn; each settles alone", async () => {
  const gate = new SubmitGate();
  const turns: number[] = [];
  let turn = 0;
  const tick = setInterval(() => turn++, 0);
  try {
    // Alone: goes straight through.
    assert.strictEqual(await gate.run(() => Promise.resolve("alone")), "alone");
    let release: () => void = () => {};
    const blocker = gate.run(() => new Promise<string>((r) => (release = () => r("first"))));
    const rest = Array.from({ length: 5 }, (_, i) =>
      gate.run(() => {
        turns.push(turn);
        return i === 2 ? Promise.reject(new Error("only me")) : Promise.resolve(i);
      }));
    const settled = await Promise.allSettled(rest);
    assert.deepStrictEqual(settled.map((s) => s.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    assert.strictEqual(new Set(turns).size, 1, "all submitted in the same turn");
    release();
    assert.strictEqual(await blocker, "first");
  } finally {
    clearInterval(tick);
  }
});

Deno.test("concurrent submits through a socket each get their own job", async () => {
  const api = await startApi();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, api.app.fetch);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/api/v1/jobs`;
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...SPEC_EMAIL, priority: i % 10 }),
        })),
    );
    const ids = new Set<string>();
    for (const res of responses) {
      assert.strictEqual(res.status, 201);
      ids.add((await res.json()).job_id);
    }
    assert.strictEqual(ids.size, 200);
    const stats = await (await api.app.request("/api/v1/stats")).json();
    assert.strictEqual(stats.pending, 200);
    // The same Idempotency-Key sent concurrently still yields one job.
    const same = await Promise.all(
      Array.from(
        { length: 20 },
        () => postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, { "idempotency-key": "same-key" }),
      ),
    );
    const sameIds = new Set(await Promise.all(same.map(async (r) => (await r.json()).job_id)));
    assert.strictEqual(sameIds.size, 1);
    assert.deepStrictEqual(same.map((r) => r.status).sort(), [...Array(19).fill(200), 201]);
  } finally {
    await server.shutdown();
    await api.close();
  }
});

function request(body: BodyInit, headers: Record<string, string>): Request {
  return new Request("http://x/", {
    method: "POST",
    headers: { "content-type": "application/json", ...headers },
    body,
  });
}

Deno.test("readJsonBody: declared-length and streamed bodies, limits on both", async () => {
  const text = JSON.stringify(SPEC_EMAIL);
  const length = String(new TextEncoder().encode(text).byteLength);
  assert.deepStrictEqual(
    await readJsonBody(request(text, { "content-length": length }), 1024),
    SPEC_EMAIL,
  );
  assert.deepStrictEqual(await readJsonBody(request(text, {}), 1024), SPEC_EMAIL);
  const status = async (r: Request, limit: number) => {
    try {
      await readJsonBody(r, limit);
      return 0;
    } catch (e) {
      assert.ok(e instanceof HttpError);
      return e.status;
    }
  };
  // Declared length over the limit: refused before reading.
  assert.strictEqual(await status(request(text, { "content-length": "999999" }), 1024), 413);
  // Declared length under the limit but a bigger body (only possible in-process): still 413.
  assert.strictEqual(
    await status(request("x".repeat(5000), { "content-length": "10" }), 1024),
    413,
  );
  // Transfer-Encoding with a small Content-Length: read as a stream, cut at the limit.
  let pulled = 0;
  const endless = new ReadableStream<Uint8Array>({
    pull(controller) {
      pulled += 4096;
      controller.enqueue(new Uint8Array(4096).fill(0x20));
    },
  });
  assert.strictEqual(
    await status(
      request(endless, { "content-length": "10", "transfer-encoding": "chunked" }),
      16384,
    ),
    413,
  );
  assert.ok(pulled <= 32768, `read ${pulled} bytes`);
  // Bad UTF-8 on both paths.
  const bad = new Uint8Array([0x7b, 0xff, 0x7d]);
  assert.strictEqual(await status(request(bad, { "content-length": "3" }), 1024), 400);
  assert.strictEqual(await status(request(bad, {}), 1024), 400);
  // Empty bodies.
  assert.strictEqual(await status(request("", { "content-length": "0" }), 1024), 400);
});

/** The straightforward scan jsonDepth must agree with. */
function referenceDepth(text: string): number {
  let depth = 0;
  let max = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (inString) {
      if (c === "\\") i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === "{" || c === "[") max = Math.max(max, ++depth);
    else if (c === "}" || c === "]") depth--;
  }
  return max;
}

Deno.test("jsonDepth agrees with a plain scan on strings, escapes and random text", () => {
  const fixed = [
    "",
    '"',
    '"\\"',
    '"\\\\"[',
    '"\\\\\\"["',
    '["a\\"[", {"b": ["\\\\", [1]]}]',
    '{"x":"[[[[', // unterminated
    "[".repeat(70),
    JSON.stringify(SPEC_EMAIL),
  ];
  const alphabet = ['"', "\\", "[", "]", "{", "}", "a", ":", ","];
  let seed = 42;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  for (let n = 0; n < 5000; n++) {
    let t = "";
    const len = Math.floor(rand() * 40);
    for (let i = 0; i < len; i++) t += alphabet[Math.floor(rand() * alphabet.length)];
    fixed.push(t);
  }
  for (const text of fixed) assert.strictEqual(jsonDepth(text), referenceDepth(text), text);
});
