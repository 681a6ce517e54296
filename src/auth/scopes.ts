/**
 * What an API key may do. Scopes are independent (admin does not imply read):
 * a key holds every scope it needs, so a monitoring key can read without being
 * able to cancel, and a producer can submit without reading others' results.
 *
 * - `submit`: create jobs (`POST /jobs`, `POST /jobs/batch`).
 * - `read`: status, lists, stats, queues, job types, the event stream.
 * - `admin`: cancel, retry, purge, pause/resume, and managing API keys.
 *
 * @module
 */

/** Every scope, in the order they are shown. */
export const SCOPES = ["submit", "read", "admin"] as const;

/** One scope. */
export type Scope = typeof SCOPES[number];

/** True when `value` names a scope. */
export function isScope(value: unknown): value is Scope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

/**
 * Parses a comma list (`"read,submit"`) into scopes in canonical order,
 * without duplicates; throws on an unknown or empty list.
 *
 * @example
 * ```ts
 * parseScopes("admin, read"); // ["read", "admin"]
 * ```
 */
export function parseScopes(text: string): Scope[] {
  const names = text.split(",").map((s) => s.trim()).filter(Boolean);
  if (names.length === 0) throw new Error(`no scope given: use some of ${SCOPES.join(", ")}`);
  for (const name of names) {
    if (!isScope(name)) {
      throw new Error(`unknown scope ${JSON.stringify(name)}: ${SCOPES.join(", ")}`);
    }
  }
  return normalizeScopes(names as Scope[]);
}

/** `scopes` in canonical order without duplicates. */
export function normalizeScopes(scopes: readonly Scope[]): Scope[] {
  return SCOPES.filter((s) => scopes.includes(s));
}
