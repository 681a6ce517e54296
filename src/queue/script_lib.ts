/**
 * Joins a script with the shared Lua library (`_lib.lua` and its companions),
 * keeping only the top-level definitions the script reaches.
 *
 * Why: Redis runs a script's whole chunk on every call, so every `local
 * function` of the library is a closure made (and later collected) per call,
 * whether the script uses it or not. With the full library in front of every
 * script that cost ~30–40 µs per call on the benchmark host (an EVALSHA of the
 * library alone against `return 1`, SLOWLOG medians), more than the Redis
 * commands of a one-job claim or enqueue. Keeping only what a script reaches
 * leaves each script's behaviour unchanged: what is dropped is never called.
 *
 * The library's top level is a sequence of definitions, each starting at
 * column 0 (`local function f(`, `local x = ...`, or `x = function` filling in
 * a local declared earlier); everything indented or an `end` belongs to the
 * definition above it, and comments at column 0 to the one below them. A definition is kept when a name it defines appears as
 * a word in the script or in a kept definition (a word inside a comment or a
 * string counts too: keeping too much is harmless, too little is not).
 * Order is preserved, so every local is still declared before its users.
 *
 * @module
 */

/** One top-level definition of the library. */
interface Definition {
  text: string;
  /** Names this definition declares or assigns. */
  defines: string[];
  /** Every word in it. */
  words: Set<string>;
}

const START =
  /^(?:local\s+function\s+([A-Za-z_]\w*)|local\s+([A-Za-z_][\w\s,]*?)\s*=|([A-Za-z_]\w*)\s*=)/;
const WORD = /[A-Za-z_]\w*/g;

function wordsOf(text: string): Set<string> {
  return new Set(text.match(WORD) ?? []);
}

/** Splits library text into its top-level definitions (text before the first one is kept as is). */
export function libraryDefinitions(lib: string): { head: string; definitions: Definition[] } {
  const lines = lib.split("\n");
  const head: string[] = [];
  const definitions: Definition[] = [];
  let current: { lines: string[]; defines: string[] } | null = null;
  // Comments and blank lines at column 0 go with the definition they precede.
  let between: string[] = [];
  const close = () => {
    if (!current) return;
    const text = current.lines.join("\n");
    definitions.push({ text, defines: current.defines, words: wordsOf(text) });
  };
  for (const line of lines) {
    const m = START.exec(line);
    if (m) {
      close();
      const names = m[1] ?? m[3] ?? m[2];
      current = {
        lines: [...between, line],
        defines: names.split(",").map((n) => n.trim()).filter((n) => n),
      };
      between = [];
    } else if (line === "" || line.startsWith("--")) {
      between.push(line);
    } else if (current) {
      current.lines.push(...between, line);
      between = [];
    } else {
      head.push(...between, line);
      between = [];
    }
  }
  if (current) current.lines.push(...between);
  else head.push(...between);
  close();
  return { head: head.join("\n"), definitions };
}

/** A library split into definitions, with each one's dependencies (indices) resolved once. */
interface ParsedLibrary {
  head: string;
  definitions: Definition[];
  /** Definitions by each name they define (a local declared, then filled in later). */
  byName: Map<string, number[]>;
  /** For each definition, the definitions its words name. */
  deps: number[][];
}

const parsedLibraries = new Map<string, ParsedLibrary>();

function parse(lib: string): ParsedLibrary {
  let parsed = parsedLibraries.get(lib);
  if (parsed) return parsed;
  const { head, definitions } = libraryDefinitions(lib);
  const byName = new Map<string, number[]>();
  definitions.forEach((d, i) => {
    for (const name of d.defines) {
      const list = byName.get(name) ?? [];
      list.push(i);
      byName.set(name, list);
    }
  });
  const deps = definitions.map((d) => namedIn(d.words, byName));
  parsed = { head, definitions, byName, deps };
  // Every script of a process joins one of two library texts: each is split once.
  parsedLibraries.set(lib, parsed);
  return parsed;
}

function namedIn(words: Set<string>, byName: Map<string, number[]>): number[] {
  const out: number[] = [];
  for (const w of words) for (const i of byName.get(w) ?? []) out.push(i);
  return out;
}

/**
 * `lib` followed by `body`, with only the library definitions `body` reaches
 * (directly or through other kept definitions).
 */
export function joinWithLibrary(lib: string, body: string): string {
  const { head, definitions, byName, deps } = parse(lib);
  const kept = new Array<boolean>(definitions.length).fill(false);
  const queue = namedIn(wordsOf(body), byName);
  while (queue.length > 0) {
    const i = queue.pop()!;
    if (kept[i]) continue;
    kept[i] = true;
    for (const j of deps[i]) if (!kept[j]) queue.push(j);
  }
  const parts = [head, ...definitions.filter((_, i) => kept[i]).map((d) => d.text), body];
  return parts.join("\n");
}
