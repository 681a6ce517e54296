/**
 * Every built-in job type end to end: submitted through the API app, run by a
 * real worker process (`worker_main.ts`) whose threads have only the
 * permissions the type declares, against local servers the operator allows
 * through OUTBOUND_ALLOW. And the least-privilege refusals: a file
 * destination outside DATA_PROCESS_OUTPUT_DIR (at submit, and through a
 * symlink in the handler), a literal loopback URL (at submit), a name
 * resolving to loopback and a redirect to loopback (in the handler, failing
 * at once without retries and without reaching the target).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { assertError, postJson, startApi } from "../api/helpers.ts";
import { spawnWorker, waitFor } from "../worker/helpers.ts";
import { startSmtpServer } from "../helpers/smtp_server.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { configureJobSettings, jobSettingsFrom } from "../../src/jobs/job_settings.ts";
import type { Job } from "../../src/queue/job.ts";
import type { RedisBroker } from "../../src/queue/redis_broker.ts";

const RECORDS = [
  { id: 1, status: "active", amount: 3 },
  { id: 2, status: "inactive", amount: 5 },
  { id: 3, status: "active", amount: 4 },
];

/** A loopback HTTP server counting its requests. */
function server(handler: (req: Request, url: URL) => Response | Promise<Response>) {
  const seen: Array<{ method: string; path: string; body: string }> = [];
  const s = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const url = new URL(req.url);
    seen.push({ method: req.method, path: url.pathname, body: await req.text() });
    return handler(req, url);
  });
  return { port: s.addr.port, seen, close: () => s.shutdown() };
}

async function submit(app: Parameters<typeof postJson>[0], body: unknown): Promise<string> {
  const res = await postJson(app, "/api/v1/jobs", body);
  const json = await res.json() as { job_id?: string };
  assert.strictEqual(res.status, 201, JSON.stringify(json));
  return json.job_id!;
}

async function settled(broker: RedisBroker, id: string): Promise<Job> {
  return await waitFor(`job ${id} settled`, async () => {
    const job = await broker.get(id);
    return job && (job.status === "completed" || job.status === "failed") ? job : null;
  }, 30_000);
}

/** The settings a worker gets from `env`, mirrored in this process for the API's submit checks. */
function operatorEnv(dataDir: string, allow: string[], extra: Record<string, string> = {}) {
  const env = {
    DATA_DIR: dataDir,
    DATA_PROCESS_OUTPUT_DIR: join(dataDir, "output"),
    EMAIL_OUTBOX_DIR: join(dataDir, "outbox"),
    OUTBOUND_ALLOW: allow.join(","),
    ...extra,
  };
  configureJobSettings(jobSettingsFrom({ ...env, OUTBOUND_ALLOW: allow }));
  return env;
}

