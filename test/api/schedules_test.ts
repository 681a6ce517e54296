/**
 * The schedules' HTTP API over a real broker and Redis: bad input is 422 with
 * the field and its reason and stores nothing, an unknown name is 404, a
 * taken one 409; a triggered job's status names its schedule and tick, and
 * `GET /jobs?schedule=` lists the jobs a schedule produced.
 */
import assert from "node:assert/strict";
import { createApp } from "../../src/api/app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { startSchedules } from "../../src/schedules/runtime.ts";
import { TestRedis } from "../helpers/redis_server.ts";

const COMPUTE = { type: "compute", payload: { duration_ms: 1 } };
const S = "/api/v1/schedules";

Deno.test("schedules API: 422 per bad field, 409, 404, trigger, job status and ?schedule=", async () => {
  const redis = await TestRedis.start();
  const broker = new RedisBroker({ url: redis.url, queue: "apis" });
  const registry = await loadRegistry();
  const log = createLogger({ level: "silent" });
  const schedules = await startSchedules({ url: redis.url, broker, registry, log, tick: false });
  const app = createApp({ broker, registry, log, schedules: schedules.service });
  const send = async (method: string, path: string, body?: unknown) => {
    const res = await app.request(path, {
      method,
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: await res.json() };
  };
  try {
    const bad: Array<[Record<string, unknown>, string]> = [
      [{ cron: "not cron" }, "cron"],
      [{ cron: "0 3 * * *", timezone: "Nowhere/Land" }, "timezone"],
      [{ every_ms: 500 }, "every_ms"],
      [{ cron: "* * * * *", every_ms: 1000 }, "cron"],
      [{}, "cron"],
      [
        { every_ms: 1000, start_at: "2030-01-02T00:00:00Z", end_at: "2030-01-01T00:00:00Z" },
        "end_at",
      ],
      [{ every_ms: 1000, type: "fax" }, "type"],
      [{ every_ms: 1000, payload: { duration_ms: -1 } }, "payload.duration_ms"],
    ];
    for (const [fields, path] of bad) {
      const r = await send("POST", S, { name: "x", ...COMPUTE, ...fields });
      assert.strictEqual(r.status, 422, JSON.stringify(fields));
      assert.strictEqual(r.body.error.code, "validation_error");
      assert.ok(
        r.body.error.details.issues.some((i: { path: string }) => i.path === path),
        `${JSON.stringify(fields)}: ${JSON.stringify(r.body.error.details)}`,
      );
    }
    assert.deepStrictEqual((await send("GET", S)).body, { schedules: [] }, "nothing stored");
    assert.strictEqual((await send("GET", `${S}/x`)).status, 404);
    assert.strictEqual((await send("POST", `${S}/x/trigger`)).status, 404);

    const created = await send("POST", S, {
      name: "hourly",
      cron: "0 * * * *",
      timezone: "Europe/Paris",
      ...COMPUTE,
    });
    assert.strictEqual(created.status, 201);
    assert.strictEqual(created.body.next_runs.length, 5);
    assert.strictEqual(created.body.paused, false);
    assert.strictEqual(created.body.last_job_id, null);
    assert.strictEqual(
      (await send("POST", S, { name: "hourly", every_ms: 1000, ...COMPUTE })).status,
      409,
    );
    const put = await send("PUT", `${S}/hourly`, { cron: "30 * * * *", ...COMPUTE });
    assert.strictEqual(put.status, 200);
    assert.strictEqual(put.body.cron, "30 * * * *");

    const trig = await send("POST", `${S}/hourly/trigger`);
    assert.strictEqual(trig.status, 201);
    const job = await send("GET", `/api/v1/jobs/${trig.body.job_id}`);
    assert.strictEqual(job.body.schedule, "hourly");
    assert.strictEqual(job.body.schedule_tick, trig.body.tick);
    const listed = await send("GET", "/api/v1/jobs?schedule=hourly");
    assert.deepStrictEqual(listed.body.jobs.map((j: { job_id: string }) => j.job_id), [
      trig.body.job_id,
    ]);
    assert.strictEqual(
      (await send("GET", "/api/v1/jobs?schedule=hourly&status=completed")).body.jobs.length,
      0,
    );
    assert.strictEqual((await send("GET", "/api/v1/jobs?schedule=nope")).status, 404);
    const view = await send("GET", `${S}/hourly`);
    assert.strictEqual(view.body.last_job_id, trig.body.job_id);
    assert.strictEqual(view.body.last_status, "pending");

    assert.strictEqual((await send("POST", `${S}/hourly/pause`)).body.paused, true);
    assert.strictEqual((await send("POST", `${S}/hourly/resume`)).body.paused, false);
    assert.deepStrictEqual((await send("DELETE", `${S}/hourly`)).body, {
      name: "hourly",
      deleted: true,
    });
    assert.strictEqual((await send("DELETE", `${S}/hourly`)).status, 404);
    // A plain job carries no schedule.
    const plain = (await broker.enqueue(COMPUTE)).id;
    assert.strictEqual((await send("GET", `/api/v1/jobs/${plain}`)).body.schedule, undefined);
  } finally {
    await schedules.close();
    await broker.close();
    await redis.close();
  }
});
