/**
 * The secure default as a user meets it, with real processes: the API
 * refuses to listen on 0.0.0.0 without a key (and says how to make one),
 * starts with AUTH=off or once `deno task keys create` made a key, and that
 * key then works over HTTP until `deno task keys revoke`.
 */
import assert from "node:assert/strict";
import { freePort, TestRedis } from "../helpers/redis_server.ts";
import { waitFor } from "./start_service.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

function env(redis: TestRedis, extra: Record<string, string>): Record<string, string> {
  return { REDIS_URL: redis.url, LOG_LEVEL: "info", LOG_FORMAT: "json", ...extra };
}

async function run(args: string[], vars: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: vars,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** Starts the API role; resolves once /ready answers on loopback. */
async function startApi(vars: Record<string, string>, port: number) {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/main.ts", "api"],
    cwd: ROOT,
    env: { ...vars, PORT: String(port) },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already gone */ }
    return (await child.status).code;
  };
  try {
    await waitFor("/ready", 30_000, async () => {
      const res = await fetch(`http://127.0.0.1:${port}/ready`);
      await res.body?.cancel();
      return res.ok ? true : null;
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return stop;
}

Deno.test({
  name: "auth process: refuses 0.0.0.0 without a key, starts with AUTH=off, keys CLI works",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const dataDir = await Deno.makeTempDir({ prefix: "jq-auth-" });
    const base = env(redis, { DATA_DIR: dataDir });
    try {
      // 1. No key, all interfaces: refused, with the way out in the message.
      const refused = await run(["run", "-A", "src/main.ts", "api"], {
        ...base,
        HOST: "0.0.0.0",
        PORT: String(freePort()),
      });
      assert.strictEqual(refused.code, 2, refused.stderr);
      assert.match(refused.stderr, /refusing to listen on 0\.0\.0\.0 without an API key/);
      assert.match(refused.stderr, /deno task keys create/);

      // 2. AUTH=off: it starts, and serves without keys.
      let port = freePort();
      let stop = await startApi({ ...base, HOST: "0.0.0.0", AUTH: "off" }, port);
      const open = await fetch(`http://127.0.0.1:${port}/api/v1/auth`);
      assert.deepStrictEqual(await open.json(), { auth: "off", key: null });
      assert.strictEqual(await stop(), 0);

      // 3. The first key from the CLI: printed alone on stdout.
      const created = await run(["task", "keys", "create", "--name", "e2e"], base);
      assert.strictEqual(created.code, 0, created.stderr);
      const key = created.stdout.trim();
      assert.match(key, /^jq_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
      assert.match(created.stderr, /only time it is shown/);
      const listed = await run(["task", "keys", "list", "--json"], base);
      assert.strictEqual(listed.code, 0, listed.stderr);
      const [record] = JSON.parse(listed.stdout.trim().split("\n").pop()!).keys;
      assert.strictEqual(record.name, "e2e");
      assert.deepStrictEqual(record.scopes, ["submit", "read", "admin"]);

      // 4. Now it starts on 0.0.0.0, and the key is what lets a call in.
      port = freePort();
      stop = await startApi({ ...base, HOST: "0.0.0.0" }, port);
      const url = `http://127.0.0.1:${port}/api/v1/jobs`;
      const submit = (headers: Record<string, string>) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json", ...headers },
          body: JSON.stringify({ type: "compute", payload: { duration_ms: 1 } }),
        });
      const anonymous = await submit({});
      assert.strictEqual(anonymous.status, 401);
      assert.strictEqual(anonymous.headers.get("www-authenticate"), 'Bearer realm="jobqueue"');
      await anonymous.body?.cancel();
      const ok = await submit({ authorization: `Bearer ${key}` });
      assert.strictEqual(ok.status, 201);
      const rootJob = (await ok.json()).job_id as string;

      // A tenant's key from the CLI: its jobs land in its queues, the others' are unknown to
      // it, and the quota an admin sets holds in the running server.
      const made = await run(
        ["task", "keys", "create", "--name", "acme", "--scopes", "submit,read", "--tenant", "acme"],
        base,
      );
      assert.strictEqual(made.code, 0, made.stderr);
      assert.match(made.stderr, /confined to tenant acme/);
      const asAcme = { authorization: `Bearer ${made.stdout.trim()}` };
      const own = await submit(asAcme);
      assert.strictEqual(own.status, 201);
      assert.match((await own.json()).job_id, /^acme\/default:/);
      const hidden = await fetch(`${url}/${rootJob}`, { headers: asAcme });
      assert.strictEqual(hidden.status, 404);
      await hidden.body?.cancel();
      const quota = await fetch(`http://127.0.0.1:${port}/api/v1/tenants/acme`, {
        method: "PUT",
        headers: { "content-type": "application/json", authorization: `Bearer ${key}` },
        body: JSON.stringify({ max_pending: 1 }),
      });
      assert.strictEqual(quota.status, 201);
      await quota.body?.cancel();
      const over = await submit(asAcme);
      assert.strictEqual(over.status, 429);
      assert.strictEqual((await over.json()).error.code, "quota_exceeded");

      // 5. Revoked from the CLI: the running server refuses it within a second.
      const revoked = await run(["task", "keys", "revoke", record.id], base);
      assert.strictEqual(revoked.code, 0, revoked.stderr);
      const t0 = Date.now();
      await waitFor("the revoke", 2000, async () => {
        const res = await submit({ authorization: `Bearer ${key}` });
        await res.body?.cancel();
        return res.status === 401 ? true : null;
      });
      assert.ok(Date.now() - t0 < 1500, `${Date.now() - t0} ms`);
      assert.strictEqual(await stop(), 0);
    } finally {
      await redis.close();
      await Deno.remove(dataDir, { recursive: true }).catch(() => {});
    }
  },
});

Deno.test({
  name: "auth process: ADMIN_API_KEY lets the API listen on 0.0.0.0 and is an admin key",
  sanitizeOps: false,
  sanitizeResources: false,
  async fn() {
    const redis = await TestRedis.start();
    const admin = "e2e-admin-key-0123456789abcdef0123456789";
    const port = freePort();
    const stop = await startApi(env(redis, { HOST: "0.0.0.0", ADMIN_API_KEY: admin }), port);
    try {
      const who = await fetch(`http://127.0.0.1:${port}/api/v1/auth`, {
        headers: { authorization: `Bearer ${admin}` },
      });
      assert.deepStrictEqual((await who.json()).key.scopes, ["submit", "read", "admin"]);
    } finally {
      assert.strictEqual(await stop(), 0);
      await redis.close();
    }
  },
});
