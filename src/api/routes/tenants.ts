/**
 * Tenants' quotas (`src/tenants/quota.ts`):
 *
 * - `GET /tenants` → `{tenants: [{name, max_pending, submit_rate}]}`, every
 *   tenant with a quota set (a key confined to a tenant: its own only);
 * - `GET /tenants/:name` → `{name, max_pending, submit_rate, waiting}`, where
 *   `waiting` is what its queues hold pending or scheduled now (a tenant
 *   nobody configured has no limits: 200 with nulls);
 * - `PUT /tenants/:name` `{max_pending, submit_rate}` → 201 set, 200 replaced;
 * - `DELETE /tenants/:name` → `{name, deleted: true}`: no limits any more.
 *
 * Changes reach every API process within a second (`QUOTA_CACHE_MS`). Setting
 * quotas takes a key without a tenant: a tenant cannot raise its own (403);
 * another tenant's name is 404 to a tenant's key, like everything of theirs.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readJsonBody } from "../body.ts";
import { parseOr422 } from "../validation.ts";
import { quotaSchema } from "../../tenants/quota.ts";
import type { QuotaStore } from "../../tenants/quota_store.ts";
import { TENANT_NAME, TENANT_NAME_RULE } from "../../tenants/names.ts";
import { callerTenant, notFound } from "../tenant_scope.ts";

/** Largest `PUT /tenants/:name` body. */
const MAX_QUOTA_BODY_BYTES = 4 * 1024;

function storeOf(deps: RouteDeps): QuotaStore {
  if (!deps.quotas) throw new HttpError(404, "not_found", "this server keeps no tenant quotas");
  return deps.quotas;
}

/** The path's tenant, checked, and one the caller may see. */
function tenantName(c: Context): string {
  const name = c.req.param("name")!;
  if (!TENANT_NAME.test(name)) {
    throw new HttpError(422, "validation_error", `name: ${TENANT_NAME_RULE}`, {
      issues: [{ path: "name", message: TENANT_NAME_RULE }],
    });
  }
  const own = callerTenant(c);
  if (own !== null && own !== name) throw notFound("tenant", name);
  return name;
}

/** Quotas are changed by keys of the whole deployment only. */
function refuseTenantKey(c: Context): void {
  if (callerTenant(c) === null) return;
  throw new HttpError(
    403,
    "forbidden",
    "a tenant's quotas are set by an admin key without a tenant",
    { required_scope: "admin" },
  );
}

/** Routes of tenants' quotas, mounted under `/api/v1`. */
export function tenantsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/tenants", async (c) => {
    const own = callerTenant(c);
    const all = await deps.call(storeOf(deps).list());
    const tenants = all.filter((t) => own === null || t.name === own)
      .map(({ name, quota }) => ({ name, ...quota }));
    return c.json({ tenants });
  });

  app.get("/tenants/:name", async (c) => {
    const name = tenantName(c);
    const store = storeOf(deps);
    const [quota, queues] = await deps.call(Promise.all([store.read(name), store.queuesOf(name)]));
    const waiting = (await deps.call(store.waitingIn(queues))).reduce((a, b) => a + b, 0);
    return c.json({
      name,
      max_pending: quota?.max_pending ?? null,
      submit_rate: quota?.submit_rate ?? null,
      waiting,
    });
  });

  app.put("/tenants/:name", async (c) => {
    const name = tenantName(c);
    refuseTenantKey(c);
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, MAX_QUOTA_BODY_BYTES, ticket);
    const quota = parseOr422(quotaSchema, body, "quota");
    const created = await deps.write(storeOf(deps).set(name, quota), "change");
    return c.json({ name, ...quota }, created ? 201 : 200);
  });

  app.delete("/tenants/:name", async (c) => {
    const name = tenantName(c);
    refuseTenantKey(c);
    const deleted = await deps.write(storeOf(deps).remove(name), "change");
    if (!deleted) throw notFound("tenant", name);
    return c.json({ name, deleted: true as const });
  });

  return app;
}
