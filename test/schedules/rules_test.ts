/**
 * The schedules' pure rules with an injected clock: validation of what a
 * caller writes, the ticks of cron (DST in Europe/Paris both ways) and of
 * intervals, and what catch-up and overlap decide after downtime. No Redis,
 * no waiting.
 */
import assert from "node:assert/strict";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { cadenceOf, nextTicks } from "../../src/schedules/cadence.ts";
import { parseSchedule, type ScheduleDefinition } from "../../src/schedules/schedule.ts";
import { decide, type ScheduleState } from "../../src/schedules/state.ts";

const registry = await loadRegistry();
const JOB = { type: "compute", payload: { duration_ms: 1 } };

function refused(input: Record<string, unknown>): Array<{ path: string; message: string }> {
  const r = parseSchedule({ name: "s", ...JOB, ...input }, registry, "api");
  assert.ok(!r.ok, `refused: ${JSON.stringify(input)}`);
  return r.issues;
}

function definition(input: Record<string, unknown>): ScheduleDefinition {
  const r = parseSchedule({ name: "s", ...JOB, ...input }, registry, "api");
  if (!r.ok) throw new Error(JSON.stringify(r.issues));
  return r.definition;
}

Deno.test("schedule validation: each bad input names its field", () => {
  assert.strictEqual(refused({ cron: "61 * * * *" })[0].path, "cron");
  assert.strictEqual(refused({ cron: "* * *" })[0].path, "cron");
  assert.strictEqual(refused({ cron: "0 3 * * *", timezone: "Mars/Olympus" })[0].path, "timezone");
  assert.strictEqual(refused({ every_ms: 999 })[0].path, "every_ms");
  assert.strictEqual(refused({})[0].path, "cron", "neither cron nor every_ms");
  assert.strictEqual(refused({ cron: "* * * * *", every_ms: 1000 })[0].path, "cron", "both");
  assert.strictEqual(
    refused({
      every_ms: 1000,
      start_at: "2026-01-02T00:00:00Z",
      end_at: "2026-01-01T00:00:00Z",
    })[0].path,
    "end_at",
  );
  assert.strictEqual(refused({ every_ms: 1000, type: "nope" })[0].path, "type");
  assert.strictEqual(
    refused({ every_ms: 1000, payload: { duration_ms: "soon" } })[0].path,
    "payload.duration_ms",
  );
  assert.strictEqual(refused({ every_ms: 1000, overlap: "sometimes" })[0].path, "overlap");
  assert.strictEqual(refused({ every_ms: 1000, name: "no spaces" })[0].path, "name");
});

Deno.test("schedule validation: defaults and the stored payload as the schema parsed it", () => {
  const d = definition({ cron: "30 2 * * *" });
  assert.strictEqual(d.timezone, "UTC");
  assert.strictEqual(d.overlap, "allow");
  assert.strictEqual(d.catch_up, "none");
  assert.strictEqual(d.every_ms, null);
  assert.deepStrictEqual(d.job, JOB);
});

Deno.test("cadence: every_ms ticks at multiples from start_at (or the epoch)", () => {
  const c = cadenceOf(definition({ every_ms: 60_000 }));
  assert.strictEqual(c.nextAfter(Date.UTC(2026, 0, 1, 0, 0, 30)), Date.UTC(2026, 0, 1, 0, 1));
  assert.strictEqual(c.nextAfter(Date.UTC(2026, 0, 1, 0, 1)), Date.UTC(2026, 0, 1, 0, 2));
  const anchored = cadenceOf(
    definition({
      every_ms: 1000,
      start_at: "2026-01-01T00:00:00.500Z",
      end_at: "2026-01-01T00:00:02.500Z",
    }),
  );
  assert.deepStrictEqual(nextTicks(anchored, 0, 5), [
    Date.UTC(2026, 0, 1, 0, 0, 0, 500),
    Date.UTC(2026, 0, 1, 0, 0, 1, 500),
    Date.UTC(2026, 0, 1, 0, 0, 2, 500),
  ]);
});

