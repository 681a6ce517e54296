import assert from "node:assert/strict";
import { safeRelativePath, staticRoutes } from "../../src/api/static.ts";

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
