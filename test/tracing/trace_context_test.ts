/** trace_context.ts: W3C traceparent/tracestate checks and the stored field's form. */
import assert from "node:assert/strict";
import {
  cleanTracestate,
  decodeTrace,
  encodeTrace,
  parseTraceparent,
  traceIdOf,
  TRACEPARENT_LENGTH,
} from "../../src/tracing/trace_context.ts";

const TRACE = "0af7651916cd43dd8448eb211c80319c";
const SPAN = "b7ad6b7169203331";
const TP = `00-${TRACE}-${SPAN}-01`;

Deno.test("parseTraceparent takes valid headers only, as the W3C spec says", () => {
  assert.deepStrictEqual(parseTraceparent(TP), { trace_id: TRACE, span_id: SPAN, flags: 1 });
  assert.deepStrictEqual(parseTraceparent(` ${TP} `)?.flags, 1, "surrounding spaces");
  // A later version: the first four fields count, the rest is ignored.
  assert.deepStrictEqual(parseTraceparent(`cc-${TRACE}-${SPAN}-00-extra`)?.span_id, SPAN);
  for (
    const bad of [
      undefined,
      null,
      "",
      "garbage",
      TP.toUpperCase(),
      `00-${"0".repeat(32)}-${SPAN}-01`, // all-zero trace id
      `00-${TRACE}-${"0".repeat(16)}-01`, // all-zero span id
      `ff-${TRACE}-${SPAN}-01`, // version ff
      `00-${TRACE}-${SPAN}-01-extra`, // version 00 has exactly four fields
      `00-${TRACE.slice(1)}-${SPAN}-01`,
    ]
  ) {
    assert.strictEqual(parseTraceparent(bad), null, String(bad));
  }
});

Deno.test("the stored field: traceparent, then tracestate, no separator", () => {
  assert.strictEqual(encodeTrace(TP), TP);
  assert.strictEqual(encodeTrace(TP, "a=1,b=2"), `${TP}a=1,b=2`);
  assert.strictEqual(encodeTrace("nope", "a=1"), null);
  // A later version is stored as version 00 (the fixed length the field relies on).
  assert.strictEqual(encodeTrace(`cc-${TRACE}-${SPAN}-01-x`), TP);
  const stored = decodeTrace(`${TP}a=1,b=2`);
  assert.deepStrictEqual(stored, {
    trace_id: TRACE,
    span_id: SPAN,
    flags: 1,
    traceparent: TP,
    tracestate: "a=1,b=2",
  });
  assert.strictEqual(decodeTrace(TP)?.tracestate, "");
  assert.strictEqual(decodeTrace(TP.slice(0, TRACEPARENT_LENGTH - 1)), null);
  assert.strictEqual(decodeTrace(false), null);
  assert.strictEqual(traceIdOf(TP), TRACE);
  assert.strictEqual(traceIdOf(null), null);
});

Deno.test("a tracestate that is too long or not printable ASCII is dropped, never fatal", () => {
  assert.strictEqual(cleanTracestate(" a=1 "), "a=1");
  assert.strictEqual(cleanTracestate("x=" + "y".repeat(600)), "");
  assert.strictEqual(cleanTracestate("a=1\nb=2"), "");
  assert.strictEqual(cleanTracestate(undefined), "");
});
