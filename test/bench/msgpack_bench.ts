/**
 * Our hand-written MessagePack codec against `npm:msgpackr` on the records
 * the queue really encodes and decodes; the figures behind the choice
 * `src/queue/msgpack.ts` documents (our writer, msgpackr's reader):
 *
 * - enqueue: the batch argument of enqueue.lua, built as `scripts.ts` builds
 *   it (`pack(batch)` with `Embedded(newRecord(job))` per job), for batches
 *   of 1, 50 and 1000 email jobs (payload JSON about 190 bytes);
 * - claim: `unpackRecord` of claimed records, as Redis' cmsgpack wrote them
 *   (enqueued and claimed through a real `RedisBroker`, then read back);
 * - get: `decodeJob` of completed records, from the same server.
 *
 * msgpackr runs as a drop-in would have to: no records, structures or
 * extensions, 64-bit integers read as numbers, its JavaScript build (as
 * msgpack.ts imports it; no native add-on). It cannot write a packed record
 * as a str in place (it writes bytes as bin, which cmsgpack does not read), so
 * the enqueue case has three msgpackr variants: "own frame" is what a switch
 * would ship (msgpackr packs each job's first six fields and its record, a
 * few lines join them into the batch), "bin" packs everything with msgpackr
 * (Redis refuses that argument: the cost of the Embedded trick's absence
 * alone), "our frame" packs the records with msgpackr and the batch around
 * them with our `pack`. The decoding cases compare what ships (msgpackr plus
 * msgpack.ts' checks) with the hand-written reader it replaced
 * (`handwritten_unpack.ts`). Each case alternates the variants, several
 * rounds; the table shows medians in ns per record, and the last lines what
 * Redis does with each codec's bytes (msgpackr writes integers above 32 bits,
 * epoch ms, as float64 where cmsgpack writes uint64). Takes about 30 s.
 *
 * ```sh
 * deno run -A test/bench/msgpack_bench.ts [--rounds 7] [--ms 100]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { Buffer } from "node:buffer";
import { Packr, Unpackr } from "msgpackr/pack";
import { Redis } from "ioredis";
import { Embedded, pack, type Packable, type Packed, unpack } from "../../src/queue/msgpack.ts";
import { decodeJob, newRecord, recordToJob, unpackRecord } from "../../src/queue/record.ts";
import { type EncodedJob, encodeJob } from "../../src/queue/validate.ts";
import { RedisBroker } from "../../src/queue/redis_broker.ts";
import { TestRedis } from "../helpers/redis_server.ts";
import { unpackHandwritten } from "./handwritten_unpack.ts";

/** The constraints a drop-in must meet (see the module doc). */
const packr = new Packr({ useRecords: false, moreTypes: false, encodeUndefinedAsNil: true });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true, int64AsType: "number" });

/** A typical email job's payload (~170 bytes of JSON). */
function emailPayload(i: number): Record<string, string> {
  return {
    to: `user${i}@example.com`,
    from: "noreply@example.com",
    subject: `Welcome to Example, user ${i}!`,
    body: "Thanks for signing up. Your account is ready; reply to this message if you need help.",
  };
}

/** What the email job answers with. */
function emailResult(i: number): Record<string, unknown> {
  return { message_id: `<${i}.1800000000000@example.com>`, accepted: [`user${i}@example.com`] };
}

/** enqueue.lua's batch tuple for one job, exactly as `scripts.ts` builds it. */
function tuple(job: EncodedJob, record: Packable): Packable[] {
  return [job.id, job.type, job.priority, job.dueAt, job.idempotencyKey, job.callerId, record];
}

/** The size hint `scripts.ts` gives `pack` for a batch. */
function sizeHint(jobs: EncodedJob[]): number {
  return 64 + jobs.length * (160 + (jobs[0]?.payload.length ?? 0));
}

const enqueueOurs = (jobs: EncodedJob[]): Uint8Array =>
  pack(jobs.map((job) => tuple(job, new Embedded(newRecord(job)))), sizeHint(jobs));

const enqueueMsgpackrBin = (jobs: EncodedJob[]): Uint8Array =>
  packr.pack(jobs.map((job) => tuple(job, packr.pack(newRecord(job)))));

const enqueueMsgpackrInOurFrame = (jobs: EncodedJob[]): Uint8Array =>
  pack(jobs.map((job) => tuple(job, packr.pack(newRecord(job)))), sizeHint(jobs));

/**
 * What a switch to msgpackr would ship: each job's first six fields and its
 * record packed by msgpackr, joined by hand (the six-field array's fixarray
 * header 0x96 becomes 0x97, then a str32 header before the record's bytes).
 */
