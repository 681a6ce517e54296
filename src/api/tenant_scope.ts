/**
 * What a request's API key may see, for the routes: a key confined to a
 * tenant (`src/tenants/names.ts`) names its queues and schedules relative to
 * it, and everything of another tenant (a job id, a queue, a schedule, a key)
 * answers exactly as if it did not exist: 404, never 403, so a caller learns
 * nothing about the others.
 *
 * @module
 */
import type { Context } from "hono";
import { qualify, visibleTo } from "../tenants/names.ts";
import { queueInId } from "../queue/job_id.ts";
import type { RouteDeps } from "./deps.ts";
import { HttpError } from "./errors.ts";

/** The tenant the request's key is confined to; null: none (or auth is off). */
export function callerTenant(c: Context): string | null {
  return c.get("principal")?.tenant ?? null;
}

/**
 * The full name of a queue or schedule named in a request body: 422 when it
 * is another tenant's (the body is wrong, whatever exists).
 */
export function ownName(tenant: string | null, name: string, where: string): string {
  const full = qualify(tenant, name);
  if (full !== null) return full;
  const message = `names of this API key's tenant are "<name>" or "${tenant}/<name>"`;
  throw new HttpError(422, "validation_error", `${where}: ${message}`, {
    issues: [{ path: where, message }],
  });
}

/** The 404 of a name the caller may not see (as if it did not exist). */
export function notFound(what: string, name: string): HttpError {
  return new HttpError(404, "not_found", `${what} ${JSON.stringify(name)} not found`);
}

/** The full name of a queue or schedule in a path or query, or the 404 of another tenant's. */
export function ownPathName(tenant: string | null, name: string, what: string): string {
  const full = qualify(tenant, name);
  if (full === null) throw notFound(what, name);
  return full;
}

/**
 * True when the caller may see job `id` (its queue is in its tenant). A
 * plain UUID is a job of the home queue.
 */
export async function jobVisible(
  deps: RouteDeps,
  tenant: string | null,
  id: string,
): Promise<boolean> {
  if (tenant === null) return true;
  const queue = queueInId(id) ?? await deps.call(deps.broker.homeQueue());
  return visibleTo(tenant, queue);
}

/** `name` as one URL path segment: a tenant's `/` escaped, the rest as is (ids keep their `:`). */
export function pathSegment(name: string): string {
  return name.replaceAll("/", "%2F");
}
