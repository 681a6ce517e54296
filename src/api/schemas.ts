/**
 * The API's request and response shapes as zod schemas: requests are parsed
 * with them, and `openapi.ts` publishes all of them as JSON Schema, so the
 * docs cannot drift from what the server accepts.
 *
 * @module
 */
import { z } from "zod";
import { CALLBACK_EVENTS, DEPENDENCY_POLICIES, JOB_STATES, LIMITS } from "../queue/job.ts";
import { MAX_CALLBACK_URL_LENGTH } from "../queue/validate.ts";
import { QUEUE_NAME_RULE, QUEUE_NAME_SOURCE } from "../queue/keys.ts";

/** Longest accepted `delay_ms`: one year. */
export const MAX_DELAY_MS = 365 * 24 * 60 * 60 * 1000;
/** Most jobs in one batch request. */
export const MAX_BATCH_JOBS = 1000;
/** Page size bounds of `GET /jobs`. */
export const LIST_LIMITS = { min: 1, max: 500, default: 50 } as const;
/** Longest `cursor` of `GET /jobs` (longer ones are refused before decoding). */
export const MAX_CURSOR_LENGTH = 512;

/**
 * Job ids name their queue: a UUID (any version) for the home queue's jobs,
 * `<queue>:<uuid>` for the others' (`src/queue/job_id.ts`). The check keeps
 * odd strings away from Redis keys.
 */
export const JOB_ID_PATTERN = new RegExp(
  `^(?:${QUEUE_NAME_SOURCE}:)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`,
);

/** A job id path parameter. */
export const jobIdSchema = z.string().regex(
  JOB_ID_PATTERN,
  "job id must be a UUID, or <queue>:<UUID>",
);

/** The rule of queue names, as the API states it. */
export { QUEUE_NAME_RULE };

/** A queue name (request field, query or path parameter). */
export const queueNameSchema = z.string().regex(
  new RegExp(`^${QUEUE_NAME_SOURCE}$`),
  QUEUE_NAME_RULE,
);

/** What an idempotency key may hold (the header and the body field alike). */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]+$/;

/** An idempotency key: 1..256 visible ASCII characters. */
export const idempotencyKeySchema = z.string().min(1).max(LIMITS.maxIdempotencyKeyLength)
  .regex(IDEMPOTENCY_KEY_PATTERN, "visible ASCII only");

/** A per-job retry policy (see BackoffPolicy). */
export const backoffSchema = z.object({
  kind: z.enum(["polynomial", "exponential"]),
  base_ms: z.int().min(0).max(LIMITS.maxTimeoutMs),
  factor: z.number().min(1).max(10),
  max_ms: z.int().min(0).max(7 * 24 * 60 * 60 * 1000),
  jitter: z.number().min(0).max(1),
}).strict();

/** What a job does when a dependency fails or is cancelled. */
const dependencyPolicySchema = z.enum(DEPENDENCY_POLICIES).describe(
  "When a dependency fails or is cancelled: fail (default; non-retryable, naming it, and " +
    "propagating), cancel (also propagating), or ignore (run once every dependency finished)",
);

/** A webhook URL: absolute http(s), no credentials (the outbound guard checks its address). */
export const webhookUrlSchema = z.string().min(1).max(MAX_CALLBACK_URL_LENGTH).refine((u) => {
  try {
    const url = new URL(u);
    return (url.protocol === "http:" || url.protocol === "https:") && !url.username &&
      !url.password;
  } catch {
    return false;
  }
}, { message: "must be an absolute http or https URL without credentials" });

/** Webhook events: a non-empty subset of `completed`, `failed` (dead), `cancelled`. */
export const webhookEventsSchema = z.array(z.enum(CALLBACK_EVENTS)).min(1).max(3);

