/**
 * Tenants are namespaces of names: a tenant's queues (and schedules) are the
 * ones named `<tenant>/<name>` (`acme/default`). A key confined to a tenant
 * writes names relative to it (`default` means `acme/default`; its own full
 * name is accepted too) and never reaches a name of another tenant, nor an
 * unprefixed one. Keys without a tenant see every name as it is.
 *
 * The tenant lives in the name, so nothing per job or per queue records it:
 * a job id names its queue (`job_id.ts`), hence its tenant.
 *
 * @module
 */
import { TENANT_NAME_SOURCE } from "../queue/keys.ts";

/** Checks a tenant's name (a key's `tenant`, the quota routes' path). */
export const TENANT_NAME = new RegExp(`^${TENANT_NAME_SOURCE}$`);

/** The rule of tenant names, as errors state it. */
export const TENANT_NAME_RULE =
  'a tenant name is 1-64 letters, digits, "_", "-" or ".", starting with a letter or digit';

/** The queue a tenant's submit lands in when neither it nor its type names one. */
export const TENANT_DEFAULT_QUEUE = "default";

/** The tenant owning `name` (the part before its `/`), or null for an unprefixed name. */
export function tenantOf(name: string): string | null {
  const slash = name.indexOf("/");
  return slash < 0 ? null : name.slice(0, slash);
}

/** True when a caller confined to `tenant` (null: not confined) may see `name`. */
export function visibleTo(tenant: string | null, name: string): boolean {
  return tenant === null || tenantOf(name) === tenant;
}

/**
 * The full name of `name` as a caller confined to `tenant` means it: its own
 * namespace's name, or null when it names another tenant's.
 *
 * @example
 * ```ts
 * qualify("acme", "default"); // "acme/default"
 * qualify("acme", "acme/default"); // "acme/default"
 * qualify("acme", "globex/default"); // null
 * qualify(null, "globex/default"); // "globex/default"
 * ```
 */
export function qualify(tenant: string | null, name: string): string | null {
  if (tenant === null) return name;
  const owner = tenantOf(name);
  if (owner === null) return `${tenant}/${name}`;
  return owner === tenant ? name : null;
}
