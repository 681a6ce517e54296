/**
 * The secure default, decided once at start: which `AuthMode` an API
 * process runs in, or why it must not start.
 *
 * | AUTH | keys (ADMIN_API_KEY or stored)  | HOST          | mode                       |
 * | ---- | ------------------------------- | ------------- | -------------------------- |
 * | off  | any                             | any           | off                        |
 * | on   | any                             | any           | on                         |
 * | auto | some                            | any           | on                         |
 * | auto | none                            | loopback      | first_key (off until one)  |
 * | auto | none                            | other         | refuse to start            |
 * | auto | unknown (Redis not reachable)   | other         | on (fail closed)           |
 *
 * @module
 */
import type { AuthMode } from "./authenticator.ts";

/** What the decision needs. */
export interface AuthFacts {
  setting: "auto" | "on" | "off";
  host: string;
  adminKey: boolean;
  /** Keys in Redis; null when Redis could not be asked. */
  storedKeys: number | null;
}

/** How to get a key, for the refusal and the "auth is off" log line. */
export const HOW_TO_CREATE_A_KEY = "create one with `deno task keys create --name admin` " +
  "(prints the key once), or set ADMIN_API_KEY to a secret of 32+ characters " +
  "(e.g. `ADMIN_API_KEY=$(openssl rand -hex 32)`)";

/** True for addresses only this machine can reach. */
export function isLoopbackHost(host: string): boolean {
  const h = host.trim().toLowerCase().replace(/^\[(.*)\]$/, "$1");
  return h === "localhost" || h === "::1" || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h) ||
    /^::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(h);
}

/** The mode, or `{refuse}` with the message to print before exiting. */
export function decideAuthMode(facts: AuthFacts): { mode: AuthMode } | { refuse: string } {
  if (facts.setting === "off") return { mode: "off" };
  if (facts.setting === "on") return { mode: "on" };
  if (facts.adminKey || (facts.storedKeys ?? 0) > 0) return { mode: "on" };
  if (isLoopbackHost(facts.host)) return { mode: "first_key" };
  if (facts.storedKeys === null) return { mode: "on" };
  return {
    refuse: `refusing to listen on ${facts.host} without an API key: anyone who can reach ` +
      `it could submit, cancel and purge jobs. To serve with keys, ${HOW_TO_CREATE_A_KEY}; ` +
      "or listen on loopback only (HOST=127.0.0.1); or set AUTH=off to serve without keys anyway.",
  };
}
