/**
 * The Acker's hold: completions made while a hold is open leave in one
 * `completeMany` at the last release, not before; without a hold they leave
 * at the end of the task.
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import type { ClaimedJob, Completion } from "../../src/queue/job.ts";
import { createLogger } from "../../src/log.ts";
import { Acker } from "../../src/worker/acks.ts";

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

function job(i: number): ClaimedJob {
  return {
    id: `job-${i}`,
    type: "t",
    payload: null,
    payload_json: "null",
    priority: 0,
    attempt: 1,
    max_attempts: 3,
    timeout_ms: 0,
    token: `tok-${i}`,
    lease_expires_at: Date.now() + 60_000,
    backoff: null,
    created_at: Date.now(),
    dependency_count: 0,
    group: null,
    trace: null,
  };
}

function setup() {
  const calls: string[][] = [];
  const done: string[] = [];
  const broker = {
    completeMany(acks: Completion[]) {
      calls.push(acks.map((a) => a.id));
      return Promise.resolve(acks.map(() => true));
    },
  } as unknown as Broker;
  const acker = new Acker({
    broker,
    log: createLogger({ level: "silent" }),
    typeBackoff: () => undefined,
    done: (id) => done.push(id),
  });
  return { acker, calls, done };
}

Deno.test("completions wait for the hold's release, then leave in one call", async () => {
  const { acker, calls, done } = setup();
  acker.complete(job(1), "1"); // sent at the end of this task, unless a hold comes first
  acker.hold();
  acker.complete(job(2), "2");
  await tick(5);
  assert.deepStrictEqual(calls, [], "nothing sent while held");
  acker.hold();
  acker.release();
  await tick(5);
  assert.deepStrictEqual(calls, [], "still held by the first hold");
  acker.release();
  await acker.idle();
  assert.deepStrictEqual(calls, [["job-1", "job-2"]]);
  assert.deepStrictEqual(done, ["job-1", "job-2"]);
});

Deno.test("without a hold, completions of one task leave together", async () => {
  const { acker, calls } = setup();
  acker.complete(job(1), "1");
  acker.complete(job(2), "2");
  await acker.idle();
  acker.complete(job(3), "3");
  await acker.idle();
  assert.deepStrictEqual(calls, [["job-1", "job-2"], ["job-3"]]);
});
