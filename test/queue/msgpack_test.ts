/** msgpack.ts on its own: widths, Embedded, the ASCII fast path, refused input. */
import assert from "node:assert/strict";
import { Embedded, pack, type Packed, unpack } from "../../src/queue/msgpack.ts";

Deno.test("msgpack round-trips every width the records use", () => {
  const values: Packed[] = [
    null,
    true,
    false,
    0,
    127,
    128,
    255,
    256,
    65535,
    65536,
    2 ** 32 - 1,
    2 ** 32,
    1_800_000_000_000,
    Number.MAX_SAFE_INTEGER,
    -1,
    -32,
    -33,
    -(2 ** 31),
    -(2 ** 31) - 1,
    0.5,
    -1.25,
    2 ** 64,
    "",
    "a".repeat(31),
    "b".repeat(32),
    "c".repeat(255),
    "d".repeat(256),
    "e".repeat(65536),
    "é漢😀",
    [],
    Array.from({ length: 16 }, (_, i) => i),
    Array.from({ length: 70000 }, () => 1),
    { a: 1, b: [true, null] },
    Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
    Object.fromEntries(Array.from({ length: 70000 }, (_, i) => [`${i}`, 0])),
  ];
  for (const v of values) {
    const out = unpack(pack(v));
    assert.deepStrictEqual(out, v, `round trip of ${JSON.stringify(v)?.slice(0, 40)}`);
  }
  // Widths other encoders use: float32, int8/16/64, uint widths as given, str/bin 8/16/32.
  const bytes = (...b: number[]) => new Uint8Array(b);
  assert.strictEqual(unpack(bytes(0xca, 0x3f, 0xc0, 0, 0)), 1.5);
  assert.strictEqual(unpack(bytes(0xd0, 0xff)), -1);
  assert.strictEqual(unpack(bytes(0xd1, 0xff, 0xfe)), -2);
  assert.strictEqual(unpack(bytes(0xd3, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xfd)), -3);
  assert.strictEqual(unpack(bytes(0xc4, 1, 0x41)), "A");
  assert.strictEqual(unpack(bytes(0xc5, 0, 1, 0x42)), "B");
  assert.strictEqual(unpack(bytes(0xc6, 0, 0, 0, 1, 0x43)), "C");
  assert.deepStrictEqual(unpack(bytes(0xdd, 0, 0, 0, 1, 1)), [1]);
  assert.deepStrictEqual(unpack(bytes(0xdf, 0, 0, 0, 1, 0xa1, 0x6b, 2)), { k: 2 });
  // Raw bytes (a packed record inside the enqueue batch) travel as msgpack str.
  for (const n of [3, 300, 70000]) {
    assert.strictEqual(unpack(pack(new Uint8Array(n).fill(0x61))), "a".repeat(n));
  }
  assert.throws(() => unpack(bytes(0xd9, 5, 0x41)), /truncated/);
  assert.throws(() => unpack(bytes(1, 2)), /trailing/);
  assert.throws(() => unpack(bytes(0xc1)), /unsupported/);
});

Deno.test("pack: Embedded values and the ASCII fast path give the same bytes as the slow path", () => {
  const record = ["t", '{"a":"é"}', 5, 3, 1000, 1_800_000_000_000, 0, false, "k".repeat(40)];
  const inner = new Uint8Array(pack(record));
  // [["id", <str32 holding exactly the record packed on its own>]]
  const expected = [0x91, 0x92, 0xa2, 0x69, 0x64, 0xdb, 0, 0, 0, inner.length, ...inner];
  assert.deepStrictEqual([...new Uint8Array(pack([["id", new Embedded(record)]]))], expected);
  assert.deepStrictEqual(unpack(pack(record)), record);
  for (
    const s of [
      "",
      "a",
      "x".repeat(31),
      "x".repeat(32),
      "x".repeat(255),
      "x".repeat(256),
      "é",
      "aé",
      "€".repeat(100),
    ]
  ) {
    assert.strictEqual(unpack(pack(s)), s, `round trip of ${s.length} chars`);
  }
});
