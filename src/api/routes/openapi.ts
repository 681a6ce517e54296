/**
 * `GET /openapi.json`: an OpenAPI 3.1 document generated from the same zod
 * schemas the routes parse with (zod 4's `z.toJSONSchema`), including every
 * registered job type's payload schema.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { JobRegistry } from "../../jobs/registry.ts";
import type { RouteDeps } from "../deps.ts";
import * as s from "../schemas.ts";
import { payloadJsonSchema } from "./job_types.ts";

type Json = Record<string, unknown>;

function schema(zodSchema: z.ZodType, io: "input" | "output"): Json {
  const { $schema: _drop, ...rest } = z.toJSONSchema(zodSchema, { io, unrepresentable: "any" });
  return rest;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schemaRef: Json) => ({ content: { "application/json": { schema: schemaRef } } });
const error = (description: string) => ({ description, ...json(ref("Error")) });
const idParam = {
  name: "id",
  in: "path",
  required: true,
  schema: { type: "string", format: "uuid" },
};

function componentName(type: string): string {
  return `Payload_${type.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

/** Builds the document for `registry`. */
export function buildOpenApi(registry: JobRegistry): Json {
  const schemas: Json = {
    SubmitJob: schema(s.submitJobSchema, "input"),
    SubmitBatch: schema(s.submitBatchSchema, "input"),
    SubmitResponse: schema(s.submitResponseSchema, "output"),
    BatchResponse: schema(s.batchResponseSchema, "output"),
    Job: schema(s.jobResponseSchema, "output"),
    JobList: schema(s.jobListResponseSchema, "output"),
    JobAction: schema(s.jobActionResponseSchema, "output"),
    Purge: schema(s.purgeResponseSchema, "output"),
    Stats: schema(s.statsResponseSchema, "output"),
    Health: schema(s.healthResponseSchema, "output"),
    JobType: schema(s.jobTypeResponseSchema, "output"),
    Error: schema(s.errorResponseSchema, "output"),
  };
  const variants: Json[] = [];
  for (const def of registry.list()) {
    const name = componentName(def.type);
    schemas[name] = { description: def.description, ...payloadJsonSchema(def) };
    variants.push({
      allOf: [ref("SubmitJob"), {
        type: "object",
        properties: { type: { const: def.type }, payload: ref(name) },
      }],
    });
  }
  const listParams = [
    {
      name: "status",
      in: "query",
      schema: {
        type: "string",
        enum: [...s.listQuerySchema.shape.status.unwrap().options],
        default: "pending",
      },
    },
    { name: "type", in: "query", schema: { type: "string" } },
    {
      name: "limit",
      in: "query",
      schema: {
        type: "integer",
        minimum: s.LIST_LIMITS.min,
        maximum: s.LIST_LIMITS.max,
        default: s.LIST_LIMITS.default,
      },
    },
    { name: "cursor", in: "query", schema: { type: "string" } },
  ];
  return {
    openapi: "3.1.0",
    info: {
      title: "Job queue API",
      version: "1.0.0",
      description:
        "Submit typed jobs, track them and read queue statistics. Every error answer has the shape " +
        '{"error": {"code", "message", "details"?}}.',
    },
    paths: {
      "/api/v1/jobs": {
        post: {
          summary: "Submit a job",
          parameters: [{
            name: "Idempotency-Key",
            in: "header",
            schema: { type: "string", maxLength: 256 },
          }],
          requestBody: { required: true, ...json({ oneOf: variants }) },
          responses: {
            "201": { description: "Created", ...json(ref("SubmitResponse")) },
            "200": {
              description: "Idempotency-Key matched an earlier job",
              ...json(ref("SubmitResponse")),
            },
            "400": error("Invalid JSON or header"),
            "413": error("Body or payload over 1 MB"),
            "415": error("Body is not JSON"),
            "422": error("Unknown type, invalid payload or out-of-range field"),
            "503": error(
              "Queue unavailable, or submit bodies in flight over the budget (overloaded, Retry-After)",
            ),
          },
        },
        get: {
          summary: "List jobs in one state",
          parameters: listParams,
          responses: {
            "200": { description: "A page", ...json(ref("JobList")) },
            "400": error("Bad query"),
          },
        },
        delete: {
          summary: "Purge finished jobs of one state",
          parameters: [{
            name: "status",
            in: "query",
            required: true,
            schema: { type: "string", enum: ["failed", "completed", "cancelled"] },
          }],
          responses: {
            "200": { description: "Purged", ...json(ref("Purge")) },
            "400": error("Bad query"),
          },
        },
      },
      "/api/v1/jobs/batch": {
        post: {
          summary: "Submit many jobs in one round trip",
          requestBody: { required: true, ...json(ref("SubmitBatch")) },
          responses: {
            "201": { description: "All created", ...json(ref("BatchResponse")) },
            "207": {
              description: "Some items rejected; the valid ones were written",
              ...json(ref("BatchResponse")),
            },
            "422": error("No valid item"),
            "503": error("Queue unavailable, or submit bodies in flight over the budget"),
          },
        },
      },
      "/api/v1/jobs/{id}": {
        get: {
          summary: "Job status and result",
          parameters: [idParam],
          responses: {
            "200": { description: "The job", ...json(ref("Job")) },
            "400": error("Not a UUID"),
            "404": error("Unknown or expired"),
          },
        },
        delete: {
          summary: "Cancel a job",
          parameters: [idParam],
          responses: {
            "200": { description: "Cancelled", ...json(ref("JobAction")) },
            "202": { description: "Running: cancel requested", ...json(ref("JobAction")) },
            "404": error("Unknown"),
            "409": error("Already finished"),
          },
        },
      },
      "/api/v1/jobs/{id}/retry": {
        post: {
          summary: "Requeue a failed or cancelled job",
          parameters: [idParam],
          responses: {
            "200": { description: "Requeued", ...json(ref("JobAction")) },
            "404": error("Unknown"),
            "409": error("Not failed/cancelled"),
          },
        },
      },
      "/api/v1/stats": {
        get: {
          summary: "Queue statistics",
          responses: { "200": { description: "Counts", ...json(ref("Stats")) } },
        },
      },
      "/api/v1/job-types": {
        get: {
          summary: "Registered job types with payload schemas",
          responses: {
            "200": {
              description: "Types",
              ...json({
                type: "object",
                properties: { job_types: { type: "array", items: ref("JobType") } },
              }),
            },
          },
        },
      },
      "/api/v1/health": {
        get: {
          summary: "Liveness",
          responses: { "200": { description: "Alive", ...json(ref("Health")) } },
        },
      },
      "/api/v1/ready": {
        get: {
          summary: "Readiness (Redis reachable)",
          responses: {
            "200": { description: "Ready", ...json(ref("Health")) },
            "503": error("Redis unreachable"),
          },
        },
      },
    },
    components: { schemas },
  };
}

/** The OpenAPI route, mounted under `/api/v1`. */
export function openApiRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  let cached: Json | null = null;
  app.get("/openapi.json", (c) => c.json(cached ??= buildOpenApi(deps.registry)));
  return app;
}
