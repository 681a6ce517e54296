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
 *   next_cursor, total}` of one queue (default the default queue); status
 *   defaults to `pending`. `group=` narrows it to one flow-control group:
 *   no total (no counter keeps one), `truncated` when the page stopped at
 *   its scan budget (`group_listing.ts`).
 * - `DELETE /jobs?status=failed|completed|cancelled&queue=` → `{status,
 *   purged}`, in one queue or every queue.
 *
 * A key confined to a tenant names its queues relative to it
 * (`tenant_scope.ts`): its submits land in its queues, its dependencies must
 * be its own jobs, its lists and purges reach only its queues, and its quotas
 * apply (`tenant_quota.ts`).
 *
 * Writes (submit, batch, purge) answer `503 unavailable` only when nothing
 * was stored or changed, and `503 outcome_unknown` (retry with the same
 * idempotency keys) when the write reached Redis and its answer did not come
 * back (`RouteDeps.write`).
 *
 * @module
 */
import { type Context, Hono } from "hono";
import { type SubmitSpan, submitSpan } from "../../tracing/submit_span.ts";
import type { EnqueueInput, EnqueueResult } from "../../queue/job.ts";
import { assertWebhookUrl } from "../../webhooks/url_check.ts";
import { withFollowUp } from "../../flows/follow_up.ts";
import { LIMITS } from "../../queue/job.ts";
import { prepareEnqueue, type PrepareFailure } from "../../jobs/prepare.ts";
import { readJsonBody } from "../body.ts";
import { type ErrorBody, HttpError } from "../errors.ts";
import { traced } from "../traced.ts";
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
import { checkGroupParam } from "../group_param.ts";
import { scheduleJobsPage } from "../schedule_jobs.ts";
import { callerTenant, jobVisible, ownName, ownPathName, pathSegment } from "../tenant_scope.ts";
import { applyQuota, pendingQuotaExceeded } from "../tenant_quota.ts";
import { QueueFullError, QueueNotFoundError } from "../../queue/errors.ts";
import type { JobState } from "../../queue/job.ts";
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

/** The broker input of a request's job fields (a submit, a follow-up, a flow job). */
export function toInput(
  request: Omit<SubmitJobRequest, "on_complete" | "depends_on" | "idempotency_key">,
  idempotencyKey?: string,
): EnqueueInput {
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
    idempotency_key: idempotencyKey,
    on_dependency_failure: request.on_dependency_failure,
    group: request.group,
    callback_url: request.callback_url,
    callback_events: request.callback_events,
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

/** A submit's broker input, and its follow-up's when it has `on_complete`. */
interface PreparedSubmit {
  input: EnqueueInput;
  followUp?: EnqueueInput;
}

/** The registry's checks of one job's input, or the HttpError of its refusal. */
export function admitted(deps: RouteDeps, input: EnqueueInput, prefix: string): EnqueueInput {
  assertWebhookUrl(input.callback_url, prefix ? `${prefix}.callback_url` : "callback_url");
  const prepared = prepareEnqueue(deps.registry, input);
  if (!prepared.ok) throw refusal(prepared, prefix);
  return prepared.input;
}

/**
 * Validates one submit body into broker inputs, or throws an HttpError. A
 * tenant's jobs go to its own queues (the one named, else the type's, else
 * `default`, in the tenant's namespace).
 */
function prepare(
  deps: RouteDeps,
  body: unknown,
  tenant: string | null,
  key?: string,
  index?: number,
): PreparedSubmit {
  const prefix = index === undefined ? [] : ["jobs", index];
  const where = [...prefix, "queue"].join(".");
  if (body !== null && typeof body === "object" && "queue" in body) {
    checkQueueName((body as { queue: unknown }).queue, where);
  }
  const request = parseOr422(submitJobSchema, body, "job", prefix);
  const input = admitted(deps, {
    ...toInput(request, key ?? request.idempotency_key),
    depends_on: request.depends_on,
  }, prefix.join("."));
  if (tenant !== null) input.queue = ownName(tenant, input.queue ?? TENANT_DEFAULT_QUEUE, where);
  if (!request.on_complete) return { input };
  const followUp = admitted(
    deps,
    toInput(request.on_complete),
    [...prefix, "on_complete"].join("."),
  );
  if (tenant !== null) {
    followUp.queue = ownName(
      tenant,
      followUp.queue ?? TENANT_DEFAULT_QUEUE,
      [...prefix, "on_complete", "queue"].join("."),
    );
  }
  return { input, followUp };
}

/**
 * A tenant's dependencies must be its own jobs: another tenant's id is
 * refused as an unknown one (422 `unknown_dependency`), saying nothing of it.
 */
export async function ownDependencies(
  deps: RouteDeps,
  tenant: string | null,
  inputs: EnqueueInput[],
): Promise<void> {
  if (tenant === null) return;
  const foreign: string[] = [];
  for (const input of inputs) {
    for (const id of input.depends_on ?? []) {
      if (!(await jobVisible(deps, tenant, id))) foreign.push(id);
    }
  }
  if (foreign.length > 0) {
    throw new HttpError(422, "unknown_dependency", `unknown dependencies: ${foreign.join(", ")}`, {
      ids: foreign,
    });
  }
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

/** The inputs of prepared submits, a follow-up right after its job. */
async function withFollowUps(deps: RouteDeps, items: PreparedSubmit[]): Promise<EnqueueInput[]> {
  if (items.every((item) => !item.followUp)) return items.map((item) => item.input);
  const home = await deps.call(deps.broker.homeQueue());
  return items.flatMap((item) =>
    item.followUp
      ? withFollowUp(item.input, item.followUp, home, deps.broker.defaultQueue)
      : [item.input]
  );
}

/**
 * How many jobs a list's filter matches over all its pages: the queue's
 * counters (one HGETALL), kept by every script that moves a job, so never a
 * scan. An unknown queue lists nothing: 0.
 */
async function filterTotal(
  deps: RouteDeps,
  state: JobState,
  queue: string | undefined,
  type: string | undefined,
): Promise<number> {
  const stats = await deps.broker.stats(queue ?? deps.broker.defaultQueue).catch((error) => {
    if (error instanceof QueueNotFoundError) return null;
    throw error;
  });
  if (stats === null) return 0;
  return type === undefined ? stats[state] : stats.by_type[type]?.[state] ?? 0;
}

/** Routes of the jobs collection, mounted under `/api/v1`. */
export function jobsRoutes(deps: RouteDeps): Hono {
  const app = new Hono();
  const gate = new SubmitGate();

  app.post("/jobs", (c) => {
    const span = submitSpan(deps.tracer, c.req.raw.headers, "POST /api/v1/jobs", false);
    return traced(span, () => submitOne(c, span));
  });

  const submitOne = async (c: Context, span: SubmitSpan) => {
    // The body's bytes count against the isolate's budget until the answer.
    using ticket = deps.bodies.ticket();
    const key = idempotencyHeader(c.req.header("idempotency-key"));
    const body = await readJsonBody(c.req.raw, deps.maxBodyBytes, ticket);
    const tenant = callerTenant(c);
    const prepared = prepare(deps, body, tenant, key);
    span.stamp(prepared.input);
    if (prepared.followUp) span.stamp(prepared.followUp);
    let result: EnqueueResult;
    let followUp: string | undefined;
    if (prepared.followUp) {
      const inputs = await withFollowUps(deps, [prepared]);
      await ownDependencies(deps, tenant, [prepared.input]);
      if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, inputs);
      const written = await deps.write(deps.broker.enqueueBatch(inputs), "submit");
      [result, followUp] = [written[0], written[1].id];
    } else {
      const input = prepared.input;
      await ownDependencies(deps, tenant, [input]);
      if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, [input]);
      result = await deps.write(gate.run(() => deps.broker.enqueue(input)), "submit")
        .catch(quotaRefusal(tenant));
    }
    const answer = { job_id: result.id, ...(followUp ? { on_complete_id: followUp } : {}) };
    span.job(result.id, prepared.input, deps.broker.defaultQueue, {
      ...(followUp ? { "job.on_complete_id": followUp } : {}),
      ...(result.created ? {} : { "job.replayed": "true" }),
    });
    if (!result.created) {
      c.header("Idempotent-Replayed", "true");
      return c.json(answer, 200);
    }
    c.header("Location", `${BASE}/${pathSegment(result.id)}`);
    return c.json(answer, 201);
  };

  app.post("/jobs/batch", (c) => {
    const span = submitSpan(deps.tracer, c.req.raw.headers, "POST /api/v1/jobs/batch", true);
    return traced(span, () => submitBatch(c, span));
  });

  const submitBatch = async (c: Context, span: SubmitSpan) => {
    using ticket = deps.bodies.ticket();
    const body = await readJsonBody(c.req.raw, deps.maxBatchBodyBytes, ticket);
    const { jobs } = parseOr422(submitBatchSchema, body, "batch");
    const tenant = callerTenant(c);
    const results: Array<
      { job_id: string; created: boolean; on_complete_id?: string } | ErrorBody
    > = [];
    const valid: Array<{ index: number; prepared: PreparedSubmit }> = [];
    jobs.forEach((item, index) => {
      try {
        valid.push({ index, prepared: prepare(deps, item, tenant, undefined, index) });
      } catch (error) {
        if (!(error instanceof HttpError)) throw error;
        results[index] = error.toBody();
      }
    });
    if (valid.length === 0) {
      throw new HttpError(422, "validation_error", "no valid job in the batch", { results });
    }
    // One span per valid item: each job's attempts continue its own item's span.
    const items = valid.map(({ prepared }) => {
      const item = span.item(prepared.input);
      item.stamp(prepared.input);
      if (prepared.followUp) item.stamp(prepared.followUp);
      return item;
    });
    const inputs = await withFollowUps(deps, valid.map((v) => v.prepared));
    await ownDependencies(deps, tenant, valid.map((v) => v.prepared.input));
    if (tenant !== null && deps.quotas) await applyQuota(deps.quotas, tenant, inputs);
    const written = await deps.write(deps.broker.enqueueBatch(inputs), "batch");
    // Each follow-up came right after its job.
    let at = 0;
    let created = 0;
    let full = 0;
    for (const [n, { index, prepared }] of valid.entries()) {
      const w = written[at];
      const item = items[n];
      item.job(w.id, prepared.input, deps.broker.defaultQueue, {
        ...(prepared.followUp ? { "job.on_complete_id": written[at + 1].id } : {}),
        ...(w.created ? {} : { "job.replayed": "true" }),
      });
      item.end(w.full ? 429 : w.created ? 201 : 200);
      at++;
      if (w.created) created++;
      if (w.full) {
        full++;
        results[index] = pendingQuotaExceeded(tenant ?? "", prepared.input.waiting_limit ?? 0)
          .toBody();
      } else {
        results[index] = prepared.followUp
          ? { job_id: w.id, created: w.created, on_complete_id: written[at++].id }
          : { job_id: w.id, created: w.created };
      }
    }
    // Every valid job refused by the quota: the request as a whole was.
    if (full === valid.length && tenant !== null) {
      throw pendingQuotaExceeded(tenant, (await deps.quotas?.get(tenant))?.max_pending ?? 0);
    }
    const rejected = jobs.length - valid.length + full;
    return c.json({ results, created, rejected }, rejected ? 207 : 201);
  };

  app.get("/jobs", async (c) => {
    checkQueueName(c.req.query("queue"), "queue");
    checkGroupParam(c.req.query("group"), "group");
    const query = parseOr400(listQuerySchema, c.req.query(), "invalid_query", "query");
    const tenant = callerTenant(c);
    if (tenant !== null) {
      query.queue = ownPathName(tenant, query.queue ?? TENANT_DEFAULT_QUEUE, "queue");
    }
    const group = query.group;
    if (query.schedule !== undefined) {
      return c.json(
        await scheduleJobsPage(deps, ownPathName(tenant, query.schedule, "schedule"), {
          // The status filters a schedule's jobs only when it was asked for.
          status: c.req.query("status") === undefined ? undefined : query.status,
          group,
          limit: query.limit,
          cursor: query.cursor,
        }),
      );
    }
    if (query.id_prefix !== undefined) {
      const found = await deps.call(
        deps.broker.findByIdPrefix(query.id_prefix, query.limit, query.queue),
      );
      // Status and type narrow a search only when they were asked for.
      const status = c.req.query("status") === undefined ? undefined : query.status;
      const jobs = found.jobs.filter((j) =>
        (status === undefined || j.status === status) &&
        (query.type === undefined || j.type === query.type) &&
        (group === undefined || j.group === group)
      );
      return c.json({
        jobs: jobs.map(jobToResponse),
        next_cursor: null,
        total: jobs.length,
        truncated: found.truncated,
      });
    }
    if (group !== undefined) {
      // No counter keeps a group's jobs: no total, and the page says when it stopped short.
      const page = await deps.call(deps.broker.list({
        state: query.status,
        queue: query.queue,
        type: query.type,
        group,
        limit: query.limit,
        cursor: query.cursor ?? null,
      }));
      return c.json({
        jobs: page.jobs.map(jobToResponse),
        next_cursor: page.next_cursor,
        truncated: page.truncated ?? false,
      });
    }
    const [page, total] = await deps.call(Promise.all([
      deps.broker.list({
        state: query.status,
        queue: query.queue,
        type: query.type,
        limit: query.limit,
        cursor: query.cursor ?? null,
      }),
      filterTotal(deps, query.status, query.queue, query.type),
    ]));
    return c.json({ jobs: page.jobs.map(jobToResponse), next_cursor: page.next_cursor, total });
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
