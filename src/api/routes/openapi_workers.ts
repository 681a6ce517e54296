/**
 * The worker registry's part of the OpenAPI document (`openapi.ts` merges
 * it): `/workers` and the drain request, from zod schemas of the view the
 * route returns (`workers.ts`).
 *
 * @module
 */
import { z } from "zod";
import { errorResponse, type Json, jsonSchema, ok, ref, responseRef } from "./openapi_parts.ts";
import { PRESENCE } from "../../queue/worker_presence.ts";

const weighted = z.object({ name: z.string(), weight: z.int().min(1) });
const worker = z.object({
  id: z.string().describe("The process's lease-owner id (a fresh one per process start)"),
  host: z.string(),
  pid: z.int(),
  queues: z.union([z.literal("all"), z.array(weighted)]).describe(
    'The served queues and weights (WORKER_QUEUES), or "all": every known queue, weight 1',
  ),
  queue_order: z.enum(["weighted", "strict"]),
  concurrency: z.int().describe("Most jobs in flight at once"),
  threads: z.int().describe("Web Worker threads running"),
  in_flight: z.int().describe("Jobs held now (running, or done and being acked)"),
  rss_bytes: z.int().describe("Resident set size of the process"),
  started_at: z.string().describe("ISO-8601"),
  uptime_ms: z.int(),
  last_beat_at: z.string().describe(
    `ISO-8601 of the last beat (one every ${PRESENCE.beatMs / 1000} s, ` +
      `${PRESENCE.busyBeatMs / 1000} s while it holds jobs)`,
  ),
  version: z.string(),
  draining: z.boolean().describe("Stopped claiming: finishing its running jobs, then exits"),
  drain_requested_at: z.string().nullable().describe("ISO-8601, when a drain was requested"),
  stale: z.boolean().describe(
    `No beat for over ${PRESENCE.staleAfterMs / 1000} s (its record expires ` +
      `${PRESENCE.ttlMs / 1000} s after the last one)`,
  ),
});

/** `components.schemas` of the worker registry. */
export function workerSchemas(): Json {
  return {
    WorkerList: jsonSchema(
      z.object({ workers: z.array(worker), stale_after_ms: z.int() }),
      "output",
    ),
    WorkerDrain: jsonSchema(
      z.object({
        id: z.string(),
        already_requested: z.boolean().describe("A drain had been requested before"),
      }),
      "output",
    ),
  };
}

const internal = { "500": responseRef("InternalError") };
const unavailable = (what: string) => ({
  "503": errorResponse(`Redis could not be reached; ${what}`, ["unavailable"], ["Retry-After"]),
});
const tenantKey = (scope: string) =>
  errorResponse(
    "A key confined to a tenant (worker processes are the whole deployment's) or a key " +
      `without the ${scope} scope (\`forbidden\`), or the server runs without keys (loopback ` +
      "only) and the request named another host (`forbidden_host`)",
    ["forbidden", "forbidden_host"],
    ["WWW-Authenticate"],
  );

/** The `/workers` paths. */
export function workerPaths(): Json {
  return {
    "/api/v1/workers": {
      get: {
        operationId: "listWorkers",
        summary: "The worker processes registered now (host, pid, queues, load, memory, version)",
        responses: {
          "200": ok("The workers, oldest registration first", ref("WorkerList")),
          "403": tenantKey("read"),
          ...unavailable("try again"),
          ...internal,
        },
      },
    },
    "/api/v1/workers/{id}/drain": {
      post: {
        operationId: "drainWorker",
        summary: "Ask a worker process to drain: it claims nothing more, finishes its running " +
          "jobs and exits 0, within one beat",
        parameters: [{
          name: "id",
          in: "path",
          required: true,
          description: "The worker's id (from GET /workers)",
          schema: { type: "string" },
        }],
        responses: {
          "202": ok("Asked (the worker acts on it at its next beat)", ref("WorkerDrain")),
          "403": tenantKey("admin"),
          "404": errorResponse("No such worker is registered (stopped, or never was)", [
            "not_found",
          ]),
          "503": errorResponse(
            "Redis could not be reached (`unavailable`: nothing changed) or did not answer " +
              "in time (`outcome_unknown`: ask again, asking twice is harmless)",
            ["unavailable", "outcome_unknown"],
            ["Retry-After"],
          ),
          ...internal,
        },
      },
    },
  };
}
