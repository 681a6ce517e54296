/**
 * The tenants' part of the OpenAPI document (`openapi.ts` merges it): the
 * quota paths and their schemas, from the zod schema the route validates with.
 *
 * @module
 */
import { z } from "zod";
import { quotaSchema } from "../../tenants/quota.ts";
import { TENANT_NAME_RULE } from "../../tenants/names.ts";
import {
  errorResponse,
  type Json,
  json,
  jsonBodyErrors,
  jsonSchema,
  ok,
  ref,
  responseRef,
} from "./openapi_parts.ts";

const tenantQuota = quotaSchema.extend({ name: z.string() });

/** `components.schemas` of the tenants. */
export function tenantSchemas(): Json {
  return {
    Quota: jsonSchema(quotaSchema, "input"),
    TenantQuota: jsonSchema(tenantQuota, "output"),
    TenantList: jsonSchema(z.object({ tenants: z.array(tenantQuota) }), "output"),
    Tenant: jsonSchema(
      tenantQuota.extend({
        waiting: z.int().describe("Jobs pending or scheduled in the tenant's queues now"),
      }),
      "output",
    ),
    TenantDeleted: jsonSchema(
      z.object({ name: z.string(), deleted: z.literal(true) }),
      "output",
    ),
  };
}

const nameParam = {
  name: "name",
  in: "path",
  required: true,
  description: `A tenant (${TENANT_NAME_RULE})`,
  schema: { type: "string" },
};

const MAX_QUOTA_BODY_BYTES = 4 * 1024;
const internal = { "500": responseRef("InternalError") };
const unavailable = {
  "503": errorResponse("Redis could not be reached; nothing changed", ["unavailable"], [
    "Retry-After",
  ]),
};
const badName = errorResponse(`The name breaks the rule: ${TENANT_NAME_RULE}`, [
  "validation_error",
]);
const hidden = errorResponse(
  "A key confined to another tenant asked (everything of another tenant is not found), or " +
    "the server keeps no quotas",
  ["not_found"],
);
const tenantKey = errorResponse(
  "A key confined to a tenant (quotas are set by a key of the whole deployment) or a key " +
    "without the admin scope (`forbidden`), or the server runs without keys (loopback only) " +
    "and the request named another host (`forbidden_host`)",
  ["forbidden", "forbidden_host"],
  ["WWW-Authenticate"],
);

/** The `/tenants` paths. */
export function tenantPaths(): Json {
  return {
    "/api/v1/tenants": {
      get: {
        operationId: "listTenants",
        summary: "Tenants with quotas (a tenant's key: its own)",
        responses: {
          "200": ok("The tenants", ref("TenantList")),
          "404": hidden,
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/tenants/{name}": {
      get: {
        operationId: "getTenant",
        summary: "A tenant's quotas and what its queues hold waiting (nulls: no limit)",
        parameters: [nameParam],
        responses: {
          "200": ok("The tenant", ref("Tenant")),
          "404": hidden,
          "422": badName,
          ...unavailable,
          ...internal,
        },
      },
      put: {
        operationId: "setTenantQuota",
        summary: "Set a tenant's quotas: every API process applies them within a second",
        parameters: [nameParam],
        requestBody: {
          required: true,
          description: `At most ${MAX_QUOTA_BODY_BYTES} bytes.`,
          ...json(ref("Quota")),
        },
        responses: {
          "200": ok("Replaced", ref("TenantQuota")),
          "201": ok("Set (the tenant had none)", ref("TenantQuota")),
          ...jsonBodyErrors(MAX_QUOTA_BODY_BYTES),
          "403": tenantKey,
          "404": hidden,
          "422": errorResponse("A field is unknown or out of range, or the name breaks the rule", [
            "validation_error",
          ]),
          ...unavailable,
          ...internal,
        },
      },
      delete: {
        operationId: "deleteTenantQuota",
        summary: "Lift a tenant's quotas",
        parameters: [nameParam],
        responses: {
          "200": ok("Lifted", ref("TenantDeleted")),
          "403": tenantKey,
          "404": errorResponse("The tenant has no quotas (or is another tenant's)", [
            "not_found",
          ]),
          "422": badName,
          ...unavailable,
          ...internal,
        },
      },
    },
  };
}
