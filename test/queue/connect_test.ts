/** connect.ts: Redis URLs to cluster node lists. */
import assert from "node:assert/strict";
import { clusterNodes } from "../../src/queue/connect.ts";

Deno.test("clusterNodes parses cluster URLs and comma lists, null for one server", () => {
  assert.strictEqual(clusterNodes("redis://localhost:6379"), null);
  assert.deepStrictEqual(clusterNodes("redis-cluster://a:7000,b:7001"), [
    { host: "a", port: 7000 },
    { host: "b", port: 7001 },
  ]);
  assert.deepStrictEqual(clusterNodes("redis://u:p@a:7000/0, b"), [
    { host: "a", port: 7000 },
    { host: "b", port: 6379 },
  ]);
});
