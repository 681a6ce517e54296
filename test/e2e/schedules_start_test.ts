/**
 * `deno task start` with schedules: the API and its worker both run the
 * scheduler loop, a schedule made over HTTP ticks once a second with one job
 * per tick, the worker runs them, and /metrics counts the ticks.
 */
import assert from "node:assert/strict";
import { type StartedService, startService, waitFor } from "./start_service.ts";

/** A JSON request to the service's API. */
function apiOf(service: StartedService) {
  return (path: string, init: RequestInit = {}) =>
    fetch(`${service.origin}/api/v1${path}`, {
      ...init,
      headers: { "content-type": "application/json" },
    });
}

Deno.test("start: a schedule over HTTP ticks once per second, one job per tick, run by the worker", async () => {
  const service = await startService();
  try {
    const api = apiOf(service);
    const created = await api("/schedules", {
      method: "POST",
      body: JSON.stringify({
        name: "sec",
        every_ms: 1000,
        type: "compute",
        payload: { duration_ms: 1 },
      }),
    });
    assert.strictEqual(created.status, 201, await created.text());
    await new Promise((r) => setTimeout(r, 4500));
    await api("/schedules/sec/pause", { method: "POST" }).then((r) => r.body?.cancel());
    const jobs = await waitFor("the jobs to complete", 10_000, async () => {
      const page = await (await api("/jobs?schedule=sec&limit=100")).json() as {
        jobs: Array<{ status: string; schedule_tick: string; schedule: string }>;
      };
      return page.jobs.length > 0 && page.jobs.every((j) => j.status === "completed")
        ? page.jobs
        : null;
    });
    const ticks = jobs.map((j) => Date.parse(j.schedule_tick)).sort((a, b) => a - b);
    assert.ok(ticks.length >= 4 && ticks.length <= 5, `4 or 5 ticks: ${ticks.length}`);
    assert.strictEqual(new Set(ticks).size, ticks.length, "one job per tick");
    assert.ok(ticks.every((t, i) => i === 0 || t - ticks[i - 1] === 1000), String(ticks));
    const view = await (await api("/schedules/sec")).json();
    assert.strictEqual(view.paused, true);
    assert.strictEqual(view.last_status, "completed");
    const metrics = await (await fetch(`${service.origin}/metrics`)).text();
    assert.match(metrics, /jobqueue_schedule_lag_seconds_count/);
  } finally {
    await service.stop();
  }
});

Deno.test("start: overlap skip with a 2.5 s job on a 1 s cadence never runs two at once", async () => {
  const service = await startService();
  try {
    const api = apiOf(service);
    const created = await api("/schedules", {
      method: "POST",
      body: JSON.stringify({
        name: "slow",
        every_ms: 1000,
        overlap: "skip",
        type: "compute",
        payload: { duration_ms: 2500 },
      }),
    });
    assert.strictEqual(created.status, 201, await created.text());
    await new Promise((r) => setTimeout(r, 7500));
    await api("/schedules/slow/pause", { method: "POST" }).then((r) => r.body?.cancel());
    const jobs = await waitFor("the jobs to finish", 10_000, async () => {
      const page = await (await api("/jobs?schedule=slow&limit=100")).json() as {
        jobs: Array<{ status: string; started_at: string; completed_at: string }>;
      };
      return page.jobs.every((j) => j.status === "completed") ? page.jobs : null;
    });
    const runs = jobs.map((j) => [Date.parse(j.started_at), Date.parse(j.completed_at)])
      .sort((a, b) => a[0] - b[0]);
    assert.ok(runs.length >= 2 && runs.length <= 3, `2 or 3 jobs in 7.5 s: ${runs.length}`);
    for (let i = 1; i < runs.length; i++) {
      assert.ok(runs[i][0] >= runs[i - 1][1], `job ${i} started before job ${i - 1} finished`);
    }
  } finally {
    await service.stop();
  }
});