/** The options every submitted job may carry, whatever its kind of submit. */
const jobOptions = {
  type: z.string().min(1).max(LIMITS.maxTypeLength).describe("A registered job type"),
  queue: queueNameSchema.optional()
    .describe("The queue; default the type's own queue, else the deployment's default queue"),
  payload: z.unknown()
    .describe("Validated by the type's own schema (see /job-types); at most 1 MiB as JSON"),
  priority: z.int().min(LIMITS.minPriority).max(LIMITS.maxPriority).optional()
    .describe("Higher runs first; default from the type, else 0"),
  max_attempts: z.int().min(1).max(LIMITS.maxAttempts).optional(),
  timeout_ms: z.int().min(LIMITS.minTimeoutMs).max(LIMITS.maxTimeoutMs).optional(),
  delay_ms: z.int().min(0).max(MAX_DELAY_MS).optional()
    .describe("Run no earlier than this many ms from now; exclusive with run_at"),
  run_at: z.iso.datetime({ offset: true }).optional()
    .describe("Run no earlier than this instant (ISO-8601); exclusive with delay_ms"),
  backoff: backoffSchema.optional(),
  on_dependency_failure: dependencyPolicySchema.optional(),
  group: z.string().min(1).refine(
    (g) => new TextEncoder().encode(g).length <= LIMITS.maxGroupBytes,
    {
      message: `at most ${LIMITS.maxGroupBytes} bytes`,
    },
  ).optional().describe(
    `Flow control's group (a tenant, a customer, a domain; at most ${LIMITS.maxGroupBytes} ` +
      "bytes): a per_group limit of the type applies to each group apart, claims rotate between groups",
  ),
  callback_url: webhookUrlSchema.optional().describe(
    "Completion webhook: POSTed (Standard Webhooks, signed with the deployment's webhook " +
      "secret, GET /webhooks/secret) when the job ends in one of callback_events",
  ),
  callback_events: webhookEventsSchema.optional()
    .describe("The ends callback_url is sent for; default all three (failed: dead)"),
};

/** `delay_ms` and `run_at` exclude each other (a refine, stated for JSON Schema too). */
function exclusiveDelay<T extends z.ZodType<{ delay_ms?: number; run_at?: string }>>(schema: T) {
  return schema.refine((j) => j.delay_ms === undefined || j.run_at === undefined, {
    message: "delay_ms and run_at are mutually exclusive",
    path: ["run_at"],
  }).meta({
    // The refinement above, for JSON Schema (which never sees a refine).
    not: { required: ["delay_ms", "run_at"] },
  });
}

/** `on_complete`: the follow-up job a completion enqueues (the same options, no nesting). */
export const followUpSchema = exclusiveDelay(z.object(jobOptions).strict()).describe(
  "A follow-up job: enqueued (made ready) in the script that completes this job, seeing its " +
    "result as its one dependency; waiting until then",
);

/** `POST /api/v1/jobs` body (also one item of a batch). */
export const submitJobSchema = exclusiveDelay(
  z.object({
    ...jobOptions,
    idempotency_key: idempotencyKeySchema.optional()
      .describe("Same key within retention returns the first job's id (the header wins)"),
    depends_on: z.array(jobIdSchema).max(LIMITS.maxDependencies).optional().describe(
      "Ids of jobs this one waits for (state waiting) until every one completed; " +
        `at most ${LIMITS.maxDependencies}, all existing (else 422 unknown_dependency)`,
    ),
    on_complete: followUpSchema.optional(),
  }).strict(),
);

/** A parsed submit request. */
export type SubmitJobRequest = z.output<typeof submitJobSchema>;

/**
 * `POST /api/v1/jobs/batch` body. Items are parsed one by one with
 * `submitJobSchema` (a bad item is refused alone), so the array holds
 * `unknown` here; the OpenAPI document gives it the submit request's schema.
 */
export const submitBatchSchema = z.object({
  jobs: z.array(z.unknown()).min(1).max(MAX_BATCH_JOBS)
    .describe("Each item has the shape of a single submit request"),
}).strict();

/** A flow job's `ref`: how the other jobs of the flow name it. */
export const flowRefSchema = z.string().regex(
  /^[A-Za-z0-9_.-]{1,64}$/,
  "a ref is 1-64 letters, digits, _ . -",
);

/** One job of a flow: a submit's fields, a `ref`, and `depends_on` naming refs or existing ids. */
export const flowJobSchema = exclusiveDelay(
  z.object({
    ...jobOptions,
    ref: flowRefSchema.describe("The job's name within the flow (unique in it)"),
    depends_on: z.array(z.string().min(1).max(128)).max(LIMITS.maxDependencies).optional()
      .describe("Refs of jobs of this flow, or ids of existing jobs"),
  }).strict(),
);

