/**
 * The runner's pipelined claim loop, against an in-memory broker and pool:
 * a slot frees when the handler's result arrives while its ack is still in
 * flight, the lease stays held (and renewed) until the ack is done, held
 * leases are capped at MAX_HELD_FACTOR x concurrency, a graceful stop still
 * waits for every ack, and one deadline timer times jobs out in order.
 */
import assert from "node:assert/strict";
import type { Broker, ClaimOptions } from "../../src/queue/broker.ts";
import type { ClaimedJob, Completion, Lease } from "../../src/queue/job.ts";
import { createLogger } from "../../src/log.ts";
import { type JobPool, MAX_HELD_FACTOR, Runner } from "../../src/worker/runner.ts";
import type { PoolEvents } from "../../src/worker/pool.ts";
import type { AbortReason, RunRequest } from "../../src/worker/messages.ts";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await tick(2);
  }
}

function job(i: number, timeoutMs = 0): ClaimedJob {
  return {
    id: `job-${i}`,
    type: "t",
    payload: { i },
    payload_json: JSON.stringify({ i }),
    priority: 0,
    attempt: 1,
    max_attempts: 3,
    timeout_ms: timeoutMs,
    token: `tok-${i}`,
    lease_expires_at: Date.now() + 60_000,
    backoff: null,
    created_at: Date.now(),
    dependency_count: 0,
  };
}

/** An in-memory broker: a list of ready jobs; completeMany waits while `acksHeld`. */
class FakeBroker {
  readonly queue = "fake";
  ready: ClaimedJob[] = [];
  claims: number[] = [];
  completed: string[] = [];
  failed: Array<{ id: string; message: string }> = [];
  renewed: string[][] = [];
  acksHeld = false;
  #ackWaiters: Array<() => void> = [];
  #wake: Array<() => void> = [];

  add(...jobs: ClaimedJob[]): void {
    this.ready.push(...jobs);
    for (const w of this.#wake.splice(0)) w();
  }
  releaseAcks(): void {
    this.acksHeld = false;
    for (const w of this.#ackWaiters.splice(0)) w();
  }
  /** Claims without waiting are recorded in `claims`, waiting ones (when they end) in `waitClaims`. */
  async claim(max: number, options: ClaimOptions = {}): Promise<ClaimedJob[]> {
    const waitMs = options.waitMs ?? 0;
    if (waitMs <= 0) {
      this.claims.push(max);
      return this.ready.splice(0, max);
    }
    await this.#waitReady(waitMs, options.signal);
    if (options.signal?.aborted) return [];
    this.waitClaims.push(max);
    return this.ready.splice(0, max);
  }
  async completeMany(acks: Completion[]): Promise<boolean[]> {
    while (this.acksHeld) await new Promise<void>((r) => this.#ackWaiters.push(r));
    this.completed.push(...acks.map((a) => a.id));
    return acks.map(() => true);
  }
  fail(id: string, _token: string, f: { message: string }): Promise<string> {
    this.failed.push({ id, message: f.message });
    return Promise.resolve("scheduled");
  }
  renew(leases: Lease[]): Promise<string[]> {
    this.renewed.push(leases.map((l) => l.id));
    return Promise.resolve(leases.map(() => "ok"));
  }
  release(leases: Lease[]): Promise<boolean[]> {
    return Promise.resolve(leases.map(() => true));
  }
  maintain() {
    return Promise.resolve({
      promoted: 0,
      reaped: 0,
      recovered: [],
      next_due_at: null,
      running: false,
    });
  }
  heartbeat(): Promise<void> {
    return Promise.resolve();
  }
  reapOwner(): Promise<number> {
    return Promise.resolve(0);
  }
  waitClaims: number[] = [];
  #waitReady(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    if (this.ready.length > 0) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        signal?.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, timeoutMs);
      signal?.addEventListener("abort", done);
      this.#wake.push(done);
    });
  }
  onCancelRequested() {
    return Promise.resolve(() => Promise.resolve());
  }
  onDue() {
    return () => {};
  }
}

