/**
 * The one codec between `LifecycleEvent` and its wire form: the fields of an
 * events-stream entry, which the Lua scripts write (`event` and `writeEvents`
 * in `src/queue/scripts/_lib.lua`) and also return to the broker that ran them.
 *
 * The wire form is compact because the stream holds thousands of entries:
 * short field names (`WIRE_NAMES`), and one entry per kind per script call.
 *
 * ```text
 * plain entry (one event): ev <kind> at <ms> id <job id> t <type> <name> <value> ...
 * batch entry (many):      ev <kind> at <ms> f <name,name,...> rows <JSON array of rows>
 * ```
 *
 * A batch row holds the values of the `f` names in order (`id` and `t`
 * included). Booleans travel as 1/0. Every event of an entry has the entry's
 * `at`. What this module cannot read completely (an unknown kind, a missing
 * required field) is dropped: the stream is ours, so that is never a live
 * event, and readers must not stop on it.
 *
 * @module
 */
import type { EventOf, LifecycleEvent, LifecycleEventKind } from "./lifecycle.ts";

/** Field types on the wire; `?` marks a field an event may leave out. */
type Base = "num" | "text" | "bool" | "outcome";

/** The fields of an event besides the ones every event has. */
type OwnFields<E> = Exclude<keyof E, "kind" | "job_id" | "type" | "at">;

/** A kind's field spec: every own field, optional exactly when the type says so. */
type SpecOf<E> = { [F in OwnFields<E>]-?: undefined extends E[F] ? `${Base}?` : Base };

/** Each kind's own fields and their wire types (the compiler checks it covers the union). */
export const EVENT_FIELDS: { readonly [K in LifecycleEventKind]: SpecOf<EventOf<K>> } = {
  enqueued: { priority: "num" },
  started: { attempt: "num", queued_ms: "num" },
  progress: { attempt: "num", percent: "num" },
  completed: { attempt: "num", duration_ms: "num" },
  retry_scheduled: { attempt: "num", duration_ms: "num", error: "text", retry_in_ms: "num" },
  failed: { attempt: "num", duration_ms: "num?", error: "text" },
  cancelled: { attempt: "num", duration_ms: "num?" },
  timed_out: { attempt: "num", duration_ms: "num", hard: "bool" },
  released: { attempt: "num", restored: "bool", reason: "text" },
  recovered: { attempt: "num", outcome: "outcome" },
  requeued: {},
};

/** Event field -> wire name. `kind` and `at` are the entry's `ev` and `at`. */
export const WIRE_NAMES = {
  job_id: "id",
  type: "t",
  priority: "p",
  attempt: "a",
  queued_ms: "q",
  percent: "pct",
  duration_ms: "dur",
  error: "err",
  retry_in_ms: "retry",
  hard: "hard",
  restored: "restored",
  reason: "why",
  outcome: "out",
} as const;

type FieldName = keyof typeof WIRE_NAMES;
type WireName = typeof WIRE_NAMES[FieldName];

const FIELD_OF = new Map<string, FieldName>(
  (Object.entries(WIRE_NAMES) as Array<[FieldName, WireName]>).map(([f, w]) => [w, f]),
);

/** A value as it arrives: a Redis reply string or bulk buffer, or a number from a JSON row. */
export type WireValue = string | number | Uint8Array | null | undefined;

const OUTCOMES = new Set(["pending", "failed", "cancelled"]);
const utf8 = new TextDecoder();

function text(value: WireValue): string | undefined {
  if (value === null || value === undefined) return undefined;
  if (value instanceof Uint8Array) return utf8.decode(value);
  return String(value);
}

/** One field's value, or undefined when missing or not of its type. */
function read(type: Base, raw: WireValue): number | string | boolean | undefined {
  const s = text(raw);
  if (s === undefined || s === "") return undefined;
  switch (type) {
    case "num": {
      const n = Number(s);
      return Number.isFinite(n) ? n : undefined;
    }
    case "bool":
      return s === "1" || s === "true";
    case "outcome":
      return OUTCOMES.has(s) ? s : undefined;
    case "text":
      return s;
  }
}

/** Builds one event from wire values by wire name; null when a required field is missing. */
function build(
  kind: LifecycleEventKind,
  at: number,
  get: (wire: WireName) => WireValue,
): LifecycleEvent | null {
  const jobId = text(get("id"));
  const type = text(get("t"));
  if (!jobId || type === undefined) return null;
  const event: Record<string, unknown> = { kind, job_id: jobId, type, at };
  for (const [field, spec] of Object.entries(EVENT_FIELDS[kind]) as Array<[FieldName, string]>) {
    const optional = spec.endsWith("?");
    const value = read((optional ? spec.slice(0, -1) : spec) as Base, get(WIRE_NAMES[field]));
    if (value === undefined) {
      if (!optional) return null;
      continue;
    }
    event[field] = value;
  }
  return event as unknown as LifecycleEvent;
}

function isKind(value: string | undefined): value is LifecycleEventKind {
  return value !== undefined && Object.hasOwn(EVENT_FIELDS, value);
}

/**
 * The events of one entry, given its flat field list (`[name, value, ...]`,
 * as XREAD and the scripts return it). A batch entry gives one event per row.
 *
 * @example
 * ```ts
 * decodeEntry(["ev", "enqueued", "at", "1700000000000", "id", "j1", "t", "email", "p", "5"]);
 * // [{ kind: "enqueued", job_id: "j1", type: "email", at: 1700000000000, priority: 5 }]
 * ```
 */
export function decodeEntry(fields: readonly WireValue[]): LifecycleEvent[] {
  const values = new Map<string, WireValue>();
  for (let i = 0; i + 1 < fields.length; i += 2) {
    const name = text(fields[i]);
    if (name !== undefined) values.set(name, fields[i + 1]);
  }
  const kind = text(values.get("ev"));
  const at = Number(text(values.get("at")));
  if (!isKind(kind) || !Number.isFinite(at)) return [];
  const rows = text(values.get("rows"));
  const names = text(values.get("f"));
  if (rows === undefined || names === undefined) {
    const event = build(kind, at, (wire) => values.get(wire));
    return event ? [event] : [];
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(rows);
  } catch {
    return [];
  }
  if (!Array.isArray(parsed)) return [];
  const columns = new Map<string, number>(names.split(",").map((name, i) => [name, i]));
  const events: LifecycleEvent[] = [];
  for (const row of parsed) {
    if (!Array.isArray(row)) continue;
    const event = build(kind, at, (wire) => {
      const i = columns.get(wire);
      return i === undefined ? undefined : row[i] as WireValue;
    });
    if (event) events.push(event);
  }
  return events;
}

/**
 * The plain-entry fields of one event, as a script would write them (for
 * tests and fakes; the scripts are the real writers).
 */
export function encodeEvent(event: LifecycleEvent): string[] {
  const out = ["ev", event.kind, "at", String(event.at)];
  for (const [field, value] of Object.entries(event)) {
    if (field === "kind" || field === "at" || value === undefined) continue;
    const wire = WIRE_NAMES[field as FieldName];
    if (wire === undefined) continue;
    out.push(wire, typeof value === "boolean" ? (value ? "1" : "0") : String(value));
  }
  return out;
}

/** The field of a wire name, for checks of what the scripts write. */
export function fieldOfWireName(wire: string): FieldName | undefined {
  return FIELD_OF.get(wire);
}
