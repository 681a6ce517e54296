/**
 * The gate that lines up concurrent submits: they reach the broker in one
 * turn, each settles on its own, and through a real socket each still gets
 * its own job (or, with one Idempotency-Key, the same one).
 */
import assert from "node:assert/strict";
import { SubmitGate } from "../../src/api/submit_gate.ts";
import { postJson, SPEC_EMAIL, startApi } from "./helpers.ts";

Deno.test("SubmitGate: concurrent submits reach the broker in one turn; each settles alone", async () => {
  const gate = new SubmitGate();
  const turns: number[] = [];
  let turn = 0;
  const tick = setInterval(() => turn++, 0);
  try {
    // Alone: goes straight through.
    assert.strictEqual(await gate.run(() => Promise.resolve("alone")), "alone");
    let release: () => void = () => {};
    const blocker = gate.run(() => new Promise<string>((r) => (release = () => r("first"))));
    const rest = Array.from({ length: 5 }, (_, i) =>
      gate.run(() => {
        turns.push(turn);
        return i === 2 ? Promise.reject(new Error("only me")) : Promise.resolve(i);
      }));
    const settled = await Promise.allSettled(rest);
    assert.deepStrictEqual(settled.map((s) => s.status), [
      "fulfilled",
      "fulfilled",
      "rejected",
      "fulfilled",
      "fulfilled",
    ]);
    assert.strictEqual(new Set(turns).size, 1, "all submitted in the same turn");
    release();
    assert.strictEqual(await blocker, "first");
  } finally {
    clearInterval(tick);
  }
});

Deno.test("concurrent submits through a socket each get their own job", async () => {
  const api = await startApi();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, api.app.fetch);
  try {
    const url = `http://127.0.0.1:${server.addr.port}/api/v1/jobs`;
    const responses = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        fetch(url, {
          method: "POST",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ ...SPEC_EMAIL, priority: i % 10 }),
        })),
    );
    const ids = new Set<string>();
    for (const res of responses) {
      assert.strictEqual(res.status, 201);
      ids.add((await res.json()).job_id);
    }
    assert.strictEqual(ids.size, 200);
    const stats = await (await api.app.request("/api/v1/stats")).json();
    assert.strictEqual(stats.pending, 200);
    // The same Idempotency-Key sent concurrently still yields one job.
    const same = await Promise.all(
      Array.from(
        { length: 20 },
        () => postJson(api.app, "/api/v1/jobs", SPEC_EMAIL, { "idempotency-key": "same-key" }),
      ),
    );
    const sameIds = new Set(await Promise.all(same.map(async (r) => (await r.json()).job_id)));
    assert.strictEqual(sameIds.size, 1);
    assert.deepStrictEqual(same.map((r) => r.status).sort(), [...Array(19).fill(200), 201]);
  } finally {
    await server.shutdown();
    await api.close();
  }
});