function enqueueMsgpackrOwnFrame(jobs: EncodedJob[]): Uint8Array {
  const parts: Uint8Array[] = [];
  let size = 5;
  for (const job of jobs) {
    const head = packr.pack(tuple(job, null).slice(0, 6));
    const record = packr.pack(newRecord(job));
    parts.push(head, record);
    size += head.length + 5 + record.length;
  }
  const out = Buffer.allocUnsafe(size);
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  let at = 0;
  if (jobs.length < 16) out[at++] = 0x90 | jobs.length;
  else {
    out[at++] = 0xdc;
    view.setUint16(at, jobs.length);
    at += 2;
  }
  for (let i = 0; i < parts.length; i += 2) {
    out.set(parts[i], at);
    out[at] = 0x97;
    at += parts[i].length;
    out[at] = 0xdb;
    view.setUint32(at + 1, parts[i + 1].length);
    out.set(parts[i + 1], at + 5);
    at += 5 + parts[i + 1].length;
  }
  return out.subarray(0, at);
}

/** `unpackRecord` on the hand-written reader (real records are arrays). */
function unpackRecordHandwritten(data: Uint8Array): Packed[] | null {
  try {
    const raw = unpackHandwritten(data);
    return Array.isArray(raw) ? raw : null;
  } catch {
    return null;
  }
}

let sink = 0;

