/**
 * The schedules' part of the OpenAPI document (`openapi.ts` merges it): paths
 * and component schemas, from the same zod schemas the routes and the
 * service validate with.
 *
 * @module
 */
import { MAX_JSON_DEPTH } from "../body.ts";
import * as ss from "../schedule_schemas.ts";
import { scheduleBodySchema, scheduleCreateSchema } from "../../schedules/schedule.ts";
import {
  errorResponse,
  type Json,
  json,
  jsonBodyErrors,
  jsonSchema,
  ok,
  ref,
} from "./openapi_parts.ts";

/** `components.schemas` of the schedules. */
export function scheduleSchemas(): Json {
  return {
    ScheduleCreate: jsonSchema(scheduleCreateSchema, "input"),
    ScheduleBody: jsonSchema(scheduleBodySchema, "input"),
    Schedule: jsonSchema(ss.scheduleResponseSchema, "output"),
    ScheduleList: jsonSchema(ss.scheduleListResponseSchema, "output"),
    ScheduleTrigger: jsonSchema(ss.scheduleTriggerResponseSchema, "output"),
    ScheduleDeleted: jsonSchema(ss.scheduleDeleteResponseSchema, "output"),
  };
}

const nameParam = {
  name: "name",
  in: "path",
  required: true,
  description: "A schedule name",
  schema: jsonSchema(scheduleCreateSchema.shape.name, "input"),
};

const unavailable = {
  "503": errorResponse("Redis could not be reached, or this process has no schedules", [
    "unavailable",
  ]),
  "500": { $ref: "#/components/responses/InternalError" },
};
const notFound = errorResponse("No schedule has this name", ["not_found"]);
const badName = errorResponse("The name breaks the rule", ["validation_error"]);
const invalid = errorResponse(
  "Bad input, nothing stored: a field out of range or unknown, a bad cron expression, an " +
    "unknown time zone, every_ms under 1000, both or neither of cron and every_ms, end_at not " +
    "after start_at, an unknown job type or a payload its schema refuses (each field and its " +
    "reason in details.issues)",
  ["validation_error"],
);

function body(schema: string, maxBytes: number): Json {
  return {
    requestBody: {
      required: true,
      description: `At most ${maxBytes} bytes (else 413) and ${MAX_JSON_DEPTH} levels of ` +
        "nesting (else 400 invalid_json).",
      "x-max-body-bytes": maxBytes,
      "x-max-json-depth": MAX_JSON_DEPTH,
      ...json(ref(schema)),
    },
  };
}

function bodyErrors(maxBytes: number): Json {
  return { ...jsonBodyErrors(maxBytes), "422": invalid };
}

/** The `/schedules` paths; `maxBytes` is the largest accepted body. */
export function schedulePaths(maxBytes: number): Json {
  const action = (operationId: string, summary: string, answer: Json) => ({
    post: {
      operationId,
      summary,
      parameters: [nameParam],
      responses: { ...answer, "404": notFound, "422": badName, ...unavailable },
    },
  });
  return {
    "/api/v1/schedules": {
      post: {
        operationId: "createSchedule",
        summary: "Create a recurring schedule (cron or every_ms)",
        ...body("ScheduleCreate", maxBytes),
        responses: {
          "201": ok("Created", ref("Schedule"), ["Location"]),
          ...bodyErrors(maxBytes),
          "409": errorResponse("A schedule of this name exists", ["conflict"]),
          ...unavailable,
        },
      },
      get: {
        operationId: "listSchedules",
        summary: "Every schedule, by name",
        responses: { "200": ok("The schedules", ref("ScheduleList")), ...unavailable },
      },
    },
    "/api/v1/schedules/{name}": {
      put: {
        operationId: "putSchedule",
        summary: "Create or replace a schedule (an unchanged one keeps its ticks)",
        parameters: [nameParam],
        ...body("ScheduleBody", maxBytes),
        responses: {
          "200": ok("Replaced (or unchanged)", ref("Schedule")),
          "201": ok("Created", ref("Schedule"), ["Location"]),
          ...bodyErrors(maxBytes),
          ...unavailable,
        },
      },
      get: {
        operationId: "getSchedule",
        summary: "One schedule: next_runs, last run and its job's status, paused",
        parameters: [nameParam],
        responses: {
          "200": ok("The schedule", ref("Schedule")),
          "404": notFound,
          "422": badName,
          ...unavailable,
        },
      },
      delete: {
        operationId: "deleteSchedule",
        summary: "Delete a schedule (the jobs it made stay)",
        parameters: [nameParam],
        responses: {
          "200": ok("Deleted", ref("ScheduleDeleted")),
          "404": notFound,
          "422": badName,
          ...unavailable,
        },
      },
    },
    "/api/v1/schedules/{name}/pause": action(
      "pauseSchedule",
      "Pause: no tick gets a job until resumed, on every process",
      { "200": ok("Paused", ref("Schedule")) },
    ),
    "/api/v1/schedules/{name}/resume": action(
      "resumeSchedule",
      "Resume: the ticks missed while paused follow catch_up",
      { "200": ok("Resumed", ref("Schedule")) },
    ),
    "/api/v1/schedules/{name}/trigger": action(
      "triggerSchedule",
      "Enqueue one job now, outside the cadence",
      { "201": ok("Enqueued", ref("ScheduleTrigger"), ["Location"]) },
    ),
  };
}
