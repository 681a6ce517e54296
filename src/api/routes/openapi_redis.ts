/**
 * The Redis view's part of the OpenAPI document (`openapi.ts` merges it):
 * `GET /redis`, from a zod schema of `RedisInfo` (`src/queue/redis_info.ts`),
 * so the document names every field the whitelist lets out and no other.
 *
 * @module
 */
import { z } from "zod";
import { errorResponse, type Json, jsonSchema, ok, ref, responseRef } from "./openapi_parts.ts";

const summary = {
  version: z.string().describe('redis_version ("mixed: a, b" across masters that differ)'),
  role: z.string().describe("master or slave"),
  uptime_s: z.int().min(0).describe("Seconds since the server (the youngest master) started"),
  memory: z.object({
    used_bytes: z.int().min(0),
    used_human: z.string(),
    peak_bytes: z.int().min(0),
    peak_human: z.string(),
    max_bytes: z.int().min(0).describe("maxmemory; 0: no limit"),
    max_human: z.string(),
    policy: z.string().describe("maxmemory-policy (noeviction is what a queue wants)"),
  }),
  connected_clients: z.int().min(0).describe("How many: never who"),
  ops_per_s: z.number().min(0).describe("instantaneous_ops_per_sec"),
  keyspace_hits: z.int().min(0),
  keyspace_misses: z.int().min(0),
  evicted_keys: z.int().min(0).describe("Keys evicted for memory: above 0 a queue loses data"),
  keys: z.int().min(0).describe("Keys in every database"),
  persistence: z.object({
    aof_enabled: z.boolean(),
    aof_last_write_ok: z.boolean(),
    rdb_last_save_at: z.string().nullable().describe("ISO-8601 of the last RDB save"),
    rdb_last_bgsave_ok: z.boolean(),
    rdb_changes_since_last_save: z.int().min(0),
  }),
};

const redisInfo = z.object({
  mode: z.enum(["standalone", "cluster"]),
  ...summary,
  masters: z.array(z.object({ address: z.string().describe("host:port"), ...summary }))
    .nullable().describe("Cluster: one summary per master (the top level sums them); else null"),
});

/** `components.schemas` of the Redis view. */
export function redisSchemas(): Json {
  return { RedisInfo: jsonSchema(redisInfo, "output") };
}

/** The `/redis` path. */
export function redisPaths(): Json {
  return {
    "/api/v1/redis": {
      get: {
        operationId: "getRedisInfo",
        summary: "Redis's health: version, mode, memory, clients count, ops/s, hit rate, " +
          "evictions, persistence; per master on Cluster",
        description: "A fixed list of INFO fields: no configuration, no client list, no " +
          "addresses but the Cluster masters'.",
        responses: {
          "200": ok("The figures", ref("RedisInfo")),
          "403": errorResponse(
            "A key confined to a tenant (Redis is the whole deployment's) or a key without the " +
              "admin scope (`forbidden`), or the server runs without keys (loopback only) and " +
              "the request named another host (`forbidden_host`)",
            ["forbidden", "forbidden_host"],
            ["WWW-Authenticate"],
          ),
          "503": errorResponse("Redis could not be reached; try again", ["unavailable"], [
            "Retry-After",
          ]),
          "500": responseRef("InternalError"),
        },
      },
    },
  };
}
