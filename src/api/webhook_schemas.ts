/**
 * The webhook routes' request and response shapes (`routes/webhooks.ts`),
 * published by `openapi_webhooks.ts`.
 *
 * @module
 */
import { z } from "zod";
import { LIMITS } from "../queue/job.ts";
import { queueNameSchema, webhookEventsSchema, webhookUrlSchema } from "./schemas.ts";
import { isSecret } from "../webhooks/secret.ts";

/** `POST /webhooks` body. */
export const createWebhookSchema = z.object({
  url: webhookUrlSchema.describe("Where deliveries are POSTed (http or https)"),
  events: webhookEventsSchema.optional()
    .describe("The job ends it is sent (default all three; failed: dead, attempts exhausted)"),
  queue: queueNameSchema.optional()
    .describe(
      "Only this queue's jobs (default every queue; a tenant key's: every queue of its tenant)",
    ),
  type: z.string().min(1).max(LIMITS.maxTypeLength).optional()
    .describe("Only jobs of this type (default every type)"),
  secret: z.string().refine(isSecret, {
    message: "whsec_ followed by the base64 of 24 to 64 bytes",
  }).optional().describe("Signs its deliveries (whsec_...); generated when absent"),
}).strict();

/** A subscription as the API shows it (`secret` only in the create answer). */
export const webhookResponseSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: webhookEventsSchema,
  queue: z.string().nullable().describe("null: every queue (of the key's tenant)"),
  type: z.string().nullable().describe("null: every type"),
  created_at: z.string(),
  secret: z.string().optional().describe("Returned once, by the create answer"),
});

/** `GET /webhooks`. */
export const webhookListResponseSchema = z.object({ webhooks: z.array(webhookResponseSchema) });

/** `GET /webhooks/secret`. */
export const webhookSecretResponseSchema = z.object({
  secret: z.string().describe("whsec_...: signs every job's callback_url deliveries"),
  source: z.enum(["env", "generated"]).describe("WEBHOOK_SECRET, or generated and kept in Redis"),
});

/** `GET /webhooks/deliveries` query. */
export const deliveriesQuerySchema = z.object({
  status: z.enum(["failed", "pending"]).default("failed"),
  queue: queueNameSchema.optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
}).strict();

/** One delivery. */
export const deliveryResponseSchema = z.object({
  id: z.string().describe("Also the webhook-id header of every attempt"),
  job_id: z.string(),
  queue: z.string(),
  event: webhookEventsSchema.element,
  subscription_id: z.string().nullable().describe("null: the job's own callback_url"),
  url: z.string().nullable().describe("The job's callback_url (null for a subscription's)"),
  attempts: z.int(),
  last_status: z.int().nullable().describe("The receiver's last HTTP status (null: none)"),
  last_error: z.string().nullable(),
  finished_at: z.string().describe("When the job ended"),
  failed_at: z.string().nullable().describe("When it was given up (null: still trying)"),
});

/** `GET /webhooks/deliveries`. */
export const deliveryListResponseSchema = z.object({
  deliveries: z.array(deliveryResponseSchema),
});

/** `POST /webhooks/deliveries/:id/redeliver`. */
export const redeliverResponseSchema = z.object({
  delivery_id: z.string(),
  status: z.literal("pending"),
});
