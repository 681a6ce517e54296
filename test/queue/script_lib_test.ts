/**
 * joinWithLibrary: a script gets the library definitions it reaches, in the
 * library's order, and no others; and every real script, so joined, still
 * loads into Redis (SCRIPT LOAD compiles it).
 */
import assert from "node:assert/strict";
import { joinWithLibrary, libraryDefinitions } from "../../src/queue/script_lib.ts";
import { loadScriptSources } from "../../src/queue/scripts.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { Redis } from "ioredis";

const LIB = `-- head comment
local A = 1
local B, C = 2, 3
local hook = nil

-- used by f
local function g(x)
  return x + A
end

local function f(x)
  return g(x) * 2
end

local function unused()
  return B
end

hook = function(x)
  return C + x
end
`;

Deno.test("definitions: each top-level one with the names it defines", () => {
  const { head, definitions } = libraryDefinitions(LIB);
  assert.strictEqual(head, "");
  assert.match(definitions[0].text, /^-- head comment\nlocal A = 1/);
  assert.match(definitions[3].text, /-- used by f\nlocal function g/);
  assert.deepStrictEqual(definitions.map((d) => d.defines), [
    ["A"],
    ["B", "C"],
    ["hook"],
    ["g"],
    ["f"],
    ["unused"],
    ["hook"],
  ]);
});

Deno.test("a script keeps what it reaches, transitively and in order", () => {
  const out = joinWithLibrary(LIB, "return f(1)");
  assert.match(
    out,
    /local A = 1[\s\S]*local function g[\s\S]*local function f[\s\S]*return f\(1\)$/,
  );
  assert.doesNotMatch(out, /unused/);
  assert.doesNotMatch(out, /hook/);
  assert.doesNotMatch(out, /local B, C/);
  // A local filled in later comes with its declaration and its assignment.
  const hooked = joinWithLibrary(LIB, "return hook(1)");
  assert.match(hooked, /local B, C = 2, 3[\s\S]*local hook = nil[\s\S]*hook = function/);
  assert.doesNotMatch(hooked, /local function f/);
});

Deno.test("every joined script compiles in Redis", async () => {
  const redis = await TestRedis.start();
  const client = new Redis(redis.url);
  try {
    const sources = await loadScriptSources();
    for (const [name, source] of Object.entries(sources)) {
      const sha = await client.script("LOAD", `local PUBLISH_WAKES = false\n${source}`);
      assert.match(String(sha), /^[0-9a-f]{40}$/, name);
    }
  } finally {
    client.disconnect();
    await redis.close();
  }
});
