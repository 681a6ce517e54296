/**
 * The jobs collection: submit one, submit a batch, list, purge.
 *
 * - `POST /jobs` → 201 `{job_id}` + Location. With an `Idempotency-Key`
 *   header (or `idempotency_key` field) that matches an earlier job within
 *   retention: 200 with that job's id and `Idempotent-Replayed: true`.
 * - `POST /jobs/batch` `{jobs: [...]}` → every item is validated on its own;
 *   the valid ones are written in one broker round trip. 201 when all were
 *   valid, 207 when some were rejected (`results[i]` is `{job_id, created}` or
 *   `{error}`), 422 when none was valid.
 * - `GET /jobs?status=pending&queue=&type=&limit=50&cursor=` → `{jobs,
 *   next_cursor}` of one queue (default the default queue); status defaults
 *   to `pending`.
 * - `DELETE /jobs?status=failed|completed|cancelled&queue=` → `{status,
 *   purged}`, in one queue or every queue.
 *
 * A key confined to a tenant names its queues relative to it
 * (`tenant_scope.ts`): its submits land in its queues, its lists and purges
 * reach only them, and its quotas apply (`tenant_quota.ts`).
 *
 * Writes (submit, batch, purge) answer `503 unavailable` only when nothing
 * was stored or changed, and `503 outcome_unknown` (retry with the same
 * idempotency keys) when the write reached Redis and its answer did not come
 * back (`RouteDeps.write`).
 *
 * @module
 */
import { Hono } from "hono";
import type { EnqueueInput } from "../../queue/job.ts";
import { LIMITS } from "../../queue/job.ts";
import { prepareEnqueue, type PrepareFailure } from "../../jobs/prepare.ts";
import { readJsonBody } from "../body.ts";
import { type ErrorBody, HttpError } from "../errors.ts";
import type { RouteDeps } from "../deps.ts";
import { SubmitGate } from "../submit_gate.ts";
import { parseOr400, parseOr422 } from "../validation.ts";
import {
  listQuerySchema,
  purgeQuerySchema,
  submitBatchSchema,
  type SubmitJobRequest,
  submitJobSchema,
} from "../schemas.ts";
import { jobToResponse } from "../serialize.ts";
import { checkQueueName } from "../queue_param.ts";
import { scheduleJobsPage } from "../schedule_jobs.ts";
import { callerTenant, ownName, ownPathName, pathSegment } from "../tenant_scope.ts";
import { applyQuota, pendingQuotaExceeded } from "../tenant_quota.ts";
import { QueueFullError } from "../../queue/errors.ts";
import { TENANT_DEFAULT_QUEUE, visibleTo } from "../../tenants/names.ts";

const BASE = "/api/v1/jobs";

/** The request's Idempotency-Key header, checked. */
function idempotencyHeader(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (
    value.length === 0 || value.length > LIMITS.maxIdempotencyKeyLength ||
    !/^[\x21-\x7e]+$/.test(value)
  ) {
    throw new HttpError(
      400,
      "invalid_header",
      `Idempotency-Key must be 1..${LIMITS.maxIdempotencyKeyLength} visible ASCII characters`,
    );
  }
  return value;
}

function toInput(request: SubmitJobRequest, idempotencyKey?: string): EnqueueInput {
  const input: EnqueueInput = {
    type: request.type,
    queue: request.queue,
    payload: request.payload,
    priority: request.priority,
    max_attempts: request.max_attempts,
    timeout_ms: request.timeout_ms,
    delay_ms: request.delay_ms,
    run_at: request.run_at === undefined ? undefined : new Date(request.run_at),
    backoff: request.backoff,
    idempotency_key: idempotencyKey ?? request.idempotency_key,
  };
  return input;
}

/** The HttpError for a job the registry refused; `prefix` locates it in a batch. */
function refusal(failure: PrepareFailure, prefix: string): HttpError {
  switch (failure.reason) {
    case "unknown_type":
      return new HttpError(422, "unknown_job_type", failure.message, {
        known_types: failure.knownTypes,
      });
    case "invalid_payload":
      return new HttpError(422, "invalid_payload", failure.message, {
        issues: failure.issues.map((i) => ({
          path: [prefix, "payload", i.path].filter((s) => s !== "").join("."),
          message: i.message,
        })),
      });
    case "refused":
      // Valid by the schema, refused by the operator's policy (allowed destinations).
      return new HttpError(422, "validation_error", failure.message, {
        issues: failure.issues.map((i) => ({
          path: [prefix, "payload", i.path].filter((s) => s !== "").join("."),
          message: i.message,
        })),
      });
    case "payload_too_large":
      return new HttpError(413, "payload_too_large", failure.message, {
        bytes: failure.bytes,
        limit_bytes: failure.limit,
      });
  }
}

/**
 * Validates one submit body into a broker input, or throws an HttpError. A
 * tenant's job goes to its own queue (the one it or its type names, else
 * `default`, in the tenant's namespace).
 */
