/**
 * The supervisor as users run it (`deno task worker`, i.e. `src/main.ts
 * worker`): it restarts a worker killed by SIGKILL, forwards SIGTERM, and
 * exits 0 once the worker has drained.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { createLogger } from "../../src/log.ts";
import { EXIT_RECYCLE } from "../../src/worker/runner.ts";
import { RESTARTS_ENV, superviseWorker } from "../../src/worker/supervisor.ts";
import { processAlive, testBroker, waitFor, workerEnv } from "./helpers.ts";

/** What `deno task worker` runs. */
const MAIN = new URL("../../src/main.ts", import.meta.url).pathname;

Deno.test("supervisor: restarts a killed worker, forwards SIGTERM, exits 0", async () => {
  const redis = await TestRedis.start();
  const broker = testBroker(redis.url, "supervisor");
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, "worker", "--queue", broker.defaultQueue],
    env: workerEnv(redis.url, { LOG_LEVEL: "info" }),
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // The supervisor logs one JSON line per worker start, with the worker's PID.
  const workerPids: number[] = [];
  const reading = (async () => {
    let rest = "";
    for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
      const lines = (rest + chunk).split("\n");
      rest = lines.pop() ?? "";
      for (const line of lines) {
        try {
          const entry = JSON.parse(line);
          if (entry.msg === "worker process started") workerPids.push(entry.child_pid);
        } catch {
          // not a log line of ours
        }
      }
    }
  })();
  try {
    await waitFor("first worker", () => workerPids.length === 1);
    const first = workerPids[0];
    const { id } = await broker.enqueue({ type: "compute", payload: { duration_ms: 1 } });
    await waitFor("job done", async () => (await broker.get(id))?.status === "completed");

    Deno.kill(first, "SIGKILL");
    await waitFor("a replacement worker", () => workerPids.length === 2, 10_000);
    assert.ok(!processAlive(first));
    const again = await broker.enqueue({ type: "compute", payload: { duration_ms: 1 } });
    await waitFor(
      "the replacement works",
      async () => (await broker.get(again.id))?.status === "completed",
    );

    child.kill("SIGTERM");
    const status = await child.status;
    assert.strictEqual(status.code, 0);
    await waitFor("worker gone", () => !processAlive(workerPids[1]), 5_000);
    assert.strictEqual(workerPids.length, 2, "no restart after a stop");
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // already exited
    }
    await child.status;
    await reading;
    await broker.close();
    await redis.close();
  }
});

Deno.test("supervisor: each child learns how often its slot was restarted", async () => {
  // A stand-in child: records the restart count it was given, asks to be
  // recycled twice (exit 75), then exits 0, which ends the supervisor.
  const dir = await Deno.makeTempDir({ prefix: "jq-sup-" });
  const script = `${dir}/child.ts`;
  await Deno.writeTextFile(
    script,
    `const n = Deno.env.get("${RESTARTS_ENV}");
await Deno.writeTextFile("${dir}/seen", n + "\\n", { append: true });
Deno.exit(Number(n) < 2 ? ${EXIT_RECYCLE} : 0);`,
  );
  try {
    const code = await superviseWorker({
      args: [script],
      handleSignals: false,
      stdio: "null",
      log: createLogger({ level: "silent" }),
    });
    assert.strictEqual(code, 0);
    assert.deepStrictEqual((await Deno.readTextFile(`${dir}/seen`)).trim().split("\n"), [
      "0",
      "1",
      "2",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
