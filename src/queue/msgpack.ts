/**
 * MessagePack as Redis' built-in `cmsgpack` reads and writes it (nil,
 * booleans, integers, doubles, str, array, map), so what `pack` writes a Lua
 * script can `cmsgpack.unpack`, and what a script `cmsgpack.pack`s `unpack`
 * reads. It knows nothing about jobs (`record.ts` does).
 *
 * Writing is ours (the `Writer` below), reading is msgpackr's, on figures
 * (`test/bench/msgpack_bench.ts`: real email records, 190-byte payload JSON;
 * medians of 3 runs of 7 alternating rounds, ns per record, Deno 2.9.6):
 * - enqueue batch of 1 / 50 / 1000: ours 627 / 526 / 535, msgpackr (each
 *   job's fields and record packed by it, joined by hand) 773 / 507 / 485
 *   (1.23x, 0.96x, 0.91x); but msgpackr cannot write what `cmsgpack`
 *   writes: integers above 32 bits (every record's created time) become
 *   float64 where cmsgpack has uint64 (int64 from a BigInt), and bytes bin,
 *   which cmsgpack does not read at all. Ours gives cmsgpack's very bytes
 *   for everything a record holds (`test/queue/msgpack_cmsgpack_test.ts`)
 *   and is the faster for single enqueues, so the writer stays;
 * - claimed record (`unpackRecord`): hand-written reader 468, msgpackr with
 *   the checks below 323 (0.69x); finished record (`decodeJob`, mostly
 *   JSON.parse and dates): 2322 against 2290 (0.99x). So reading is msgpackr.
 *
 * Choices that follow from `cmsgpack`:
 * - bytes (`Uint8Array`) are written as str, never bin: `cmsgpack` reads no
 *   bin types, and a Lua string is bytes anyway (bin is read as str too);
 * - `Embedded` writes a packed value inside a str in place (enqueue sends
 *   each job's stored record that way in its batch, and Lua stores the str
 *   as is), with no buffer of its own to allocate and copy;
 * - no extension types either way, 64-bit integers read as numbers.
 *
 * One difference from the hand-written reader: a str holding invalid UTF-8
 * (which neither our writer nor the scripts produce) decodes to other
 * characters than TextDecoder's U+FFFD.
 *
 * @example
 * ```ts
 * const bytes = pack([["id", new Embedded(["email", '{"to":"a@b.c"}'])]]);
 * unpack(bytes); // [["id", <the inner array's packed bytes, as a string>]]
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { Unpackr } from "msgpackr/unpack";

/** A MessagePack value as this codec reads and writes it. */
export type Packed =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | Packed[]
  | { [key: string]: Packed };

const utf8 = new TextDecoder();

/**
 * A value to be written as a MessagePack str holding its own packed bytes
 * (for a receiver that stores the inner value verbatim): the same bytes as
 * `pack(value)` in a str, written in place instead of packed into a buffer of
 * its own and copied.
 */
export class Embedded {
  constructor(readonly value: Packed) {}
}

/** What `pack` accepts: a `Packed` value, possibly with `Embedded` parts. */
export type Packable =
  | Packed
  | Embedded
  | Packable[]
  | { [key: string]: Packable };

/** Encodes `value` as MessagePack (the subset `cmsgpack` produces). */
export function pack(value: Packable, sizeHint = 256): Buffer {
  const w = new Writer(sizeHint);
  w.value(value);
  return w.done();
}

class Writer {
  buf: Buffer;
  pos = 0;

