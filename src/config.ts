/**
 * Every setting of every role in one zod schema: environment variables first,
 * then command-line flags (`--worker-concurrency 50` overrides
 * `WORKER_CONCURRENCY`). The README's configuration table mirrors `SETTINGS`.
 *
 * @module
 */
import { z } from "zod";
import { DEFAULTS, LIMITS } from "./queue/job.ts";
import { LOG_LEVELS } from "./log.ts";
import { parseQueueList, type WeightedQueue } from "./queue/queue_selection.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));

/** Each setting: env var name, schema with default, one line of documentation. */
export const SETTINGS = {
  REDIS_URL: {
    schema: z.string().optional(),
    doc:
      "Redis URL (redis://host:port/db, or a comma list of host:port for Cluster). `start` without it uses 127.0.0.1:6379 if it answers, else a managed redis-server in DATA_DIR/redis.",
  },
  QUEUE: {
    schema: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
      message: 'a queue name is 1-64 letters, digits, "_", "-" or "."',
    }).default("default"),
    doc:
      "The default queue: submits that name none (and whose type names none) go here. Each queue's keys are hash-tagged `jq:{<queue>}:…`.",
  },
  WORKER_QUEUES: {
    schema: z.string().optional().transform((text, ctx): WeightedQueue[] | undefined => {
      if (text === undefined) return undefined;
      try {
        return parseQueueList(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
        return z.NEVER;
      }
    }),
    doc:
      "Queues a worker serves, with weights: `critical:6,default:3,low:1` (weight 1 when left out). Unset: every known queue, equal weights (new ones join within seconds).",
  },
  WORKER_QUEUE_ORDER: {
    schema: z.enum(["weighted", "strict"]).default("weighted"),
    doc:
      "weighted: each claim picks queues at random in proportion to their weights; strict: in the listed order (a lower queue only when the higher are empty).",
  },
  HOST: { schema: z.string().default("0.0.0.0"), doc: "API listen address." },
  PORT: { schema: int(0, 65535).default(8080), doc: "API port (API, dashboard, /metrics)." },
  LOG_LEVEL: { schema: z.enum(LOG_LEVELS).default("info"), doc: "debug, info, warn, error." },
  LOG_FORMAT: {
    schema: z.enum(["auto", "json", "pretty"]).default("auto"),
    doc: "json lines, pretty, or auto (pretty on a TTY).",
  },
  JOB_MODULES: {
    schema: list.default([]),
    doc: "Comma-separated extra job-type modules loaded by API and workers.",
  },
  RETENTION_MS: {
    schema: int(1000, 365 * 24 * 3600_000).default(DEFAULTS.retentionMs),
    doc: "How long finished jobs and results are kept.",
  },
  MAX_BODY_BYTES: {
    schema: int(1024, 64 * 1024 * 1024).default(LIMITS.maxPayloadBytes + 64 * 1024),
    doc: "Largest accepted HTTP request body (payload limit is 1 MiB).",
  },
  API_BODY_BUDGET_MB: {
    schema: int(32, 1024 * 1024).default(256),
    doc:
      "Request-body MiB one API process holds at once; past it submits get 503 `overloaded` with Retry-After (bounds memory under bursts).",
  },
  REDIS_COMMAND_TIMEOUT_MS: {
    schema: int(100, 60_000).default(3000),
    doc: "A Redis command that takes longer fails (API answers 503).",
  },
  WORKER_CONCURRENCY: {
    schema: int(1, 10_000).default(50),
    doc: "Jobs in flight per worker process.",
  },
  WORKER_THREADS: {
    schema: int(1, 256).default(navigator.hardwareConcurrency || 2),
    doc: "Web Worker threads per permission group (default: CPU count).",
  },
  WORKER_METRICS_PORT: {
    schema: int(0, 65535).default(9464),
    doc: "Worker /metrics port (0 disables).",
  },
  LEASE_MS: { schema: int(500, 3600_000).default(DEFAULTS.leaseMs), doc: "Job lease length." },
  DRAIN_TIMEOUT_MS: {
    schema: int(0, 3600_000).default(30_000),
    doc: "On SIGTERM, how long running jobs may finish.",
  },
  HARD_TIMEOUT_GRACE_MS: {
    schema: int(0, 600_000).default(2000),
    doc: "After a job's deadline, how long before the process recycles.",
  },
  WORKER_MAX_JOBS: { schema: int(0, 1e12).default(0), doc: "Recycle after N jobs (0: never)." },
  WORKER_MAX_RSS_MB: {
    schema: int(0, 1e6).default(0),
    doc: "Recycle above this resident memory (0: never).",
  },
  WORKERS: {
    schema: int(0, 64).default(1),
    doc: "Supervised worker processes started by `start`/`cluster`.",
  },
  DATA_DIR: { schema: z.string().default("./data"), doc: "Managed Redis data, email outbox." },
  EMAIL_OUTBOX_DIR: {
    schema: z.string().optional(),
    doc: "Where the email type writes .eml files (default DATA_DIR/outbox).",
  },
  SMTP_URL: {
    schema: z.string().optional(),
    doc: "smtp://user:pass@host:port — send email by SMTP instead of the outbox.",
  },
} as const;

type Settings = typeof SETTINGS;
/** Parsed configuration. */
export type Config = { [K in keyof Settings]: z.output<Settings[K]["schema"]> };

/** `--worker-concurrency` → `WORKER_CONCURRENCY`. */
function flagToKey(flag: string): string {
  return flag.replace(/^--/, "").replaceAll("-", "_").toUpperCase();
}

/** Thrown for a bad setting; main prints it and exits 2. */
export class ConfigError extends Error {}

/**
 * Reads settings from `env` and `args` (flags override env).
 *
 * @example
 * ```ts
 * const config = loadConfig(["--port", "9000"], { REDIS_URL: "redis://127.0.0.1:6379" });
 * config.PORT; // 9000
 * ```
 */
export function loadConfig(args: string[], env: Record<string, string | undefined>): Config {
  const raw: Record<string, string | undefined> = {};
  for (const key of Object.keys(SETTINGS)) raw[key] = env[key];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    if (!arg.startsWith("--")) continue;
    const [flag, inline] = arg.split("=", 2);
    const key = flagToKey(flag);
    if (!(key in SETTINGS)) throw new ConfigError(`unknown flag ${flag}`);
    const value = inline ?? args[++i];
    if (value === undefined) throw new ConfigError(`flag ${flag} needs a value`);
    raw[key] = value;
  }
  const out: Record<string, unknown> = {};
  const problems: string[] = [];
  for (const [key, setting] of Object.entries(SETTINGS)) {
    const value = raw[key] === "" ? undefined : raw[key];
    const parsed = (setting.schema as z.ZodType).safeParse(value);
    if (parsed.success) out[key] = parsed.data;
    else problems.push(`${key}: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  }
  if (problems.length) throw new ConfigError(`invalid configuration:\n  ${problems.join("\n  ")}`);
  // A body the budget cannot hold even alone would be refused forever.
  if ((out.API_BODY_BUDGET_MB as number) * 1024 * 1024 < (out.MAX_BODY_BYTES as number)) {
    throw new ConfigError("invalid configuration:\n  API_BODY_BUDGET_MB must hold MAX_BODY_BYTES");
  }
  out.EMAIL_OUTBOX_DIR ??= `${out.DATA_DIR}/outbox`;
  return out as Config;
}

/** Reads the process's own environment, tolerating a missing env permission. */
export function processEnv(): Record<string, string | undefined> {
  try {
    return Deno.env.toObject();
  } catch {
    return {};
  }
}
