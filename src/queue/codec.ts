/**
 * The stored job record <-> `Job` conversion, and the small MessagePack codec
 * behind it.
 *
 * Each job is ONE Redis STRING holding a MessagePack array with fixed
 * positions (the scripts read and write it with Redis' built-in
 * `cmsgpack.pack/unpack`; `_lib.lua` names the same positions). A plain string
 * value costs a fraction of a hash whose payload field is longer than
 * `hash-max-listpack-value` (a hashtable then), which is what memory per job
 * is about. Absent fields are `nil`/`false`; Lua writes `false` into holes so
 * the record stays an array (a table with holes would be packed as a map with
 * integer keys, which `unpackRecord` accepts as well).
 *
 * The payload and the result are kept as their original JSON text (a msgpack
 * string), never re-encoded by Lua, so they round-trip byte for byte.
 *
 * Positions (1-based in Lua, `F.*` below is 0-based):
 *  1 type, 2 payload JSON, 3 priority, 4 max attempts, 5 timeout ms,
 *  6 created ms, 7 state code (index in `JOB_STATES`), 8 attempts,
 *  9 started (ms after created), 10 finished (ms after created), 11 result JSON, 12 scheduled-for ms,
 *  13 lease token, 14 lease expiry ms, 15 last error, 16 error history
 *  `[[attempt, message, at_ms], ...]`, 17 progress, 18 cancel requested (true),
 *  19 backoff JSON, 20 idempotency key.
 *
 * @module
 */
import { Buffer } from "node:buffer";
import {
  type AttemptError,
  type BackoffPolicy,
  isoOrNull,
  type Job,
  JOB_STATES,
  type JobState,
} from "./job.ts";

/** 0-based positions of the record's fields (Lua adds 1). */
export const F = {
  type: 0,
  payload: 1,
  priority: 2,
  maxAttempts: 3,
  timeoutMs: 4,
  createdAt: 5,
  state: 6,
  attempts: 7,
  startedAt: 8,
  finishedAt: 9,
  result: 10,
  scheduledFor: 11,
  token: 12,
  leaseExpiresAt: 13,
  error: 14,
  history: 15,
  progress: 16,
  cancel: 17,
  backoff: 18,
  idempotencyKey: 19,
} as const;

/** Number of record positions. */
export const RECORD_FIELDS = 20;

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
 * A value to be written as a MessagePack string holding its own packed bytes
 * (a record inside an enqueue batch): the same bytes as `pack(value)` in a
 * str, written in place instead of packed into a buffer of its own and copied.
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

/**
 * A stored record as a 0-based array (absent fields undefined/null/false).
 * Accepts both the array form and the map form Lua produces for a table with
 * holes (`{1: ..., 3: ...}`). Null when `data` is null, empty or not a record.
 */
export function unpackRecord(data: Uint8Array | null | undefined): Packed[] | null {
  if (!data || data.length === 0) return null;
  let raw: Packed;
  try {
    raw = unpack(data);
  } catch {
    return null;
  }
  if (Array.isArray(raw)) return raw;
  if (raw === null || typeof raw !== "object") return null;
  const out: Packed[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const i = Number(key);
    if (Number.isInteger(i) && i >= 1 && i <= RECORD_FIELDS) out[i - 1] = value;
  }
  return out;
}

/** What enqueue stores for a new job; see the module doc for positions. */
export interface NewRecord {
  type: string;
  payload: string;
  priority: number;
  maxAttempts: number;
  timeoutMs: number;
  createdAt: number;
  /** Epoch ms when due, or 0 for ready now (pending). */
  dueAt: number;
  /** Backoff JSON or "". */
  backoff: string;
  /** Idempotency key or "". */
  idempotencyKey: string;
}

/**
 * A new job's record (pending or scheduled), trailing absent fields left out:
 * enqueue packs it in place into its batch (`Embedded`).
 */
export function newRecord(job: NewRecord): Packed[] {
  const r: Packed[] = [
    job.type,
    job.payload,
    job.priority,
    job.maxAttempts,
    job.timeoutMs,
    job.createdAt,
    job.dueAt > 0 ? 1 : 0,
  ];
  if (job.dueAt > 0 || job.backoff || job.idempotencyKey) {
    while (r.length < F.scheduledFor) r.push(false);
    r.push(job.dueAt > 0 ? job.dueAt : false);
  }
  if (job.backoff || job.idempotencyKey) {
    while (r.length < F.backoff) r.push(false);
    r.push(job.backoff || false);
  }
  if (job.idempotencyKey) r.push(job.idempotencyKey);
  return r;
}

function num(value: Packed | undefined): number | null {
  if (typeof value === "number") return Number.isFinite(value) ? value : null;
  if (typeof value === "string" && value !== "") {
    const n = Number(value);
    return Number.isFinite(n) ? n : null;
  }
  return null;
}

function text(value: Packed | undefined): string | null {
  return typeof value === "string" ? value : null;
}

function json(value: Packed | undefined): unknown {
  if (typeof value !== "string") return null;
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

function history(value: Packed | undefined): AttemptError[] {
  const list = Array.isArray(value)
    ? value
    : value && typeof value === "object"
    ? Object.values(value)
    : [];
  return list.map((entry) => {
    const [attempt, message, at] = Array.isArray(entry) ? entry : [];
    return {
      attempt: Number(attempt) || 0,
      message: String(message ?? ""),
      at: isoOrNull(Number(at)) ?? new Date(0).toISOString(),
    };
  });
}

/** The state a record's state code names (pending when unknown). */
export function stateOf(record: Packed[]): JobState {
  const code = record[F.state];
  return typeof code === "number" && JOB_STATES[code] ? JOB_STATES[code] : "pending";
}

/** Decodes a stored job record (GET reply) into a `Job`; null when missing or unreadable. */
export function decodeJob(id: string, data: Uint8Array | null | undefined): Job | null {
  const r = unpackRecord(data);
  if (!r || typeof r[F.type] !== "string") return null;
  const status = stateOf(r);
  const backoff = text(r[F.backoff]);
  const created = num(r[F.createdAt]);
  const after = (delta: number | null) =>
    delta === null || created === null ? null : created + delta;
  return {
    id,
    type: r[F.type] as string,
    payload: json(r[F.payload]),
    priority: num(r[F.priority]) ?? 0,
    attempts: num(r[F.attempts]) ?? 0,
    max_attempts: num(r[F.maxAttempts]) ?? 1,
    status,
    created_at: isoOrNull(created) ?? new Date(0).toISOString(),
    scheduled_for: isoOrNull(num(r[F.scheduledFor])),
    started_at: isoOrNull(after(num(r[F.startedAt]))),
    completed_at: isoOrNull(after(num(r[F.finishedAt]))),
    result: json(r[F.result]),
    error: text(r[F.error]),
    error_history: history(r[F.history]),
    timeout_ms: num(r[F.timeoutMs]) ?? 0,
    progress: num(r[F.progress]),
    lease_expires_at: status === "running" ? isoOrNull(num(r[F.leaseExpiresAt])) : null,
    cancel_requested: r[F.cancel] === true || r[F.cancel] === 1,
    backoff: backoff ? json(backoff) as BackoffPolicy : null,
  };
}