/** A parsed flow job. */
export type FlowJobRequest = z.output<typeof flowJobSchema>;

/** `POST /api/v1/flows` body; its jobs are parsed one by one (errors name their index). */
export const flowSchema = z.object({
  jobs: z.array(z.unknown()).min(1).max(LIMITS.maxFlowJobs)
    .describe("The flow's jobs, each a FlowJob"),
}).strict();

/** `201` of a flow: each ref's job id. */
export const flowResponseSchema = z.object({
  jobs: z.record(z.string(), jobIdSchema),
});

/** `GET /api/v1/flows/:id`: the graph the job belongs to. */
export const flowGraphResponseSchema = z.object({
  nodes: z.array(z.object({
    job_id: jobIdSchema,
    type: z.string().nullable(),
    queue: z.string(),
    status: z.enum([...JOB_STATES, "unknown"]),
  })),
  edges: z.array(z.object({
    from: jobIdSchema.describe("The dependency"),
    to: jobIdSchema.describe("The dependent"),
  })),
  truncated: z.boolean().describe("True when the graph had more nodes than one answer shows"),
});

/** `POST /api/v1/jobs/:id/retry` body (optional). */
export const retrySchema = z.object({
  revive_dependents: z.boolean().optional().describe(
    "Also bring back the dependents this job's end took down (failed or cancelled naming it): " +
      "they wait for it again, and theirs for them. Default false",
  ),
}).strict();

/** Most ids in one `POST /jobs/cancel`. */
export const MAX_BULK_IDS = 1000;
/** Most jobs one `POST /jobs/retry` requeues (`more` says some are left). */
export const MAX_BULK_RETRY = 10_000;

/** `POST /api/v1/jobs/retry` body: which dead jobs to requeue. */
export const bulkRetrySchema = z.object({
  status: z.literal("failed").describe("Only dead jobs are retried in bulk"),
  queue: queueNameSchema.optional().describe("The queue; default the deployment's default queue"),
  type: z.string().min(1).max(LIMITS.maxTypeLength).optional().describe("Only jobs of this type"),
}).strict();

/** `POST /api/v1/jobs/cancel` body. */
export const bulkIdsSchema = z.object({
  ids: z.array(jobIdSchema).min(1).max(MAX_BULK_IDS)
    .describe(`1 to ${MAX_BULK_IDS} job ids`),
}).strict();

/** `GET /api/v1/jobs` query. */
export const listQuerySchema = z.object({
  status: z.enum(JOB_STATES).default("pending").describe("The state to list"),
  queue: queueNameSchema.optional()
    .describe("The queue to list; default the deployment's default queue"),
  type: z.string().min(1).max(LIMITS.maxTypeLength).optional()
    .describe("Only jobs of this type"),
  schedule: z.string().regex(new RegExp(`^${QUEUE_NAME_SOURCE}$`)).optional()
    .describe(
      "Only the jobs this schedule produced, newest tick first (404 for an unknown schedule); " +
        "status then filters only when given",
    ),
  group: z.string().min(1).max(LIMITS.maxGroupBytes).optional()
    .describe(
      `Only jobs of this flow-control group (1..${LIMITS.maxGroupBytes} bytes, else 422 ` +
        "validation_error); narrows a schedule's jobs and an id search too. No counter " +
        "keeps a group's jobs: `total` is absent, and a page filters with bounded work, " +
        "`truncated` saying it stopped short of `limit` (follow next_cursor for more). " +
        "Pending: the group's held jobs (parked by a claim, a per_group limit) come first",
    ),
  limit: z.coerce.number<string>().int().min(LIST_LIMITS.min).max(LIST_LIMITS.max)
    .default(LIST_LIMITS.default).describe("Page size"),
  cursor: z.string().min(1).max(MAX_CURSOR_LENGTH).optional()
    .describe(
      "next_cursor of the previous page of the same status; any other string answers 422 invalid_input",
    ),
  id_prefix: z.string().regex(/^[0-9a-f-]{1,36}$/).optional()
    .describe(
      "Search instead of list: up to `limit` jobs of the queue whose id (its UUID) starts with " +
        "this, in any state (status and type filter only when given); bounded work, " +
        "`truncated` says the search stopped before looking at every job",
    ),
}).strict();

