/**
 * Completion webhooks' part of the OpenAPI document (`openapi.ts` merges
 * it): the `/webhooks` paths and their schemas, from the zod schemas the
 * routes validate with (`webhook_schemas.ts`).
 *
 * @module
 */
import {
  createWebhookSchema,
  deliveriesQuerySchema,
  deliveryListResponseSchema,
  redeliverResponseSchema,
  webhookListResponseSchema,
  webhookResponseSchema,
  webhookSecretResponseSchema,
} from "../webhook_schemas.ts";
import {
  errorResponse,
  type Json,
  json,
  jsonBodyErrors,
  jsonSchema,
  ok,
  queryParameters,
  ref,
  responseRef,
} from "./openapi_parts.ts";
import { z } from "zod";
import { MAX_WEBHOOK_BODY } from "./webhooks.ts";

/** `components.schemas` of the webhooks. */
export function webhookSchemas(): Json {
  return {
    WebhookCreate: jsonSchema(createWebhookSchema, "input"),
    Webhook: jsonSchema(webhookResponseSchema, "output"),
    WebhookList: jsonSchema(webhookListResponseSchema, "output"),
    WebhookDeleted: jsonSchema(
      z.object({ id: z.string(), deleted: z.literal(true) }),
      "output",
    ),
    WebhookSecret: jsonSchema(webhookSecretResponseSchema, "output"),
    WebhookDeliveryList: jsonSchema(deliveryListResponseSchema, "output"),
    WebhookRedelivery: jsonSchema(redeliverResponseSchema, "output"),
  };
}

const internal = { "500": responseRef("InternalError") };
const unavailable = {
  "503": errorResponse(
    "Redis could not be reached (nothing changed), or this process serves no webhooks",
    ["unavailable"],
  ),
};
const idParam = (description: string) => ({
  name: "id",
  in: "path",
  required: true,
  description,
  schema: { type: "string" },
});
const unknown = errorResponse(
  "No such subscription, or another tenant's (answered alike)",
  ["not_found"],
);

/** The `/webhooks` paths. */
export function webhookPaths(): Json {
  return {
    "/api/v1/webhooks": {
      post: {
        operationId: "createWebhook",
        summary: "Subscribe a URL to the ends of jobs (of a queue, of a type, or all)",
        description:
          "Deliveries follow Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature " +
          "headers; body {type, timestamp, data: the job's status}), signed with the " +
          "subscription's secret, which only this answer shows. A tenant's key subscribes to " +
          "its own queues only.",
        requestBody: {
          required: true,
          description: `At most ${MAX_WEBHOOK_BODY} bytes.`,
          ...json(ref("WebhookCreate")),
        },
        responses: {
          "201": ok("Created (with its secret)", ref("Webhook"), ["Location"]),
          ...jsonBodyErrors(MAX_WEBHOOK_BODY),
          "409": errorResponse("The deployment holds the most subscriptions it may", ["conflict"]),
          "422": errorResponse(
            "A bad field (an URL that is not http(s), or whose literal address the outbound " +
              "guard refuses; unknown events; another tenant's queue; a malformed secret)",
            ["validation_error"],
          ),
          ...unavailable,
          ...internal,
        },
      },
      get: {
        operationId: "listWebhooks",
        summary: "The subscriptions (a tenant's key: its own), without their secrets",
        responses: {
          "200": ok("The subscriptions", ref("WebhookList")),
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/webhooks/secret": {
      get: {
        operationId: "getWebhookSecret",
        summary: "The deployment's secret, which signs every job's callback_url deliveries",
        responses: {
          "200": ok("The secret", ref("WebhookSecret")),
          "403": errorResponse(
            "A key without the admin scope, or a tenant's key (the secret signs every " +
              "tenant's callbacks) (`forbidden`), or the server runs without keys (loopback " +
              "only) and the request named another host (`forbidden_host`)",
            ["forbidden", "forbidden_host"],
            ["WWW-Authenticate"],
          ),
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/webhooks/deliveries": {
      get: {
        operationId: "listWebhookDeliveries",
        summary: "Deliveries given up (status=failed) or still to send (pending), newest first",
        parameters: queryParameters(deliveriesQuerySchema),
        responses: {
          "200": ok("The deliveries", ref("WebhookDeliveryList")),
          "404": errorResponse("Another tenant's queue (answered as an unknown one)", [
            "not_found",
          ]),
          "422": errorResponse("A bad query parameter", ["validation_error"]),
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/webhooks/deliveries/{id}/redeliver": {
      post: {
        operationId: "redeliverWebhook",
        summary: "Send a given-up delivery again, with the same webhook-id, attempts from zero",
        parameters: [idParam("The delivery's id (`<job id>~<n>`; a tenant's `/` as `%2F`)")],
        responses: {
          "202": ok("Due again", ref("WebhookRedelivery")),
          "404": errorResponse(
            "Not a given-up delivery (unknown, pending, delivered, or another tenant's)",
            ["not_found"],
          ),
          ...unavailable,
          ...internal,
        },
      },
    },
    "/api/v1/webhooks/{id}": {
      get: {
        operationId: "getWebhook",
        summary: "One subscription, without its secret",
        parameters: [idParam("The subscription's id")],
        responses: {
          "200": ok("The subscription", ref("Webhook")),
          "404": unknown,
          ...unavailable,
          ...internal,
        },
      },
      delete: {
        operationId: "deleteWebhook",
        summary: "Delete a subscription (its deliveries not yet sent are dropped)",
        parameters: [idParam("The subscription's id")],
        responses: {
          "200": ok("Deleted", ref("WebhookDeleted")),
          "404": unknown,
          ...unavailable,
          ...internal,
        },
      },
    },
  };
}
