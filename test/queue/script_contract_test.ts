/**
 * The script contract has one source (`script_contract.ts`, `record.ts`'s `F`,
 * `JOB_STATES`, `src/events/`); the Lua side restates it in headers and
 * locals. These tests parse every script and `_lib.lua` and fail on any
 * drift: a key or argument out of order or misnamed, a raw `KEYS[n]`/`ARGV[n]`
 * in a script's body, a record position or state code that disagrees, an
 * event written by a script the vocabulary does not name, or with fields the
 * codec cannot read.
 */
import assert from "node:assert/strict";
import {
  QUEUE_CONSTANTS,
  SCRIPT_NAMES,
  SCRIPTS,
  type ScriptSpec,
} from "../../src/queue/script_contract.ts";
import { F, RECORD_FIELDS } from "../../src/queue/record.ts";
import { JOB_STATES } from "../../src/queue/job.ts";
import { DURATION_BUCKETS } from "../../src/metrics/prometheus.ts";
import { HISTORY_TTL_S, LATENCY_BUCKETS_MS } from "../../src/queue/history.ts";
import { EVENT_SOURCES, type LifecycleEventKind } from "../../src/events/lifecycle.ts";
import { EVENT_FIELDS, fieldOfWireName } from "../../src/events/wire.ts";

const SCRIPT_DIR = new URL("../../src/queue/scripts/", import.meta.url);
const read = (name: string) => Deno.readTextFileSync(new URL(`${name}.lua`, SCRIPT_DIR));
const CONSTANTS = QUEUE_CONSTANTS.length;

/** `maxAttempts` -> `MAX_ATTEMPTS`. */
const screaming = (camel: string) => camel.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();

interface Parsed {
  /** Header entries: index -> name. */
  keyHeaders: Map<number, string>;
  argHeaders: Map<number, string>;
  /** `-- ARGV[n..] (a, b)`: where the repeated tuple starts and its names. */
  rest: { from: number; names: string[] } | null;
  /** `-- KEYS[n..] (a, b)`: where a group script's per-queue keys start, and their names. */
  queueKeys: { from: number; names: string[] } | null;
  keysFrom: number | null;
  constantsHeader: string | null;
  /** `local x = KEYS[n]` / `local x = ARGV[n]` (possibly inside tonumber(...)). */
  keyLocals: Map<number, string>;
  argLocals: Map<number, string>;
  restFrom: number | null;
  /** Lines of code (comments and the locals above removed) that still index KEYS/ARGV by number. */
  rawSlots: string[];
}

