/**
 * The history routes' part of the OpenAPI document (`openapi.ts` merges it):
 * `GET /history` and `GET /queues/{name}/history`, from zod schemas of
 * `HistoryBody` (`history_points.ts`).
 *
 * @module
 */
import { z } from "zod";
import { errorResponse, type Json, jsonSchema, ok, ref, responseRef } from "./openapi_parts.ts";
import { HISTORY_WINDOWS } from "../history_points.ts";
import { LATENCY_BUCKETS_MS } from "../../queue/history.ts";
import { QUEUE_NAME_RULE, queueNameSchema } from "../schemas.ts";

const counts = {
  completed: z.int().describe("Attempts that completed"),
  failed: z.int().describe(
    "Jobs that ended failed: attempts exhausted, a fatal error, or reaped on their last attempt",
  ),
  retried: z.int().describe(
    "Failed attempts rescheduled for another (a backoff, or a lost lease requeued)",
  ),
  started: z.int().describe("Jobs started whose enqueue-to-start latency was measured"),
  latency_ms: z.object({ p50: z.number(), p90: z.number(), p99: z.number() }).nullable()
    .describe(
      "Enqueue-to-start latency percentiles, ms, from the time the job became runnable (its " +
        "creation, or its due time when delayed or retried) to its start; estimated by " +
        "linear interpolation inside the histogram bucket that holds each rank (bounds " +
        `${LATENCY_BUCKETS_MS.join(", ")} ms; past the last: that bound). null: no start measured`,
    ),
};

const windows = Object.keys(HISTORY_WINDOWS) as [string, ...string[]];

/** `components.schemas` of the history routes. */
export function historySchemas(): Json {
  return {
    History: jsonSchema(
      z.object({
        queue: z.string().nullable().describe("The queue, or null: the sum over your queues"),
        window: z.enum(windows),
        step_s: z.int().describe("Seconds per point: 60 for 1h, 900 for 24h"),
        points: z.array(
          z.object({ t: z.string().describe("Start of the step, ISO-8601 UTC"), ...counts }),
        )
          .describe("Oldest first; the last is the step still running"),
        totals: z.object(counts).describe("The window's sums and percentiles"),
      }),
      "output",
    ),
  };
}

const windowParam = {
  name: "window",
  in: "query",
  required: false,
  description: "1h (default): 60 one-minute points; 24h: 96 fifteen-minute points",
  schema: { type: "string", enum: windows, default: "1h" },
};

const badWindow = (also: string) =>
  errorResponse(`The window is not one of ${windows.join(", ")}${also}`, ["validation_error"]);

const tail = { "503": responseRef("Unavailable"), "500": responseRef("InternalError") };

/** The history paths. */
export function historyPaths(): Json {
  return {
    "/api/v1/history": {
      get: {
        operationId: "getHistory",
        summary: "Per-minute completed, failed, retried and latency over every queue you may " +
          "see, as Redis counted them (kept 24 h)",
        parameters: [windowParam],
        responses: {
          "200": ok("The points", ref("History")),
          "422": badWindow(""),
          ...tail,
        },
      },
    },
    "/api/v1/queues/{name}/history": {
      get: {
        operationId: "getQueueHistory",
        summary: "One queue's per-minute completed, failed, retried and latency (kept 24 h)",
        parameters: [{
          name: "name",
          in: "path",
          required: true,
          description: "A queue name",
          schema: jsonSchema(queueNameSchema, "input"),
        }, windowParam],
        responses: {
          "200": ok("The points", ref("History")),
          "404": errorResponse("The queue is unknown", ["not_found"]),
          "422": badWindow(`, or the queue name breaks the rule (${QUEUE_NAME_RULE})`),
          ...tail,
        },
      },
    },
  };
}
