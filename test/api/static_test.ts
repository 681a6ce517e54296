import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { safeRelativePath, staticRoutes } from "../../src/api/static.ts";
import { minifyCss, minifyJs, pickEncoding } from "../../src/api/static_assets.ts";

const DIR = new URL("../../static", import.meta.url).pathname;

Deno.test("static: serves the dashboard with a strict CSP", async () => {
  const app = staticRoutes(DIR);
  const res = await app.request("/");
  assert.strictEqual(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /text\/html/);
  assert.match(res.headers.get("content-security-policy") ?? "", /script-src 'self'/);
  assert.match(await res.text(), /<script type="module" src="\/app.js">/);
  const js = await app.request("/app.js");
  assert.match(js.headers.get("content-type") ?? "", /javascript/);
  await js.body?.cancel();
});

Deno.test("static: refuses traversal, dotfiles and unknown files", async () => {
  const app = staticRoutes(DIR);
  for (
    const path of ["/../deno.json", "/%2e%2e/deno.json", "/a/..%2f..%2fdeno.json", "/.git/config"]
  ) {
    const res = await app.request(path);
    assert.ok(res.status === 400 || res.status === 404, `${path} -> ${res.status}`);
    await res.body?.cancel();
  }
  assert.strictEqual(safeRelativePath("/..%5c..%5cetc"), null);
  assert.strictEqual(safeRelativePath("/%00"), null);
  assert.strictEqual(safeRelativePath("/"), "index.html");
  const missing = await app.request("/nope.js");
  assert.strictEqual(missing.status, 404);
});

Deno.test("static: files go out minified, and compressed when the client accepts it", async () => {
  const app = staticRoutes(DIR);
  const source = await Deno.readTextFile(`${DIR}/api.js`);
  const plain = await app.request("/api.js");
  assert.strictEqual(plain.headers.get("content-encoding"), null);
  assert.strictEqual(plain.headers.get("vary"), "accept-encoding");
  const text = await plain.text();
  assert.ok(text.length < source.length * 0.8, `${text.length} vs ${source.length}`);
  assert.ok(!text.includes("@module"), "doc comments are stripped");
  assert.strictEqual(
    Number(plain.headers.get("content-length")),
    new TextEncoder().encode(text).length,
  );
  for (const encoding of ["br", "gzip"] as const) {
    const res = await app.request("/api.js", { headers: { "accept-encoding": encoding } });
    assert.strictEqual(res.headers.get("content-encoding"), encoding);
    const body = new Uint8Array(await res.arrayBuffer());
    assert.strictEqual(Number(res.headers.get("content-length")), body.length);
    assert.ok(body.length < text.length / 2, `${encoding}: ${body.length}`);
    const inflated = encoding === "br" ? brotliDecompressSync(body) : gunzipSync(body);
    assert.strictEqual(new TextDecoder().decode(inflated), text);
  }
  const refused = await app.request("/api.js", { headers: { "accept-encoding": "br;q=0, gzip" } });
  assert.strictEqual(refused.headers.get("content-encoding"), "gzip");
  await refused.body?.cancel();
  const head = await app.request("/api.js", {
    method: "HEAD",
    headers: { "accept-encoding": "gzip, deflate, br" },
  });
  assert.strictEqual(head.headers.get("content-encoding"), "br");
  assert.ok(Number(head.headers.get("content-length")) > 0);
});

Deno.test("static: the whole dashboard weighs at most 150 KB as served (uncompressed)", async () => {
  const app = staticRoutes(DIR);
  let total = 0;
  for await (const entry of Deno.readDir(DIR)) {
    if (!entry.isFile) continue;
    const res = await app.request(`/${entry.name}`);
    assert.strictEqual(res.status, 200, entry.name);
    total += (await res.arrayBuffer()).byteLength;
  }
  assert.ok(total <= 150 * 1024, `dashboard ${total} bytes`);
});

Deno.test("static: a changed file is served changed; a broken one is served as it is", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const failures: string[] = [];
    const app = staticRoutes(dir, (path) => failures.push(path));
    await Deno.writeTextFile(`${dir}/a.js`, "// one\nexport const a = 1;\n");
    assert.strictEqual(await (await app.request("/a.js")).text(), "export const a=1;");
    await Deno.writeTextFile(`${dir}/a.js`, "// two\nexport const a = 22;\n");
    await Deno.utime(`${dir}/a.js`, new Date(), new Date(Date.now() + 5000));
    assert.strictEqual(await (await app.request("/a.js")).text(), "export const a=22;");
    await Deno.writeTextFile(`${dir}/b.js`, "export const = ;\n");
    assert.strictEqual(await (await app.request("/b.js")).text(), "export const = ;\n");
    assert.deepStrictEqual(failures.map((p) => p.split("/").pop()), ["b.js"]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("static: minifying keeps strings and regexes that look like comments", async () => {
  const js = 'const u = "http://x/*y*/"; // note\nconst r = /\\/\\//g;\nexport { r, u };\n';
  const out = await minifyJs(js);
  assert.match(out, /"http:\/\/x\/\*y\*\/"/);
  assert.match(out, /\/\\\/\\\/\/g/);
  assert.ok(!out.includes("note"));
  assert.strictEqual(minifyCss("a { /* x */\n  color: red;\n}\n"), "a {\ncolor: red;\n}");
  assert.strictEqual(pickEncoding("gzip;q=0.5, br;q=0"), "gzip");
  assert.strictEqual(pickEncoding("identity"), null);
  assert.strictEqual(pickEncoding("*"), "br");
});