/** ns per record of `run` (which handles `records` records), over at least `ms`. */
function nsPerRecord(run: () => number, records: number, ms: number): number {
  let reps = 1;
  for (;;) {
    const start = performance.now();
    for (let i = 0; i < reps; i++) sink += run();
    const took = performance.now() - start;
    if (took >= ms) return took * 1e6 / (reps * records);
    reps = took < ms / 8 ? reps * 8 : Math.ceil(reps * ms / took * 1.1);
  }
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

const equalBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

/** Real records: enqueued, claimed and completed through the broker on a throwaway server. */
async function realRecords(url: string, n: number): Promise<{
  claimed: Uint8Array[];
  finished: Array<{ id: string; data: Uint8Array }>;
}> {
  const broker = new RedisBroker({ url, queue: "msgpack_bench", eventsMaxLen: 0 });
  const redis = new Redis(url);
  try {
    await broker.enqueueBatch(
      Array.from({ length: n }, (_, i) => ({ type: "email", payload: emailPayload(i) })),
    );
    const jobs = await broker.claim(n);
    const read = (id: string) => redis.getBuffer(`${broker.keys.jobPrefix}${id}`);
    const claimed = await Promise.all(jobs.map(async (j) => (await read(j.id))!));
    await broker.completeMany(jobs.map((j, i) => ({ ...j, result: emailResult(i) })));
    const finished = await Promise.all(
      jobs.map(async (j) => ({ id: j.id, data: (await read(j.id))! })),
    );
    return { claimed, finished };
  } finally {
    await broker.close();
    redis.disconnect();
  }
}

/** Whether cmsgpack unpacks `data` and packs it back to the same bytes. */
async function cmsgpackKeeps(redis: Redis, data: Uint8Array): Promise<boolean> {
  const again = await redis.callBuffer(
    "EVAL",
    "return cmsgpack.pack(cmsgpack.unpack(ARGV[1]))",
    0,
    Buffer.from(data),
  ) as Buffer;
  return equalBytes(again, data);
}

/** Whether cmsgpack reads `data` as an array of as many jobs as `n`. */
async function cmsgpackReads(redis: Redis, data: Uint8Array, n: number): Promise<boolean> {
  const count = await redis.call(
    "EVAL",
    "local ok, v = pcall(cmsgpack.unpack, ARGV[1]) if ok and type(v) == 'table' " +
      "and type(v[1][7]) == 'string' then return #v end return -1",
    0,
    Buffer.from(data),
  );
  return count === n;
}

interface Case {
  name: string;
  records: number;
  variants: Array<[string, () => number]>;
}

async function main(): Promise<void> {
  const args = parseArgs({
    options: { rounds: { type: "string", default: "7" }, ms: { type: "string", default: "100" } },
  }).values;
  const rounds = Number(args.rounds);
  const ms = Number(args.ms);
  const server = await TestRedis.start();
  if (!server.url.startsWith("redis://127.0.0.1:")) {
    throw new Error(`refusing to run against ${server.url}: 127.0.0.1 only`);
  }
  const redis = new Redis(server.url);
  try {
    const { claimed, finished } = await realRecords(server.url, 1000);
    const now = Date.now();
    const jobsOf = (n: number) =>
      Array.from(
        { length: n },
        (_, i) =>
          encodeJob({ type: "email", payload: emailPayload(i) }, now, {
            queue: "default",
            home: "default",
          }),
      );
    const batches = new Map([1, 50, 1000].map((n) => [n, jobsOf(n)]));

    // What each codec's bytes do in Redis: the reasons behind the variants.
    const b50 = batches.get(50)!;
    const readable = async (encode: (jobs: EncodedJob[]) => Uint8Array) =>
      await cmsgpackReads(redis, encode(b50), 50);
    const compat = [
      `cmsgpack reads the batch: ours ${await readable(
        enqueueOurs,
      )}, msgpackr own frame ${await readable(
        enqueueMsgpackrOwnFrame,
      )}, msgpackr bin ${await readable(
        enqueueMsgpackrBin,
      )}, msgpackr in our frame ${await readable(
        enqueueMsgpackrInOurFrame,
      )}`,
      `a new record is what cmsgpack writes: ours ${await cmsgpackKeeps(
        redis,
        pack(newRecord(b50[0])),
      )}, msgpackr ${await cmsgpackKeeps(redis, packr.pack(newRecord(b50[0])))}`,
      `claimed records re-packed to cmsgpack's bytes: ours ${
        claimed.every((c) => equalBytes(pack(unpack(c)), c))
      }, msgpackr ${claimed.every((c) => equalBytes(packr.pack(unpackr.unpack(c)), c))}`,
    ];
    for (const [i, c] of claimed.entries()) {
      const ours = unpackRecordHandwritten(c);
      const theirs = unpackRecord(c);
      if (JSON.stringify(ours) !== JSON.stringify(theirs)) {
        throw new Error(`claimed record ${i} decodes differently`);
      }
    }

    const cases: Case[] = [];
    for (const [n, jobs] of batches) {
      cases.push({
        name: `enqueue batch of ${n}`,
        records: n,
        variants: [
          ["ours (ships)", () => enqueueOurs(jobs).length],
          ["msgpackr own frame", () => enqueueMsgpackrOwnFrame(jobs).length],
          ["msgpackr bin", () => enqueueMsgpackrBin(jobs).length],
          ["msgpackr, our frame", () => enqueueMsgpackrInOurFrame(jobs).length],
        ],
      });
    }
    cases.push({
      name: "claim: unpackRecord",
      records: claimed.length,
      variants: [
        ["hand-written", () => claimed.reduce((s, c) => s + unpackRecordHandwritten(c)!.length, 0)],
        ["msgpackr (ships)", () => claimed.reduce((s, c) => s + unpackRecord(c)!.length, 0)],
      ],
    });
    cases.push({
      name: "get: decodeJob (finished)",
      records: finished.length,
      variants: [
        [
          "hand-written",
          () =>
            finished.reduce(
              (s, f) =>
                s + recordToJob(f.id, unpackRecordHandwritten(f.data)!, "default")!.attempts,
              0,
            ),
        ],
        [
          "msgpackr (ships)",
          () => finished.reduce((s, f) => s + decodeJob(f.id, f.data, "default")!.attempts, 0),
        ],
      ],
    });

    const samples = new Map<string, number[]>();
    for (const c of cases) for (const [, run] of c.variants) nsPerRecord(run, c.records, ms); // warm-up
    for (let round = 0; round < rounds; round++) {
      for (const c of cases) {
        // Alternate which codec goes first, so drift favours neither.
        const order = round % 2 ? [...c.variants].reverse() : c.variants;
        for (const [v, run] of order) {
          const key = `${c.name}\t${v}`;
          samples.set(key, [...(samples.get(key) ?? []), nsPerRecord(run, c.records, ms)]);
        }
      }
    }

    console.log(
      `${rounds} rounds of >= ${ms} ms each; medians, ns per record (lower is better)`,
    );
    console.log(
      `payload JSON ${b50[0].payload.length} B; claimed record ${claimed[0].length} B; ` +
        `finished record ${finished[0].data.length} B`,
    );
    const rows: string[][] = [["case", "variant", "ns/record", "records/s", "vs hand-written"]];
    for (const c of cases) {
      const ours = median(samples.get(`${c.name}\t${c.variants[0][0]}`)!);
      for (const [v] of c.variants) {
        const m = median(samples.get(`${c.name}\t${v}`)!);
        rows.push([
          c.name,
          v,
          m.toFixed(0),
          Math.round(1e9 / m).toLocaleString("en-US"),
          `${(m / ours).toFixed(2)}x`,
        ]);
      }
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join("  "));
    for (const line of compat) console.log(line);
    if (sink === 0) console.log("(sink)");
  } finally {
    redis.disconnect();
    await server.stop();
    if (!server.external) await Deno.remove(server.dir, { recursive: true });
  }
}

if (import.meta.main) await main();
