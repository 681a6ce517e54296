/**
 * Flow control's limits (`src/limits/`), deployment-wide, admin keys only:
 *
 * - `GET /limits` → `{limits: [{scope, name, limit, source, declared}]}`:
 *   every limit in force (`source` "api": set here, "code": declared by
 *   `defineJob({ limits })`, shown in `declared` also while overridden);
 * - `PUT /limits/:scope/:name` `{rate: {max, per_ms} | null, concurrency: n | null}`
 *   → 201 set, 200 replaced; the next claim of every worker obeys it;
 * - `DELETE /limits/:scope/:name` → `{scope, name, deleted: true}` (a type's
 *   declared limit applies again); 404 when no runtime limit was set.
 *
 * `scope` is `type` (a registered job type) or `queue` (a known queue; a
 * tenant's `acme/default` is written `acme%2Fdefault`). Anything else is 422
 * naming the field, and nothing is written.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readJsonBody } from "../body.ts";
import { parseOr422 } from "../validation.ts";
import { LIMIT_SCOPES, limitSchema, type LimitScope } from "../../limits/limit.ts";
import { callerTenant } from "../tenant_scope.ts";
import { isValidQueueName } from "../../queue/keys.ts";

/** Largest `PUT /limits/:scope/:name` body. */
export const MAX_LIMIT_BODY_BYTES = 4 * 1024;

function invalid(field: string, message: string): HttpError {
  return new HttpError(422, "validation_error", `${field}: ${message}`, {
    issues: [{ path: field, message }],
  });
}

/** Limits are the whole deployment's: a key confined to a tenant may not touch them. */
function refuseTenantKey(c: Context): void {
  if (callerTenant(c) === null) return;
  throw new HttpError(403, "forbidden", "limits are set by an admin key without a tenant", {
    required_scope: "admin",
  });
}

/** The path's scope and name, checked against the registry and the known queues. */
async function target(c: Context, deps: RouteDeps): Promise<{ scope: LimitScope; name: string }> {
  const scope = c.req.param("scope")!;
  const name = c.req.param("name")!;
  if (!(LIMIT_SCOPES as readonly string[]).includes(scope)) {
    throw invalid(
      "scope",
      `unknown scope ${JSON.stringify(scope)}; one of ${LIMIT_SCOPES.join(", ")}`,
    );
  }
  if (scope === "type") {
    if (!deps.registry.get(name)) {
      const known = deps.registry.list().map((d) => d.type).sort();
      throw invalid("name", `unknown job type ${JSON.stringify(name)}; known: ${known.join(", ")}`);
    }
  } else if (!isValidQueueName(name) || !(await deps.call(deps.broker.queueInfo(name)))) {
    throw invalid("name", `unknown queue ${JSON.stringify(name)}`);
  }
  return { scope: scope as LimitScope, name };
}

/** Routes of the limits, mounted under `/api/v1`. */
export function limitsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/limits", async (c) => {
    refuseTenantKey(c);
    const limits = await deps.call(deps.broker.limits());
    c.header("Cache-Control", "no-store");
    return c.json({ limits });
  });

  app.put("/limits/:scope/:name", async (c) => {
    refuseTenantKey(c);
    const { scope, name } = await target(c, deps);
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, MAX_LIMIT_BODY_BYTES, ticket);
    const limit = parseOr422(limitSchema, body, "limit");
    if (limit.per_group && scope !== "type") {
      throw invalid("per_group", "only a job type's limit can apply per group");
    }
    if (limit.circuit && scope !== "type") {
      throw invalid("circuit", "circuit breakers are a job type's");
    }
    const created = await deps.write(deps.broker.setLimit(scope, name, limit), "change");
    return c.json({ scope, name, limit }, created ? 201 : 200);
  });

  app.delete("/limits/:scope/:name", async (c) => {
    refuseTenantKey(c);
    const { scope, name } = await target(c, deps);
    const deleted = await deps.write(deps.broker.removeLimit(scope, name), "change");
    if (!deleted) {
      throw new HttpError(404, "not_found", `no runtime limit on ${scope} ${JSON.stringify(name)}`);
    }
    return c.json({ scope, name, deleted: true as const });
  });

  return app;
}
