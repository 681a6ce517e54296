/**
 * The flows' part of the OpenAPI document (`openapi.ts` merges it): paths
 * and component schemas, from the zod schemas the routes validate with.
 *
 * @module
 */
import { MAX_JSON_DEPTH } from "../body.ts";
import * as s from "../schemas.ts";
import {
  errorResponse,
  type Json,
  json,
  jsonBodyErrors,
  jsonSchema,
  ok,
  ref,
  responseRef,
  TRACE_HEADERS,
} from "./openapi_parts.ts";

/** `components.schemas` of the flows. */
export function flowSchemas(): Json {
  const flow = jsonSchema(s.flowSchema, "input") as { properties: { jobs: Json } };
  flow.properties.jobs = { ...flow.properties.jobs, items: ref("FlowJob") };
  return {
    FlowJob: jsonSchema(s.flowJobSchema, "input"),
    Flow: flow,
    FlowResponse: jsonSchema(s.flowResponseSchema, "output"),
    FlowGraph: jsonSchema(s.flowGraphResponseSchema, "output"),
  };
}

const idParam = {
  name: "id",
  in: "path",
  required: true,
  description: "The id of any job of the flow",
  schema: jsonSchema(s.jobIdSchema, "input"),
};

/** The `/flows` paths; `maxBytes` is the largest accepted body. */
export function flowPaths(maxBytes: number): Json {
  return {
    "/api/v1/flows": {
      post: {
        operationId: "createFlow",
        summary: "Create a graph of jobs (refs and depends_on) in one request",
        description: "Every job is checked first; nothing is written when any is refused. The " +
          "jobs of one queue are written in one atomic call (a flow within one queue is all or " +
          "nothing); a flow over several queues is one call per queue.",
        parameters: TRACE_HEADERS,
        requestBody: {
          required: true,
          description: `At most ${maxBytes} bytes (else 413) and ${MAX_JSON_DEPTH} levels of ` +
            "nesting (else 400 invalid_json).",
          "x-max-body-bytes": maxBytes,
          "x-max-json-depth": MAX_JSON_DEPTH,
          ...json(ref("Flow")),
        },
        responses: {
          "201": ok("Created: each ref's job id", ref("FlowResponse")),
          ...jsonBodyErrors(maxBytes),
          "422": errorResponse(
            "A field is missing, out of range or unknown, or over 1000 jobs (`validation_error`, " +
              "paths like jobs.3.priority in details.issues), a type is not registered " +
              "(`unknown_job_type`), a payload fails its type's schema (`invalid_payload`), two " +
              "jobs share a ref (`duplicate_ref`), depends_on names neither a ref nor a job id " +
              "(`unknown_ref`), the refs form a cycle (`cycle`), or a job id names no job " +
              "(`unknown_dependency`, the ids in details.ids); details.refs names the refs",
            [
              "validation_error",
              "unknown_job_type",
              "invalid_payload",
              "duplicate_ref",
              "unknown_ref",
              "cycle",
              "unknown_dependency",
            ],
          ),
          "503": errorResponse(
            "Redis could not be reached, or refuses writes, and nothing was stored " +
              "(`unavailable`, with Retry-After), the queue's data was written by another " +
              "storage format (`storage_format`), the request bodies in flight are over the " +
              "process's budget (`overloaded`, with Retry-After), or the write was sent and no " +
              "answer came in time (`outcome_unknown`, with Retry-After): a flow has no " +
              "idempotency key, so look for its jobs before sending it again",
            ["unavailable", "storage_format", "overloaded", "outcome_unknown"],
            ["Retry-After"],
          ),
          "500": responseRef("InternalError"),
        },
      },
    },
    "/api/v1/flows/{id}": {
      get: {
        operationId: "getFlow",
        summary: "The graph a job belongs to: nodes with their states, edges",
        parameters: [idParam],
        responses: {
          "200": ok("The graph", ref("FlowGraph")),
          "400": responseRef("InvalidJobId"),
          "404": responseRef("NotFound"),
          "503": responseRef("Unavailable"),
          "500": responseRef("InternalError"),
        },
      },
    },
  };
}