  constructor(size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(16, size));
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.pos + n));
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  done(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  value(v: Packable): void {
    if (v === null || v === undefined) {
      this.ensure(1);
      this.buf[this.pos++] = 0xc0;
    } else if (v === false || v === true) {
      this.ensure(1);
      this.buf[this.pos++] = v ? 0xc3 : 0xc2;
    } else if (typeof v === "number") {
      this.number(v);
    } else if (typeof v === "string") {
      this.string(v);
    } else if (v instanceof Uint8Array) {
      this.bytes(v);
    } else if (v instanceof Embedded) {
      this.embedded(v.value);
    } else if (Array.isArray(v)) {
      this.header(v.length, 0x90, 0xdc);
      for (const item of v) this.value(item);
    } else {
      const keys = Object.keys(v);
      this.header(keys.length, 0x80, 0xde);
      for (const key of keys) {
        this.string(key);
        this.value(v[key]);
      }
    }
  }

  header(n: number, fix: number, wide16: number): void {
    this.ensure(5);
    if (n < 16) this.buf[this.pos++] = fix | n;
    else if (n < 0x10000) {
      this.buf[this.pos++] = wide16;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = wide16 + 1;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
  }

  number(n: number): void {
    this.ensure(9);
    const b = this.buf;
    if (!Number.isInteger(n) || !Number.isSafeInteger(n)) {
      b[this.pos++] = 0xcb;
      b.writeDoubleBE(n, this.pos);
      this.pos += 8;
    } else if (n >= 0) {
      if (n < 0x80) b[this.pos++] = n;
      else if (n < 0x100) {
        b[this.pos++] = 0xcc;
        b[this.pos++] = n;
      } else if (n < 0x10000) {
        b[this.pos++] = 0xcd;
        b.writeUInt16BE(n, this.pos);
        this.pos += 2;
      } else if (n < 0x100000000) {
        b[this.pos++] = 0xce;
        b.writeUInt32BE(n, this.pos);
        this.pos += 4;
      } else {
        b[this.pos++] = 0xcf;
        b.writeBigUInt64BE(BigInt(n), this.pos);
        this.pos += 8;
      }
    } else if (n >= -32) {
      b[this.pos++] = n & 0xff;
    } else if (n >= -0x80000000) {
      b[this.pos++] = 0xd2;
      b.writeInt32BE(n, this.pos);
      this.pos += 4;
    } else {
      b[this.pos++] = 0xd3;
      b.writeBigInt64BE(BigInt(n), this.pos);
      this.pos += 8;
    }
  }

  /** Raw bytes as a msgpack str (Redis' cmsgpack reads no bin types; Lua strings are bytes). */
  bytes(data: Uint8Array): void {
    this.ensure(data.length + 5);
    const n = data.length;
    if (n < 0x100) {
      this.buf[this.pos++] = 0xd9;
      this.buf[this.pos++] = n;
    } else if (n < 0x10000) {
      this.buf[this.pos++] = 0xda;
      this.buf.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      this.buf[this.pos++] = 0xdb;
      this.buf.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    this.buf.set(data, this.pos);
    this.pos += n;
  }

  /** str32 header, the packed value, then the header's length filled in. */
  embedded(v: Packed): void {
    this.ensure(5);
    const at = this.pos;
    this.buf[at] = 0xdb;
    this.pos += 5;
    this.value(v);
    this.buf.writeUInt32BE(this.pos - at - 5, at + 1);
  }

  string(s: string): void {
    // ASCII fast path (ids, types, JSON of ASCII payloads): byte length is the
    // string length and a plain copy loop beats the UTF-8 encoder's call cost.
    const len = s.length;
    if (len < 0x100) {
      this.ensure(len + 2);
      const b = this.buf;
      const start = this.pos;
      let p = start + (len < 32 ? 1 : 2);
      let i = 0;
      for (; i < len; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[p++] = c;
      }
      if (i === len) {
        if (len < 32) b[start] = 0xa0 | len;
        else {
          b[start] = 0xd9;
          b[start + 1] = len;
        }
        this.pos = p;
        return;
      }
    }
    const n = Buffer.byteLength(s, "utf8");
    this.ensure(n + 5);
    const b = this.buf;
    if (n < 32) b[this.pos++] = 0xa0 | n;
    else if (n < 0x100) {
      b[this.pos++] = 0xd9;
      b[this.pos++] = n;
    } else if (n < 0x10000) {
      b[this.pos++] = 0xda;
      b.writeUInt16BE(n, this.pos);
      this.pos += 2;
    } else {
      b[this.pos++] = 0xdb;
      b.writeUInt32BE(n, this.pos);
      this.pos += 4;
    }
    this.pos += b.write(s, this.pos, "utf8");
  }
}

/**
 * msgpackr as a reader of what `cmsgpack` writes: plain arrays and objects
 * (no records or structures), 64-bit integers as numbers (epoch ms arrive as
 * uint64). Its JavaScript build: no native add-on to load, and no FFI
 * permission needed in any thread.
 */
const reader = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/**
 * Decodes one MessagePack value. Throws `msgpack: truncated`, `msgpack:
 * trailing bytes` or `msgpack: unsupported type` (extension types, 0xc1).
 */
export function unpack(data: Uint8Array): Packed {
  let value: unknown;
  try {
    value = reader.unpack(data);
  } catch (error) {
    throw new Error(`msgpack: ${failure(error)}`);
  }
  return asPacked(value);
}

/** What msgpackr's error means (tests pin its messages, so an upgrade that changes them shows). */
function failure(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof RangeError || /unexpected end/i.test(message)) return "truncated";
  if (/end of buffer not reached/i.test(message)) return "trailing bytes";
  return "unsupported type";
}

/**
 * `value` as a `Packed`, in place: bin becomes str like in Lua, where both are
 * strings; anything msgpackr makes of extension types (dates, `undefined`,
 * the 0xc1 marker) is refused, as `cmsgpack` never writes them.
 */
function asPacked(value: unknown): Packed {
  switch (typeof value) {
    case "string":
    case "number":
    case "boolean":
      return value;
    case "object":
      if (value === null) return null;
      if (Array.isArray(value)) {
        // Records are mostly strings and numbers: only other items need a look.
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i];
          if (typeof item !== "string" && typeof item !== "number") value[i] = asPacked(item);
        }
        return value;
      }
      if (value instanceof Uint8Array) return utf8.decode(value);
      if (Object.getPrototypeOf(value) === Object.prototype) {
        const map = value as { [key: string]: unknown };
        for (const key of Object.keys(map)) map[key] = asPacked(map[key]);
        return map as { [key: string]: Packed };
      }
  }
  throw new Error("msgpack: unsupported type");
}
