/**
 * The OpenAPI side of authentication: the key-management and whoami paths,
 * the two security schemes (API keys and the metrics token), and each
 * operation's `security` and 401/403/429 answers, taken from the same table
 * the guards are installed from (`auth/access.ts`), so the document cannot
 * say a route is open when it is not. Also the cross-site refusal (415) of
 * the POST routes that take no body.
 *
 * @module
 */
import { type Access, accessOf } from "../auth/access.ts";
import { UNLISTED_ACCESS } from "../auth/guard.ts";
import * as a from "../auth/schemas.ts";
import { MAX_KEY_NAME } from "../../auth/key_store.ts";
import {
  errorResponse,
  type Json,
  json,
  jsonSchema,
  ok,
  ref,
  responseRef,
} from "./openapi_parts.ts";

/** `components.securitySchemes`. */
export const SECURITY_SCHEMES: Json = {
  ApiKey: {
    type: "http",
    scheme: "bearer",
    description: "An API key (`jq_…`) from `POST /api/v1/keys`, `deno task keys create`, or " +
      "ADMIN_API_KEY. The requirement lists the scope the operation needs (submit, read or " +
      "admin). While the server runs with auth off (no key configured, loopback only; or " +
      "AUTH=off) no key is needed.",
  },
  MetricsToken: {
    type: "http",
    scheme: "bearer",
    description: "METRICS_TOKEN, when the server is given one; otherwise /metrics is open.",
  },
};

/** `components.schemas` of the auth routes. */
export function authSchemas(): Json {
  return {
    CreateKey: jsonSchema(a.createKeySchema, "input"),
    ApiKey: jsonSchema(a.apiKeySchema, "output"),
    CreatedKey: jsonSchema(a.createdKeySchema, "output"),
    KeyList: jsonSchema(a.keyListSchema, "output"),
    RevokedKey: jsonSchema(a.revokedKeySchema, "output"),
    WhoAmI: jsonSchema(a.whoamiSchema, "output"),
  };
}

/** `components.responses` of the auth answers. */
export const AUTH_RESPONSES: Json = {
  Unauthorized: errorResponse(
    "No API key, a malformed Authorization header, or an unknown or revoked key",
    ["unauthorized"],
    ["WWW-Authenticate"],
  ),
  Forbidden: errorResponse(
    "The key lacks the scope the operation needs (named in the message and " +
      "details.required_scope; `forbidden`), or the server runs without keys (loopback only) " +
      "and the request named another host (`forbidden_host`: DNS rebinding)",
    ["forbidden", "forbidden_host"],
    ["WWW-Authenticate"],
  ),
  ForbiddenHost: errorResponse(
    "The server runs without keys (loopback only) and the request named another host " +
      "(DNS rebinding)",
    ["forbidden_host"],
  ),
  RateLimited: errorResponse(
    "Too many failed key attempts from this client address lately; nothing was checked",
    ["rate_limited"],
    ["Retry-After"],
  ),
  KeysUnavailable: errorResponse("Redis did not answer in time", ["unavailable"]),
};

/** `components.headers` of the auth answers. */
export const AUTH_HEADERS: Json = {
  "WWW-Authenticate": {
    description: 'The scheme to use: `Bearer realm="jobqueue"` (with error="invalid_token" ' +
      'or error="insufficient_scope" and the scope, RFC 6750)',
    schema: { type: "string" },
  },
};

const keyIdParam = {
  name: "id",
  in: "path",
  required: true,
  description: "A key id (16 hex digits)",
  schema: { type: "string" },
};

const internal = { "500": responseRef("InternalError") };
const noKeys = errorResponse("This server keeps no API keys (built without a key store)", [
  "not_found",
]);