Deno.test({
  name: "built-in types through a real worker with their declared permissions, and their refusals",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async (t) => {
    const redis = await TestRedis.start();
    const api = await startApi({ redis });
    const dataDir = await Deno.realPath(await Deno.makeTempDir({ prefix: "jq-builtins-" }));
    const outside = await Deno.makeTempDir({ prefix: "jq-builtins-outside-" });
    const internal = server(() => new Response("internal secret"));
    const source = server(() => Response.json(RECORDS));
    const hook = server(() => new Response("hook received"));
    const redirector = server((_req, url) =>
      url.pathname === "/internal"
        ? Response.redirect(`http://127.0.0.1:${internal.port}/`, 302)
        : new Response("no")
    );
    const env = operatorEnv(dataDir, [
      `127.0.0.1:${source.port}`,
      `127.0.0.1:${hook.port}`,
      `127.0.0.1:${redirector.port}`,
    ]);
    const worker = spawnWorker(
      redis.url,
      ["--queue", api.broker.defaultQueue, "--threads", "1"],
      env,
    );
    try {
      await t.step("email: to the outbox", async () => {
        const id = await submit(api.app, {
          type: "email",
          payload: {
            to: "user@example.com",
            from: "noreply@example.com",
            subject: "Hi",
            body: "Yo",
          },
        });
        const job = await settled(api.broker, id);
        assert.strictEqual(job.status, "completed", job.error ?? undefined);
        assert.deepStrictEqual(job.result, {
          message_id: `${id}@example.com`,
          transport: "file",
          recipients: 1,
        });
        const eml = await Deno.readTextFile(join(dataDir, "outbox", `${id}@example.com.eml`));
        assert.match(eml, /^Subject: Hi\r$/m);
      });

      await t.step("webhook: to an allowed local server", async () => {
        const id = await submit(api.app, {
          type: "webhook",
          payload: { url: `http://127.0.0.1:${hook.port}/in`, body: { n: 1 } },
        });
        const job = await settled(api.broker, id);
        assert.strictEqual(job.status, "completed", job.error ?? undefined);
        assert.deepStrictEqual(job.result, {
          status: 200,
          body: "hook received",
          truncated: false,
        });
        assert.deepStrictEqual(hook.seen.at(-1), { method: "POST", path: "/in", body: '{"n":1}' });
      });

      await t.step("data_process: writes a file destination inside its folder", async () => {
        const dest = join(dataDir, "output", "reports", "active.json");
        const id = await submit(api.app, {
          type: "data_process",
          payload: {
            source_url: `http://127.0.0.1:${source.port}/data`,
            operation: "filter",
            filters: { status: "active" },
            destination: `file://${dest}`,
          },
        });
        const job = await settled(api.broker, id);
        assert.strictEqual(job.status, "completed", job.error ?? undefined);
        assert.strictEqual(
          (job.result as { destination_written: boolean }).destination_written,
          true,
        );
        assert.deepStrictEqual(JSON.parse(await Deno.readTextFile(dest)), [RECORDS[0], RECORDS[2]]);
        const left = [...Deno.readDirSync(join(dataDir, "output", "reports"))].map((e) => e.name);
        assert.deepStrictEqual(left, ["active.json"], "no temp file left behind");
      });

      await t.step("compute: runs on the fully restricted threads", async () => {
        const id = await submit(api.app, { type: "compute", payload: { duration_ms: 1 } });
        const job = await settled(api.broker, id);
        assert.strictEqual(job.status, "completed", job.error ?? undefined);
      });

      await t.step(
        "data_process: a destination outside its folder is refused at submit",
        async () => {
          const before = (await api.broker.stats()).total;
          for (
            const destination of [
              `file://${outside}/x.json`,
              `file://${dataDir}/output/../escaped.json`,
              `file://${dataDir}/output/..%2Fescaped.json`,
              `file://${dataDir}/output/`,
            ]
          ) {
            const res = await postJson(api.app, "/api/v1/jobs", {
              type: "data_process",
              payload: {
                source_url: `http://127.0.0.1:${source.port}/`,
                operation: "filter",
                destination,
              },
            });
            const error = await assertError(res, 422, "validation_error");
            assert.match(JSON.stringify(error), /DATA_PROCESS_OUTPUT_DIR/, destination);
          }
          assert.strictEqual((await api.broker.stats()).total, before, "nothing was stored");
          assert.deepStrictEqual([...Deno.readDirSync(outside)], []);
        },
      );

      await t.step(
        "data_process: a symlink out of its folder is refused by the handler",
        async () => {
          await Deno.symlink(outside, join(dataDir, "output", "link"));
          const id = await submit(api.app, {
            type: "data_process",
            payload: {
              source_url: `http://127.0.0.1:${source.port}/`,
              operation: "filter",
              destination: `file://${dataDir}/output/link/sub/x.json`,
            },
          });
          const job = await settled(api.broker, id);
          assert.strictEqual(job.status, "failed");
          assert.strictEqual(job.attempts, 1, "not retried");
          assert.match(job.error ?? "", /leads outside DATA_PROCESS_OUTPUT_DIR .* symlink/);
          assert.deepStrictEqual([...Deno.readDirSync(outside)], [], "nothing created outside");
        },
      );

      await t.step("SSRF: a literal loopback address is refused at submit", async () => {
        for (
          const [type, payload] of [
            ["webhook", { url: `http://127.0.0.1:${internal.port}/` }],
            ["webhook", { url: "http://[::1]/" }],
            ["webhook", { url: "http://169.254.169.254/latest/meta-data/" }],
            ["data_process", {
              source_url: `http://127.0.0.1:${internal.port}/`,
              operation: "filter",
            }],
          ] as const
        ) {
          const res = await postJson(api.app, "/api/v1/jobs", { type, payload });
          const error = await assertError(res, 422, "validation_error");
          assert.match(JSON.stringify(error), /refused: (loopback|cloud metadata) address/);
        }
      });

      await t.step("SSRF: a name resolving to loopback is refused when the job runs", async () => {
        for (
          const [type, payload] of [
            ["webhook", { url: `http://localhost:${internal.port}/` }],
            ["data_process", {
              source_url: `http://localhost:${internal.port}/`,
              operation: "filter",
            }],
          ] as const
        ) {
          const id = await submit(api.app, { type, payload, max_attempts: 3 });
          const job = await settled(api.broker, id);
          assert.strictEqual(job.status, "failed", type);
          assert.strictEqual(job.attempts, 1, `${type}: a refusal is not retried`);
          assert.match(
            job.error ?? "",
            new RegExp(`localhost:${internal.port} \\(127\\.0\\.0\\.1\\) refused: loopback`),
          );
        }
        assert.strictEqual(internal.seen.length, 0, "the internal server was never reached");
      });

      await t.step("SSRF: a redirect from an allowed server to loopback is refused", async () => {
        const id = await submit(api.app, {
          type: "webhook",
          payload: { url: `http://127.0.0.1:${redirector.port}/internal`, method: "GET" },
          max_attempts: 3,
        });
        const job = await settled(api.broker, id);
        assert.strictEqual(job.status, "failed");
        assert.strictEqual(job.attempts, 1);
        assert.match(job.error ?? "", new RegExp(`127\\.0\\.0\\.1:${internal.port} refused`));
        assert.strictEqual(redirector.seen.length, 1, "the allowed hop was made");
        assert.strictEqual(internal.seen.length, 0, "the redirect target was not");
      });
    } finally {
      worker.kill("SIGTERM");
      await worker.status;
      configureJobSettings(undefined);
      await Promise.all([internal.close(), source.close(), hook.close(), redirector.close()]);
      await api.close();
      await redis.close();
      await Deno.remove(dataDir, { recursive: true });
      await Deno.remove(outside, { recursive: true });
    }
  },
});

