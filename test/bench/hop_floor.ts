/**
 * `deno task bench:floor`: the latency floor this machine puts under any
 * Redis job queue whose jobs run in another process. A sender pushes a
 * timestamp onto a Redis list every 5 ms (the latency phase's pace) and a
 * waiter process blocked in `BLPOP` records how long each one took to reach
 * it: one hop, no script, no claim, no queue code. With `thread`, the waiter
 * also posts each timestamp to a Web Worker, which stamps it on arrival (the
 * one hop more a Web Worker pool makes).
 *
 * Why it exists: `latency_p99_ms` on a shared 2-core VM is mostly scheduler
 * noise, and this shows how much of it is left when no queue is involved at
 * all. A p99 target below this floor cannot be met by queue code.
 *
 * ```sh
 * deno task bench:floor [--redis redis://127.0.0.1:6379] [--samples 1000]
 * ```
 *
 * Prints one JSON line: `{ hop_p50_ms, hop_p99_ms, thread_hop_p50_ms, thread_hop_p99_ms, samples }`.
 *
 * @module
 */
import { Redis } from "ioredis";

const SELF = new URL(import.meta.url).pathname;
const GAP_MS = 5;

/** The floor's percentiles, in ms. */
export interface HopFloor {
  hop_p50_ms: number;
  hop_p99_ms: number;
  thread_hop_p50_ms: number;
  thread_hop_p99_ms: number;
  samples: number;
}

const wallNow = () => performance.timeOrigin + performance.now();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pct(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return +s[Math.min(s.length - 1, Math.floor(p / 100 * s.length))].toFixed(2);
}

/**
 * Stamps each posted send time on arrival in this thread and posts back
 * [sent, arrived]; posts "ready" once it runs, so no sample waits for its start.
 */
const THREAD_SOURCE = `self.onmessage = (e) => {
  self.postMessage([e.data, performance.timeOrigin + performance.now()]);
};
self.postMessage("ready");`;

/** The waiter process: BLPOP `key`, record arrival - sent on `key:out`, until a negative stamp. */
async function waiter(url: string, key: string, viaThread: boolean): Promise<void> {
  const blocking = new Redis(url);
  const out = new Redis(url);
  let thread: Worker | undefined;
  const posted: Promise<unknown>[] = [];
  let sentToThread = 0;
  let repliesFromThread = 0;
  if (viaThread) {
    const blob = new Blob([THREAD_SOURCE], { type: "text/javascript" });
    const worker = new Worker(URL.createObjectURL(blob), { type: "module" });
    await new Promise<void>((resolve) => {
      worker.onmessage = (e: MessageEvent<[number, number] | "ready">) => {
        if (e.data === "ready") return resolve();
        repliesFromThread++;
        posted.push(out.rpush(`${key}:out`, String(e.data[1] - e.data[0])));
      };
    });
    thread = worker;
  }
  await out.rpush(`${key}:ready`, "1");
  for (;;) {
    const reply = await blocking.blpop(key, 0);
    const arrived = wallNow();
    const sent = Number(reply![1]);
    if (sent < 0) break;
    if (thread) {
      thread.postMessage(sent);
      sentToThread++;
    } else posted.push(out.rpush(`${key}:out`, String(arrived - sent)));
  }
  // The thread's last replies (bounded: a missing sample fails the run instead).
  const deadline = Date.now() + 5_000;
  while (repliesFromThread < sentToThread && Date.now() < deadline) await sleep(5);
  await Promise.all(posted);
  thread?.terminate();
  blocking.disconnect();
  await out.quit();
}

async function oneRun(url: string, samples: number, viaThread: boolean): Promise<number[]> {
  const redis = new Redis(url);
  const key = `jq:bench:hop:${crypto.randomUUID()}`;
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", SELF, "--waiter", url, key, viaThread ? "thread" : "direct"],
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  try {
    await redis.blpop(`${key}:ready`, 30);
    await sleep(200); // let the waiter block and settle
    for (let i = 0; i < samples; i++) {
      await redis.lpush(key, String(wallNow()));
      await sleep(GAP_MS);
    }
    await redis.lpush(key, "-1");
    const status = await child.status;
    if (!status.success) throw new Error(`hop waiter exited with ${status.code}`);
    return (await redis.lrange(`${key}:out`, 0, -1)).map(Number);
  } finally {
    await redis.del(key, `${key}:out`, `${key}:ready`);
    redis.disconnect();
  }
}

/** Measures the one-hop floor, then the same with a Web Worker hop. */
export async function measureHopFloor(url: string, samples = 1000): Promise<HopFloor> {
  const direct = await oneRun(url, samples, false);
  const threaded = await oneRun(url, samples, true);
  if (direct.length !== samples || threaded.length !== samples) {
    throw new Error(`lost samples: ${direct.length} and ${threaded.length} of ${samples}`);
  }
  return {
    hop_p50_ms: pct(direct, 50),
    hop_p99_ms: pct(direct, 99),
    thread_hop_p50_ms: pct(threaded, 50),
    thread_hop_p99_ms: pct(threaded, 99),
    samples,
  };
}

if (import.meta.main) {
  const args = Deno.args;
  if (args[0] === "--waiter") {
    await waiter(args[1], args[2], args[3] === "thread");
    Deno.exit(0);
  }
  const flag = (name: string) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
  };
  const url = flag("redis") ?? Deno.env.get("REDIS_URL") ?? "redis://127.0.0.1:6379";
  const samples = Number(flag("samples") ?? 1000);
  if (!Number.isInteger(samples) || samples < 1) throw new Error("--samples must be >= 1");
  console.log(JSON.stringify(await measureHopFloor(url, samples)));
  Deno.exit(0);
}
