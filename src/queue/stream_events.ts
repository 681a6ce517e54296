/**
 * XREAD replies of the events stream as `StoredEvent`s. The entries' fields
 * are decoded by the one lifecycle codec (`src/events/wire.ts`); a batch
 * entry expands into one event per row, all with the entry's id as cursor.
 *
 * @module
 */
import type { StoredEvent } from "../events/lifecycle.ts";
import { decodeEntry, type WireValue } from "../events/wire.ts";

/** XREAD reply (`[[key, [[id, [field, value, ...]], ...]]]` or null) -> events in order. */
export function parseStream(reply: unknown): StoredEvent[] {
  if (!Array.isArray(reply)) return [];
  const out: StoredEvent[] = [];
  for (const stream of reply) {
    const entries = Array.isArray(stream) ? stream[1] : null;
    if (!Array.isArray(entries)) continue;
    for (const entry of entries) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[1])) {
        continue;
      }
      const cursor = entry[0];
      for (const event of decodeEntry(entry[1] as WireValue[])) out.push({ cursor, event });
    }
  }
  return out;
}