function parse(source: string): Parsed {
  const p: Parsed = {
    keyHeaders: new Map(),
    argHeaders: new Map(),
    rest: null,
    queueKeys: null,
    keysFrom: null,
    constantsHeader: null,
    keyLocals: new Map(),
    argLocals: new Map(),
    restFrom: null,
    rawSlots: [],
  };
  for (const line of source.split("\n")) {
    let m: RegExpExecArray | null;
    if ((m = /^-- KEYS\[(\d+)\] (\w+):/.exec(line))) p.keyHeaders.set(Number(m[1]), m[2]);
    else if ((m = /^-- KEYS\[(\d+)\.\.\] \(([^)]*)\)/.exec(line))) {
      p.queueKeys = { from: Number(m[1]), names: m[2].split(",").map((s) => s.trim()) };
    } else if ((m = /^-- ARGV\[(\d+)\] (\w+):/.exec(line))) p.argHeaders.set(Number(m[1]), m[2]);
    else if ((m = /^-- ARGV\[(\d+)\.\.\] \(([^)]*)\)/.exec(line))) {
      p.rest = { from: Number(m[1]), names: m[2].split(",").map((s) => s.trim()) };
    } else if ((m = /^-- (ARGV\[1\.\.\d+\]) the queue constants/.exec(line))) {
      p.constantsHeader = m[1];
    } else if ((m = /^local (\w+) = (?:tonumber\()?KEYS\[(\d+)\]\)?$/.exec(line))) {
      p.keyLocals.set(Number(m[2]), m[1]);
    } else if (
      (m = /^local (\w+) = (?:tonumber\(|cmsgpack\.unpack\()?ARGV\[(\d+)\]\)?( == "1")?$/.exec(
        line,
      ))
    ) {
      p.argLocals.set(Number(m[2]), m[1]);
    } else if ((m = /^local restFrom = (\d+)$/.exec(line))) p.restFrom = Number(m[1]);
    else if ((m = /^local keysFrom = (\d+)$/.exec(line))) p.keysFrom = Number(m[1]);
    else {
      const code = line.replace(/--.*$/, "");
      if (/KEYS\[\d|ARGV\[\d/.test(code)) p.rawSlots.push(line.trim());
    }
  }
  return p;
}

const ordered = (map: Map<number, string>) =>
  [...map.entries()].sort(([a], [b]) => a - b).map(([i, name]) => `${i} ${name}`);

for (const name of SCRIPT_NAMES) {
  Deno.test(`script contract: ${name}.lua header and locals match its descriptor`, () => {
    const spec: ScriptSpec = SCRIPTS[name];
    const p = parse(read(name));
    const keys = spec.keys.map((k, i) => `${i + 1} ${k}`);
    assert.deepStrictEqual(ordered(p.keyHeaders), keys, "KEYS in the header");
    assert.deepStrictEqual(
      ordered(p.keyLocals),
      spec.keys.map((k, i) => `${i + 1} ${k}Key`),
      "each key named once at the top: local <name>Key = KEYS[i]",
    );
    assert.strictEqual(p.constantsHeader, `ARGV[1..${CONSTANTS}]`, "the constants block");
    const args = spec.args.map((a, i) => `${CONSTANTS + i + 1} ${a}`);
    assert.deepStrictEqual(ordered(p.argHeaders), args, "ARGV in the header");
    assert.deepStrictEqual(ordered(p.argLocals), args, "each argument named once at the top");
    if (spec.queueKeys) {
      const from = spec.keys.length + 1;
      assert.deepStrictEqual(
        p.queueKeys,
        { from, names: [...spec.queueKeys] },
        "per-queue keys in the header",
      );
      assert.strictEqual(p.keysFrom, from, "local keysFrom");
    } else {
      assert.strictEqual(p.queueKeys, null);
      assert.strictEqual(p.keysFrom, null);
    }
    const restFrom = CONSTANTS + spec.args.length + 1;
    if (spec.rest) {
      assert.deepStrictEqual(p.rest, { from: restFrom, names: [...spec.rest] }, "repeated tuple");
      assert.strictEqual(p.restFrom, restFrom, "local restFrom");
    } else {
      assert.strictEqual(p.rest, null);
      assert.strictEqual(p.restFrom, null);
    }
    assert.deepStrictEqual(p.rawSlots, [], "no KEYS[n]/ARGV[n] in the body: use the named locals");
  });
}

Deno.test("script contract: _lib.lua's duration buckets are DURATION_BUCKETS in ms", () => {
  const m = /local DURATION_BUCKETS_MS = \{([^}]*)\}/.exec(read("_lib"));
  assert.ok(m, "DURATION_BUCKETS_MS");
  assert.deepStrictEqual(
    m[1].split(",").map((s) => Number(s.trim())),
    DURATION_BUCKETS.map((s) => Math.round(s * 1000)),
  );
});

Deno.test("script contract: _lib.lua's latency buckets and history TTL are history.ts's", () => {
  const lib = read("_lib");
  const m = /local LATENCY_BUCKETS_MS = \{([^}]*)\}/.exec(lib);
  assert.ok(m, "LATENCY_BUCKETS_MS");
  assert.deepStrictEqual(m[1].split(",").map((s) => Number(s.trim())), [...LATENCY_BUCKETS_MS]);
  assert.strictEqual(Number(/local HISTORY_TTL_S = (\d+)/.exec(lib)?.[1]), HISTORY_TTL_S);
});

Deno.test("script contract: _lib.lua names the queue constants in order", () => {
  const p = parse(read("_lib"));
  const expected = QUEUE_CONSTANTS.map((c, i) => `${i + 1} ${c}`);
  assert.deepStrictEqual(ordered(p.argHeaders), expected, "header");
  assert.deepStrictEqual(ordered(p.argLocals), expected, "locals");
  assert.deepStrictEqual(ordered(p.keyLocals), [], "no key is shared");
  assert.deepStrictEqual(p.rawSlots, []);
});

