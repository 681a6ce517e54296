/** stream_events.ts: XREAD replies of the events stream to `StoredEvent`s. */
import assert from "node:assert/strict";
import { parseStream } from "../../src/queue/stream_events.ts";

Deno.test("parseStream: plain entries, batch entries expanded per row, garbage skipped", () => {
  const reply = [[
    "jq:{q}:events",
    [
      ["1-0", ["ev", "enqueued", "at", "100", "id", "a", "t", "email", "p", "0"]],
      [
        "2-0",
        ["ev", "started", "at", "200", "f", "id,t,a,q", "rows", '[["b","x",1,5],["c","y",2,0]]'],
      ],
      // A row missing a required field is not a live event: dropped, the rest kept.
      ["2-1", ["ev", "started", "at", "200", "f", "id,t,a,q", "rows", '[["d","x",1,null]]']],
      ["3-0", ["ev", "completed", "at", "300", "f", "id,t", "rows", "{not json"]],
      ["4-0", ["ev", "completed", "at", "300", "f", "id,t,a,dur", "rows", '{"id":"d"}']],
      ["5-0", ["ev", "completed", "at", "300", "f", "id,t,a,dur", "rows", '[7, ["e","z",1,9]]']],
      ["6-0", ["ev", "nonsense", "at", "300", "id", "f", "t", "z"]],
      ["7-0", ["ev", "requeued", "id", "g", "t", "z"]], // no time: not ours
      "garbage",
    ],
  ]];
  assert.deepStrictEqual(parseStream(reply), [
    {
      cursor: "1-0",
      event: { kind: "enqueued", job_id: "a", type: "email", at: 100, priority: 0 },
    },
    {
      cursor: "2-0",
      event: { kind: "started", job_id: "b", type: "x", at: 200, attempt: 1, queued_ms: 5 },
    },
    {
      cursor: "2-0",
      event: { kind: "started", job_id: "c", type: "y", at: 200, attempt: 2, queued_ms: 0 },
    },
    {
      cursor: "5-0",
      event: { kind: "completed", job_id: "e", type: "z", at: 300, attempt: 1, duration_ms: 9 },
    },
  ]);
  assert.deepStrictEqual(parseStream(null), []);
});
