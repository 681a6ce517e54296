/**
 * `deno task jq` through the real API: the composed app on Deno.serve over a
 * real redis-server, with keys on. Every command once (tables, `--json`
 * equal to the API's answer), and the failure modes: an HTTP error is its
 * JSON message on one line with exit 1 (401, 403, 404, 409), connection
 * refused is one line with exit 1, a bad command line exits 2; and the task
 * itself, run as a process.
 */
import assert from "node:assert/strict";
import { runCli } from "../../src/cli/main.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { KeyStore } from "../../src/auth/key_store.ts";
import { Authenticator } from "../../src/auth/authenticator.ts";
import { connect } from "../../src/queue/connect.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { freePort, TestRedis } from "../helpers/redis_server.ts";
import type { WorkerReport } from "../../src/queue/worker_presence.ts";

const log = createLogger({ level: "silent" });
const ROOT = new URL("../../", import.meta.url).pathname;

interface Ran {
  code: number;
  out: string;
  err: string;
}

/** A running API with keys, schedules and one registered worker. */
async function startService() {
  const redis = await TestRedis.start();
  const registry = await loadRegistry();
  const broker = new RedisBroker({ url: redis.url, queue: `cli${Date.now().toString(36)}` });
  const keyClient = connect(redis.url, { commandTimeoutMs: 1000 });
  const store = new KeyStore(keyClient);
  const admin = (await store.create({ name: "cli-admin", scopes: ["submit", "read", "admin"] }))
    .key;
  const scheduling = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
  const auth = new Authenticator({ mode: "on", store });
  const http = buildApiApp({ broker, registry, log, auth, schedules: scheduling.service });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, http.app.fetch);
  const url = `http://127.0.0.1:${server.addr.port}`;
  const jq = async (args: string[], env: Record<string, string> = {}): Promise<Ran> => {
    const out: string[] = [];
    const err: string[] = [];
    const vars: Record<string, string> = { JQ_URL: url, JQ_API_KEY: admin, ...env };
    const code = await runCli(args, {
      out: (t) => out.push(t),
      err: (t) => err.push(t),
      env: (name) => vars[name],
    });
    return { code, out: out.join("\n"), err: err.join("\n") };
  };
  /** The API's own answer, for comparing `--json` with. */
  const api = async (path: string) =>
    await (await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${admin}` } }))
      .json();
  return {
    redis,
    broker,
    url,
    admin,
    jq,
    api,
    async close() {
      await server.shutdown();
      await http.close();
      await scheduling.close();
      await broker.close();
      keyClient.disconnect();
      await redis.close();
    },
  };
}

/** Asserts a failed run: its exit code and one stderr line matching `pattern`. */
function assertFailed(ran: Ran, code: number, pattern: RegExp): void {
  assert.strictEqual(ran.code, code, `exit ${ran.code}: ${ran.err}`);
  assert.strictEqual(ran.out, "");
  const first = ran.err.split("\n")[0];
  assert.match(first, pattern);
  if (code === 1) assert.strictEqual(ran.err.split("\n").length, 1, "one line");
}

const report: WorkerReport = {
  host: "cli-host",
  pid: 777,
  concurrency: 8,
  threads: 2,
  in_flight: 3,
  rss_bytes: 64 * 1024 * 1024,
  started_at: Date.now() - 90_000,
  version: "1.0.0",
  draining: false,
  drain_requested_at: null,
};

Deno.test({
  name: "jq: every command through the real API, tables and --json",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const s = await startService();
    const q = s.broker.defaultQueue;
    try {
      const a = (await s.broker.enqueue({ type: "compute", payload: { duration_ms: 1 } })).id;
      const b = (await s.broker.enqueue({ type: "compute", payload: { duration_ms: 2 } })).id;

      await t.step("stats", async () => {
        const ran = await s.jq(["stats"]);
        assert.strictEqual(ran.code, 0, ran.err);
        assert.match(ran.out, /^STATE\s+NOW\s+LIFETIME/);
        assert.match(ran.out, /pending\s+2\b/);
        assert.match(ran.out, new RegExp(`^${q}\\s+2\\b`, "m"));
        const json = await s.jq(["stats", "--json"]);
        assert.deepStrictEqual(JSON.parse(json.out), await s.api("/api/v1/stats"));
      });

      await t.step("queues, pause and resume", async () => {
        const ran = await s.jq(["queues"]);
        assert.strictEqual(ran.code, 0, ran.err);
        assert.match(ran.out, new RegExp(`^${q}\\s+no\\s+2\\b`, "m"));
        assert.strictEqual((await s.jq(["queues", "pause", q])).out, `queue ${q} paused`);
        const paused = JSON.parse((await s.jq(["queues", "--json"])).out);
        assert.strictEqual(paused.queues.find((x: { name: string }) => x.name === q).paused, true);
        assert.strictEqual((await s.jq(["queues", "resume", q])).out, `queue ${q} resumed`);
      });

      await t.step("jobs list, show, cancel, retry", async () => {
        const ran = await s.jq(["jobs", "list", "--queue", q, "--status", "pending"]);
        assert.strictEqual(ran.code, 0, ran.err);
        assert.match(ran.out, /^ID\s+TYPE\s+STATUS\s+ATTEMPTS/);
        assert.ok(ran.out.includes(a) && ran.out.includes(b), ran.out);
        const page = await s.jq([
          "jobs",
          "list",
          "--queue",
          q,
          "--limit",
          "1",
          "--type",
          "compute",
        ]);
        assert.strictEqual(page.out.split("\n").filter((l) => l.includes("compute")).length, 1);
        assert.match(page.out, /\nmore: --cursor \S+$/);
        const json = JSON.parse((await s.jq(["jobs", "list", "--queue", q, "--json"])).out);
        assert.deepStrictEqual(json, await s.api(`/api/v1/jobs?queue=${q}`));

        const show = await s.jq(["jobs", "show", a]);
        assert.match(show.out, new RegExp(`^job_id:\\s+${a}$`, "m"));
        assert.match(show.out, /^status:\s+pending$/m);
        assert.match(show.out, /^payload:\s+\{"duration_ms":1\}$/m);
        assert.deepStrictEqual(
          JSON.parse((await s.jq(["jobs", "show", a, "--json"])).out),
          await s.api(`/api/v1/jobs/${a}`),
        );

        assert.strictEqual((await s.jq(["jobs", "cancel", a])).out, `job ${a}: cancelled`);
        assert.strictEqual((await s.jq(["jobs", "retry", a])).out, `job ${a} requeued: pending`);
        // A pending job cannot be retried: the API's 409, its message on one line.
        assertFailed(await s.jq(["jobs", "retry", b]), 1, /^jq: 409 invalid_state: .+/);
        assertFailed(
          await s.jq(["jobs", "show", crypto.randomUUID()]),
          1,
          /^jq: 404 not_found: job .+ not found$/,
        );
      });

      await t.step("schedules list, pause, resume, trigger", async () => {
        const created = await fetch(`${s.url}/api/v1/schedules`, {
          method: "POST",
          headers: { authorization: `Bearer ${s.admin}`, "content-type": "application/json" },
          body: JSON.stringify({
            name: "nightly",
            cron: "30 2 * * *",
            type: "compute",
            payload: { duration_ms: 1 },
            queue: q,
          }),
        });
        assert.strictEqual(created.status, 201, await created.text());
        const ran = await s.jq(["schedules"]);
        assert.strictEqual(ran.code, 0, ran.err);
        assert.match(ran.out, /^nightly\s+cron 30 2 \* \* \*\s+compute\s+no\s+\d{4}-/m);
        assert.strictEqual(
          (await s.jq(["schedules", "pause", "nightly"])).out,
          "schedule nightly paused",
        );
        assert.match((await s.jq(["schedules", "list"])).out, /^nightly\s+.+\s+yes\s/m);
        assert.strictEqual(
          (await s.jq(["schedules", "resume", "nightly"])).out,
          "schedule nightly resumed",
        );
        const fired = await s.jq(["schedules", "trigger", "nightly", "--json"]);
        const job = JSON.parse(fired.out).job_id;
        assert.strictEqual((await s.broker.get(job))?.status, "pending");
        assertFailed(await s.jq(["schedules", "trigger", "nosuch"]), 1, /^jq: 404 not_found: /);
      });

      await t.step("workers and drain", async () => {
        assert.strictEqual((await s.jq(["workers"])).out, "(none)");
        await s.broker.beatWorker(report);
        const ran = await s.jq(["workers"]);
        assert.strictEqual(ran.code, 0, ran.err);
        assert.match(
          ran.out,
          new RegExp(
            `^${s.broker.owner}\\s+cli-host\\s+777\\s+${q}:1\\s+3/8\\s+64\\.0 MiB\\s+1m3\\ds\\s+1\\.0\\.0\\s+live$`,
            "m",
          ),
        );
        const json = JSON.parse((await s.jq(["workers", "--json"])).out);
        assert.strictEqual(json.workers[0].id, s.broker.owner);
        assert.strictEqual(
          (await s.jq(["workers", "drain", s.broker.owner])).out,
          `worker ${s.broker.owner}: drain requested`,
        );
        assert.strictEqual(
          (await s.jq(["workers", "drain", s.broker.owner])).out,
          `worker ${s.broker.owner}: drain was already requested`,
        );
        assertFailed(await s.jq(["workers", "drain", "gone"]), 1, /^jq: 404 not_found: worker/);
      });

      await t.step("keys create, list, revoke; a key's scope and a revoked key", async () => {
        const made = await s.jq(["keys", "create", "--name", "ci", "--scopes", "read", "--json"]);
        assert.strictEqual(made.code, 0, made.err);
        const { id, key } = JSON.parse(made.out);
        assert.match(key, /^jq_/);
        const human = await s.jq(["keys", "create", "--name", "ops"]);
        assert.match(human.out, /^key \(shown once, keep it now\): jq_\S+$/m);
        const listed = await s.jq(["keys", "list"]);
        assert.match(listed.out, new RegExp(`^${id}\\s+ci\\s+read\\s+-\\s+\\d{4}-`, "m"));
        // A read key may list, not cancel: the API's 403 as one line.
        assert.strictEqual((await s.jq(["stats"], { JQ_API_KEY: key })).code, 0);
        assertFailed(
          await s.jq(["jobs", "cancel", b], { JQ_API_KEY: key }),
          1,
          /^jq: 403 forbidden: /,
        );
        assert.strictEqual((await s.jq(["keys", "revoke", id])).out, `key ${id} revoked`);
        // Every API process refuses it within a second.
        let ran: Ran = { code: 0, out: "", err: "" };
        for (let i = 0; i < 40 && ran.code === 0; i++) {
          await new Promise((r) => setTimeout(r, 50));
          ran = await s.jq(["stats"], { JQ_API_KEY: key });
        }
        assertFailed(ran, 1, /^jq: 401 unauthorized: /);
      });
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "jq: failures are one line and a non-zero exit",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await startService();
    try {
      // No key: the API's 401, with a hint.
      assertFailed(
        await s.jq(["stats"], { JQ_API_KEY: "" }),
        1,
        /^jq: 401 unauthorized: .+ \(set JQ_API_KEY\)$/,
      );
      // Nothing listening.
      assertFailed(
        await s.jq(["stats"], { JQ_URL: `http://127.0.0.1:${freePort()}` }),
        1,
        /^jq: cannot reach the API at http:\/\/127\.0\.0\.1:\d+: connection refused/,
      );
      // Something that is not the API.
      const other = Deno.serve(
        { hostname: "127.0.0.1", port: 0, onListen() {} },
        () => new Response("<html>hi</html>", { status: 200 }),
      );
      try {
        assertFailed(
          await s.jq(["stats"], { JQ_URL: `http://127.0.0.1:${other.addr.port}` }),
          1,
          /^jq: 200 from .+: the answer is not JSON \(is JQ_URL the API\?\)$/,
        );
      } finally {
        await other.shutdown();
      }
      assertFailed(await s.jq(["stats"], { JQ_URL: "ftp://x" }), 1, /^jq: JQ_URL must be http/);
      // Command lines it cannot run: exit 2 with the usage.
      assertFailed(await s.jq(["nosuch"]), 2, /^jq: unknown command "nosuch"$/);
      assertFailed(
        await s.jq(["jobs", "list", "--colour", "red"]),
        2,
        /^jq: unknown option --colour$/,
      );
      assertFailed(await s.jq(["jobs", "show"]), 2, /^jq: expected ID$/);
      assertFailed(await s.jq(["jobs", "list", "--limit"]), 2, /^jq: --limit needs a value$/);
      assertFailed(await s.jq([]), 2, /^usage: deno task jq/);
      const help = await s.jq(["--help"]);
      assert.strictEqual(help.code, 0);
      assert.match(help.out, /^usage: deno task jq <command>/);
      // The API's validation error, as one line.
      assertFailed(
        await s.jq(["jobs", "list", "--status", "bogus"]),
        1,
        /^jq: 400 \S+: .+/,
      );
    } finally {
      await s.close();
    }
  },
});

