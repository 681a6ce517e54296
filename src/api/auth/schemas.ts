/**
 * The zod schemas of the key-management and whoami routes: what they parse,
 * and what they answer (the OpenAPI document is generated from both).
 *
 * @module
 */
import { z } from "zod";
import { MAX_KEY_NAME } from "../../auth/key_store.ts";
import { SCOPES } from "../../auth/scopes.ts";
import { TENANT_NAME, TENANT_NAME_RULE } from "../../tenants/names.ts";

/** A key id: 16 hex digits (the part of the key after `jq_`). */
export const keyIdSchema = z.string().regex(/^[0-9a-f]{16}$/, "a key id is 16 hex digits");

/** `POST /keys`. */
export const createKeySchema = z.object({
  name: z.string().trim().min(1).max(MAX_KEY_NAME).describe("What the key is for"),
  scopes: z.array(z.enum(SCOPES)).min(1).max(SCOPES.length)
    .describe("submit: create jobs; read: status, lists, stats, events; admin: the rest"),
  tenant: z.string().regex(TENANT_NAME, TENANT_NAME_RULE).nullable().optional()
    .describe(
      "Confine the key to this tenant (its queues are <tenant>/<name>); null or absent: the " +
        "whole deployment. A key confined to a tenant creates keys of its tenant only",
    ),
}).strict();

/** A key as listed (never its secret). */
export const apiKeySchema = z.object({
  id: z.string(),
  name: z.string(),
  scopes: z.array(z.enum(SCOPES)),
  tenant: z.string().nullable(),
  created_at: z.string(),
  last_used_at: z.string().nullable()
    .describe("Last use seen, updated at most about once a minute; null: never used"),
});

/** `POST /keys` → 201: the record and, this once, the secret. */
export const createdKeySchema = apiKeySchema.extend({
  key: z.string().describe("The secret: send it as Authorization: Bearer <key>. Shown only now."),
});

/** `GET /keys`. */
export const keyListSchema = z.object({ keys: z.array(apiKeySchema) });

/** `DELETE /keys/:id`. */
export const revokedKeySchema = z.object({ id: z.string(), revoked: z.literal(true) });

/** `GET /auth`. */
export const whoamiSchema = z.object({
  auth: z.enum(["on", "off"]).describe("off: every route is open (no key needed)"),
  key: z.object({
    id: z.string(),
    name: z.string(),
    scopes: z.array(z.enum(SCOPES)),
    tenant: z.string().nullable(),
  }).nullable().describe("The key sent, when auth is on and one was sent"),
});
