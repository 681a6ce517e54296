/**
 * Flow control's part of the OpenAPI document (`openapi.ts` merges it): the
 * `/limits` paths and their schemas, from the zod schema the route validates with.
 *
 * @module
 */
import { z } from "zod";
import { LIMIT_SCOPES, limitSchema } from "../../limits/limit.ts";
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
import { MAX_LIMIT_BODY_BYTES } from "./limits.ts";

const scope = z.enum(LIMIT_SCOPES);
const scopedLimit = z.object({ scope, name: z.string(), limit: limitSchema });

/** `components.schemas` of the limits. */
export function limitSchemas(): Json {
  return {
    Limit: jsonSchema(limitSchema, "input"),
    ScopedLimit: jsonSchema(scopedLimit, "output"),
    LimitList: jsonSchema(
      z.object({
        limits: z.array(scopedLimit.extend({
          source: z.enum(["api", "code"]).describe(
            "api: set with PUT (wins); code: declared by defineJob({ limits })",
          ),
          declared: limitSchema.nullable().describe("What the type's code declares, if anything"),
          held: z.object({
            jobs: z.int().nullable().describe(
              "Ready jobs of the type parked now, waiting for room (null for a queue's limit)",
            ),
            claims: z.object({
              rate: z.int(),
              concurrency: z.int(),
              paused: z.int(),
              circuit: z.int(),
            }).describe("Claims that found ready work held back by this limit, by reason"),
            circuit: z.object({
              state: z.enum(["closed", "open", "half_open"]),
              transitions: z.int(),
            }).nullable().describe(
              "The type's circuit breaker: its state and transitions (null: none)",
            ),
          }),
        })),
      }),
      "output",
    ),
    LimitDeleted: jsonSchema(
      z.object({ scope, name: z.string(), deleted: z.literal(true) }),
      "output",
    ),
  };
}

const params = [
  {
    name: "scope",
    in: "path",
    required: true,
    description: "What the limit applies to: a job type or a queue",
    schema: { type: "string", enum: [...LIMIT_SCOPES] },
  },
  {
    name: "name",
    in: "path",
    required: true,
    description: "A registered job type, or a known queue (a tenant's `acme/default` as " +
      "`acme%2Fdefault`)",
    schema: { type: "string" },
  },
];

const internal = { "500": responseRef("InternalError") };
const unavailable = {
  "503": errorResponse("Redis could not be reached; nothing changed", ["unavailable"], [
    "Retry-After",
  ]),
};
const badTarget = errorResponse(
  "Unknown scope, or a name that is no registered type or known queue (the message names the field)",
  ["validation_error"],
);
const tenantKey = errorResponse(
  "A key confined to a tenant (limits are the whole deployment's) or a key without the admin " +
    "scope (`forbidden`), or the server runs without keys (loopback only) and the request " +
    "named another host (`forbidden_host`)",
  ["forbidden", "forbidden_host"],
  ["WWW-Authenticate"],
);

/** The `/limits` paths. */
export function limitPaths(): Json {
  return {
    "/api/v1/limits": {
      get: {
        operationId: "listLimits",
        summary: "Every flow-control limit in force (rate and concurrency, per type or queue)",
        responses: {
          "200": ok("The limits", ref("LimitList")),
          "403": tenantKey,
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/limits/{scope}/{name}": {
      put: {
        operationId: "setLimit",
        summary: "Set a limit: every worker's next claim obeys it (persisted in Redis)",
        parameters: params,
        requestBody: {
          required: true,
          description: `At most ${MAX_LIMIT_BODY_BYTES} bytes.`,
          ...json(ref("Limit")),
        },
        responses: {
          "200": ok("Replaced", ref("ScopedLimit")),
          "201": ok("Set (none was set at runtime)", ref("ScopedLimit")),
          ...jsonBodyErrors(MAX_LIMIT_BODY_BYTES),
          "403": tenantKey,
          "422": errorResponse(
            "max, per_ms or concurrency below 1 or too high, an unknown field, neither a rate " +
              "nor a concurrency, an unknown scope, type or queue (the message names the field)",
            ["validation_error"],
          ),
          ...unavailable,
          ...internal,
        },
      },
      delete: {
        operationId: "deleteLimit",
        summary: "Remove a runtime limit (a type's declared one applies again)",
        parameters: params,
        responses: {
          "200": ok("Removed", ref("LimitDeleted")),
          "403": tenantKey,
          "404": errorResponse("No runtime limit is set there", ["not_found"]),
          "422": badTarget,
          ...unavailable,
          ...internal,
        },
      },
    },
  };
}
