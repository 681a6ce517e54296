/**
 * The hand-written MessagePack reader `src/queue/msgpack.ts` used before it
 * switched its decoding to msgpackr (which decodes real records faster, see
 * its header). Kept, unchanged, only as `msgpack_bench.ts`'s baseline, so the
 * decision can be measured again (after a msgpackr or Deno upgrade, say).
 * Nothing outside test/bench/ may import it.
 *
 * @module
 */
import type { Packed } from "../../src/queue/msgpack.ts";

const utf8 = new TextDecoder();

/** Decodes one MessagePack value. Throws on truncated input or unsupported types. */
export function unpackHandwritten(data: Uint8Array): Packed {
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
