/**
 * Structured logs: one JSON object per line (level, msg, time and fields such
 * as job_id, type, attempt, duration_ms), or a human-readable line when stdout
 * is a terminal. The level comes from LOG_LEVEL (debug, info, warn, error).
 *
 * @module
 */

/** Log levels, lowest first. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** One log level. */
export type LogLevel = typeof LOG_LEVELS[number];

/** Fields attached to a line. */
export type LogFields = Record<string, unknown>;

/** Where lines go; tests capture them. */
export type LogSink = (line: string, level: LogLevel) => void;

/** A logger with bound fields. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** True when lines of `level` are written: skip building costly fields otherwise. */
  enabled(level: LogLevel): boolean;
}

/** Options for `createLogger`. */
export interface LoggerOptions {
  level?: LogLevel;
  /** "json" always, "pretty" always, or "auto": pretty on a TTY. */
  format?: "json" | "pretty" | "auto";
  sink?: LogSink;
  fields?: LogFields;
}

function envLevel(): LogLevel {
  try {
    const raw = Deno.env.get("LOG_LEVEL")?.toLowerCase();
    return (LOG_LEVELS as readonly string[]).includes(raw ?? "") ? raw as LogLevel : "info";
  } catch {
    return "info"; // no env permission (e.g. inside a restricted Web Worker)
  }
}

function isTty(): boolean {
  try {
    return Deno.stdout.isTerminal();
  } catch {
    return false;
  }
}

function errorFields(value: unknown): unknown {
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

function pretty(level: LogLevel, msg: string, fields: LogFields): string {
  const time = new Date().toISOString().slice(11, 23);
  const rest = Object.entries(fields)
    .map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(errorFields(v))}`)
    .join(" ");
  return `${time} ${level.toUpperCase().padEnd(5)} ${msg}${rest ? " " + rest : ""}`;
}

const defaultSink: LogSink = (line, level) => {
  if (level === "error" || level === "warn") console.error(line);
  else console.log(line);
};

/**
 * Creates a logger.
 *
 * @example
 * ```ts
 * const log = createLogger({ fields: { role: "worker" } });
 * log.info("job completed", { job_id: "…", type: "email", attempt: 1, duration_ms: 12 });
 * ```
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? envLevel();
  const min = LOG_LEVELS.indexOf(level);
  const format = options.format ?? "auto";
  const usePretty = format === "pretty" || (format === "auto" && isTty());
  const sink = options.sink ?? defaultSink;
  const bound = options.fields ?? {};

  const write = (lvl: LogLevel, msg: string, fields?: LogFields) => {
    if (LOG_LEVELS.indexOf(lvl) < min) return;
    const all: LogFields = { ...bound, ...fields };
    for (const [k, v] of Object.entries(all)) all[k] = errorFields(v);
    const line = usePretty
      ? pretty(lvl, msg, all)
      : JSON.stringify({ time: new Date().toISOString(), level: lvl, msg, ...all });
    sink(line, lvl);
  };
  return {
    debug: (m, f) => write("debug", m, f),
    info: (m, f) => write("info", m, f),
    warn: (m, f) => write("warn", m, f),
    error: (m, f) => write("error", m, f),
    child: (fields) => createLogger({ ...options, level, sink, fields: { ...bound, ...fields } }),
    enabled: (lvl) => lvl !== "silent" && LOG_LEVELS.indexOf(lvl) >= min,
  };
}