/** `DELETE /api/v1/jobs` query: which finished state to purge. */
export const purgeQuerySchema = z.object({
  status: z.enum(["failed", "completed", "cancelled"]).describe("The finished state to purge"),
  queue: queueNameSchema.optional().describe("Only this queue; default every queue"),
}).strict();

/** `GET /api/v1/stats` query. */
export const statsQuerySchema = z.object({
  queue: queueNameSchema.optional().describe("Only this queue; default every queue"),
}).strict();

// ---- responses (published in the OpenAPI document) ----

/** Every error answer. */
export const errorResponseSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    details: z.unknown().optional(),
  }),
});

/**
 * A job id in an answer. Not `z.uuid()`: ids of queues other than the home
 * queue are `<queue>:<uuid>`, and a caller-chosen UUID need not carry RFC
 * 9562 version and variant digits (the broker checks only the shape).
 */
const jobIdOutput = jobIdSchema;

/** `201`/`200` of a submit. */
export const submitResponseSchema = z.object({
  job_id: jobIdOutput,
  on_complete_id: jobIdOutput.optional().describe("The follow-up job's id (with on_complete)"),
});

/** One batch item's outcome. */
export const batchItemResultSchema = z.union([
  z.object({ job_id: jobIdOutput, created: z.boolean(), on_complete_id: jobIdOutput.optional() }),
  errorResponseSchema,
]);

/** Batch answer: one result per submitted item, in order. */
export const batchResponseSchema = z.object({
  results: z.array(batchItemResultSchema),
  created: z.int(),
  rejected: z.int(),
});

const isoOrNull = z.string().nullable();

/** A job as the API shows it. The first five fields are the required status answer's (job_id, status, started_at, completed_at, attempts). */
export const jobResponseSchema = z.object({
  job_id: jobIdOutput,
  status: z.enum(JOB_STATES),
  started_at: isoOrNull,
  completed_at: isoOrNull,
  attempts: z.int(),
  queue: z.string(),
  type: z.string(),
  priority: z.int(),
  max_attempts: z.int(),
  created_at: z.string(),
  scheduled_for: isoOrNull,
  timeout_ms: z.int(),
  progress: z.number().nullable(),
  cancel_requested: z.boolean(),
  payload: z.unknown(),
  result: z.unknown(),
  error: z.string().nullable(),
  error_history: z.array(z.object({ attempt: z.int(), message: z.string(), at: z.string() })),
  schedule: z.string().optional().describe("The schedule that produced the job, if one did"),
  schedule_tick: z.string().optional().describe("The tick (ISO) of that schedule it belongs to"),
  dependencies: z.object({
    total: z.int(),
    completed: z.int(),
    failed: z.int().describe("Failed or cancelled"),
    pending: z.int(),
  }).nullable().describe("Its dependencies' tally (null: none)"),
  on_dependency_failure: dependencyPolicySchema.nullable(),
  group: z.string().nullable().describe("Its flow-control group (null: none)"),
  callback_url: z.string().nullable().describe("Its completion webhook's URL (null: none)"),
  callback_events: z.array(z.enum(CALLBACK_EVENTS)).nullable()
    .describe("The ends its completion webhook is sent for (null: no webhook)"),
  trace_id: z.string().nullable().describe(
    "The W3C trace id of its submit (from a traceparent header, or the API's submit span); null: none recorded",
  ),
  dependents: z.object({
    ids: z.array(jobIdOutput),
    next_cursor: z.string().nullable()
      .describe("Pass as ?dependents_cursor= for the next page (about 100 per page)"),
  }).optional().describe("The jobs that depend on it (status answer only)"),
});

/** A page of jobs. */
export const jobListResponseSchema = z.object({
  jobs: z.array(jobResponseSchema),
  next_cursor: z.string().nullable(),
  total: z.int().min(0).optional().describe(
    "Jobs matching the filter (queue, status, type) in all pages, from the queue's counters " +
      "(one read, no scan); an id search: the jobs found. Absent for a schedule's jobs and " +
      "a group's (no counter keeps them)",
  ),
  truncated: z.boolean().optional().describe(
    "An id search: true when it stopped at its budget (some jobs were not looked at). A " +
      "group's list: true when the page stopped at its budget short of `limit`; next_cursor " +
      "goes on from there",
  ),
});

