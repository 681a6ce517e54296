/**
 * Every setting of every role in one zod schema: environment variables first,
 * then command-line flags (`--worker-concurrency 50` overrides
 * `WORKER_CONCURRENCY`). The README's configuration table mirrors `SETTINGS`.
 *
 * Not here: the OpenTelemetry variables (`OTEL_EXPORTER_OTLP_ENDPOINT`,
 * `OTEL_SERVICE_NAME`, `OTEL_TRACES_SAMPLER`, ...). The SDK reads them itself,
 * as the specification says, and `src/tracing/settings.ts` decides from them
 * whether a process traces at all (README, Tracing).
 *
 * @module
 */
import { z } from "zod";
import { DEFAULTS, LIMITS } from "./queue/job.ts";
import { LOG_LEVELS } from "./log.ts";
import { parseQueueList, type WeightedQueue } from "./queue/queue_selection.ts";
import { QUEUE_NAME_RULE, QUEUE_NAME_SOURCE } from "./queue/keys.ts";
import { DEFAULT_BODY_GRACE_MS, DEFAULT_BODY_MIN_BYTES_PER_S } from "./api/body_deadline.ts";
import { DEFAULT_HEADER_TIMEOUT_MS } from "./api/http_server.ts";
import { parseAllowEntry } from "./jobs/outbound_guard.ts";
import { isSecret } from "./webhooks/secret.ts";
import { DEFAULT_RETRY_DELAYS_MS } from "./webhooks/retry.ts";

const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const list = z.string().transform((s) => s.split(",").map((x) => x.trim()).filter(Boolean));

/**
 * Web Worker threads per permission group of one worker process when
 * WORKER_THREADS is unset: the host's cores shared among the `processes`
 * worker processes started together. More threads than cores cost CPU per
 * job for nothing (each batch wakes a sleeping thread): with 4 processes
 * of 2 threads on 2 cores, `bench:scale` measured 73–77 µs of worker CPU a
 * job against 44–54 with 1 thread each, and a total below one process's.
 */
export function workerThreads(config: { WORKER_THREADS?: number }, processes = 1): number {
  const cores = navigator.hardwareConcurrency || 2;
  return config.WORKER_THREADS ?? Math.max(1, Math.floor(cores / Math.max(1, processes)));
}

