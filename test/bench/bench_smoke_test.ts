/**
 * Smoke test of `deno task bench`: small numbers against a throwaway Redis;
 * every figure must come out as a finite positive number (idle may be 0);
 * and of `deno task bench:floor`.
 */
import assert from "node:assert/strict";
import { TestRedis } from "../helpers/redis_server.ts";
import { measureHopFloor } from "./hop_floor.ts";

const BENCH = new URL("./bench.ts", import.meta.url).pathname;

Deno.test("bench prints one JSON line with every figure", async () => {
  const redis = await TestRedis.start();
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        BENCH,
        "--redis",
        redis.url,
        "--jobs",
        "300",
        "--concurrency",
        "20",
        "--producers",
        "10",
        "--idle-seconds",
        "2",
        "--http-seconds",
        "2",
        // The http phase without and with an API key (off/on/on/off): both figures come out.
        "--auth",
        "both",
      ],
      stdout: "piped",
      stderr: "inherit",
    }).output();
    assert.ok(out.success, `bench exited with ${out.code}`);
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assert.strictEqual(lines.length, 1, "exactly one line on stdout");
    const result = JSON.parse(lines[0]);
    for (const field of ["system", "version", "redis"]) {
      assert.strictEqual(typeof result[field], "string", field);
    }
    assert.strictEqual(result.jobs, 300);
    for (
      const field of [
        "concurrency",
        "producers",
        "enqueue_jobs_per_s",
        "enqueue_bulk_jobs_per_s",
        "process_jobs_per_s",
        "latency_p50_ms",
        "latency_p99_ms",
        "redis_bytes_per_pending_job",
        "redis_bytes_per_completed_job",
        "http_submit_per_s",
        "http_submit_auth_per_s",
        "http_auth_ratio",
      ]
    ) {
      const v = result[field];
      assert.ok(typeof v === "number" && Number.isFinite(v) && v > 0, `${field} = ${v}`);
    }
    const idle = result.idle_redis_commands_per_s;
    assert.ok(typeof idle === "number" && Number.isFinite(idle) && idle >= 0, `idle = ${idle}`);
  } finally {
    await redis.close();
  }
});

Deno.test({
  name: "bench:floor measures every sample of both hops",
  fn: async () => {
    const redis = await TestRedis.start();
    try {
      const floor = await measureHopFloor(redis.url, 20);
      assert.strictEqual(floor.samples, 20);
      for (
        const [p50, p99] of [[floor.hop_p50_ms, floor.hop_p99_ms], [
          floor.thread_hop_p50_ms,
          floor.thread_hop_p99_ms,
        ]]
      ) {
        assert.ok(Number.isFinite(p50) && p50 > 0 && p50 < 1000, `p50 = ${p50}`);
        assert.ok(Number.isFinite(p99) && p99 >= p50, `p99 = ${p99}`);
      }
    } finally {
      await redis.close();
    }
  },
});