/** A pool whose handlers finish when the test says so. */
class FakePool implements JobPool {
  running = new Set<string>();
  maxRunning = 0;
  dispatched: RunRequest[] = [];
  aborts: Array<{ id: string; reason: AbortReason; at: number }> = [];
  constructor(readonly events: PoolEvents) {}
  dispatch(job: RunRequest): void {
    this.dispatched.push(job);
    this.running.add(job.id);
    this.maxRunning = Math.max(this.maxRunning, this.running.size);
  }
  flush(): void {}
  abort(ids: string[], reason: AbortReason): void {
    for (const id of ids) this.aborts.push({ id, reason, at: Date.now() });
  }
  threadmates(id: string): string[] {
    return [id];
  }
  stats() {
    return { threads: 1, busy: this.running.size ? 1 : 0, inFlight: this.running.size };
  }
  close(): void {}
  /** Handlers of `ids` return (ok, or failed when `error` is given). */
  finish(ids: string[], error?: string): void {
    for (const id of ids) this.running.delete(id);
    this.events.results(
      ids.map((id) =>
        error === undefined
          ? { id, ok: true as const, result_json: "null" }
          : { id, ok: false as const, error, retryable: true }
      ),
    );
  }
}

function setup(concurrency: number, extra: { leaseMs?: number; hardTimeoutGraceMs?: number }) {
  const broker = new FakeBroker();
  let pool!: FakePool;
  const runner = new Runner({
    broker: broker as unknown as Broker,
    log: createLogger({ level: "silent" }),
    pool: (events) => pool = new FakePool(events),
    definitionOf: () => undefined,
    concurrency,
    maintainIntervalMs: 50,
    ...extra,
  });
  return { broker, pool, runner };
}

Deno.test("slots free when results arrive; leases stay held and renewed until acked", async () => {
  const { broker, pool, runner } = setup(2, { leaseMs: 300 });
  broker.add(...Array.from({ length: 10 }, (_, i) => job(i)));
  broker.acksHeld = true;
  const exit = runner.run();

  await until("2 running", () => pool.running.size === 2);
  pool.finish(["job-0", "job-1"]);
  // Acks are stuck, yet the next two jobs start: the claim does not wait for them.
  await until("next 2 running", () => pool.dispatched.length === 4);
  assert.strictEqual(pool.running.size, 2);
  pool.finish(["job-2", "job-3"]);
  // Now 4 leases are held (2 x concurrency): no more claims until acks land.
  await tick(100);
  assert.strictEqual(pool.dispatched.length, 2 * MAX_HELD_FACTOR);
  assert.strictEqual(broker.completed.length, 0);
  // Renewals cover the jobs whose acks are still in flight.
  await until("a renewal of acking jobs", () => broker.renewed.some((r) => r.length === 4));

  broker.releaseAcks();
  const deadline = Date.now() + 5_000;
  while (broker.completed.length < 10 && Date.now() < deadline) {
    if (pool.running.size > 0) pool.finish([...pool.running]);
    await tick(5);
  }
  await until("all acked", () => broker.completed.length === 10);
  assert.ok(pool.maxRunning <= 2, `at most concurrency handlers ran (saw ${pool.maxRunning})`);
  assert.deepStrictEqual(
    [...broker.completed].sort(),
    Array.from({ length: 10 }, (_, i) => `job-${i}`).sort(),
  );
  runner.stop();
  assert.strictEqual(await exit, 0);
});