Deno.test({
  name: "jq: `deno task jq` as a process: a table and exit 0, one stderr line and exit 1",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await startService();
    const run = async (env: Record<string, string>, ...args: string[]) => {
      const out = await new Deno.Command(Deno.execPath(), {
        args: ["task", "--quiet", "jq", ...args],
        cwd: ROOT,
        env: { JQ_URL: s.url, JQ_API_KEY: s.admin, NO_COLOR: "1", ...env },
        stdin: "null",
      }).output();
      const dec = new TextDecoder();
      return { code: out.code, out: dec.decode(out.stdout), err: dec.decode(out.stderr) };
    };
    try {
      const ok = await run({}, "queues");
      assert.strictEqual(ok.code, 0, ok.err);
      assert.match(ok.out, /^QUEUE\s+PAUSED/);
      const refused = await run({ JQ_URL: `http://127.0.0.1:${freePort()}` }, "stats");
      assert.strictEqual(refused.code, 1);
      assert.strictEqual(refused.out, "");
      assert.match(refused.err, /^jq: cannot reach the API at .+\n$/);
      const usage = await run({}, "bogus");
      assert.strictEqual(usage.code, 2);
    } finally {
      await s.close();
    }
  },
});

/** The README's CLI block (after `<!-- readme-test: cli -->`): its `deno task jq` lines. */
async function readmeCommands(): Promise<string[][]> {
  const readme = await Deno.readTextFile(`${ROOT}README.md`);
  const at = readme.indexOf("<!-- readme-test: cli -->");
  assert.ok(at >= 0, "README has the cli marker");
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  assert.ok(block);
  return block[1].split("\n")
    .map((line) => line.replace(/\s+#.*$/, "").trim())
    .filter((line) => line.startsWith("deno task jq "))
    .map((line) =>
      [...line.slice("deno task jq ".length).matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2])
    );
}

Deno.test({
  name: "jq: the README's examples run as written against the real API",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const s = await startService();
    try {
      // What the examples name: a queue "reports", a cancelled job, a schedule, a worker, a key.
      const job = (await s.broker.enqueue({
        type: "compute",
        queue: "reports",
        payload: { duration_ms: 1 },
      })).id;
      await s.broker.cancel(job);
      await s.api("/api/v1/queues");
      const created = await fetch(`${s.url}/api/v1/schedules`, {
        method: "POST",
        headers: { authorization: `Bearer ${s.admin}`, "content-type": "application/json" },
        body: JSON.stringify({
          name: "nightly",
          cron: "30 2 * * *",
          type: "compute",
          payload: { duration_ms: 1 },
        }),
      });
      assert.strictEqual(created.status, 201, await created.text());
      await s.broker.beatWorker(report);
      const key = JSON.parse((await s.jq(["keys", "create", "--name", "gone", "--json"])).out).id;
      const vars: Record<string, string> = {
        $JOB_ID: job,
        $WORKER_ID: s.broker.owner,
        $KEY_ID: key,
      };
      const commands = await readmeCommands();
      assert.ok(commands.length >= 14, `${commands.length} examples`);
      for (const words of commands) {
        const args = words.map((w) => vars[w] ?? w);
        const ran = await s.jq(args);
        assert.strictEqual(ran.code, 0, `jq ${args.join(" ")}: ${ran.err}`);
        assert.ok(ran.out.length > 0, `jq ${args.join(" ")} printed something`);
      }
    } finally {
      await s.close();
    }
  },
});