Deno.test("cadence: 02:30 Europe/Paris runs once on the spring-forward day and once on the fall-back day", () => {
  const c = cadenceOf(definition({ cron: "30 2 * * *", timezone: "Europe/Paris" }));
  // 29 March 2026: 02:00 CET jumps to 03:00 CEST; croner runs the missing 02:30 at 03:30 CEST.
  const spring = nextTicks(c, Date.parse("2026-03-27T12:00:00Z"), 3).map((t) =>
    new Date(t).toISOString()
  );
  assert.deepStrictEqual(spring, [
    "2026-03-28T01:30:00.000Z",
    "2026-03-29T01:30:00.000Z",
    "2026-03-30T00:30:00.000Z",
  ]);
  // 25 October 2026: 03:00 CEST falls back to 02:00 CET, so 02:30 happens twice; it runs once.
  const fall = nextTicks(c, Date.parse("2026-10-24T12:00:00Z"), 3).map((t) =>
    new Date(t).toISOString()
  );
  assert.deepStrictEqual(fall, [
    "2026-10-25T01:30:00.000Z",
    "2026-10-26T01:30:00.000Z",
    "2026-10-27T01:30:00.000Z",
  ]);
  // Every 30 minutes through the fall-back night: each instant once, none twice.
  const half = cadenceOf(definition({ cron: "*/30 * * * *", timezone: "Europe/Paris" }));
  const night = nextTicks(half, Date.parse("2026-10-24T23:59:00Z"), 8);
  assert.strictEqual(new Set(night).size, 8);
  assert.deepStrictEqual(
    night.slice(1).map((t, i) => t - night[i]),
    Array(7).fill(30 * 60_000),
    "30 real minutes apart through the repeated hour",
  );
});

Deno.test("cadence: a 6-field cron ticks on seconds", () => {
  const c = cadenceOf(definition({ cron: "*/5 * * * * *" }));
  assert.strictEqual(c.nextAfter(Date.UTC(2026, 0, 1, 0, 0, 5)), Date.UTC(2026, 0, 1, 0, 0, 10));
});

function stateAt(next: number): ScheduleState {
  return { v: 1, created_at: 0, cadence: "", next };
}

Deno.test("decide: catch_up after a 5 s outage of a 1 s cadence, for each policy", () => {
  const t0 = Date.UTC(2026, 0, 1);
  // Down from before t0+1s until t0+5.3s: ticks t0+1..t0+5 are due; t0+5 is the current one.
  const now = t0 + 5300;
  const due = [1, 2, 3, 4, 5].map((s) => t0 + s * 1000);
  for (
    const [catch_up, ticks, skipped] of [
      ["none", [due[4]], { missed: 4 }],
      ["one", [due[3], due[4]], { missed: 3 }],
      ["all", due, {}],
    ] as const
  ) {
    const d = definition({ every_ms: 1000, catch_up });
    const r = decide(d, cadenceOf(d), stateAt(due[0]), now, false);
    assert.deepStrictEqual(r.ticks, ticks, catch_up);
    assert.deepStrictEqual(r.skipped, skipped, catch_up);
    assert.strictEqual(r.next, t0 + 6000);
  }
});

Deno.test("decide: catch_up all is bounded at 100; a stale tick is missed too", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const d = definition({ every_ms: 1000, catch_up: "all" });
  const r = decide(d, cadenceOf(d), stateAt(t0), t0 + 300_500, false);
  assert.strictEqual(r.ticks.length, 101, "100 missed + the current one");
  assert.deepStrictEqual(r.skipped, { catch_up_limit: 200 });
  const daily = definition({ cron: "0 3 * * *", catch_up: "none" });
  const late = decide(
    daily,
    cadenceOf(daily),
    stateAt(t0 + 3 * 3600_000),
    t0 + 9 * 3600_000,
    false,
  );
  assert.deepStrictEqual(late.ticks, [], "six hours late is missed, not run");
  assert.deepStrictEqual(late.skipped, { missed: 1 });
});

Deno.test("decide: overlap skip runs nothing while the previous job is active, one tick otherwise", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const d = definition({ every_ms: 1000, overlap: "skip", catch_up: "all" });
  const busy = decide(d, cadenceOf(d), stateAt(t0), t0 + 10, true);
  assert.deepStrictEqual(busy.ticks, []);
  assert.deepStrictEqual(busy.skipped, { overlap: 1 });
  const free = decide(d, cadenceOf(d), stateAt(t0), t0 + 3010, false);
  assert.deepStrictEqual(free.ticks, [t0 + 3000]);
  assert.deepStrictEqual(free.skipped, { overlap: 3 });
});

Deno.test("decide: after a resume, a tick that fell in the pause is missed however recent", () => {
  const t0 = Date.UTC(2026, 0, 1);
  const d = definition({ every_ms: 1000 });
  const state = { ...stateAt(t0 + 1000), resumed_at: t0 + 2500 };
  const r = decide(d, cadenceOf(d), state, t0 + 2600, false);
  assert.deepStrictEqual(r.ticks, []);
  assert.deepStrictEqual(r.skipped, { missed: 2 });
  assert.strictEqual(r.next, t0 + 3000);
  const later = decide(d, cadenceOf(d), { ...state, next: t0 + 3000 }, t0 + 3010, false);
  assert.deepStrictEqual(later.ticks, [t0 + 3000], "the ticks after the resume run");
});
