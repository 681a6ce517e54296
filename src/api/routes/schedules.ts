/**
 * Recurring schedules (`src/schedules/`):
 *
 * - `POST /schedules` → 201 the schedule (409 `conflict` when the name exists).
 * - `PUT /schedules/:name` → 201 created, or 200 replaced (or unchanged).
 * - `GET /schedules`, `GET /schedules/:name` → with `next_runs`, `last_run_at`,
 *   `last_job_id`, `last_status`, `paused`.
 * - `DELETE /schedules/:name` → 200 `{name, deleted: true}` (its jobs stay).
 * - `POST /schedules/:name/pause`, `/resume` → the schedule; `/trigger` → 201
 *   `{job_id, tick}`: one job now, outside the cadence.
 *
 * Bad input (cron, time zone, every_ms, cron and every_ms both or neither,
 * end_at before start_at, unknown type, invalid payload) is 422
 * `validation_error` with each field and its reason in details.issues, and
 * nothing is stored; an unknown name is 404.
 *
 * A key confined to a tenant has its own schedules (names are per tenant: its
 * `nightly` is `<tenant>/nightly`), whose jobs go to its own queues; another
 * tenant's schedule is 404.
 *
 * @module
 */
import { Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { readJsonBody } from "../body.ts";
import { scheduleNameSchema } from "../../schedules/schedule.ts";
import { type ScheduleService, ScheduleValidationError } from "../../schedules/service.ts";
import { ScheduleExistsError } from "../../schedules/store.ts";
import { callerTenant, ownName, ownPathName, pathSegment } from "../tenant_scope.ts";
import { TENANT_DEFAULT_QUEUE, visibleTo } from "../../tenants/names.ts";
import type { Context } from "hono";

const BASE = "/api/v1/schedules";

/** The 422 of a bad schedule name (in the path). */
export function checkScheduleName(name: string): string {
  const parsed = scheduleNameSchema.safeParse(name);
  if (parsed.success) return parsed.data;
  const message = parsed.error.issues[0]?.message ?? "invalid schedule name";
  throw new HttpError(422, "validation_error", `name: ${message}`, {
    issues: [{ path: "name", message }],
  });
}

/** The path's schedule name, checked and in the caller's namespace. */
function pathName(c: Context): string {
  return ownPathName(callerTenant(c), checkScheduleName(c.req.param("name")!), "schedule");
}

/**
 * A tenant's schedule body in full names: its own name, and the queue of its
 * jobs (the one named, else its type's, else `default`) in the tenant's namespace.
 * Anything malformed is left to the service's validation.
 */
function ownBody(deps: RouteDeps, tenant: string | null, body: unknown): unknown {
  if (tenant === null || body === null || typeof body !== "object" || Array.isArray(body)) {
    return body;
  }
  const out = { ...body as Record<string, unknown> };
  if (typeof out.name === "string" && checkScheduleName(out.name)) {
    out.name = ownName(tenant, out.name, "name");
  }
  const type = typeof out.type === "string" ? deps.registry.get(out.type) : undefined;
  const queue = out.queue ?? type?.queue ?? TENANT_DEFAULT_QUEUE;
  if (typeof queue === "string") out.queue = ownName(tenant, queue, "queue");
  return out;
}

function serviceOf(deps: RouteDeps): ScheduleService {
  if (!deps.schedules) {
    throw new HttpError(503, "unavailable", "schedules are not available in this process");
  }
  return deps.schedules;
}

/** Turns the service's refusals into the API's answers. */
function refusal(error: unknown): unknown {
  if (error instanceof ScheduleValidationError) {
    return new HttpError(422, "validation_error", error.message, { issues: error.issues });
  }
  if (error instanceof ScheduleExistsError) return new HttpError(409, "conflict", error.message);
  return error;
}

/** Routes of the schedules, mounted under `/api/v1`. */
export function schedulesRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.post("/schedules", async (c) => {
    using ticket = deps.bodies.ticket();
    const body = ownBody(
      deps,
      callerTenant(c),
      await readJsonBody(c.req.raw, deps.maxBodyBytes, ticket),
    );
    const saved = await deps.write(serviceOf(deps).save(body, { create: true }), "change")
      .catch((e) => Promise.reject(refusal(e)));
    c.header("Location", `${BASE}/${pathSegment(saved.schedule.name)}`);
    return c.json(saved.schedule, 201);
  });

  app.put("/schedules/:name", async (c) => {
    const tenant = callerTenant(c);
    const name = pathName(c);
    using ticket = deps.bodies.ticket();
    const body = ownBody(deps, tenant, await readJsonBody(c.req.raw, deps.maxBodyBytes, ticket));
    if (body !== null && typeof body === "object" && !Array.isArray(body)) {
      const named = (body as Record<string, unknown>).name;
      if (named !== undefined && named !== name) {
        throw new HttpError(422, "validation_error", "name: differs from the path", {
          issues: [{ path: "name", message: "must be the name in the path, or left out" }],
        });
      }
    }
    const input = body !== null && typeof body === "object" && !Array.isArray(body)
      ? { ...body, name }
      : body;
    const saved = await deps.write(serviceOf(deps).save(input, { create: false }), "change")
      .catch((e) => Promise.reject(refusal(e)));
    if (saved.outcome === "created") c.header("Location", `${BASE}/${pathSegment(name)}`);
    return c.json(saved.schedule, saved.outcome === "created" ? 201 : 200);
  });

  app.get("/schedules", async (c) => {
    const tenant = callerTenant(c);
    const schedules = (await deps.call(serviceOf(deps).list()))
      .filter((s) => visibleTo(tenant, s.name));
    c.header("Cache-Control", "no-store");
    return c.json({ schedules });
  });

  app.get("/schedules/:name", async (c) => {
    const name = pathName(c);
    c.header("Cache-Control", "no-store");
    return c.json(await deps.call(serviceOf(deps).get(name)));
  });

  app.delete("/schedules/:name", async (c) => {
    const name = pathName(c);
    await deps.write(serviceOf(deps).remove(name), "change");
    return c.json({ name, deleted: true });
  });

  for (const action of ["pause", "resume"] as const) {
    app.post(`/schedules/:name/${action}`, async (c) => {
      const name = pathName(c);
      const view = await deps.write(serviceOf(deps).setPaused(name, action === "pause"), "change");
      return c.json(view);
    });
  }

  app.post("/schedules/:name/trigger", async (c) => {
    const name = pathName(c);
    const triggered = await deps.write(serviceOf(deps).trigger(name), "change");
    c.header("Location", `/api/v1/jobs/${pathSegment(triggered.job_id)}`);
    return c.json(triggered, 201);
  });

  return app;
}