Deno.test("a graceful stop waits for acks still in flight", async () => {
  const { broker, pool, runner } = setup(3, {});
  broker.add(job(0), job(1), job(2));
  broker.acksHeld = true;
  const exit = runner.run();
  await until("3 running", () => pool.running.size === 3);
  pool.finish(["job-0", "job-1", "job-2"]);
  await tick(20);
  runner.stop();
  let exited = false;
  exit.then(() => exited = true);
  await tick(100);
  assert.strictEqual(exited, false, "run() must not end before the acks are done");
  broker.releaseAcks();
  assert.strictEqual(await exit, 0);
  assert.strictEqual(broker.completed.length, 3);
});

Deno.test("one deadline timer times out jobs in deadline order, whatever the claim order", async () => {
  const { broker, pool, runner } = setup(3, { hardTimeoutGraceMs: 5_000 });
  const t0 = Date.now();
  broker.add(job(0, 400), job(1, 100), job(2, 0)); // job-2: default timeout (long)
  const exit = runner.run();
  await until("job-1 aborted", () => pool.aborts.length >= 1);
  assert.deepStrictEqual(pool.aborts.map((a) => [a.id, a.reason]), [["job-1", "timeout"]]);
  assert.ok(pool.aborts[0].at - t0 >= 100);
  pool.finish(["job-1"], "aborted"); // the handler honours its signal
  await until("job-0 aborted", () => pool.aborts.length >= 2);
  assert.deepStrictEqual(pool.aborts[1].id, "job-0");
  assert.ok(pool.aborts[1].at - t0 >= 400);
  pool.finish(["job-0"], "aborted");
  pool.finish(["job-2"]);
  await until("acks", () => broker.failed.length === 2 && broker.completed.length === 1);
  assert.match(broker.failed[0].message, /timed out after 100 ms/);
  assert.match(broker.failed[1].message, /timed out after 400 ms/);
  runner.stop();
  assert.strictEqual(await exit, 0);
});

Deno.test("an idle runner runs what its wait claimed, and waits again after a partial claim", async () => {
  const { broker, pool, runner } = setup(4, {});
  const exit = runner.run();
  await until("the first, empty claim", () => broker.claims.length === 1);
  await until("a wait", () => broker.waitClaims.length === 0 && pool.dispatched.length === 0);
  broker.add(job(0));
  await until("job-0 dispatched", () => pool.dispatched.length === 1);
  assert.deepStrictEqual(broker.waitClaims, [4], "the wait claimed for every free slot");
  // The wait's claim found one job of four: nothing else was ready, so the
  // runner waits again instead of claiming at once.
  await tick(50);
  assert.strictEqual(broker.claims.length, 1, "no claim of its own after a partial one");
  // The next wait claims for the three slots left.
  broker.add(job(1), job(2), job(3), job(4));
  await until("3 more dispatched", () => pool.dispatched.length === 4);
  // Every wait since (some timed out while job-0 ran) claimed for the 3 free slots.
  assert.strictEqual(broker.waitClaims[0], 4);
  assert.ok(broker.waitClaims.slice(1).every((n) => n === 3), `${broker.waitClaims}`);
  assert.strictEqual(broker.claims.length, 1, "still no claim of its own");
  assert.strictEqual(pool.running.size, 4);
  // A full claim may leave more behind: job-4 is claimed once a slot frees.
  pool.finish(["job-0"]);
  await until("job-4 dispatched", () => pool.dispatched.length === 5);
  pool.finish([...pool.running]);
  await until("all acked", () => broker.completed.length === 5);
  runner.stop();
  assert.strictEqual(await exit, 0);
});

Deno.test("warm() gives up on slow threads after its timeout, but not on a failed start", async () => {
  const { pool, runner } = setup(1, {});
  const pending = pool as FakePool & { warm?: () => Promise<void> };
  pending.warm = () => new Promise<void>(() => {});
  const t0 = performance.now();
  await runner.warm(30); // resolves: claiming goes ahead without the threads
  assert.ok(performance.now() - t0 >= 25);
  pending.warm = () => Promise.reject(new Error("thread could not start"));
  await assert.rejects(runner.warm(1_000), /thread could not start/);
});
