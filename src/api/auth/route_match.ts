/**
 * Finds a request's entry in the access table (`access.ts`) without the
 * router: exact paths by one Map lookup (the hot routes: `POST /jobs`,
 * `GET /stats`), paths with parameters by a short list of patterns.
 *
 * @module
 */
import { type Access, ROUTE_ACCESS, type RouteAccess } from "./access.ts";

const exact = new Map<string, Access>();
const patterns: Array<{ method: string; pattern: RegExp; access: Access }> = [];

for (const { method, path, access } of ROUTE_ACCESS as readonly RouteAccess[]) {
  if (!path.includes("/:")) {
    exact.set(`${method} ${path}`, access);
    continue;
  }
  const source = path.split("/").map((part) =>
    part.startsWith(":") ? "[^/]+" : part.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
  ).join("/");
  patterns.push({ method, pattern: new RegExp(`^${source}$`), access });
}

/**
 * The access of `method path` (a request's raw path; HEAD as GET), or
 * undefined when the table has no such route.
 *
 * @example
 * ```ts
 * accessFor("POST", "/api/v1/jobs/0b6c…/retry"); // "admin"
 * ```
 */
export function accessFor(method: string, path: string): Access | undefined {
  const m = method === "HEAD" ? "GET" : method;
  const hit = exact.get(`${m} ${path}`);
  if (hit !== undefined) return hit;
  for (const p of patterns) if (p.method === m && p.pattern.test(path)) return p.access;
  return undefined;
}