/** The key-management and whoami paths. */
export function authPaths(): Json {
  return {
    "/api/v1/keys": {
      post: {
        operationId: "createKey",
        summary: "Create an API key (its secret is in this answer only)",
        requestBody: {
          required: true,
          description: `A name (1..${MAX_KEY_NAME} characters) and the scopes.`,
          ...json(ref("CreateKey")),
        },
        responses: {
          "201": ok("Created: `key` is the secret, shown only now", ref("CreatedKey"), [
            "Location",
          ]),
          "400": errorResponse("The body is not JSON", ["invalid_json"]),
          "408": errorResponse(
            "The body arrived slower than the server's minimum pace; nothing was written",
            ["request_timeout"],
          ),
          "404": noKeys,
          "413": errorResponse("The body is over 16 KiB", ["payload_too_large"]),
          "415": errorResponse("Content-Type is not application/json", [
            "unsupported_media_type",
          ]),
          "422": errorResponse("A field is missing, unknown or out of range", [
            "validation_error",
          ]),
          "503": responseRef("KeysUnavailable"),
          ...internal,
        },
      },
      get: {
        operationId: "listKeys",
        summary: "Every API key, oldest first (no secrets)",
        responses: {
          "200": ok("The keys", ref("KeyList")),
          "404": noKeys,
          "503": responseRef("KeysUnavailable"),
          ...internal,
        },
      },
    },
    "/api/v1/keys/{id}": {
      delete: {
        operationId: "revokeKey",
        summary: "Revoke an API key: every API process refuses it within a second",
        parameters: [keyIdParam],
        responses: {
          "200": ok("Revoked", ref("RevokedKey")),
          "404": errorResponse("No such key (or this server keeps none)", ["not_found"]),
          "503": responseRef("KeysUnavailable"),
          ...internal,
        },
      },
    },
    "/api/v1/auth": {
      get: {
        operationId: "whoAmI",
        summary: "Whether keys are required, and the scopes of the key sent (if any)",
        responses: { "200": ok("Who you are", ref("WhoAmI")), ...internal },
      },
    },
  };
}

const METHODS = ["get", "post", "put", "delete"] as const;

/** The security requirement and extra answers of one access level. */
function securityOf(access: Access): { security: Json[]; responses: Json } {
  switch (access) {
    case "public":
      return { security: [], responses: {} };
    case "metrics":
      return {
        security: [{ MetricsToken: [] }],
        responses: {
          "401": errorResponse("METRICS_TOKEN is set and was not sent", ["unauthorized"], [
            "WWW-Authenticate",
          ]),
        },
      };
    case "optional":
      return {
        security: [{}, { ApiKey: [] }],
        responses: {
          "401": responseRef("Unauthorized"),
          "403": responseRef("ForbiddenHost"),
          "429": responseRef("RateLimited"),
        },
      };
    default:
      return {
        security: [{ ApiKey: [access] }],
        responses: {
          "401": responseRef("Unauthorized"),
          "403": responseRef("Forbidden"),
          "429": responseRef("RateLimited"),
        },
      };
  }
}

/** `{id}` → `:id`, the table's (Hono's) spelling. */
function honoPath(path: string): string {
  return path.replace(/\{([A-Za-z_]+)\}/g, ":$1");
}

/**
 * Adds `security` and the auth answers to every operation of `paths`, and
 * the cross-site 415 to POSTs without a required request body (the guard refuses
 * those on listed routes only; test/api/auth_routes_test.ts makes every
 * route listed).
 */
export function withSecurity(paths: Json): Json {
  for (const [path, item] of Object.entries(paths)) {
    for (const method of METHODS) {
      const op = (item as Record<string, Json | undefined>)[method];
      if (!op) continue;
      // A route missing from the table is guarded as UNLISTED_ACCESS: say so.
      const access = accessOf(method.toUpperCase(), honoPath(path)) ?? UNLISTED_ACCESS;
      const { security, responses } = securityOf(access);
      op.security = security;
      const all = op.responses as Json;
      // An operation's own answer of a status (e.g. submits' 429, which adds quotas) wins.
      for (const [status, answer] of Object.entries(responses)) all[status] ??= answer;
      const body = op.requestBody as { required?: boolean } | undefined;
      if (method === "post" && (!body || body.required === false)) {
        all["415"] = errorResponse(
          "Neither Content-Type: application/json nor an Authorization header was sent: a " +
            "request a browser could send from another site (refused, nothing changed)",
          ["unsupported_media_type"],
        );
      }
    }
  }
  return paths;
}
