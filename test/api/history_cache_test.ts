/**
 * The history cache reads each closed step once: a second poll asks Redis
 * only for the open steps (and the settling slack), and answers the same as
 * a full read; counts still coming into open minutes show; unknown queues
 * are not kept; the number of entries is bounded.
 */
import assert from "node:assert/strict";
import type { Broker } from "../../src/queue/broker.ts";
import { emptyMinute, type HistoryMinute } from "../../src/queue/history.ts";
import { HistoryCache, MAX_ENTRIES, SETTLE_MINUTES } from "../../src/api/history_cache.ts";
import { historyBody, windowRange } from "../../src/api/history_points.ts";

/** A broker whose history is `counts` (minute -> completed), recording each read's range. */
function fakeBroker(counts: Map<number, number>, reads: Array<[string, number, number]>) {
  return {
    history(queue: string, from: number, to: number): Promise<HistoryMinute[] | null> {
      reads.push([queue, from, to]);
      if (queue === "nosuch") return Promise.resolve(null);
      const out: HistoryMinute[] = [];
      for (let m = from; m <= to; m++) {
        out.push({ ...emptyMinute(m), completed: counts.get(m) ?? 0 });
      }
      return Promise.resolve(out);
    },
  } as unknown as Broker;
}

const totals = (steps: HistoryMinute[] | null) => steps?.reduce((n, s) => n + s.completed, 0);

Deno.test("history cache: closed steps are read once; the answer equals a full read", async () => {
  const counts = new Map<number, number>();
  const reads: Array<[string, number, number]> = [];
  const cache = new HistoryCache(fakeBroker(counts, reads));
  const now = Date.UTC(2026, 0, 2, 10, 7, 30);
  const range = windowRange("24h", now);
  for (let m = range.from; m <= range.to; m += 7) counts.set(m, 2);
  const full = await cache.read("q", "24h", now);
  assert.deepStrictEqual(reads, [["q", range.from, range.to]]);
  assert.strictEqual(full?.length, 96);

  // A poll later: only the steps still open (or settling) are read again.
  counts.set(range.to, 5); // more work in the current minute
  const later = now + 15_000;
  const again = await cache.read("q", "24h", later);
  const [, from, to] = reads[1];
  assert.strictEqual(to, range.to);
  assert.ok(range.to - from < 15 + SETTLE_MINUTES + 15, `read ${to - from + 1} minutes`);
  let expected = 0;
  for (const [m, n] of counts) if (m >= range.from && m <= range.to) expected += n;
  assert.strictEqual(totals(again), expected);
  assert.notStrictEqual(totals(again), totals(full), "the new work shows");
  // Same as a fresh cache reading everything.
  const fresh = await new HistoryCache(fakeBroker(counts, [])).read("q", "24h", later);
  assert.deepStrictEqual(
    historyBody("q", "24h", windowRange("24h", later), again!),
    historyBody("q", "24h", windowRange("24h", later), fresh!),
  );
});

Deno.test("history cache: the 1 h window keeps minutes; unknown queues are null and not kept; bounded", async () => {
  const counts = new Map<number, number>();
  const reads: Array<[string, number, number]> = [];
  const cache = new HistoryCache(fakeBroker(counts, reads));
  const now = Date.UTC(2026, 0, 2, 10, 7, 30);
  const { from, to } = windowRange("1h", now);
  counts.set(to - 30, 4);
  assert.strictEqual(totals(await cache.read("q", "1h", now)), 4);
  assert.strictEqual(totals(await cache.read("q", "1h", now + 60_000)), 4);
  assert.deepStrictEqual(reads, [["q", from, to], ["q", to - SETTLE_MINUTES + 1, to + 1]]);
  assert.strictEqual(await cache.read("nosuch", "1h", now), null);
  assert.strictEqual(await cache.read("nosuch", "1h", now), null);
  assert.deepStrictEqual(reads.slice(2), [["nosuch", from, to], ["nosuch", from, to]]);

  // Past MAX_ENTRIES, the least recently read entry is dropped (read in full again).
  for (let i = 0; i < MAX_ENTRIES; i++) await cache.read(`q${i}`, "1h", now);
  reads.length = 0;
  await cache.read("q", "1h", now + 60_000);
  assert.deepStrictEqual(reads, [["q", from + 1, to + 1]]);
});
