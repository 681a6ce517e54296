/**
 * Flow figures (a benchmark, not a test): how long `POST /api/v1/flows` with
 * 1,000 jobs takes over HTTP, and how much a chain adds per level between a
 * job's completion and its dependent's start, on a real worker.
 *
 * `deno run -A test/bench/flows.ts` (a throwaway redis-server; nothing else
 * should run meanwhile). Prints one JSON line per figure.
 *
 * - `flow_create_ms`: wall time of the request, client side, 1,000 jobs in
 *   one queue (a binary tree: every job but the first depends on one other),
 *   median and p95 of 20 requests after 3 warm-ups.
 * - `chain_level_ms`: per level of 10-level chains (`test_flow_source` then
 *   9 `test_flow_step`, no work in the handlers), from the moment a
 *   handler returned to the moment its dependent's handler started (both
 *   handler-side clocks, so it includes the ack, the release in complete.lua,
 *   the wake, the claim, reading the dependencies and the dispatch to a
 *   thread), median and p95 over 10 chains. (The stored `started_at` of a
 *   claim made behind a blocking wait is Redis' clock less a measured
 *   offset, so comparing it with the ack's `completed_at` measures that
 *   estimate more than the chain: not used here.)
 *
 * @module
 */
import { TestRedis } from "../helpers/redis_server.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { buildApiApp } from "../../src/roles/api_app.ts";
import { loadRegistry } from "../../src/jobs/registry.ts";
import { createLogger } from "../../src/log.ts";
import { startWorkerProcess } from "../../src/worker/process.ts";
import { FIXTURE_JOBS } from "../worker/helpers.ts";

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

const round = (n: number) => Math.round(n * 100) / 100;

async function flowCreation(url: string): Promise<void> {
  const broker = new RedisBroker({ url, queue: "bench_flows" });
  const registry = await loadRegistry();
  const http = buildApiApp({ broker, registry, log: createLogger({ level: "error" }) });
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen: () => {} },
    http.app.fetch,
  );
  const body = JSON.stringify({
    jobs: Array.from({ length: 1000 }, (_, i) => ({
      ref: `n${i}`,
      type: "compute",
      payload: { duration_ms: 1 },
      ...(i > 0 ? { depends_on: [`n${Math.floor((i - 1) / 2)}`] } : {}),
    })),
  });
  const times: number[] = [];
  try {
    for (let i = 0; i < 23; i++) {
      const t0 = performance.now();
      const res = await fetch(`http://127.0.0.1:${server.addr.port}/api/v1/flows`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body,
      });
      await res.arrayBuffer();
      if (res.status !== 201) throw new Error(`flow refused: ${res.status}`);
      if (i >= 3) times.push(performance.now() - t0);
    }
  } finally {
    ac.abort();
    await server.finished;
    await http.close();
    await broker.close();
  }
  console.log(JSON.stringify({
    figure: "flow_create_ms",
    jobs: 1000,
    body_bytes: body.length,
    median: round(quantile(times, 0.5)),
    p95: round(quantile(times, 0.95)),
  }));
}

interface Step {
  started: number;
  finished: number;
}

async function chainLatency(url: string): Promise<void> {
  const queue = "bench_chain";
  const broker = new RedisBroker({ url, queue });
  const worker = await startWorkerProcess({
    redisUrl: url,
    queue,
    concurrency: 4,
    threads: 1,
    modules: [FIXTURE_JOBS],
    handleSignals: false,
    log: createLogger({ level: "error" }),
  });
  const handler: number[] = [];
  try {
    for (let c = 0; c < 11; c++) {
      const ids: string[] = [];
      ids.push((await broker.enqueue({ type: "test_flow_source", payload: { name: "l0" } })).id);
      for (let level = 1; level < 10; level++) {
        ids.push(
          (await broker.enqueue({
            type: "test_flow_step",
            payload: { name: `l${level}` },
            depends_on: [ids[level - 1]],
          })).id,
        );
      }
      const last = ids[ids.length - 1];
      const deadline = Date.now() + 30_000;
      while ((await broker.get(last))?.status !== "completed") {
        if (Date.now() > deadline) throw new Error("chain did not finish");
        await new Promise((r) => setTimeout(r, 20));
      }
      if (c === 0) continue; // warm-up: threads and scripts loaded
      const jobs = await Promise.all(ids.map((id) => broker.get(id)));
      for (let level = 1; level < jobs.length; level++) {
        const parent = jobs[level - 1]!;
        const child = jobs[level]!;
        handler.push((child.result as Step).started - (parent.result as Step).finished);
      }
    }
  } finally {
    worker.stop();
    await worker.exitCode;
    await broker.close();
  }
  console.log(JSON.stringify({
    figure: "chain_level_ms",
    levels: 10,
    chains: 10,
    median: round(quantile(handler, 0.5)),
    p95: round(quantile(handler, 0.95)),
  }));
}

const redis = await TestRedis.start();
try {
  await flowCreation(redis.url);
  await chainLatency(redis.url);
} finally {
  await redis.close();
}
