/**
 * A small MessagePack codec: exactly the subset Redis' built-in `cmsgpack`
 * reads and writes (nil, booleans, integers, doubles, str, array, map), so
 * what `pack` writes a Lua script can `cmsgpack.unpack`, and what a script
 * `cmsgpack.pack`s `unpack` reads. It knows nothing about jobs (`record.ts`
 * does).
 *
 * Two choices follow from `cmsgpack`:
 * - bytes (`Uint8Array`) are written as str, never bin: `cmsgpack` reads no
 *   bin types, and a Lua string is bytes anyway;
 * - `Embedded` writes a packed value inside a str in place (enqueue sends
 *   each job's stored record that way in its batch, and Lua stores the str
 *   as is), with no buffer of its own to allocate and copy.
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

/** Decodes one MessagePack value. Throws on truncated input or unsupported types. */
export function unpack(data: Uint8Array): Packed {
  const r = new Reader(data);
  const value = r.value();
  if (r.pos !== data.length) throw new Error("msgpack: trailing bytes");
  return value;
}

class Reader {
  readonly view: DataView;
  pos = 0;

  constructor(readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }

  need(n: number): number {
    const at = this.pos;
    if (at + n > this.data.length) throw new Error("msgpack: truncated");
    this.pos += n;
    return at;
  }

  value(): Packed {
    const t = this.data[this.need(1)];
    if (t < 0x80) return t;
    if (t >= 0xe0) return t - 0x100;
    if (t >= 0xa0 && t <= 0xbf) return this.str(t & 0x1f);
    if (t >= 0x90 && t <= 0x9f) return this.array(t & 0x0f);
    if (t >= 0x80 && t <= 0x8f) return this.map(t & 0x0f);
    const v = this.view;
    switch (t) {
      case 0xc0:
        return null;
      case 0xc2:
        return false;
      case 0xc3:
        return true;
      case 0xc4:
      case 0xd9:
        return this.str(this.data[this.need(1)]);
      case 0xc5:
      case 0xda:
        return this.str(v.getUint16(this.need(2)));
      case 0xc6:
      case 0xdb:
        return this.str(v.getUint32(this.need(4)));
      case 0xca:
        return v.getFloat32(this.need(4));
      case 0xcb:
        return v.getFloat64(this.need(8));
      case 0xcc:
        return this.data[this.need(1)];
      case 0xcd:
        return v.getUint16(this.need(2));
      case 0xce:
        return v.getUint32(this.need(4));
      case 0xcf:
        return Number(v.getBigUint64(this.need(8)));
      case 0xd0:
        return v.getInt8(this.need(1));
      case 0xd1:
        return v.getInt16(this.need(2));
      case 0xd2:
        return v.getInt32(this.need(4));
      case 0xd3:
        return Number(v.getBigInt64(this.need(8)));
      case 0xdc:
        return this.array(v.getUint16(this.need(2)));
      case 0xdd:
        return this.array(v.getUint32(this.need(4)));
      case 0xde:
        return this.map(v.getUint16(this.need(2)));
      case 0xdf:
        return this.map(v.getUint32(this.need(4)));
    }
    throw new Error(`msgpack: unsupported type 0x${t.toString(16)}`);
  }

  str(n: number): string {
    const at = this.need(n);
    return utf8.decode(this.data.subarray(at, at + n));
  }

  array(n: number): Packed[] {
    const out: Packed[] = new Array(n);
    for (let i = 0; i < n; i++) out[i] = this.value();
    return out;
  }

  map(n: number): { [key: string]: Packed } {
    const out: { [key: string]: Packed } = {};
    for (let i = 0; i < n; i++) {
      const key = this.value();
      out[String(key)] = this.value();
    }
    return out;
  }
}
