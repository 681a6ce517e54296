/**
 * The worker registry (`src/queue/worker_presence.ts`):
 *
 * - `GET /workers` → `{workers: [...], stale_after_ms}`: every registered
 *   worker process, oldest registration first, with `stale: true` once its
 *   last beat is older than `stale_after_ms` (two beats missed; its record
 *   expires a little later unless it beats again).
 * - `POST /workers/:id/drain` → 202 `{id, already_requested}`:
 *   the worker stops claiming at its next beat (within 2 s while it runs jobs, 8 s idle), lets its
 *   running jobs finish and exits 0 (its supervisor does not restart it).
 *   404 `not_found` for a worker not registered.
 *
 * Workers are the deployment's, not a tenant's: a key confined to a tenant
 * gets 403 `forbidden` on both.
 *
 * @module
 */
import { type Context, Hono } from "hono";
import type { RouteDeps } from "../deps.ts";
import { HttpError } from "../errors.ts";
import { callerTenant } from "../tenant_scope.ts";
import { JobNotFoundError } from "../../queue/errors.ts";
import { isStale, PRESENCE, type WorkerRecord } from "../../queue/worker_presence.ts";
// The `principal` context variable is declared there (checked alone, this file needs it).
import type {} from "../auth/guard.ts";

/** Refuses a key confined to a tenant: the worker processes serve every tenant. */
function refuseTenantKey(c: Context): void {
  if (callerTenant(c) === null) return;
  throw new HttpError(
    403,
    "forbidden",
    "worker processes are the deployment's: use a key without a tenant",
  );
}

const iso = (ms: number | null) => ms === null ? null : new Date(ms).toISOString();

/** One worker as the API shows it. */
export function workerView(record: WorkerRecord, now: number) {
  return {
    id: record.id,
    host: record.host,
    pid: record.pid,
    queues: record.queues,
    queue_order: record.queue_order,
    concurrency: record.concurrency,
    threads: record.threads,
    in_flight: record.in_flight,
    rss_bytes: record.rss_bytes,
    started_at: iso(record.started_at),
    uptime_ms: Math.max(0, now - record.started_at),
    last_beat_at: iso(record.beat_at),
    version: record.version,
    draining: record.draining,
    drain_requested_at: iso(record.drain_requested_at),
    stale: isStale(record, now),
  };
}

/** Routes of the worker registry, mounted under `/api/v1`. */
export function workersRoutes(deps: RouteDeps): Hono {
  const app = new Hono();

  app.get("/workers", async (c) => {
    refuseTenantKey(c);
    const records = await deps.call(deps.broker.workers());
    const now = Date.now();
    c.header("Cache-Control", "no-store");
    return c.json({
      workers: records.map((r) => workerView(r, now)),
      stale_after_ms: PRESENCE.staleAfterMs,
    });
  });

  app.post("/workers/:id/drain", async (c) => {
    refuseTenantKey(c);
    const id = c.req.param("id");
    let asked: boolean;
    try {
      asked = await deps.write(deps.broker.drainWorker(id), "change");
    } catch (error) {
      if (error instanceof JobNotFoundError) {
        throw new HttpError(404, "not_found", `worker ${JSON.stringify(id)} not registered`);
      }
      throw error;
    }
    // Audited: who asked (the key's name; none while auth is off).
    deps.log.info("worker drain requested", {
      worker: id,
      already_requested: !asked,
      key: c.get("principal")?.name ?? null,
    });
    return c.json({ id, already_requested: !asked }, 202);
  });

  return app;
}
