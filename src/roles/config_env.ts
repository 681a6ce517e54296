/**
 * Passing a parsed configuration down to child processes as environment
 * variables, so flags given to `start`/`cluster` reach every worker.
 *
 * @module
 */
import type { Config } from "../config.ts";

/** `config` as env vars (lists comma-joined; unset values left out). */
export function configEnv(config: Config): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(config)) {
    if (value === undefined || value === null) continue;
    env[key] = Array.isArray(value)
      ? value.map((v) => typeof v === "object" ? `${v.name}:${v.weight}` : String(v)).join(",")
      : String(value);
  }
  return env;
}
