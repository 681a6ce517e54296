/**
 * `GET /openapi.json`: an OpenAPI 3.1 document of everything the API process
 * serves, generated from the same zod schemas the routes parse with (zod 4's
 * `z.toJSONSchema`), including every registered job type's payload schema.
 * Hand-written JSON is kept to what zod cannot say: which type goes with
 * which payload, the statuses and error codes of each operation, and the
 * non-JSON answers (event stream, Prometheus text).
 *
 * @module
 */
import { workerPaths, workerSchemas } from "./openapi_workers.ts";
import { redisPaths, redisSchemas } from "./openapi_redis.ts";
import { VERSION } from "../../version.ts";
import { Hono } from "hono";
import type { JobRegistry } from "../../jobs/registry.ts";
import { WHATWG_URL_KEYWORD } from "../../jobs/url_fields.ts";
import { MAX_JSON_DEPTH } from "../body.ts";
import type { RouteDeps } from "../deps.ts";
import * as s from "../schemas.ts";
import { GROUP_RULE } from "../group_param.ts";
import { payloadJsonSchema } from "./job_types.ts";
import {
  errorResponse,
  HEADERS,
  type Json,
  json,
  jsonBodyErrors,
  jsonSchema,
  ok,
  queryParameters,
  ref,
  responseRef,
  RESPONSES,
  TRACE_HEADERS,
} from "./openapi_parts.ts";
import {
  AUTH_HEADERS,
  AUTH_RESPONSES,
  authPaths,
  authSchemas,
  SECURITY_SCHEMES,
  withSecurity,
} from "./openapi_auth.ts";
import { schedulePaths, scheduleSchemas } from "./openapi_schedules.ts";
import { tenantPaths, tenantSchemas } from "./openapi_tenants.ts";
import { flowPaths, flowSchemas } from "./openapi_flows.ts";
import { limitPaths, limitSchemas } from "./openapi_limits.ts";
import { historyPaths, historySchemas } from "./openapi_history.ts";
import { webhookPaths, webhookSchemas } from "./openapi_webhooks.ts";

/** Request body limits of the app the document describes. */
export interface BodyLimits {
  /** Largest `POST /jobs` body. */
  maxBodyBytes: number;
  /** Largest `POST /jobs/batch` body. */
  maxBatchBodyBytes: number;
}

const DESCRIPTION = [
  "Submit typed jobs, track them and read queue statistics.",
  'Every error answer has the shape {"error": {"code", "message", "details"?}}; each response ' +
  "lists the codes it carries.",
  "Schemas are JSON Schema 2020-12. `format` values are annotations: what the server checks " +
  "is said by the other keywords (a `pattern` where zod checks a format), and by the extension " +
  `\`${WHATWG_URL_KEYWORD}: true\`: the string, with surrounding whitespace removed, parses as a ` +
  "URL by the WHATWG URL Standard (`new URL(value)`).",
  "Query parameters not listed for an operation are refused (400 invalid_query).",
  "Request bodies are JSON (`application/json` or `application/*+json`), nested at most " +
  `${MAX_JSON_DEPTH} levels (\`x-max-json-depth\`), and at most \`x-max-body-bytes\` long.`,
  "GET routes also answer HEAD.",
  "Authentication: send `Authorization: Bearer <key>` (an API key with the scope each " +
  "operation's security requirement names: submit, read or admin). Missing or unknown key: 401 " +
  "unauthorized; a key without the scope: 403 forbidden; too many failed keys from one address: " +
  "429 rate_limited. A POST with neither a JSON Content-Type nor an Authorization header is " +
  "refused (415): a browser can send one from another site.",
].join("\n\n");

function componentName(type: string): string {
  return `Payload_${type.replace(/[^A-Za-z0-9._-]/g, "_")}`;
}