Deno.test("script contract: _lib.lua's record positions and state codes match record.ts and JOB_STATES", () => {
  const lib = read("_lib");
  const constants = new Map<string, number>();
  for (const m of lib.matchAll(/^local ([A-Z_]+) = (\d+)$/gm)) constants.set(m[1], Number(m[2]));
  const fields = [...constants.keys()].filter((k) => k.startsWith("F_"));
  assert.deepStrictEqual(
    fields.sort(),
    Object.keys(F).map((k) => `F_${screaming(k)}`).sort(),
    "one F_ constant per record field",
  );
  for (const [field, index] of Object.entries(F)) {
    assert.strictEqual(constants.get(`F_${screaming(field)}`), index + 1, `position of ${field}`);
  }
  assert.strictEqual(constants.get("RECORD_FIELDS"), RECORD_FIELDS);
  JOB_STATES.forEach((state, code) => {
    assert.strictEqual(constants.get(state.toUpperCase()), code, `code of ${state}`);
  });
  const names = /local STATE_NAMES = \{ \[0\] = ([^}]*) \}/.exec(lib);
  assert.ok(names, "STATE_NAMES");
  assert.deepStrictEqual(names[1].split(",").map((s) => s.trim().replaceAll('"', "")), [
    ...JOB_STATES,
  ]);
});

/** Every `event`, `eventGroup` and `replayEvent` call of a script: `("kind", { names })`. */
function eventsWritten(source: string): Array<{ kind: string; names: string[] }> {
  return [...source.matchAll(/\b(?:event|eventGroup|replayEvent)\(\s*"(\w+)",\s*\{([^}]*)\}/g)].map(
    (m) => ({
      kind: m[1],
      names: m[2].split(",").map((s) => s.trim().replaceAll('"', "")).filter((s) => s !== ""),
    }),
  );
}

Deno.test("script contract: each script writes exactly the events EVENT_SOURCES names, with fields the codec reads", () => {
  const written = new Map<string, Set<string>>();
  for (const script of SCRIPT_NAMES) {
    for (const { kind, names } of eventsWritten(read(script))) {
      assert.ok(Object.hasOwn(EVENT_SOURCES, kind), `${script}.lua writes unknown kind ${kind}`);
      const k = kind as LifecycleEventKind;
      assert.ok(EVENT_SOURCES[k].includes(script), `${kind} is not listed as written by ${script}`);
      assert.deepStrictEqual(names.slice(0, 2), ["id", "t"], `${script}.lua ${kind}: id, t first`);
      const spec = EVENT_FIELDS[k] as Record<string, string>;
      const fields = names.slice(2).map((wire) => {
        const field = fieldOfWireName(wire);
        assert.ok(field && field in spec, `${script}.lua ${kind}: unknown field ${wire}`);
        return field;
      });
      for (const [field, type] of Object.entries(spec)) {
        if (!type.endsWith("?")) {
          assert.ok(fields.includes(field as never), `${script}.lua ${kind}: lacks ${field}`);
        }
      }
      written.set(kind, (written.get(kind) ?? new Set()).add(script));
    }
  }
  for (const [kind, scripts] of Object.entries(EVENT_SOURCES)) {
    assert.deepStrictEqual(
      [...written.get(kind) ?? []].sort(),
      [...scripts].sort(),
      `scripts that write ${kind}`,
    );
  }
});

Deno.test("no TypeScript code builds a lifecycle event of its own", async () => {
  const kind = new RegExp(`kind: "(${Object.keys(EVENT_SOURCES).join("|")})"`);
  const found: string[] = [];
  const walk = async (dir: URL) => {
    for await (const entry of Deno.readDir(dir)) {
      const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
      if (entry.isDirectory) await walk(url);
      else if (entry.name.endsWith(".ts") && !url.pathname.includes("/src/events/")) {
        const lines = (await Deno.readTextFile(url)).split("\n");
        lines.forEach((line, i) => {
          // An event literal: a lifecycle kind with a job_id nearby; or an emit call.
          const near = lines.slice(Math.max(0, i - 6), i + 7).join("\n");
          if ((kind.test(line) && near.includes("job_id")) || /\.emit\(/.test(line)) {
            found.push(`${url.pathname.split("/src/")[1]}:${i + 1} ${line.trim()}`);
          }
        });
      }
    }
  };
  await walk(new URL("../../src/", import.meta.url));
  assert.deepStrictEqual(found, [], "events come from the scripts, through the broker");
});
