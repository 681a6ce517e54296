/**
 * Schedules against a real redis-server, with several loops in one test
 * process (each with its own connections): saving, exactly one job per tick,
 * pause, resume, trigger and overlap. The process-level races (kill -9,
 * outages) are in process_test.ts.
 */
import assert from "node:assert/strict";
import { ScheduleExistsError, ScheduleNotFoundError } from "../../src/schedules/store.ts";
import { ScheduleValidationError } from "../../src/schedules/service.ts";
import { contiguous, QUICK, scheduleFixture, wait } from "./helpers.ts";

Deno.test("schedules: save creates, an equal save changes nothing, create refuses a taken name", async () => {
  const f = await scheduleFixture();
  try {
    const { service } = await f.runtime({ tick: false });
    const input = { name: "nightly", cron: "0 3 * * *", timezone: "Europe/Paris", ...QUICK };
    const first = await service.save(input, { create: true });
    assert.strictEqual(first.outcome, "created");
    assert.strictEqual(first.schedule.next_runs.length, 5);
    assert.ok(first.schedule.next_runs.every((t) => t.endsWith(":00:00.000Z")));
    assert.strictEqual((await service.save(input, { create: false })).outcome, "unchanged");
    await assert.rejects(service.save(input, { create: true }), ScheduleExistsError);
    const replaced = await service.save({ ...input, cron: "0 4 * * *" }, { create: false });
    assert.strictEqual(replaced.outcome, "replaced");
    await assert.rejects(
      service.save({ ...input, name: "bad", cron: "nope" }, { create: true }),
      ScheduleValidationError,
    );
    await assert.rejects(service.get("bad"), ScheduleNotFoundError, "nothing stored");
    assert.deepStrictEqual((await service.list()).map((s) => s.name), ["nightly"]);
    await service.remove("nightly");
    await assert.rejects(service.remove("nightly"), ScheduleNotFoundError);
  } finally {
    await f.close();
  }
});

Deno.test("schedules: three loops on every_ms 1000 make one job per tick", async () => {
  const f = await scheduleFixture();
  try {
    const loops = [await f.runtime(), await f.runtime(), await f.runtime()];
    await loops[0].service.save({ name: "sec", every_ms: 1000, ...QUICK }, { create: true });
    await wait(4500);
    // Paused first, so no tick lands between the two reads below.
    await loops[0].service.setPaused("sec", true);
    const ticks = await f.ticks("sec");
    assert.ok(ticks.length >= 4 && ticks.length <= 5, `4 or 5 ticks, got ${ticks.length}`);
    assert.ok(contiguous(ticks, 1000), `one per second: ${ticks}`);
    const stats = await f.broker.stats(f.queue);
    assert.strictEqual(stats.pending, ticks.length, "no job outside the index either");
  } finally {
    await f.close();
  }
});

Deno.test("schedules: pause stops ticks at once, resume skips the paused ticks, trigger makes one", async () => {
  const f = await scheduleFixture();
  try {
    const loops = [await f.runtime(), await f.runtime()];
    const { service } = loops[0];
    await service.save({ name: "p", every_ms: 1000, ...QUICK }, { create: true });
    await wait(2200);
    const paused = await service.setPaused("p", true);
    assert.strictEqual(paused.paused, true);
    assert.deepStrictEqual(paused.next_runs, []);
    const atPause = (await f.ticks("p")).length;
    await wait(2500);
    assert.strictEqual((await f.ticks("p")).length, atPause, "no tick while paused");
    const pausedAt = Date.now();
    const { job_id } = await service.trigger("p");
    const after = await f.ticks("p");
    assert.strictEqual(after.length, atPause + 1, "trigger enqueues exactly one");
    assert.ok((await f.broker.get(job_id))?.status === "pending");
    assert.strictEqual((await service.get("p")).last_job_id, job_id);
    await service.setPaused("p", false);
    await wait(1600);
    const resumed = (await f.ticks("p")).filter((t) => t > pausedAt);
    assert.ok(resumed.length >= 1 && resumed.length <= 3, `ticks after resume: ${resumed.length}`);
    // catch_up none: the ticks of the pause got no job (only the trigger's instant did).
    const inPause = (await f.ticks("p")).filter((t) => t > pausedAt - 2000 && t < pausedAt - 500);
    assert.deepStrictEqual(inPause, []);
  } finally {
    await f.close();
  }
});

Deno.test("schedules: overlap skip makes no second job while the first is pending, and counts skips", async () => {
  const f = await scheduleFixture();
  try {
    const skipped: string[] = [];
    await f.runtime({ observer: { onSkip: (_s, reason, n) => skipped.push(`${reason}:${n}`) } });
    const { service } = await f.runtime({ tick: false });
    await service.save({ name: "o", every_ms: 1000, overlap: "skip", ...QUICK }, {
      create: true,
    });
    await wait(3300);
    const ticks = await f.ticks("o");
    assert.strictEqual(ticks.length, 1, "the first job is never claimed: nothing else runs");
    assert.ok(skipped.length >= 2 && skipped.every((s) => s === "overlap:1"), String(skipped));
    // Once that job is done, the next tick runs.
    const [job] = await f.broker.claim(1);
    await f.broker.complete(job.id, job.token, null);
    await wait(1300);
    assert.strictEqual((await f.ticks("o")).length, 2);
  } finally {
    await f.close();
  }
});