/** Answer of cancel and retry. */
export const jobActionResponseSchema = z.object({
  job_id: jobIdOutput,
  status: z.enum(["cancelled", "cancel_requested", "pending"]),
});

/** Answer of a bulk retry. */
export const bulkRetryResponseSchema = z.object({
  retried: z.int().min(0),
  more: z.boolean().describe(
    `True when the call stopped at ${MAX_BULK_RETRY} jobs and more dead jobs match: call again`,
  ),
});

/** Answer of a bulk cancel: one result per id, in the order given. */
export const bulkCancelResponseSchema = z.object({
  results: z.array(z.union([
    z.object({
      job_id: z.string(),
      status: z.enum(["cancelled", "cancel_requested"]),
    }),
    z.object({
      job_id: z.string(),
      error: z.object({ code: z.string(), message: z.string() }),
    }),
  ])),
  cancelled: z.int().min(0).describe("Ids cancelled or asked to stop"),
  refused: z.int().min(0).describe("Ids with an error (unknown, finished, unavailable)"),
});

/** Answer of `POST /api/v1/jobs/delete`. */
export const bulkDeleteResponseSchema = z.object({
  results: z.array(z.union([
    z.object({ job_id: z.string(), status: z.literal("deleted") }),
    z.object({
      job_id: z.string(),
      error: z.object({ code: z.string(), message: z.string() }),
    }),
  ])),
  deleted: z.int().min(0).describe("Ids deleted"),
  refused: z.int().min(0).describe("Ids with an error (unknown, not finished, unavailable)"),
});

/** Answer of purge. */
export const purgeResponseSchema = z.object({ status: z.string(), purged: z.int() });

const countsSchema = z.object({
  pending: z.int(),
  scheduled: z.int(),
  running: z.int(),
  completed: z.int().describe("Completed jobs there now (retention and purges remove them)"),
  failed: z.int().describe("The dead set now"),
  cancelled: z.int(),
  waiting: z.int().describe("Waiting for dependencies"),
  total: z.int().describe("Jobs in any state now: the sum of the seven states"),
});

/** Lifetime counts: never go down (not on purge, retention or a retry). */
const lifetimeSchema = z.object({
  started_total: z.int().describe("Every attempt ever started (a job tried three times counts 3)"),
  completed_total: z.int().describe("Every job that ever completed"),
  failed_total: z.int().describe("Every job that ever reached the dead set"),
  cancelled_total: z.int().describe("Every job that was ever cancelled"),
});

const statsCountsSchema = countsSchema.extend(lifetimeSchema.shape);

/** `GET /api/v1/stats`. */
export const statsResponseSchema = statsCountsSchema.extend({
  retried: z.int().describe("Retries scheduled, ever (the same as retried_total)"),
  retried_total: z.int().describe("Retries scheduled, ever"),
  by_type: z.record(z.string(), statsCountsSchema),
  by_queue: z.record(z.string(), statsCountsSchema),
});

/** One queue's summary. */
export const queueResponseSchema = z.object({
  name: z.string(),
  paused: z.boolean(),
  ...countsSchema.omit({ total: true }).shape,
  latency_ms: z.int().describe(
    "Age of the oldest pending job (since it became ready); 0 when none",
  ),
});

/** `GET /api/v1/queues`. */
export const queueListResponseSchema = z.object({ queues: z.array(queueResponseSchema) });

/** Answer of pause and resume. */
export const queuePauseResponseSchema = z.object({ name: z.string(), paused: z.boolean() });

/** Liveness/readiness answers. */
export const healthResponseSchema = z.object({ status: z.string() });

/** One entry of `GET /api/v1/job-types`. */
export const jobTypeResponseSchema = z.object({
  type: z.string(),
  description: z.string().nullable(),
  defaults: z.record(z.string(), z.unknown()),
  payload_schema: z.record(z.string(), z.unknown()),
});
