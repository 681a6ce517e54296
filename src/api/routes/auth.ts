/**
 * `GET /auth`: whether this server asks for keys, and which key was sent.
 * The dashboard calls it first: `auth: "on"` with `key: null` means "ask for
 * a key"; the key's scopes say which actions to show. A bad key is 401 here
 * too (`optional` access), so the dashboard can tell a typo from no key.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
// The `principal` context variable is declared there (checked alone, this file needs it).
import type {} from "../auth/guard.ts";

/** The whoami route, mounted under `/api/v1`. */
export function authRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  app.get("/auth", async (c) => {
    const active = deps.auth ? await deps.auth.active() : false;
    const who = active ? c.get("principal") : undefined;
    return c.json({
      auth: active ? "on" : "off",
      key: who ? { id: who.id, name: who.name, scopes: who.scopes, tenant: who.tenant } : null,
    });
  });
  return app;
}
