/**
 * Named queues through the HTTP API of `deno task start`, as a user runs it
 * (API + a supervised worker serving every queue, no WORKER_QUEUES): two
 * queues of 50 jobs, one paused; the other drains while every job of the
 * paused one stays pending; resume; all complete. Bad names and unknown
 * queues answer as documented.
 */
import assert from "node:assert/strict";
import { startService, waitFor } from "./start_service.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface QueueInfo {
  name: string;
  paused: boolean;
  pending: number;
  running: number;
  completed: number;
}

Deno.test("deno task start: two queues, one paused, through the HTTP API", async () => {
  const service = await startService();
  const base = `${service.origin}/api/v1`;
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${base}${path}`, {
      method,
      // Bodiless POSTs too: without a JSON type (or a key) they are refused as cross-site.
      headers: body === undefined && method !== "POST"
        ? {}
        : { "Content-Type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() as Record<string, unknown> };
  };
  const queue = async (name: string) =>
    (await call("GET", `/queues/${name}`)).body as unknown as QueueInfo;
  try {
    // Unknown queues are 404 until a job was submitted to them; bad names 422 with the rule.
    assert.strictEqual((await call("GET", "/queues/reports")).status, 404);
    assert.strictEqual((await call("POST", "/queues/reports/pause")).status, 404);
    const bad = await call("POST", "/jobs", { type: "compute", queue: "a b", payload: {} });
    assert.strictEqual(bad.status, 422);
    assert.match(JSON.stringify(bad.body), /1-64 letters, digits/);

    // The first job of "reports" creates it; pause it before the rest arrive.
    const job = (q: string) => ({ type: "compute", queue: q, payload: { duration_ms: 1 } });
    const first = await call("POST", "/jobs", job("reports"));
    assert.strictEqual(first.status, 201);
    assert.match(String(first.body.job_id), /^reports:/);
    assert.deepStrictEqual((await call("POST", "/queues/reports/pause")).body, {
      name: "reports",
      paused: true,
    });
    const batch = (q: string, n: number) =>
      call("POST", "/jobs/batch", { jobs: Array(n).fill(job(q)) });
    assert.strictEqual((await batch("reports", 49)).status, 201);
    assert.strictEqual((await batch("default", 50)).status, 201);

    // The unpaused queue drains (the worker serves every queue, no WORKER_QUEUES)...
    await waitFor("default drained", 30_000, async () => {
      const info = await queue("default");
      return info.completed === 50 ? info : null;
    });
    // ...and every job of the paused one is still pending, none ran.
    const held = await queue("reports");
    assert.strictEqual(held.paused, true);
    assert.strictEqual(held.pending, 50);
    assert.strictEqual(held.running + held.completed, 0);
    const listed = await call("GET", "/jobs?status=pending&queue=reports&limit=100");
    const jobs = listed.body.jobs as Array<{ job_id: string; queue: string }>;
    assert.strictEqual(jobs.length, 50);
    assert.ok(jobs.every((j) => j.queue === "reports" && j.job_id.startsWith("reports:")));
    // The status of one job, found by its id alone.
    const one = await call("GET", `/jobs/${encodeURIComponent(String(first.body.job_id))}`);
    assert.strictEqual(one.body.status, "pending");
    assert.strictEqual(one.body.queue, "reports");

    assert.strictEqual((await call("POST", "/queues/reports/resume")).body.paused, false);
    await waitFor("reports drained", 30_000, async () => {
      const info = await queue("reports");
      return info.completed === 50 ? info : null;
    });
    const stats = (await call("GET", "/stats")).body as {
      completed: number;
      by_queue: Record<string, { completed: number }>;
    };
    assert.strictEqual(stats.completed, 100);
    assert.strictEqual(stats.by_queue.reports.completed, 50);
    assert.strictEqual(stats.by_queue.default.completed, 50);
    const names = ((await call("GET", "/queues")).body.queues as QueueInfo[]).map((q) => q.name);
    assert.deepStrictEqual(names, ["default", "reports"]);
  } finally {
    assert.strictEqual(await service.stop(), 0, "start exits 0 after SIGTERM");
  }
});

Deno.test("deno task start with WORKER_QUEUES=alpha: jobs of beta are never claimed", async () => {
  const service = await startService({ WORKER_QUEUES: "alpha" });
  const base = `${service.origin}/api/v1`;
  const submit = async (queue: string) => {
    const res = await fetch(`${base}/jobs`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ type: "compute", queue, payload: { duration_ms: 1 } }),
    });
    assert.strictEqual(res.status, 201);
    return (await res.json() as { job_id: string }).job_id;
  };
  const status = async (id: string) =>
    (await (await fetch(`${base}/jobs/${encodeURIComponent(id)}`)).json() as { status: string })
      .status;
  try {
    const beta = await Promise.all([1, 2, 3].map(() => submit("beta")));
    const alpha = await submit("alpha");
    await waitFor("alpha's job", 30_000, async () => await status(alpha) === "completed" || null);
    // Past the time a worker serving every queue would need to find beta (~5 s).
    await new Promise((r) => setTimeout(r, 6000));
    for (const id of beta) assert.strictEqual(await status(id), "pending", id);
  } finally {
    assert.strictEqual(await service.stop(), 0, "start exits 0 after SIGTERM");
  }
});

Deno.test("a worker whose WORKER_QUEUES does not parse refuses to start, naming the entry", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "src/main.ts", "worker"],
    cwd: ROOT,
    env: { WORKER_QUEUES: "critical:6,a:x", REDIS_URL: "redis://127.0.0.1:1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  assert.strictEqual(out.code, 2, text);
  assert.match(text, /WORKER_QUEUES/);
  assert.match(text, /entry \\"a:x\\"|entry "a:x"/);
});
