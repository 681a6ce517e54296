/**
 * Schedules with real processes racing on the same ticks (each a scheduler
 * loop of its own, `fixtures/scheduler_process.ts`) against a real
 * redis-server: exactly one job per tick with three of them, no gap when the
 * one that was ticking is killed with SIGKILL, catch-up after every process
 * was down for 5 s, pause seen by every process, and schedules that survive a
 * Redis restart (AOF) and a restart of the processes.
 */
import assert from "node:assert/strict";
import { contiguous, QUICK, type ScheduleFixture, scheduleFixture, wait } from "./helpers.ts";

const FIXTURE = new URL("./fixtures/scheduler_process.ts", import.meta.url).pathname;

/** A running scheduler process. */
interface Loop {
  child: Deno.ChildProcess;
  kill(signal?: Deno.Signal): Promise<void>;
}

async function spawnLoop(f: ScheduleFixture): Promise<Loop> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", FIXTURE, f.redis.url, f.queue],
    stdout: "piped",
    stderr: "inherit",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await reader.read();
    if (done) throw new Error("scheduler process exited before it was ready");
    seen += value;
  }
  // Keep draining so the process never blocks on a full pipe.
  (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })().catch(() => {});
  return {
    child,
    async kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch { /* already gone */ }
      await child.status;
    },
  };
}

async function withLoops(
  n: number,
  body: (f: ScheduleFixture, loops: Loop[]) => Promise<void>,
  options: { aof?: boolean } = {},
): Promise<void> {
  const f = await scheduleFixture(options);
  const loops: Loop[] = [];
  try {
    for (let i = 0; i < n; i++) loops.push(await spawnLoop(f));
    await body(f, loops);
  } finally {
    await Promise.all(loops.map((l) => l.kill("SIGKILL")));
    await f.close();
  }
}

Deno.test("processes: three loops on every_ms 1000 for 10.5 s make 10 or 11 jobs, one per tick", async () => {
  await withLoops(3, async (f) => {
    const { service } = await f.runtime({ tick: false });
    await service.save({ name: "sec", every_ms: 1000, ...QUICK }, { create: true });
    await wait(10_500);
    const ticks = await f.ticks("sec");
    assert.ok(ticks.length === 10 || ticks.length === 11, `10 or 11 jobs, got ${ticks.length}`);
    assert.strictEqual(new Set(ticks).size, ticks.length, "no two jobs for one tick");
    assert.ok(contiguous(ticks, 1000), `no tick missed: ${ticks}`);
    assert.strictEqual((await f.broker.stats(f.queue)).pending, ticks.length);
  });
});

Deno.test("processes: SIGKILL of the loop that was ticking leaves no gap and no duplicate", async () => {
  await withLoops(3, async (f, loops) => {
    const { service } = await f.runtime({ tick: false });
    await service.save({ name: "k", every_ms: 1000, ...QUICK }, { create: true });
    await wait(2300);
    // The one that decided the last tick is unknown from outside: kill them in turn, two of three.
    await loops[0].kill("SIGKILL");
    await wait(2000);
    await loops[1].kill("SIGKILL");
    await wait(3000);
    const ticks = await f.ticks("k");
    assert.strictEqual(new Set(ticks).size, ticks.length, "no duplicate");
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]);
    assert.ok(gaps.every((g) => g <= 2000), `no gap over interval + 1 s: ${gaps}`);
    assert.ok(ticks.length >= 6, `ticks went on: ${ticks.length}`);
    assert.strictEqual((await f.broker.stats(f.queue)).pending, ticks.length);
  });
});

Deno.test("processes: catch_up after a 5 s outage of every loop, for each policy", async () => {
  await withLoops(2, async (f, loops) => {
    const { service } = await f.runtime({ tick: false });
    for (const catch_up of ["none", "one", "all"]) {
      await service.save({ name: catch_up, every_ms: 1000, catch_up, ...QUICK }, {
        create: true,
      });
    }
    await wait(2200);
    await Promise.all(loops.map((l) => l.kill("SIGKILL")));
    const downAt = Date.now();
    await wait(5000);
    loops.splice(0, loops.length, await spawnLoop(f), await spawnLoop(f));
    await wait(1500);
    // The first tick after the outage that got a job under "none" is the on-time one (all three
    // were read in one pass); every tick between the outage's start and it was missed.
    const onTime = (await f.ticks("none")).find((t) => t > downAt)!;
    assert.ok(onTime - downAt >= 4000, "the outage lasted 5 s");
    const missed = async (name: string) =>
      (await f.ticks(name)).filter((t) => t > downAt && t < onTime);
    assert.deepStrictEqual(await missed("none"), [], "none: the missed ticks are skipped");
    assert.deepStrictEqual(await missed("one"), [onTime - 1000], "one: one job for them all");
    const all = await f.ticks("all");
    assert.ok(contiguous(all, 1000), `all: every tick has its job: ${all}`);
    assert.ok((await missed("all")).length >= 4, "all: each missed tick");
    for (const name of ["none", "one", "all"]) {
      const ticks = await f.ticks(name);
      assert.strictEqual(new Set(ticks).size, ticks.length, `${name}: no duplicate`);
    }
  });
});

Deno.test("processes: a pause stops the ticks of every process within 1 s", async () => {
  await withLoops(3, async (f) => {
    const { service } = await f.runtime({ tick: false });
    await service.save({ name: "p", every_ms: 1000, ...QUICK }, { create: true });
    await wait(2500);
    await service.setPaused("p", true);
    const count = (await f.ticks("p")).length;
    await wait(3000);
    assert.strictEqual((await f.ticks("p")).length, count, "no job after the pause returned");
    await service.setPaused("p", false);
    await wait(2200);
    assert.ok((await f.ticks("p")).length >= count + 1, "resumed");
  });
});

Deno.test("processes: schedules survive a Redis restart (AOF) and a restart of the processes", async () => {
  await withLoops(2, async (f, loops) => {
    const { service } = await f.runtime({ tick: false });
    await service.save({ name: "aof", every_ms: 1000, catch_up: "all", ...QUICK }, {
      create: true,
    });
    await wait(2200);
    await Promise.all(loops.map((l) => l.kill("SIGTERM")));
    await f.redis.stop("SIGKILL");
    await f.redis.restart();
    loops.splice(0, loops.length, await spawnLoop(f), await spawnLoop(f));
    await wait(2500);
    const ticks = await f.ticks("aof");
    assert.ok(ticks.length >= 4, `ticks after the restarts: ${ticks.length}`);
    assert.ok(contiguous(ticks, 1000), `catch_up all: no tick lost: ${ticks}`);
    assert.strictEqual((await service.get("aof")).paused, false);
  }, { aof: true });
});
