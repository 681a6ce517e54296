/**
 * `GET /job-types`: every registered type with its payload JSON Schema,
 * description and defaults, so clients and the dashboard can build forms.
 *
 * @module
 */
import { Hono } from "hono";
import { z } from "zod";
import type { JobDefinition } from "../../jobs/definition.ts";
import type { JobRegistry } from "../../jobs/registry.ts";
import type { RouteDeps } from "../deps.ts";

/** JSON Schema of what a client may send for this type's payload. */
export function payloadJsonSchema(definition: JobDefinition): Record<string, unknown> {
  try {
    return z.toJSONSchema(definition.schema, { io: "input", unrepresentable: "any" }) as Record<
      string,
      unknown
    >;
  } catch {
    // A user schema zod cannot express (e.g. a cycle it refuses): say "anything".
    return {};
  }
}

/** The job-types listing. */
export function describeJobTypes(registry: JobRegistry) {
  return registry.list().map((d) => ({
    type: d.type,
    description: d.description ?? null,
    defaults: d.defaults ?? {},
    payload_schema: payloadJsonSchema(d),
  }));
}

/** The job-types route, mounted under `/api/v1`. */
export function jobTypesRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  // Registries do not change after start-up: describe once.
  let cached: ReturnType<typeof describeJobTypes> | null = null;
  app.get("/job-types", (c) => c.json({ job_types: cached ??= describeJobTypes(deps.registry) }));
  return app;
}
