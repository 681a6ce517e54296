/**
 * Least privilege of the built-in types: the thread permissions each one
 * declares under the operator's settings, data_process's destination
 * confinement (as written, at submit; and with symlinks resolved, in the
 * handler), and the submit-time refusals going through `prepareEnqueue`.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { dataProcessJob } from "../../src/jobs/data_process.ts";
import { emailJob } from "../../src/jobs/email.ts";
import { webhookJob } from "../../src/jobs/webhook.ts";
import { computeJob } from "../../src/jobs/compute.ts";
import { type JobDefinition, permissionsFor } from "../../src/jobs/definition.ts";
import {
  configureJobSettings,
  type JobSettings,
  jobSettingsFrom,
} from "../../src/jobs/job_settings.ts";
import { destinationPath, prepareConfinedFile } from "../../src/jobs/output_path.ts";
import { prepareEnqueue } from "../../src/jobs/prepare.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { threadPermissions } from "../../src/worker/pool.ts";

const settings: JobSettings = {
  dataProcessOutputDir: "/srv/jq/output",
  emailOutboxDir: "/srv/jq/outbox",
  outboundAllow: [],
};
const erased = (d: unknown) => d as JobDefinition;

Deno.test("permissions: each built-in type gets only what it needs", () => {
  assert.deepStrictEqual(permissionsFor(erased(dataProcessJob), settings), {
    net: true,
    read: ["/srv/jq/output"],
    write: ["/srv/jq/output"],
  });
  assert.deepStrictEqual(permissionsFor(erased(emailJob), settings), {
    read: ["/srv/jq/outbox"],
    write: ["/srv/jq/outbox"],
  });
  assert.deepStrictEqual(
    permissionsFor(erased(emailJob), { ...settings, smtpUrl: "smtps://u:p@mail.example.com" }),
    { net: ["mail.example.com:465"] },
    "SMTP: its host only, no files, no env",
  );
  assert.deepStrictEqual(
    permissionsFor(erased(emailJob), { ...settings, smtpUrl: "smtp://[::1]:2525" }),
    { net: ["[::1]:2525"] },
  );
  assert.deepStrictEqual(permissionsFor(erased(webhookJob), settings), { net: true });
  assert.deepStrictEqual(permissionsFor(erased(computeJob), settings), {});
  // No built-in type gets env, run, ffi, sys or import.
  for (const job of [dataProcessJob, emailJob, webhookJob, computeJob]) {
    const p = threadPermissions(permissionsFor(erased(job), settings));
    assert.deepStrictEqual(
      [p.env, p.run, p.ffi, p.sys, p.import],
      [false, false, false, false, false],
      job.type,
    );
  }
});

Deno.test("settings: relative paths resolve against the working directory; defaults under DATA_DIR", () => {
  const s = jobSettingsFrom({ DATA_DIR: "./d", OUTBOUND_ALLOW: ["8080"] }, () => "/work");
  assert.deepStrictEqual(s, {
    dataProcessOutputDir: "/work/d/output",
    emailOutboxDir: "/work/d/outbox",
    outboundAllow: ["8080"],
  });
  const explicit = jobSettingsFrom({
    DATA_DIR: "/x",
    DATA_PROCESS_OUTPUT_DIR: "/srv/out/../exports/",
    EMAIL_OUTBOX_DIR: "mail",
    SMTP_URL: "smtp://mx:25",
    OUTBOUND_ALLOW: [],
  }, () => "/work");
  assert.strictEqual(explicit.dataProcessOutputDir, "/srv/exports");
  assert.strictEqual(explicit.emailOutboxDir, "/work/mail");
  assert.strictEqual(explicit.smtpUrl, "smtp://mx:25");
});

Deno.test("confinement: destinations as written must be files inside the output folder", () => {
  const dir = "/srv/jq/output";
  const ok = (url: string, path: string) =>
    assert.deepStrictEqual(destinationPath(new URL(url), dir), { path }, url);
  const refused = (url: string, pattern: RegExp) => {
    const r = destinationPath(new URL(url), dir);
    assert.ok("error" in r, `${url} is refused`);
    assert.match(r.error, pattern, url);
  };
  ok("file:///srv/jq/output/a.json", "/srv/jq/output/a.json");
  ok("file:///srv/jq/output/deep/er/a%20b.json", "/srv/jq/output/deep/er/a b.json");
  ok("file://localhost/srv/jq/output/x/../a.json", "/srv/jq/output/a.json");
  refused("file:///etc/passwd", /not a file inside DATA_PROCESS_OUTPUT_DIR/);
  refused("file:///srv/jq/output/../outbox/x.eml", /\/srv\/jq\/outbox\/x\.eml is not/);
  refused("file:///srv/jq/output/..%2F..%2Fetc/cron.d/x", /\/srv\/etc\/cron\.d\/x is not/);
  refused("file:///srv/jq/output-evil/x.json", /not a file inside/); // a sibling with the same prefix
  refused("file:///srv/jq/output", /not a file inside/);
  refused("file:///srv/jq/output/", /not a file inside/);
  refused("file:///srv/jq/output/sub/", /not a file inside/);
  refused("file://fileserver/srv/jq/output/a.json", /must be local/);
  refused("file:///srv/jq/output/a%00.json", /NUL/);
  refused("file:///srv/jq/output/%E0%A4%A.json", /percent-encoding/);
});

Deno.test("confinement: the handler's check follows symlinks", async () => {
  const root = await Deno.realPath(await Deno.makeTempDir({ prefix: "jq-confine-" }));
  const dir = join(root, "output");
  const outside = join(root, "elsewhere");
  try {
    await Deno.mkdir(outside);
    // The folder itself is created on first use, and nested folders inside it.
    assert.strictEqual(
      await prepareConfinedFile(join(dir, "a", "b", "x.json"), dir),
      join(dir, "a", "b", "x.json"),
    );
    assert.ok((await Deno.stat(join(dir, "a", "b"))).isDirectory);
    await Deno.symlink(outside, join(dir, "link"));
    await assert.rejects(
      prepareConfinedFile(join(dir, "link", "x.json"), dir),
      /leads outside DATA_PROCESS_OUTPUT_DIR .* through a symlink/,
    );
    await assert.rejects(
      prepareConfinedFile(join(dir, "link", "new", "deeper", "x.json"), dir),
      /through a symlink/,
      "refused before creating folders beyond the link",
    );
    assert.deepStrictEqual([...Deno.readDirSync(outside)], [], "nothing created outside");
    // A symlink that stays inside is fine.
    await Deno.symlink(join(dir, "a"), join(dir, "alias"));
    await prepareConfinedFile(join(dir, "alias", "y.json"), dir);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("submit: policy refusals are `refused` with field paths, nothing else changes", async () => {
  const registry = await loadRegistry();
  configureJobSettings(settings);
  try {
    const refusedWith = (type: string, payload: unknown, path: string, pattern: RegExp) => {
      const r = prepareEnqueue(registry, { type, payload });
      assert.ok(!r.ok && r.reason === "refused", `${type} ${JSON.stringify(payload)} refused`);
      assert.strictEqual(r.issues[0].path, path);
      assert.match(r.issues[0].message, pattern);
    };
    refusedWith("webhook", { url: "http://127.0.0.1:6379/" }, "url", /loopback address/);
    refusedWith(
      "data_process",
      { source_url: "http://10.0.0.1/", operation: "filter" },
      "source_url",
      /private address/,
    );
    refusedWith(
      "data_process",
      { source_url: "https://example.com/", operation: "filter", destination: "file:///tmp/x" },
      "destination",
      /DATA_PROCESS_OUTPUT_DIR \(\/srv\/jq\/output\)/,
    );
    for (
      const [type, payload] of [
        ["webhook", { url: "https://hooks.example.com/x" }],
        ["webhook", { url: "http://localhost:8080/" }], // a name: checked when it runs
        ["data_process", {
          source_url: "https://example.com/",
          operation: "filter",
          destination: "file:///srv/jq/output/x.json",
        }],
        ["data_process", {
          source_url: "https://example.com/",
          operation: "filter",
          destination: "s3://bucket/key",
        }],
      ] as const
    ) {
      assert.ok(prepareEnqueue(registry, { type, payload }).ok, `${type} accepted`);
    }
    configureJobSettings({ ...settings, outboundAllow: ["127.0.0.1:6379"] });
    assert.ok(
      prepareEnqueue(registry, { type: "webhook", payload: { url: "http://127.0.0.1:6379/" } }).ok,
      "allowed by the operator",
    );
  } finally {
    configureJobSettings(undefined);
  }
});
