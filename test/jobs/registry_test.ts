import assert from "node:assert/strict";
import { z } from "zod";
import { defineJob } from "../../src/jobs/definition.ts";
import {
  builtinDefinitions,
  jobModulesFromEnv,
  JobRegistry,
  loadRegistry,
  resolveModuleSpecifier,
} from "../../src/jobs/registry.ts";
import { fakeContext } from "./helpers.ts";

const hello = defineJob({
  type: "hello",
  description: "greets",
  schema: z.object({ name: z.string().min(1), times: z.int().default(1) }),
  handler: (_ctx, p) => Promise.resolve(`hi ${p.name}`.repeat(p.times)),
});

Deno.test("JobRegistry: register, get, has, types, list", () => {
  const registry = new JobRegistry().register(hello);
  assert.strictEqual(registry.has("hello"), true);
  assert.strictEqual(registry.has("nope"), false);
  assert.strictEqual(registry.get("hello")?.description, "greets");
  assert.strictEqual(registry.get("nope"), undefined);
  assert.deepStrictEqual(registry.types(), ["hello"]);
  assert.deepStrictEqual(registry.list().map((d) => d.type), ["hello"]);
  assert.throws(() => registry.register(hello), /duplicate job type "hello"/);
  assert.throws(
    () => registry.register({ type: "x" } as unknown as typeof hello),
    /not a job definition/,
  );
});

Deno.test("JobRegistry.validate: parsed payload with defaults, or issues with paths", () => {
  const registry = new JobRegistry().register(hello);
  assert.deepStrictEqual(registry.validate("hello", { name: "ann" }), {
    ok: true,
    payload: { name: "ann", times: 1 },
  });
  const bad = registry.validate("hello", { name: "", times: "x" });
  assert.strictEqual(bad.ok, false);
  if (!bad.ok) assert.deepStrictEqual(bad.issues.map((i) => i.path), ["name", "times"]);
  const unknown = registry.validate("nope", {});
  assert.strictEqual(unknown.ok, false);
});

Deno.test("loadRegistry: builtins", async () => {
  const registry = await loadRegistry();
  assert.deepStrictEqual(registry.types(), ["compute", "data_process", "email", "webhook"]);
  assert.strictEqual(builtinDefinitions().length, 4);
});

Deno.test("loadRegistry: user modules by relative path and URL", async () => {
  const registry = await loadRegistry([
    "./test/jobs/fixtures/default_def.ts",
    new URL("./fixtures/array_and_named.ts", import.meta.url).href,
  ]);
  assert.deepStrictEqual(registry.types(), [
    "compute",
    "data_process",
    "email",
    "fixture_default",
    "fixture_one",
    "fixture_two",
    "webhook",
  ]);
  const def = registry.get("fixture_default")!;
  const parsed = registry.validate("fixture_default", { n: 21 });
  assert.ok(parsed.ok);
  assert.deepStrictEqual(await def.handler(fakeContext().ctx, parsed.payload), { doubled: 42 });
});

Deno.test("loadRegistry: clear errors for missing, invalid and duplicate modules", async () => {
  await assert.rejects(loadRegistry(["./does/not/exist.ts"]), /cannot load job module .*exist\.ts/);
  await assert.rejects(
    loadRegistry(["./test/jobs/fixtures/bad_default.ts"]),
    /default export is not a job definition/,
  );
  await assert.rejects(
    loadRegistry(["./test/jobs/fixtures/duplicate_builtin.ts"]),
    /type "email" is already registered/,
  );
  await assert.rejects(
    loadRegistry(["./test/jobs/fixtures/default_def.ts", "./test/jobs/fixtures/default_def.ts"]),
    /already registered/,
  );
  await assert.rejects(loadRegistry(["./test/jobs/helpers.ts"]), /exports no job definitions/);
});

Deno.test("resolveModuleSpecifier and JOB_MODULES parsing", () => {
  assert.strictEqual(resolveModuleSpecifier("./a.ts", "/srv/app"), "file:///srv/app/a.ts");
  assert.strictEqual(resolveModuleSpecifier("../b c.ts", "/srv/app/"), "file:///srv/b%20c.ts");
  assert.strictEqual(resolveModuleSpecifier("/abs/x.ts"), "file:///abs/x.ts");
  assert.strictEqual(resolveModuleSpecifier("https://h/x.ts"), "https://h/x.ts");
  assert.strictEqual(resolveModuleSpecifier("npm:pkg"), "npm:pkg");
  assert.throws(() => resolveModuleSpecifier("  "), /empty/);
  const previous = Deno.env.get("JOB_MODULES");
  try {
    Deno.env.set("JOB_MODULES", " ./my_jobs.ts, ,./more.ts ");
    assert.deepStrictEqual(jobModulesFromEnv(), ["./my_jobs.ts", "./more.ts"]);
    Deno.env.delete("JOB_MODULES");
    assert.deepStrictEqual(jobModulesFromEnv(), []);
  } finally {
    if (previous !== undefined) Deno.env.set("JOB_MODULES", previous);
  }
});
