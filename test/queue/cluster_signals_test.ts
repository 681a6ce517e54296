/**
 * The bookkeeping of `ClusterSignals`, driven by a fake subscription: which
 * queues may have work, when each needs a maintenance visit, and how a
 * reply settles only what its call could have seen. (The real subscription
 * runs in the Cluster tests: cluster_test, cluster_queues_test,
 * cluster_idle_cost_test.)
 */
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { ClusterSignals } from "../../src/queue/cluster_signals.ts";
import type { RedisClient } from "../../src/queue/connect.ts";
import { queueKeys } from "../../src/queue/keys.ts";

class FakeSubscription extends EventEmitter {
  patterns: string[] = [];
  psubscribe(...patterns: string[]): Promise<number> {
    this.patterns.push(...patterns);
    return Promise.resolve(this.patterns.length);
  }
  disconnect(): void {}
}

async function started() {
  const sub = new FakeSubscription();
  const client = { duplicate: () => sub } as unknown as RedisClient;
  const signals = new ClusterSignals(client, "jq");
  await signals.start();
  const a = queueKeys("a");
  const b = queueKeys("b");
  const wake = (keys = a) => sub.emit("pmessage", "jq:{*}:wake", keys.wake, "");
  const due = (at: number, keys = a) =>
    sub.emit("pmessage", "jq:{*}:scheduled", keys.scheduled, String(at));
  return { sub, signals, a, b, wake, due };
}

Deno.test("cluster signals: subscribes to every queue's wakes and due times", async () => {
  const { sub } = await started();
  assert.deepStrictEqual(sub.patterns, [
    "jq:{*}:wake",
    "jq:{*}:scheduled",
    "jq:{*}:running",
    "jq:{*}:outbox",
  ]);
});

Deno.test("cluster signals: a flow outbox entry asks for a visit when its grace ends", async () => {
  const { sub, signals, a, b } = await started();
  signals.visited(a, signals.seq, null, false);
  signals.visited(b, signals.seq, null, false);
  assert.strictEqual(signals.attentionAt(a), Infinity);
  sub.emit("pmessage", "jq:{*}:outbox", a.outbox, "5000");
  assert.strictEqual(signals.attentionAt(a), 5000);
  assert.strictEqual(signals.attentionAt(b), Infinity, "only the queue it names");
  signals.visited(a, signals.seq, null, false);
  assert.strictEqual(signals.attentionAt(a), Infinity, "a visit settles it");
});

Deno.test("cluster signals: a queue may have work until a claim sent after its last wake finds it empty", async () => {
  const { signals, a, b, wake } = await started();
  assert.ok(signals.mayHaveWork(a), "never claimed: may have work");
  signals.drained(a, signals.seq);
  assert.ok(!signals.mayHaveWork(a));
  assert.ok(signals.mayHaveWork(b), "another queue is not settled by it");
  wake();
  assert.ok(signals.mayHaveWork(a), "woken");
  // A claim sent before the wake arrived could not have seen its work.
  const sent = signals.seq;
  wake();
  signals.drained(a, sent);
  assert.ok(signals.mayHaveWork(a), "the wake after the claim was sent still counts");
  signals.drained(a, signals.seq);
  assert.ok(!signals.mayHaveWork(a));
  signals.suspect(a);
  assert.ok(signals.mayHaveWork(a), "a re-check makes it a candidate again");
});

Deno.test("cluster signals: a waiting claim wakes for its queues only, at once when one already may have work", async () => {
  const { signals, a, b, wake } = await started();
  signals.drained(a, signals.seq);
  signals.drained(b, signals.seq);
  const t0 = performance.now();
  assert.strictEqual(await signals.whenWoken([a], 50), false, "times out");
  assert.ok(performance.now() - t0 >= 40);
  const waiting = signals.whenWoken([a], 5000);
  wake(b);
  let settled = false;
  waiting.then(() => (settled = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.strictEqual(settled, false, "another queue's wake does not end it");
  wake(a);
  assert.strictEqual(await waiting, true);
  assert.strictEqual(await signals.whenWoken([a, b], 5000), true, "already woken: at once");
  const controller = new AbortController();
  signals.drained(a, signals.seq);
  signals.drained(b, signals.seq);
  const aborted = signals.whenWoken([a], 5000, controller.signal);
  controller.abort();
  assert.strictEqual(await aborted, false);
});

Deno.test("cluster signals: a queue needs a visit at once until visited, then at its next due time or an earlier announced one", async () => {
  const { sub, signals, a, due } = await started();
  assert.strictEqual(signals.attentionAt(a), 0, "never visited");
  signals.visited(a, signals.seq, null, false);
  assert.strictEqual(signals.attentionAt(a), Infinity, "nothing due");
  signals.visited(a, signals.seq, 5000, false);
  assert.strictEqual(signals.attentionAt(a), 5000);
  due(3000);
  assert.strictEqual(signals.attentionAt(a), 3000, "an announced earlier job");
  // A visit sent after the announcement saw that job: its reply decides.
  signals.visited(a, signals.seq, 4000, false);
  assert.strictEqual(signals.attentionAt(a), 4000);
  // One sent before it could not have: the announcement stays.
  const sent = signals.seq;
  due(2000);
  signals.visited(a, sent, null, false);
  assert.strictEqual(signals.attentionAt(a), 2000);
  signals.leased(a, 1500);
  assert.strictEqual(signals.attentionAt(a), 1500, "a lease this broker took expires then");
  assert.ok(signals.anyRunning([a]));
  // Another broker's first lease in a queue with none running.
  signals.visited(a, signals.seq, null, false);
  assert.ok(!signals.anyRunning([a]));
  sub.emit("pmessage", "jq:{*}:running", a.running, "1200");
  assert.ok(signals.anyRunning([a]));
  assert.strictEqual(signals.attentionAt(a), 1200);
});

Deno.test("cluster signals: a subscription made again has missed messages: every queue may have work and needs a visit", async () => {
  const { sub, signals, a } = await started();
  signals.drained(a, signals.seq);
  signals.visited(a, signals.seq, null, false);
  assert.ok(!signals.mayHaveWork(a));
  sub.emit("ready"); // ioredis re-subscribed after a drop
  assert.ok(signals.mayHaveWork(a));
  assert.strictEqual(signals.attentionAt(a), 0);
});
