/** The body reader's two paths (declared length, streamed) and its nesting-depth scan. */
import assert from "node:assert/strict";
import { jsonDepth, readJsonBody } from "../../src/api/body.ts";
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
