/**
 * The lifecycle stream's entries as `StreamEvent`s. The scripts write two
 * shapes (see `emit` and `flushEvents` in `scripts/_lib.lua`): one entry per
 * event (`ev <kind> id <id> t <type> ...`), and one entry per batch script
 * call (`ev <kind> f <field,field,...> rows <JSON array of rows>`), which
 * expands into one event per row, all with the entry's stream id.
 *
 * @module
 */
import type { StreamEvent } from "./job.ts";

/**
 * XREAD reply -> events. Fields `ev`, `id`, `t` are lifted; the rest go to
 * `data`. A batch entry (`ev`, `f` = comma-separated field names, `rows` = a
 * JSON array of rows; see flushEvents in _lib.lua) becomes one event per row,
 * all with the entry's stream id.
 */
export function parseStream(reply: unknown): StreamEvent[] {
  if (!Array.isArray(reply)) return [];
  const events: StreamEvent[] = [];
  for (const [, entries] of reply as Array<[string, Array<[string, string[]]>]>) {
    for (const [streamId, fields] of entries) {
      const data: Record<string, string> = {};
      for (let i = 0; i + 1 < fields.length; i += 2) data[fields[i]] = fields[i + 1];
      if (data.rows !== undefined && data.f !== undefined) {
        expandBatch(streamId, data.ev ?? "", data.f.split(","), data.rows, events);
        continue;
      }
      const { ev = "", id = "", t = "", ...rest } = data;
      events.push({ stream_id: streamId, event: ev, job_id: id, type: t, data: rest });
    }
  }
  return events;
}

function expandBatch(
  streamId: string,
  event: string,
  names: string[],
  rowsJson: string,
  out: StreamEvent[],
): void {
  let rows: unknown;
  try {
    rows = JSON.parse(rowsJson);
  } catch {
    return; // not written by our scripts: nothing to report
  }
  if (!Array.isArray(rows)) return;
  for (const row of rows) {
    if (!Array.isArray(row)) continue;
    const data: Record<string, string> = {};
    names.forEach((name, i) => {
      if (row[i] !== undefined && row[i] !== null) data[name] = String(row[i]);
    });
    const { id = "", t = "", ...rest } = data;
    out.push({ stream_id: streamId, event, job_id: id, type: t, data: rest });
  }
}