/** `components.schemas`: the API's own shapes and one payload schema per job type. */
function schemaComponents(registry: JobRegistry): Json {
  const schemas: Json = {
    SubmitJob: jsonSchema(s.submitJobSchema, "input"),
    SubmitBatch: jsonSchema(s.submitBatchSchema, "input"),
    SubmitResponse: jsonSchema(s.submitResponseSchema, "output"),
    BatchResponse: jsonSchema(s.batchResponseSchema, "output"),
    Job: jsonSchema(s.jobResponseSchema, "output"),
    JobList: jsonSchema(s.jobListResponseSchema, "output"),
    JobAction: jsonSchema(s.jobActionResponseSchema, "output"),
    Retry: jsonSchema(s.retrySchema, "input"),
    BulkRetry: jsonSchema(s.bulkRetrySchema, "input"),
    BulkRetryResponse: jsonSchema(s.bulkRetryResponseSchema, "output"),
    BulkIds: jsonSchema(s.bulkIdsSchema, "input"),
    BulkCancelResponse: jsonSchema(s.bulkCancelResponseSchema, "output"),
    BulkDeleteResponse: jsonSchema(s.bulkDeleteResponseSchema, "output"),
    Purge: jsonSchema(s.purgeResponseSchema, "output"),
    Stats: jsonSchema(s.statsResponseSchema, "output"),
    Queue: jsonSchema(s.queueResponseSchema, "output"),
    QueueList: jsonSchema(s.queueListResponseSchema, "output"),
    QueuePause: jsonSchema(s.queuePauseResponseSchema, "output"),
    Health: jsonSchema(s.healthResponseSchema, "output"),
    JobType: jsonSchema(s.jobTypeResponseSchema, "output"),
    Error: jsonSchema(s.errorResponseSchema, "output"),
  };
  // One variant per type: SubmitJob's fields, with that type's payload schema.
  const variants: Json[] = [];
  for (const def of registry.list()) {
    const name = componentName(def.type);
    const { $schema: _drop, ...payload } = payloadJsonSchema(def);
    schemas[name] = { description: def.description, ...payload };
    variants.push({
      allOf: [ref("SubmitJob"), {
        properties: { type: { const: def.type }, payload: ref(name) },
      }],
    });
  }
  // No registered type: nothing can be submitted (an empty oneOf is not valid JSON Schema).
  schemas.SubmitJobRequest = variants.length ? { oneOf: variants } : false;
  // A batch item is refused on its own terms: the same schema as a single submit.
  const batch = schemas.SubmitBatch as { properties: { jobs: Json } };
  batch.properties.jobs = { ...batch.properties.jobs, items: ref("SubmitJobRequest") };
  return schemas;
}

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "A job id: a UUID (the home queue's jobs) or <queue>:<UUID>",
  schema: jsonSchema(s.jobIdSchema, "input"),
};

const queueNameParam = {
  name: "name",
  in: "path",
  required: true,
  description: "A queue name",
  schema: jsonSchema(s.queueNameSchema, "input"),
};

/** 422 for a queue name that breaks the rule. */
const badQueueName = errorResponse(
  `A queue name breaks the rule (${s.QUEUE_NAME_RULE})`,
  ["validation_error"],
);

const idempotencyHeader = {
  name: "Idempotency-Key",
  in: "header",
  description: "Same key as an earlier job within retention: 200 with that job's id, nothing " +
    "created. Wins over the body's idempotency_key.",
  schema: jsonSchema(s.idempotencyKeySchema, "input"),
};

/** A JSON request body of `schema`, with the limits no JSON Schema keyword expresses. */
function jsonBody(schema: Json, maxBytes: number, description: string): Json {
  return {
    required: true,
    description: `${description} At most ${maxBytes} bytes (else 413) and ${MAX_JSON_DEPTH} ` +
      "levels of nesting (else 400 invalid_json).",
    "x-max-body-bytes": maxBytes,
    "x-max-json-depth": MAX_JSON_DEPTH,
    ...json(schema),
  };
}

const internal = { "500": responseRef("InternalError") };
const unavailable = { "503": responseRef("Unavailable"), ...internal };
const writeUnavailable = { "503": responseRef("WriteUnavailable"), ...internal };

