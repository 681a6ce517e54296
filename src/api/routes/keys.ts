/**
 * API key management (admin scope, see `auth/access.ts`):
 *
 * - `POST /keys` `{name, scopes}` → 201 the key's record plus `key`, its
 *   secret, shown only in this answer;
 * - `GET /keys` → `{keys: [...]}`, oldest first, without secrets;
 * - `DELETE /keys/:id` → `{id, revoked: true}`; 404 for an unknown id. Every
 *   API process stops accepting the key within a second (`Authenticator`).
 *
 * `ADMIN_API_KEY` is not among them: it lives in the environment. A key
 * confined to a tenant manages its tenant's keys only: the ones it creates
 * are confined to it too, and another tenant's key is 404.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readJsonBody } from "../body.ts";
import { parseOr422 } from "../validation.ts";
import { createKeySchema, keyIdSchema } from "../auth/schemas.ts";
import type { KeyStore } from "../../auth/key_store.ts";
import { toQueueError } from "../../queue/connect.ts";
import { callerTenant } from "../tenant_scope.ts";

/** Largest `POST /keys` body. */
const MAX_KEY_BODY_BYTES = 16 * 1024;

/** Redis failing: 503 `unavailable` (ioredis' own errors would be 500s). */
function unavailable(error: unknown): never {
  throw toQueueError(error);
}

/** Routes of API keys, mounted under `/api/v1`. */
export function keysRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  const store = (): KeyStore => {
    const store = deps.auth?.store;
    if (!store) throw new HttpError(404, "not_found", "this server keeps no API keys");
    return store;
  };

  app.post("/keys", async (c) => {
    const keys = store();
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, MAX_KEY_BODY_BYTES, ticket);
    const input = parseOr422(createKeySchema, body, "key");
    const tenant = callerTenant(c);
    if (tenant !== null) {
      if (input.tenant !== undefined && input.tenant !== tenant) {
        const message = `a key of tenant "${tenant}" creates keys of that tenant only`;
        throw new HttpError(422, "validation_error", `tenant: ${message}`, {
          issues: [{ path: "tenant", message }],
        });
      }
      input.tenant = tenant;
    }
    // A lost answer leaves a key nobody saw (harmless: unusable, revocable), so a failure is
    // plain `unavailable`: create another.
    const { record, key } = await keys.create(input).catch(unavailable);
    c.header("Location", `/api/v1/keys/${record.id}`);
    return c.json({ ...record, key }, 201);
  });

  app.get("/keys", async (c) => {
    const keys = store();
    const tenant = callerTenant(c);
    const all = await deps.call(keys.list().catch(unavailable));
    return c.json({ keys: tenant === null ? all : all.filter((k) => k.tenant === tenant) });
  });

  app.delete("/keys/:id", async (c) => {
    const keys = store();
    const parsed = keyIdSchema.safeParse(c.req.param("id"));
    const id = parsed.success ? parsed.data : null;
    const tenant = callerTenant(c);
    const owned = id !== null &&
      (tenant === null || (await deps.call(keys.get(id).catch(unavailable)))?.tenant === tenant);
    if (id === null || !owned || !(await deps.call(keys.revoke(id).catch(unavailable)))) {
      throw new HttpError(404, "not_found", `no API key ${JSON.stringify(c.req.param("id"))}`);
    }
    deps.auth?.forget(id);
    return c.json({ id, revoked: true as const });
  });

  return app;
}