/** Each setting: env var name, schema with default, one line of documentation. */
export const SETTINGS = {
  REDIS_URL: {
    schema: z.string().optional(),
    doc:
      "Redis URL (redis://host:port/db, or a comma list of host:port for Cluster). `start` without it uses 127.0.0.1:6379 if it answers, else a managed redis-server in DATA_DIR/redis.",
  },
  QUEUE: {
    schema: z.string().regex(new RegExp(`^${QUEUE_NAME_SOURCE}$`), {
      message: QUEUE_NAME_RULE,
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
  HOST: {
    schema: z.string().default("127.0.0.1"),
    doc:
      "API listen address. Another address than loopback needs an API key (or `AUTH=off`): see Authentication.",
  },
  PORT: { schema: int(0, 65535).default(8080), doc: "API port (API, dashboard, /metrics)." },
  AUTH: {
    schema: z.enum(["auto", "on", "off"]).default("auto"),
    doc:
      "auto: keys required once one exists (ADMIN_API_KEY or `deno task keys create`), and refuse to listen beyond loopback without one; on: always; off: never (anyone who reaches the port may do anything).",
  },
  ADMIN_API_KEY: {
    schema: z.string().min(32, { message: "ADMIN_API_KEY must be at least 32 characters" })
      .optional(),
    doc:
      "A key with every scope, kept in the environment (containers, CI): e.g. `openssl rand -hex 32`.",
  },
  AUTH_MAX_FAILURES: {
    schema: int(1, 1_000_000).default(20),
    doc:
      "Failed API key attempts per client address and minute; past it, 429 with Retry-After until the minute ends.",
  },
  METRICS_TOKEN: {
    schema: z.string().min(16, { message: "METRICS_TOKEN must be at least 16 characters" })
      .optional(),
    doc:
      "Bearer token `/metrics` (API and workers) asks for (Prometheus `authorization`); unset: /metrics is open.",
  },
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
  HTTP_HEADER_TIMEOUT_MS: {
    schema: z.coerce.number().int().refine((n) => n === 0 || (n >= 100 && n <= 600_000), {
      message: "HTTP_HEADER_TIMEOUT_MS is 0 (off) or 100-600000",
    }).default(DEFAULT_HEADER_TIMEOUT_MS),
    doc:
      "An API connection with no request in flight (request headers not complete, or idle between requests) is closed after this (slowloris). 0: off (plain Deno.serve, ~10 % more submits/s).",
  },
  HTTP_BODY_TIMEOUT_MS: {
    schema: int(100, 600_000).default(DEFAULT_BODY_GRACE_MS),
    doc:
      "Head start of a request body; past it the body must keep HTTP_BODY_MIN_RATE on average or is answered 408.",
  },
  HTTP_BODY_MIN_RATE: {
    schema: int(1, 1024 * 1024 * 1024).default(DEFAULT_BODY_MIN_BYTES_PER_S),
    doc: "Slowest average pace of a request body after HTTP_BODY_TIMEOUT_MS (bytes per second).",
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
    // Unset: resolved by `workerThreads` (the CPU count shared among the host's worker processes).
    schema: int(1, 256).optional(),
    doc:
      "Web Worker threads per permission group (default: CPU count; under `start`/`cluster` with WORKERS > 1, CPU count / WORKERS, at least 1).",
  },
  WORKER_METRICS_PORT: {
    schema: int(0, 65535).default(9464),
    doc: "Worker /metrics port (0 disables).",
  },
  WORKER_METRICS_HOST: {
    schema: z.string().default("127.0.0.1"),
    doc: "Worker /metrics listen address (`0.0.0.0` for a scraper on another host).",
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
  SCHEDULER: {
    schema: z.enum(["on", "off"]).default("on"),
    doc:
      "on: this process (API or worker) runs the scheduler loop of recurring schedules; any number may, each tick still makes one job. off: it does not (the API still manages schedules).",
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
  SMTP_HELO: {
    schema: z.string().optional(),
    doc: "Name the email type sends with EHLO (default localhost).",
  },
  DATA_PROCESS_OUTPUT_DIR: {
    schema: z.string().optional(),
    doc:
      "The only folder data_process may write file:// destinations in (default DATA_DIR/output); others are refused at submit.",
  },
  OUTBOUND_ALLOW: {
    schema: list.superRefine((entries, ctx) => {
      for (const entry of entries) {
        try {
          parseAllowEntry(entry);
        } catch (error) {
          ctx.addIssue({ code: "custom", message: (error as Error).message });
        }
      }
    }).default([]),
    doc:
      "Non-public destinations the built-in types and webhooks may reach anyway: comma list of hosts, host:port, ports, IPs or CIDRs (e.g. `hooks.internal,10.0.0.0/8,127.0.0.1:9000`). Default: public addresses only.",
  },
  WEBHOOKS: {
    schema: z.enum(["on", "off"]).default("on"),
    doc:
      "on: every worker process also sends completion webhooks (see Webhooks); off: this process does not (deliveries wait in Redis for one that does).",
  },
  WEBHOOK_SECRET: {
    schema: z.string().refine(isSecret, {
      message: "WEBHOOK_SECRET must be whsec_ followed by the base64 of 24 to 64 bytes",
    }).optional(),
    doc:
      "Signs per-job `callback_url` deliveries (`whsec_…`, e.g. `whsec_$(openssl rand -base64 32)`); unset: one generated once and kept in Redis (`GET /api/v1/webhooks/secret`). Set it alike on the API and the workers.",
  },
  WEBHOOK_TIMEOUT_MS: {
    schema: int(100, 60_000).default(10_000),
    doc: "Deadline of one webhook request (a timeout is retried like a network error).",
  },
  WEBHOOK_CONCURRENCY: {
    schema: int(1, 1000).default(16),
    doc: "Webhook requests in flight at most, per worker process.",
  },
  WEBHOOK_RETRY_DELAYS_MS: {
    schema: list.transform((items, ctx) => {
      const delays = items.map(Number);
      if (
        delays.length === 0 || delays.length > 20 ||
        delays.some((d) => !Number.isInteger(d) || d < 1 || d > 86_400_000)
      ) {
        ctx.addIssue({ code: "custom", message: "1 to 20 delays, each 1 ms to 24 h" });
        return z.NEVER;
      }
      return delays;
    }).default([...DEFAULT_RETRY_DELAYS_MS]),
    doc:
      "Delays between webhook attempts (comma list, ms, ±10 % jitter; attempts = delays + 1). Default 8 attempts over ~1 h: `5000,30000,120000,300000,600000,900000,1800000`.",
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
  out.DATA_PROCESS_OUTPUT_DIR ??= `${out.DATA_DIR}/output`;
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
