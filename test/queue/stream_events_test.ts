/** stream_events.ts: events stream replies to `StreamEvent`s. */
import assert from "node:assert/strict";
import { parseStream } from "../../src/queue/stream_events.ts";

Deno.test("parseStream: plain entries, batch entries expanded per row, garbage skipped", () => {
  const reply = [[
    "jq:{q}:events",
    [
      ["1-0", ["ev", "enqueued", "id", "a", "t", "email", "p", "0"]],
      ["2-0", ["ev", "started", "f", "id,t,a,q", "rows", '[["b","x",1,5],["c","y",2,null]]']],
      ["3-0", ["ev", "completed", "f", "id,t", "rows", "{not json"]],
      ["4-0", ["ev", "completed", "f", "id,t", "rows", '{"id":"d"}']],
      ["5-0", ["ev", "completed", "f", "id,t", "rows", '[7, ["e","z"]]']],
    ],
  ]];
  assert.deepStrictEqual(parseStream(reply), [
    { stream_id: "1-0", event: "enqueued", job_id: "a", type: "email", data: { p: "0" } },
    { stream_id: "2-0", event: "started", job_id: "b", type: "x", data: { a: "1", q: "5" } },
    { stream_id: "2-0", event: "started", job_id: "c", type: "y", data: { a: "2" } },
    { stream_id: "5-0", event: "completed", job_id: "e", type: "z", data: {} },
  ]);
  assert.deepStrictEqual(parseStream(null), []);
});
