/** The body reader (limits, budget charged per byte received, deadlines, aborts) and its nesting-depth scan. */
import assert from "node:assert/strict";
import { jsonDepth, readJsonBody } from "../../src/api/body.ts";
import { BodyBudget } from "../../src/api/body_budget.ts";
import { BodyDeadlines } from "../../src/api/body_deadline.ts";
import { HttpError } from "../../src/api/errors.ts";
import { SPEC_EMAIL } from "./helpers.ts";

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

/** A body stream: `chunks` sent at once, then open forever (or errored, as a reset would). */
function trickle(chunks: Uint8Array[], end: "open" | "error" = "open"): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (end === "error") setTimeout(() => controller.error(new Error("connection reset")), 20);
    },
  });
}

function streamed(body: ReadableStream<Uint8Array>, declared: number): Request {
  return new Request("http://x/", {
    method: "POST",
    headers: { "content-type": "application/json", "content-length": String(declared) },
    body,
    duplex: "half",
  } as RequestInit);
}

Deno.test("readJsonBody: the budget is charged by bytes received, not the declared length", async () => {
  const budget = new BodyBudget(2 * 1024 * 1024, new BodyDeadlines(300, 1024));
  using ticket = budget.ticket();
  const reading = readJsonBody(
    streamed(trickle([new Uint8Array([0x7b])]), 1024 * 1024),
    2e6,
    ticket,
  )
    .catch((e) => e);
  await new Promise((r) => setTimeout(r, 50));
  assert.strictEqual(budget.inUse, 1, "one byte received, one byte held");
  const error = await reading;
  assert.ok(error instanceof HttpError, String(error));
  assert.strictEqual(error.status, 408);
  assert.strictEqual(error.code, "request_timeout");
  assert.strictEqual(error.headers?.Connection, "close");
  ticket.release();
  assert.strictEqual(budget.inUse, 0);
});

Deno.test("readJsonBody: a body that keeps its pace is read; one the client breaks is 499", async () => {
  const budget = new BodyBudget(1024 * 1024, new BodyDeadlines(50, 1024));
  const text = new TextEncoder().encode(JSON.stringify(SPEC_EMAIL));
  // ~40 bytes every 20 ms: 2 KB/s, twice the minimum, for longer than the head start.
  const steady = new ReadableStream<Uint8Array>({
    async start(controller) {
      for (let i = 0; i < text.byteLength; i += 40) {
        controller.enqueue(text.subarray(i, i + 40));
        await new Promise((r) => setTimeout(r, 20));
      }
      controller.close();
    },
  });
  using first = budget.ticket();
  assert.deepStrictEqual(
    await readJsonBody(streamed(steady, text.byteLength), 1e6, first),
    SPEC_EMAIL,
  );
  using second = budget.ticket();
  const broken = streamed(trickle([text.subarray(0, 10)], "error"), text.byteLength);
  const error = await readJsonBody(broken, 1e6, second).catch((e) => e);
  assert.ok(error instanceof HttpError, String(error));
  assert.strictEqual(error.status, 499);
  assert.strictEqual(error.code, "client_closed_request");
});

Deno.test("BodyDeadlines: the sweep runs only while bodies are read", () => {
  const deadlines = new BodyDeadlines(1000, 1024);
  const a = deadlines.watch(() => {});
  const b = deadlines.watch(() => {});
  assert.strictEqual(deadlines.watching, 2);
  a.end();
  b.end();
  b.end();
  assert.strictEqual(deadlines.watching, 0); // and no interval left: the test sanitizer checks
});
