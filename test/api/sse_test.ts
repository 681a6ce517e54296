import assert from "node:assert/strict";
import { EventFeed } from "../../src/events/feed.ts";
import { eventsRoutes } from "../../src/api/sse.ts";
import { counts, fakeBroker } from "../metrics/fake_broker.ts";

async function until(check: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not reached");
    await new Promise((r) => setTimeout(r, 20));
  }
}

Deno.test("SSE: stats and job events, one shared reader, client limit, stops on disconnect", async () => {
  const broker = fakeBroker();
  broker.stats_ = counts({ completed: 7 });
  const feed = new EventFeed(broker, { blockMs: 50 });
  const app = eventsRoutes(broker, { maxClients: 2, statsIntervalMs: 100, feed });
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    app.fetch,
  );
  const url = `http://127.0.0.1:${server.addr.port}/api/v1/events`;
  const decoder = new TextDecoder();
  const open = async () => {
    const res = await fetch(url);
    assert.strictEqual(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /text\/event-stream/);
    return res.body!.getReader();
  };
  const readUntil = async (reader: ReadableStreamDefaultReader<Uint8Array>, re: RegExp) => {
    let text = "";
    while (!re.test(text)) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`stream ended before ${re}: ${text}`);
      text += decoder.decode(value);
    }
    return text;
  };
  try {
    const a = await open();
    const b = await open();
    assert.match(await readUntil(a, /event: stats/), /"completed":7/);
    // Two clients, one reader.
    assert.strictEqual(feed.listeners, 2);
    const third = await fetch(url);
    assert.strictEqual(third.status, 503);
    assert.strictEqual((await third.json()).error.code, "too_many_clients");

    const completed = {
      kind: "completed",
      job_id: "job-1",
      type: "email",
      at: 1_700_000_000_000,
      attempt: 1,
      duration_ms: 12,
    } as const;
    broker.events.push({ cursor: "1-1", event: completed });
    const textA = await readUntil(a, /event: job\ndata: .*\nid: 1-1\n\n/);
    // The typed event, as it is: the dashboard reads the same names the code does.
    const data = /event: job\ndata: (.*)\nid: 1-1\n/.exec(textA)?.[1];
    assert.deepStrictEqual(JSON.parse(data ?? "null"), completed);
    await readUntil(b, /"job_id":"job-1"/);

    await a.cancel();
    await b.cancel();
    await until(() => feed.listeners === 0 && !feed.running);
    const calls = broker.statsCalls;
    await new Promise((r) => setTimeout(r, 300));
    assert.strictEqual(broker.statsCalls, calls, "stats polling stopped with the last client");
    // A slot is free again.
    const c = await open();
    await readUntil(c, /event: stats/);
    await c.cancel();
  } finally {
    ac.abort();
    await server.finished;
    await feed.close();
  }
});

Deno.test("SSE ?batch=1: one message per interval carries the stats and every job event", async () => {
  const broker = fakeBroker();
  broker.stats_ = counts({ completed: 3 });
  const feed = new EventFeed(broker, { blockMs: 20 });
  const app = eventsRoutes(broker, { statsIntervalMs: 100, batchMs: 300, feed });
  const ac = new AbortController();
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", signal: ac.signal, onListen() {} },
    app.fetch,
  );
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/api/v1/events?batch=1`);
    assert.strictEqual(res.status, 200);
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    // 300 events arrive over ~0.6 s, while stats tick every 100 ms.
    const started = Date.now();
    for (let i = 0; i < 300; i++) {
      broker.events.push({
        cursor: `1-${i}`,
        event: { kind: "enqueued", job_id: `job-${i}`, type: "email", at: 1, priority: 0 },
      });
      if (i % 50 === 49) await new Promise((r) => setTimeout(r, 100));
    }
    let text = "";
    while (!text.includes('"job_id":"job-299"')) {
      const { value, done } = await reader.read();
      if (done) throw new Error("stream ended");
      text += value;
    }
    const elapsed = Date.now() - started;
    await reader.cancel();
    const messages = text.split("\n\n").filter((m) => m.includes("data:"));
    assert.ok(messages.every((m) => m.includes("event: batch")), "batch messages only");
    // One message per 300 ms, not one per event (nor per stats tick).
    assert.ok(
      messages.length <= Math.ceil(elapsed / 300) + 1,
      `${messages.length} messages in ${elapsed} ms`,
    );
    const jobs = messages.flatMap((m) =>
      JSON.parse(/data: (.*)/.exec(m)![1]).jobs.map((e: { job_id: string }) => e.job_id)
    );
    assert.deepStrictEqual(jobs, Array.from({ length: 300 }, (_, i) => `job-${i}`));
    const first = JSON.parse(/data: (.*)/.exec(messages[0])![1]);
    assert.strictEqual(first.stats.completed, 3);
    assert.strictEqual(first.dropped, 0);
  } finally {
    ac.abort();
    await server.finished;
    await feed.close();
  }
});
