/**
 * The operator's settings that the built-in job types obey: where
 * `data_process` may write, the email outbox and SMTP server, and the
 * outbound allow list. They decide both what a handler does and which Deno
 * permissions its threads get, so both must come from one value: a worker
 * process resolves them once from its configuration (env and flags), derives
 * the thread permissions from them, and hands the same value to its threads
 * in their `init` message (threads cannot read env or the working directory).
 * The API process configures them at start too, for the submit-time checks.
 *
 * Nothing here touches env or fs at import time (threads import it).
 *
 * @module
 */
import { isAbsolute, resolve } from "node:path";

/** What the built-in types obey. Paths are absolute and normalized. */
export interface JobSettings {
  /** `data_process` writes file:// destinations only under this directory. */
  dataProcessOutputDir: string;
  /** The email type's outbox (when no SMTP server is set). */
  emailOutboxDir: string;
  /** smtp:// or smtps:// URL; unset: the outbox. */
  smtpUrl?: string;
  /** Name sent with EHLO. */
  smtpHelo?: string;
  /** OUTBOUND_ALLOW entries, as written (see `outbound_guard.ts`). */
  outboundAllow: string[];
}

/** The configuration values the settings come from (a subset of `Config`). */
export interface JobSettingsSource {
  DATA_DIR: string;
  DATA_PROCESS_OUTPUT_DIR?: string;
  EMAIL_OUTBOX_DIR?: string;
  SMTP_URL?: string;
  SMTP_HELO?: string;
  OUTBOUND_ALLOW: string[];
}

function absolute(path: string, cwd: () => string): string {
  if (isAbsolute(path)) return resolve(path);
  let base: string;
  try {
    base = cwd();
  } catch {
    // No read permission (a restricted client process): a relative folder
    // then matches no absolute destination, so file:// submits are refused.
    return path;
  }
  return resolve(base, path);
}

/**
 * Settings from configuration values; relative paths resolve against the
 * working directory (read here, in the main isolate, never in a thread).
 *
 * @example
 * ```ts
 * configureJobSettings(jobSettingsFrom(loadConfig(Deno.args, processEnv())));
 * ```
 */
export function jobSettingsFrom(
  source: JobSettingsSource,
  cwd: () => string = () => Deno.cwd(),
): JobSettings {
  const dataDir = source.DATA_DIR || "./data";
  const settings: JobSettings = {
    dataProcessOutputDir: absolute(source.DATA_PROCESS_OUTPUT_DIR || `${dataDir}/output`, cwd),
    emailOutboxDir: absolute(source.EMAIL_OUTBOX_DIR || `${dataDir}/outbox`, cwd),
    outboundAllow: [...source.OUTBOUND_ALLOW],
  };
  if (source.SMTP_URL) settings.smtpUrl = source.SMTP_URL;
  if (source.SMTP_HELO) settings.smtpHelo = source.SMTP_HELO;
  return settings;
}

function readEnv(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no env permission
  }
}

const ENV_NAMES = [
  "DATA_DIR",
  "DATA_PROCESS_OUTPUT_DIR",
  "EMAIL_OUTBOX_DIR",
  "SMTP_URL",
  "SMTP_HELO",
  "OUTBOUND_ALLOW",
] as const;

/** Settings read from this process's environment (the fallback when none were configured). */
export function jobSettingsFromEnv(): JobSettings {
  const env = Object.fromEntries(ENV_NAMES.map((n) => [n, readEnv(n)]));
  return jobSettingsFrom({
    DATA_DIR: env.DATA_DIR ?? "./data",
    DATA_PROCESS_OUTPUT_DIR: env.DATA_PROCESS_OUTPUT_DIR,
    EMAIL_OUTBOX_DIR: env.EMAIL_OUTBOX_DIR,
    SMTP_URL: env.SMTP_URL,
    SMTP_HELO: env.SMTP_HELO,
    OUTBOUND_ALLOW: (env.OUTBOUND_ALLOW ?? "").split(",").map((s) => s.trim()).filter(Boolean),
  });
}

let configured: JobSettings | undefined;
let fromEnv: { key: string; settings: JobSettings } | undefined;

/** Sets this isolate's settings (process start, thread init); `undefined` goes back to env. */
export function configureJobSettings(settings: JobSettings | undefined): void {
  configured = settings === undefined ? undefined : structuredClone(settings);
}

/**
 * This isolate's settings: the configured ones, else read from env (cached
 * while env does not change: the submit path calls this per job).
 */
export function jobSettings(): JobSettings {
  if (configured) return configured;
  const key = ENV_NAMES.map((n) => readEnv(n) ?? "").join("\0");
  if (fromEnv?.key !== key) fromEnv = { key, settings: jobSettingsFromEnv() };
  return fromEnv.settings;
}