/** The responses of both submit routes that are not about the items. */
function submitErrors(maxBytes: number): Json {
  return {
    ...jsonBodyErrors(maxBytes),
    "429": errorResponse(
      "Too many failed key attempts from this client address (`rate_limited`), or a key " +
        "confined to a tenant went past one of its quotas (`quota_exceeded`, the quota in " +
        "details.quota: max_pending, or submit_rate with Retry-After); nothing was written",
      ["rate_limited", "quota_exceeded"],
      ["Retry-After"],
    ),
    "503": responseRef("SubmitUnavailable"),
    ...internal,
  };
}

function jobsPaths(limits: BodyLimits): Json {
  return {
    "/api/v1/jobs": {
      post: {
        operationId: "submitJob",
        summary: "Submit a job",
        parameters: [idempotencyHeader, ...TRACE_HEADERS],
        requestBody: jsonBody(ref("SubmitJobRequest"), limits.maxBodyBytes, "One job."),
        responses: {
          "201": ok("Created", ref("SubmitResponse"), ["Location"]),
          "200": ok(
            "The Idempotency-Key (header or field) matched an earlier job",
            ref("SubmitResponse"),
            ["Idempotent-Replayed"],
          ),
          ...submitErrors(limits.maxBodyBytes),
          "400": errorResponse(
            "The body is not JSON or nested too deep (`invalid_json`), or the Idempotency-Key " +
              "header is not 1..256 visible ASCII characters (`invalid_header`)",
            ["invalid_json", "invalid_header"],
          ),
          "413": errorResponse(
            `The body is over ${limits.maxBodyBytes} bytes, or the payload's JSON over 1 MiB`,
            ["payload_too_large"],
          ),
          "422": errorResponse(
            "A field is missing, out of range or unknown (`validation_error`), the type is not " +
              "registered (`unknown_job_type`, known ones in details), the payload fails the " +
              "type's schema (`invalid_payload`, field paths in details.issues), or the " +
              "operator's policy refuses it (`validation_error`, field paths in details.issues: " +
              "a literal private or loopback address, a file destination outside " +
              "DATA_PROCESS_OUTPUT_DIR), or depends_on names a job that does not exist " +
              "(`unknown_dependency`, the ids in details.ids; nothing stored)",
            ["validation_error", "unknown_job_type", "invalid_payload", "unknown_dependency"],
          ),
        },
      },
      get: {
        operationId: "listJobs",
        summary: "List jobs in one state",
        description: "Finished states newest first. Any other query parameter is refused.",
        parameters: queryParameters(s.listQuerySchema),
        responses: {
          "200": ok("A page; next_cursor is null on the last one", ref("JobList")),
          "400": responseRef("InvalidQuery"),
          "404": errorResponse("The schedule named by `schedule` is unknown", ["not_found"]),
          "422": errorResponse(
            "The cursor is not one this server handed out for this status (`invalid_input`), " +
              `or the queue name breaks the rule (\`validation_error\`: ${s.QUEUE_NAME_RULE}), ` +
              `or the group does (\`validation_error\`: ${GROUP_RULE})`,
            ["invalid_input", "validation_error"],
          ),
          ...unavailable,
        },
      },
      delete: {
        operationId: "purgeJobs",
        summary: "Purge finished jobs of one state",
        description: "Any other query parameter is refused.",
        parameters: queryParameters(s.purgeQuerySchema),
        responses: {
          "200": ok("Purged", ref("Purge")),
          "400": responseRef("InvalidQuery"),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badQueueName,
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/jobs/batch": {
      post: {
        operationId: "submitBatch",
        summary: "Submit many jobs",
        description: "Each item is checked on its own, like a single submit; the valid ones are " +
          "written together (all or nothing per 1000).",
        parameters: TRACE_HEADERS,
        requestBody: jsonBody(ref("SubmitBatch"), limits.maxBatchBodyBytes, "The jobs."),
        responses: {
          "201": ok("Every item was valid and written", ref("BatchResponse")),
          "207": ok(
            "The body matches SubmitBatch except for some items that do not match " +
              "SubmitJobRequest: those are refused one by one (results[i].error, with the " +
              "code a single submit would get: validation_error, unknown_job_type, " +
              "invalid_payload or payload_too_large); the others were written",
            ref("BatchResponse"),
          ),
          ...submitErrors(limits.maxBatchBodyBytes),
          "422": errorResponse(
            "The body does not match SubmitBatch apart from its items (`validation_error`), " +
              "no item is valid (`validation_error`, details.results as in 207), or an item's " +
              "depends_on names a job that does not exist (`unknown_dependency`, the ids in " +
              "details.ids; nothing stored)",
            ["validation_error", "unknown_dependency"],
          ),
        },
      },
    },
    "/api/v1/jobs/{id}": {
      get: {
        operationId: "getJob",
        summary: "Job status and result",
        parameters: [idParam, {
          name: "dependents_cursor",
          in: "query",
          required: false,
          description: "dependents.next_cursor of the previous answer: the next page of dependents",
          schema: { type: "string", pattern: "^\\d{1,20}$" },
        }],
        responses: {
          "200": ok("The job", ref("Job")),
          "400": errorResponse(
            "The id is not a UUID (`invalid_job_id`), or dependents_cursor is not a cursor " +
              "(`invalid_query`)",
            ["invalid_job_id", "invalid_query"],
          ),
          "404": responseRef("NotFound"),
          ...unavailable,
        },
      },
      delete: {
        operationId: "cancelJob",
        summary: "Cancel a job",
        parameters: [idParam],
        responses: {
          "200": ok("It was waiting: cancelled", ref("JobAction")),
          "202": ok(
            "It is running: cancel requested (its AbortSignal fires)",
            ref("JobAction"),
          ),
          "400": responseRef("InvalidJobId"),
          "404": responseRef("NotFound"),
          "409": errorResponse("Already finished", ["invalid_state"]),
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/jobs/{id}/retry": {
      post: {
        operationId: "retryJob",
        summary: "Requeue a failed or cancelled job with fresh attempts",
        description: "Its dependents that its end took down stay ended unless the body asks " +
          "`revive_dependents`.",
        parameters: [idParam],
        requestBody: {
          required: false,
          description: "Optional; at most 1024 bytes (else 413).",
          ...json(ref("Retry")),
        },
        responses: {
          "200": ok("Requeued", ref("JobAction")),
          "400": errorResponse(
            "The id is not a UUID (`invalid_job_id`), or the body is not JSON (`invalid_json`)",
            ["invalid_job_id", "invalid_json"],
          ),
          "413": errorResponse("The body is over 1024 bytes", ["payload_too_large"]),
          "422": errorResponse("The body has an unknown or mistyped field", ["validation_error"]),
          "404": responseRef("NotFound"),
          "409": errorResponse("Not failed or cancelled", ["invalid_state"]),
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/jobs/{id}/run": {
      post: {
        operationId: "runJobNow",
        summary: "Run a scheduled job now",
        description: "A delayed job, or a retry waiting out its backoff, becomes pending at " +
          "once (one atomic step); its priority and attempts stay. Audited in the log.",
        parameters: [idParam],
        responses: {
          "200": ok("Pending now", ref("JobAction")),
          "400": responseRef("InvalidJobId"),
          "404": responseRef("NotFound"),
          "409": errorResponse("Not scheduled", ["invalid_state"]),
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/jobs/retry": {
      post: {
        operationId: "retryJobs",
        summary: "Retry every dead job of a queue (of one type)",
        description: `At most ${s.MAX_BULK_RETRY} per call (\`more\`: call again); each ` +
          "job moves on its own, atomically. Audited in the log with the key's name.",
        requestBody: jsonBody(ref("BulkRetry"), 256 * 1024, "Which dead jobs."),
        responses: {
          "200": ok("Requeued", ref("BulkRetryResponse")),
          ...jsonBodyErrors(256 * 1024),
          "404": errorResponse("The queue is another tenant's", ["not_found"]),
          "422": errorResponse(
            "A field is missing, unknown or wrong (status must be failed; the queue name rule)",
            ["validation_error"],
          ),
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/jobs/cancel": {
      post: {
        operationId: "cancelJobs",
        summary: "Cancel the given jobs",
        description: `1 to ${s.MAX_BULK_IDS} ids; each is cancelled on its own (a running one ` +
          "is asked to stop). Audited in the log with the key's name.",
        requestBody: jsonBody(ref("BulkIds"), 256 * 1024, "The ids."),
        responses: {
          "200": ok("Every id was cancelled or asked to stop", ref("BulkCancelResponse")),
          "207": ok(
            "Some ids were refused: results[i].error (not_found, invalid_state, unavailable…)",
            ref("BulkCancelResponse"),
          ),
          ...jsonBodyErrors(256 * 1024),
          "422": errorResponse(
            "No ids, over 1000, an id that is not a job id, or another field",
            ["validation_error"],
          ),
          ...internal,
        },
      },
    },
    "/api/v1/jobs/delete": {
      post: {
        operationId: "deleteJobs",
        summary: "Delete the given finished jobs",
        description: `1 to ${s.MAX_BULK_IDS} ids; each finished job (completed, failed, ` +
          "cancelled) is deleted whole in one step: its record and every index it is in. A " +
          "pending, scheduled, running or waiting job is refused (`invalid_state`), never " +
          "deleted under a worker, and so is a finished job a waiting job still depends on. " +
          "Audited in the log with the key's name.",
        requestBody: jsonBody(ref("BulkIds"), 256 * 1024, "The ids."),
        responses: {
          "200": ok("Every id was deleted", ref("BulkDeleteResponse")),
          "207": ok(
            "Some ids were refused: results[i].error (not_found, invalid_state, unavailable…)",
            ref("BulkDeleteResponse"),
          ),
          ...jsonBodyErrors(256 * 1024),
          "422": errorResponse(
            "No ids, over 1000, an id that is not a job id, or another field",
            ["validation_error"],
          ),
          ...internal,
        },
      },
    },
  };
}

/** `/health` and `/ready`: the same operations at the root and under /api/v1. */
function probePaths(prefix: string, idSuffix: string): Json {
  return {
    [`${prefix}/health`]: {
      get: {
        operationId: `health${idSuffix}`,
        summary: "Liveness: the process serves HTTP (Redis is not asked)",
        responses: { "200": ok("Alive", ref("Health")) },
      },
    },
    [`${prefix}/ready`]: {
      get: {
        operationId: `ready${idSuffix}`,
        summary: "Readiness: Redis answers",
        responses: {
          "200": ok("Ready", ref("Health")),
          "503": errorResponse("Redis did not answer", ["unavailable"]),
          ...internal,
        },
      },
    },
  };
}

function metaPaths(): Json {
  return {
    "/api/v1/stats": {
      get: {
        operationId: "getStats",
        summary: "Queue statistics: over every queue (with by_queue), or of one",
        parameters: queryParameters(s.statsQuerySchema),
        responses: {
          "200": ok("Counts", ref("Stats")),
          "400": responseRef("InvalidQuery"),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badQueueName,
          ...unavailable,
        },
      },
    },
    "/api/v1/queues": {
      get: {
        operationId: "listQueues",
        summary: "Every known queue: counts, pause flag, latency",
        responses: { "200": ok("The queues, by name", ref("QueueList")), ...unavailable },
      },
    },
    "/api/v1/queues/{name}": {
      get: {
        operationId: "getQueue",
        summary: "One queue: counts, pause flag, latency",
        parameters: [queueNameParam],
        responses: {
          "200": ok("The queue", ref("Queue")),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badQueueName,
          ...unavailable,
        },
      },
    },
    "/api/v1/queues/{name}/pause": {
      post: {
        operationId: "pauseQueue",
        summary: "Pause a queue: it accepts jobs, running ones finish, no worker claims from it",
        parameters: [queueNameParam],
        responses: {
          "200": ok("Paused", ref("QueuePause")),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badQueueName,
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/queues/{name}/resume": {
      post: {
        operationId: "resumeQueue",
        summary: "Resume a paused queue",
        parameters: [queueNameParam],
        responses: {
          "200": ok("Resumed", ref("QueuePause")),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badQueueName,
          ...writeUnavailable,
        },
      },
    },
    "/api/v1/job-types": {
      get: {
        operationId: "listJobTypes",
        summary: "Registered job types with payload schemas",
        responses: {
          "200": ok("Types", {
            type: "object",
            properties: { job_types: { type: "array", items: ref("JobType") } },
            required: ["job_types"],
            additionalProperties: false,
          }),
          ...internal,
        },
      },
    },
    "/api/v1/openapi.json": {
      get: {
        operationId: "getOpenApi",
        summary: "This document",
        responses: { "200": ok("OpenAPI 3.1", { type: "object" }), ...internal },
      },
    },
    "/api/v1/events": {
      get: {
        operationId: "streamEvents",
        summary: "Server-Sent Events: queue statistics and job lifecycle events",
        parameters: [{
          name: "batch",
          in: "query",
          required: false,
          description: "1: one `event: batch` message a second instead (data: " +
            '{"stats", "jobs": [job events], "dropped"}), however many jobs move',
          schema: { const: "1" },
        }],
        responses: {
          "200": {
            description: "An endless event stream: `event: stats` (data: Stats JSON) about " +
              "once a second, and `event: job` (id: the stream id; data: " +
              '{"stream_id", "event", "job_id", "type", "data"}) per lifecycle event.',
            content: { "text/event-stream": { schema: { type: "string" } } },
          },
          "503": errorResponse(
            "Too many event stream clients on this process; poll /api/v1/stats",
            ["too_many_clients"],
            ["Retry-After"],
          ),
          ...internal,
        },
      },
    },
    "/metrics": {
      get: {
        operationId: "getMetrics",
        summary: "Prometheus metrics (cluster-wide job figures, this process's HTTP figures)",
        responses: {
          "200": {
            description: "Prometheus text exposition format 0.0.4",
            content: { "text/plain": { schema: { type: "string" } } },
          },
          ...internal,
        },
      },
    },
  };
}

/** Builds the document for `registry` and the app's body limits. */
export function buildOpenApi(registry: JobRegistry, limits: BodyLimits): Json {
  return {
    openapi: "3.1.0",
    info: { title: "Job queue API", version: VERSION, description: DESCRIPTION },
    paths: withSecurity({
      ...jobsPaths(limits),
      ...metaPaths(),
      ...authPaths(),
      ...schedulePaths(limits.maxBodyBytes),
      ...tenantPaths(),
      ...flowPaths(limits.maxBatchBodyBytes),
      ...limitPaths(),
      ...historyPaths(),
      ...workerPaths(),
      ...redisPaths(),
      ...webhookPaths(),
      ...probePaths("", ""),
      ...probePaths("/api/v1", "V1"),
    }),
    components: {
      schemas: {
        ...schemaComponents(registry),
        ...authSchemas(),
        ...scheduleSchemas(),
        ...tenantSchemas(),
        ...flowSchemas(),
        ...limitSchemas(),
        ...historySchemas(),
        ...workerSchemas(),
        ...redisSchemas(),
        ...webhookSchemas(),
      },
      responses: { ...RESPONSES, ...AUTH_RESPONSES },
      headers: { ...HEADERS, ...AUTH_HEADERS },
      securitySchemes: SECURITY_SCHEMES,
    },
  };
}

/**
 * The OpenAPI route, mounted under `/api/v1`. Registries and limits do not
 * change after start-up, so the document is built and serialized once.
 */
export function openApiRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  let text: string | null = null;
  app.get("/openapi.json", (c) => {
    text ??= JSON.stringify(buildOpenApi(deps.registry, {
      maxBodyBytes: deps.maxBodyBytes,
      maxBatchBodyBytes: deps.maxBatchBodyBytes,
    }));
    return c.body(text, 200, { "content-type": "application/json" });
  });
  return app;
}