function prepare(
  deps: RouteDeps,
  body: unknown,
  tenant: string | null,
  key?: string,
  index?: number,
): EnqueueInput {
  const prefix = index === undefined ? [] : ["jobs", index];
  const where = [...prefix, "queue"].join(".");
  if (body !== null && typeof body === "object" && "queue" in body) {
    checkQueueName((body as { queue: unknown }).queue, where);
  }
  const request = parseOr422(submitJobSchema, body, "job", prefix);
  const prepared = prepareEnqueue(deps.registry, toInput(request, key));
  if (!prepared.ok) throw refusal(prepared, prefix.join("."));
  if (tenant !== null) {
    prepared.input.queue = ownName(tenant, prepared.input.queue ?? TENANT_DEFAULT_QUEUE, where);
  }
  return prepared.input;
}

/** A tenant's submits past its `max_pending`, as the 429 of its quota. */
function quotaRefusal(tenant: string | null) {
  return (error: unknown): never => {
    if (tenant !== null && error instanceof QueueFullError) {
      throw pendingQuotaExceeded(tenant, error.limit);
    }
    throw error;
  };
}

/** Routes of the jobs collection, mounted under `/api/v1`. */
export function jobsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  const gate = new SubmitGate();

  app.post("/jobs", async (c) => {
    // The body's bytes count against the isolate's budget until the answer.
    using ticket = deps.bodies.ticket();
    const key = idempotencyHeader(c.req.header("idempotency-key"));
    const body = await readJsonBody(c.req.raw, deps.maxBodyBytes, ticket);
    const tenant = callerTenant(c);
    const input = prepare(deps, body, tenant, key);
    if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, [input]);
    const result = await deps.write(gate.run(() => deps.broker.enqueue(input)), "submit")
      .catch(quotaRefusal(tenant));
    if (!result.created) {
      c.header("Idempotent-Replayed", "true");
      return c.json({ job_id: result.id }, 200);
    }
    c.header("Location", `${BASE}/${pathSegment(result.id)}`);
    return c.json({ job_id: result.id }, 201);
  });

  app.post("/jobs/batch", async (c) => {
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, deps.maxBatchBodyBytes, ticket);
    const { jobs } = parseOr422(submitBatchSchema, body, "batch");
    const tenant = callerTenant(c);
    const results: Array<{ job_id: string; created: boolean } | ErrorBody> = [];
    const valid: Array<{ index: number; input: EnqueueInput }> = [];
    jobs.forEach((item, index) => {
      try {
        valid.push({ index, input: prepare(deps, item, tenant, undefined, index) });
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        results[index] = error.toBody();
      }
    });
    if (valid.length === 0) {
      throw new HttpError(422, "validation_error", "no valid job in the batch", { results });
    }
    const inputs = valid.map((v) => v.input);
    if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, inputs);
    const written = await deps.write(deps.broker.enqueueBatch(inputs), "batch");
    let full = 0;
    valid.forEach(({ index, input }, i) => {
      if (written[i].full) {
        full++;
        results[index] = pendingQuotaExceeded(tenant ?? "", input.waiting_limit ?? 0).toBody();
      } else results[index] = { job_id: written[i].id, created: written[i].created };
    });
    // Every valid job refused by the quota: the request as a whole was.
    if (full === valid.length && tenant !== null) {
      throw pendingQuotaExceeded(tenant, (await deps.quotas?.get(tenant))?.max_pending ?? 0);
    }
    const rejected = jobs.length - valid.length + full;
    return c.json(
      { results, created: written.filter((w) => w.created).length, rejected },
      rejected ? 207 : 201,
    );
  });

  app.get("/jobs", async (c) => {
    checkQueueName(c.req.query("queue"), "queue");
    const query = parseOr400(listQuerySchema, c.req.query(), "invalid_query", "query");
    const tenant = callerTenant(c);
    if (tenant !== null) {
      query.queue = ownPathName(tenant, query.queue ?? TENANT_DEFAULT_QUEUE, "queue");
    }
    if (query.schedule !== undefined) {
      return c.json(
        await scheduleJobsPage(deps, ownPathName(tenant, query.schedule, "schedule"), {
          // The status filters a schedule's jobs only when it was asked for.
          status: c.req.query("status") === undefined ? undefined : query.status,
          limit: query.limit,
          cursor: query.cursor,
        }),
      );
    }
    const page = await deps.call(deps.broker.list({
      state: query.status,
      queue: query.queue,
      type: query.type,
      limit: query.limit,
      cursor: query.cursor ?? null,
    }));
    return c.json({ jobs: page.jobs.map(jobToResponse), next_cursor: page.next_cursor });
  });

  app.delete("/jobs", async (c) => {
    checkQueueName(c.req.query("queue"), "queue");
    const { status, queue } = parseOr400(
      purgeQuerySchema,
      c.req.query(),
      "invalid_query",
      "query",
    );
    const tenant = callerTenant(c);
    if (tenant === null) {
      return c.json({
        status,
        purged: await deps.write(deps.broker.purge(status, queue), "change"),
      });
    }
    // A tenant's purge reaches its own queues only: the one named, else each of them.
    const names = queue === undefined
      ? (await deps.call(deps.broker.queues())).map((q) => q.name).filter((n) =>
        visibleTo(tenant, n)
      )
      : [ownPathName(tenant, queue, "queue")];
    let purged = 0;
    for (const name of names) purged += await deps.write(deps.broker.purge(status, name), "change");
    return c.json({ status, purged });
  });

  return app;
}
