/**
 * Who may call each route: one table over every route the API process
 * serves. A route added without an entry needs the admin scope
 * (`UNLISTED_ACCESS`), never nothing, and fails the test that walks the
 * app's routes (test/api/auth_routes_test.ts) until it is listed.
 *
 * - a scope: a key holding it (when auth is on);
 * - `optional`: no key is fine (the answer says who you are, if anyone); a bad key is 401;
 * - `public`: never asks (probes for orchestrators, the API's description);
 * - `metrics`: `METRICS_TOKEN` when set (Prometheus), see `metrics_token.ts`.
 *
 * @module
 */
import type { Scope } from "../../auth/scopes.ts";

/** What a route requires. */
export type Access = Scope | "optional" | "public" | "metrics";

/** One route and what it requires; `path` as Hono writes it (`:id`). */
export interface RouteAccess {
  method: "GET" | "POST" | "PUT" | "DELETE";
  path: string;
  access: Access;
}

const V1 = "/api/v1";

/** Every route of the API process (`buildApiApp`), but the dashboard's static files (public). */
export const ROUTE_ACCESS: readonly RouteAccess[] = [
  { method: "POST", path: `${V1}/jobs`, access: "submit" },
  { method: "POST", path: `${V1}/jobs/batch`, access: "submit" },
  { method: "GET", path: `${V1}/jobs`, access: "read" },
  { method: "DELETE", path: `${V1}/jobs`, access: "admin" },
  { method: "GET", path: `${V1}/jobs/:id`, access: "read" },
  { method: "DELETE", path: `${V1}/jobs/:id`, access: "admin" },
  { method: "POST", path: `${V1}/jobs/:id/retry`, access: "admin" },
  { method: "POST", path: `${V1}/jobs/:id/run`, access: "admin" },
  { method: "POST", path: `${V1}/jobs/retry`, access: "admin" },
  { method: "POST", path: `${V1}/jobs/cancel`, access: "admin" },
  { method: "POST", path: `${V1}/jobs/delete`, access: "admin" },
  { method: "GET", path: `${V1}/stats`, access: "read" },
  { method: "GET", path: `${V1}/queues`, access: "read" },
  { method: "GET", path: `${V1}/queues/:name`, access: "read" },
  { method: "GET", path: `${V1}/queues/:name/history`, access: "read" },
  { method: "GET", path: `${V1}/history`, access: "read" },
  { method: "POST", path: `${V1}/queues/:name/pause`, access: "admin" },
  { method: "POST", path: `${V1}/queues/:name/resume`, access: "admin" },
  { method: "GET", path: `${V1}/job-types`, access: "read" },
  { method: "POST", path: `${V1}/schedules`, access: "admin" },
  { method: "GET", path: `${V1}/schedules`, access: "read" },
  { method: "PUT", path: `${V1}/schedules/:name`, access: "admin" },
  { method: "GET", path: `${V1}/schedules/:name`, access: "read" },
  { method: "DELETE", path: `${V1}/schedules/:name`, access: "admin" },
  { method: "POST", path: `${V1}/schedules/:name/pause`, access: "admin" },
  { method: "POST", path: `${V1}/schedules/:name/resume`, access: "admin" },
  { method: "POST", path: `${V1}/schedules/:name/trigger`, access: "admin" },
  { method: "POST", path: `${V1}/flows`, access: "submit" },
  { method: "GET", path: `${V1}/flows/:id`, access: "read" },
  { method: "GET", path: `${V1}/events`, access: "read" },
  { method: "GET", path: `${V1}/tenants`, access: "admin" },
  { method: "GET", path: `${V1}/tenants/:name`, access: "read" },
  { method: "PUT", path: `${V1}/tenants/:name`, access: "admin" },
  { method: "DELETE", path: `${V1}/tenants/:name`, access: "admin" },
  { method: "GET", path: `${V1}/limits`, access: "admin" },
  { method: "PUT", path: `${V1}/limits/:scope/:name`, access: "admin" },
  { method: "DELETE", path: `${V1}/limits/:scope/:name`, access: "admin" },
  { method: "GET", path: `${V1}/workers`, access: "read" },
  { method: "POST", path: `${V1}/workers/:id/drain`, access: "admin" },
  { method: "GET", path: `${V1}/redis`, access: "admin" },
  { method: "POST", path: `${V1}/webhooks`, access: "admin" },
  { method: "GET", path: `${V1}/webhooks`, access: "admin" },
  { method: "GET", path: `${V1}/webhooks/secret`, access: "admin" },
  { method: "GET", path: `${V1}/webhooks/deliveries`, access: "admin" },
  { method: "POST", path: `${V1}/webhooks/deliveries/:id/redeliver`, access: "admin" },
  { method: "GET", path: `${V1}/webhooks/:id`, access: "admin" },
  { method: "DELETE", path: `${V1}/webhooks/:id`, access: "admin" },
  { method: "POST", path: `${V1}/keys`, access: "admin" },
  { method: "GET", path: `${V1}/keys`, access: "admin" },
  { method: "DELETE", path: `${V1}/keys/:id`, access: "admin" },
  { method: "GET", path: `${V1}/auth`, access: "optional" },
  { method: "GET", path: `${V1}/openapi.json`, access: "public" },
  { method: "GET", path: "/health", access: "public" },
  { method: "GET", path: "/ready", access: "public" },
  { method: "GET", path: `${V1}/health`, access: "public" },
  { method: "GET", path: `${V1}/ready`, access: "public" },
  { method: "GET", path: "/metrics", access: "metrics" },
];

/** The access of `method path` (Hono path syntax), or undefined for a route not in the table. */
export function accessOf(method: string, path: string): Access | undefined {
  return ROUTE_ACCESS.find((r) => r.method === method && r.path === path)?.access;
}