Deno.test({
  name: "email through a real worker to a real SMTP server (smtp-server), net to that host only",
  sanitizeOps: false,
  sanitizeResources: false,
  fn: async () => {
    const redis = await TestRedis.start();
    const api = await startApi({ redis });
    const smtp = await startSmtpServer();
    const dataDir = await Deno.realPath(await Deno.makeTempDir({ prefix: "jq-builtins-smtp-" }));
    const env = operatorEnv(dataDir, [`127.0.0.1:${smtp.port}`], {
      SMTP_URL: `smtp://127.0.0.1:${smtp.port}`,
      SMTP_HELO: "worker.test",
    });
    const worker = spawnWorker(
      redis.url,
      ["--queue", api.broker.defaultQueue, "--threads", "1"],
      env,
    );
    try {
      const id = await submit(api.app, {
        type: "email",
        payload: {
          to: "user@example.com",
          cc: ["boss@example.com"],
          from: "noreply@example.com",
          subject: "Welcome!",
          body: "Thanks for signing up",
        },
      });
      const job = await settled(api.broker, id);
      assert.strictEqual(job.status, "completed", job.error ?? undefined);
      assert.deepStrictEqual(job.result, {
        message_id: `${id}@example.com`,
        transport: "smtp",
        recipients: 2,
      });
      assert.strictEqual(smtp.received.length, 1);
      const mail = smtp.received[0];
      assert.strictEqual(mail.from, "noreply@example.com");
      assert.deepStrictEqual(mail.to, ["user@example.com", "boss@example.com"]);
      assert.match(mail.raw, /^Subject: Welcome!\r$/m);
      assert.match(mail.raw, new RegExp(`^Message-ID: <${id}@example\\.com>\\r$`, "m"));
      // SMTP mode writes nothing: no outbox appears.
      await assert.rejects(Deno.stat(join(dataDir, "outbox")), Deno.errors.NotFound);
    } finally {
      worker.kill("SIGTERM");
      await worker.status;
      configureJobSettings(undefined);
      await smtp.close();
      await api.close();
      await redis.close();
      await Deno.remove(dataDir, { recursive: true });
    }
  },
});
