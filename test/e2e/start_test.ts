/**
 * The all-in-one `deno task start`, as a user runs it: a real process tree
 * (API + supervised worker) against a throwaway redis-server, driven with the
 * spec's own curl examples sent as fetches.
 */
import assert from "node:assert/strict";
import { startService, waitFor } from "./start_service.ts";

async function json(res: Response): Promise<Record<string, unknown>> {
  return await res.json() as Record<string, unknown>;
}

Deno.test("deno task start runs the spec's email and data_process examples to completion", async () => {
  // The spec's data_process example fetches https://api.example.com/data; this
  // machine has no internet, so the same payload points at a local source.
  const records = [
    { id: 1, status: "active", name: "a" },
    { id: 2, status: "inactive", name: "b" },
    { id: 3, status: "active", name: "c" },
  ];
  const source = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => Response.json(records),
  );
  // A loopback source is not a public address: the operator allows this one.
  const service = await startService({ OUTBOUND_ALLOW: `127.0.0.1:${source.addr.port}` });
  const base = service.origin;
  try {
    // Usage example 1, verbatim.
    const emailRes = await fetch(`${base}/api/v1/jobs`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "email",
        payload: {
          to: "user@example.com",
          subject: "Welcome!",
          body: "Thanks for signing up",
          from: "noreply@example.com",
        },
        max_attempts: 3,
        priority: 5,
      }),
    });
    assert.strictEqual(emailRes.status, 201);
    const email = await json(emailRes);
    assert.deepStrictEqual(Object.keys(email), ["job_id"]);
    assert.match(String(email.job_id), /^[0-9a-f-]{36}$/);

    // Usage example 2, with the source served locally.
    const dataRes = await fetch(`${base}/api/v1/jobs`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({
        type: "data_process",
        payload: {
          source_url: `http://127.0.0.1:${source.addr.port}/data`,
          operation: "transform",
          filters: { status: "active" },
          destination: "s3://bucket/output",
        },
        max_attempts: 5,
        priority: 8,
      }),
    });
    assert.strictEqual(dataRes.status, 201);
    const data = await json(dataRes);

    for (const id of [email.job_id, data.job_id]) {
      const job = await waitFor(`job ${id} completed`, 30_000, async () => {
        const body = await json(await fetch(`${base}/api/v1/jobs/${id}`));
        return body.status === "completed" ? body : null;
      });
      // The spec's status fields.
      assert.strictEqual(job.job_id, id);
      assert.strictEqual(job.attempts, 1);
      assert.ok(!Number.isNaN(Date.parse(String(job.started_at))));
      assert.ok(Date.parse(String(job.completed_at)) >= Date.parse(String(job.started_at)));
    }
    const processed = await json(await fetch(`${base}/api/v1/jobs/${data.job_id}`));
    assert.strictEqual(JSON.stringify(processed.result).includes('"inactive"'), false);
    assert.ok(JSON.stringify(processed.result).includes('"c"'));

    const stats = await json(await fetch(`${base}/api/v1/stats`));
    for (const key of ["pending", "running", "completed", "failed", "total"]) {
      assert.strictEqual(typeof stats[key], "number", key);
    }
    assert.strictEqual(stats.completed, 2);
    assert.strictEqual(stats.total, 2);

    const outbox = [...Deno.readDirSync(`${service.dataDir}/outbox`)].map((e) => e.name);
    assert.strictEqual(outbox.length, 1);
    const eml = await Deno.readTextFile(`${service.dataDir}/outbox/${outbox[0]}`);
    assert.match(eml, /^Subject: Welcome!/m);

    // The all-in-one's worker registered itself like any worker process.
    const { workers } = await json(await fetch(`${base}/api/v1/workers`)) as {
      workers: Array<{ stale: boolean; version: string }>;
    };
    assert.strictEqual(workers.length, 1);
    assert.strictEqual(workers[0].stale, false);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    assert.match(metrics, /jobqueue_jobs_completed_total\{job_type="email"\} 1/);
    assert.match(metrics, /^jobqueue_workers 1$/m);
    const page = await fetch(`${base}/`);
    assert.match(await page.text(), /<html/i);
  } finally {
    const code = await service.stop();
    await source.shutdown();
    assert.strictEqual(code, 0, "start exits 0 after SIGTERM");
  }
});
