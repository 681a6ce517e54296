/**
 * `data_process`: fetch a JSON array of records, filter / transform /
 * aggregate it (see `data_ops.ts`), then write it to a `file://` destination or
 * return it as the job's result.
 *
 * file:// destinations must lie inside DATA_PROCESS_OUTPUT_DIR (see
 * `output_path.ts`); the source is fetched through the outbound guard
 * (`guarded_http.ts`). Its threads may read and write that folder only.
 *
 * Other destination schemes (the requirements' own example uses `s3://bucket/output`)
 * are accepted so such jobs still complete: the result is returned inline with
 * `destination_written: false` and a note, since this service ships no object
 * store client.
 *
 * @module
 */
import { z } from "zod";
import { type AdmitIssue, defineJob, NonRetryableError } from "./definition.ts";
import { rateLimitedByResponse } from "./retry_after.ts";
import { readBounded } from "./bounded_read.ts";
import { anyUrlSchema, httpUrlSchema } from "./url_fields.ts";
import { guardedFetch } from "./guarded_http.ts";
import { literalRefusal, type OutboundPolicy, outboundPolicy } from "./outbound_guard.ts";
import { type JobSettings, jobSettings } from "./job_settings.ts";
import { destinationPath, prepareConfinedFile } from "./output_path.ts";
import {
  aggregateRecords,
  type DataRecord,
  filterRecords,
  type Metric,
  metricName,
  transformRecords,
} from "./data_ops.ts";

/** Largest source document fetched, in bytes. */
export const MAX_SOURCE_BYTES = 10 * 1024 * 1024;

const metricSchema = z.object({
  op: z.enum(["count", "sum", "avg", "min", "max"]),
  field: z.string().min(1).max(256).optional(),
  as: z.string().min(1).max(256).optional(),
}).strict().refine((m) => m.op === "count" || m.field !== undefined, {
  message: "field is required for sum, avg, min and max",
  path: ["field"],
}).meta({
  // The refinement above, for JSON Schema (which never sees a refine).
  if: { properties: { op: { const: "count" } } },
  else: { required: ["field"] },
});

/** Payload of a data_process job. */
export const dataProcessSchema = z.object({
  source_url: httpUrlSchema("http(s) URL answering a JSON array of objects"),
  operation: z.enum(["filter", "transform", "aggregate"]),
  filters: z.record(z.string().min(1).max(256), z.unknown()).default({})
    .describe("Equality conditions on (dotted) fields; applied by every operation"),
  destination: anyUrlSchema(
    "file:///abs/path.json (inside the server's DATA_PROCESS_OUTPUT_DIR) is written; other schemes return the result inline (at most 1 MiB of JSON)",
    "destination must be a URL",
  ).optional(),
  fields: z.array(z.string().min(1).max(256)).max(1000).optional()
    .describe("transform: keep only these (dotted) fields"),
  rename: z.record(z.string().min(1).max(256), z.string().min(1).max(256)).optional()
    .describe("transform: rename output keys, {old: new}"),
  group_by: z.string().min(1).max(256).optional()
    .describe("aggregate: group by this (dotted) field; one group when absent"),
  metrics: z.array(metricSchema).min(1).max(100).optional()
    .describe("aggregate: metrics per group; default [{op: 'count'}]"),
  timeout_ms: z.int().min(1).max(5 * 60 * 1000).default(30_000)
    .describe("Fetch timeout"),
}).strict();

/** Payload type of a data_process job. */
export type DataProcessPayload = z.output<typeof dataProcessSchema>;

/** Result of a data_process job. */
export interface DataProcessResult {
  operation: DataProcessPayload["operation"];
  input_records: number;
  output_records: number;
  destination: string | null;
  destination_written: boolean;
  /** The output, unless it was written to the destination. */
  data?: unknown;
  note?: string;
}

function statusError(status: number, url: string): Error {
  const message = `source ${url} answered ${status}`;
  return status >= 500 || status === 408 || status === 429
    ? new Error(message)
    : new NonRetryableError(message);
}

/**
 * A fetch failure: the job's own abort and the guard's refusals (and other
 * non-retryable errors) pass through, anything else is a retryable error.
 */
function fetchFailure(url: string, error: unknown, jobSignal: AbortSignal): unknown {
  if (jobSignal.aborted) return jobSignal.reason;
  if (error instanceof NonRetryableError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new Error(`fetching ${url} failed: ${reason}`, { cause: error });
}

/** Fetches and checks the source: a JSON array of objects, at most MAX_SOURCE_BYTES. */
async function fetchRecords(
  url: string,
  policy: OutboundPolicy,
  signal: AbortSignal,
  jobSignal: AbortSignal,
): Promise<DataRecord[]> {
  let response: Response;
  try {
    response = await guardedFetch(url, {
      policy,
      signal,
      headers: new Headers({ accept: "application/json" }),
    });
  } catch (error) {
    throw fetchFailure(url, error, jobSignal);
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => {});
    // A 429 saying when to come back: then, without losing an attempt.
    throw rateLimitedByResponse(response, `source ${url} answered 429`) ??
      statusError(response.status, url);
  }
  let read;
  try {
    read = await readBounded(response.body, MAX_SOURCE_BYTES);
  } catch (error) {
    throw fetchFailure(url, error, jobSignal);
  }
  if (read.truncated) {
    throw new NonRetryableError(`source ${url} is larger than ${MAX_SOURCE_BYTES} bytes`);
  }
  const bytes = read.bytes;
  let data: unknown;
  try {
    data = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    throw new NonRetryableError(`source ${url} is not valid JSON`);
  }
  if (
    !Array.isArray(data) ||
    !data.every((r) => typeof r === "object" && r !== null && !Array.isArray(r))
  ) {
    throw new NonRetryableError(`source ${url} must be a JSON array of objects`);
  }
  return data as DataRecord[];
}

/** Applies the payload's operation. */
export function runOperation(records: DataRecord[], payload: DataProcessPayload): unknown[] {
  const kept = filterRecords(records, payload.filters);
  switch (payload.operation) {
    case "filter":
      return kept;
    case "transform":
      return transformRecords(kept, payload.fields, payload.rename);
    case "aggregate": {
      const metrics: Metric[] = payload.metrics ?? [{ op: "count" }];
      const names = metrics.map(metricName);
      if (new Set(names).size !== names.length || names.includes("key")) {
        throw new NonRetryableError(`aggregate metric names must be unique and not "key"`);
      }
      return aggregateRecords(kept, payload.group_by, metrics);
    }
  }
}

/**
 * Writes JSON to a file path atomically (temp file + rename), so readers never
 * see half a file. The temp file is created exclusively: an existing file or
 * symlink of that name is never followed.
 */
async function writeJsonFile(path: string, data: unknown): Promise<void> {
  const tmp = `${path}.${crypto.randomUUID()}.tmp`;
  try {
    await Deno.writeTextFile(tmp, JSON.stringify(data), { createNew: true });
    await Deno.rename(tmp, path);
  } catch (error) {
    await Deno.remove(tmp).catch(() => {});
    throw error;
  }
}

/** Submit-time policy: literal private sources, destinations outside the output folder. */
function admitDataProcess(payload: DataProcessPayload, settings: JobSettings): AdmitIssue[] {
  const issues: AdmitIssue[] = [];
  const refused = literalRefusal(
    outboundPolicy(settings.outboundAllow),
    new URL(payload.source_url),
  );
  if (refused !== null) issues.push({ path: "source_url", message: refused });
  if (payload.destination !== undefined) {
    const url = new URL(payload.destination);
    if (url.protocol === "file:") {
      const checked = destinationPath(url, settings.dataProcessOutputDir);
      if ("error" in checked) issues.push({ path: "destination", message: checked.error });
    }
  }
  return issues;
}

/** The `data_process` job type. */
export const dataProcessJob = defineJob({
  type: "data_process",
  description:
    "Fetches a JSON array from source_url, then filters, transforms or aggregates it; writes file:// destinations.",
  schema: dataProcessSchema,
  defaults: { max_attempts: 3 },
  // The source may be any host (the outbound guard decides which); files only
  // in the output folder (read too: rename needs it).
  permissions: (settings) => ({
    net: true,
    read: [settings.dataProcessOutputDir],
    write: [settings.dataProcessOutputDir],
  }),
  admit: admitDataProcess,
  handler: async (ctx, payload): Promise<DataProcessResult> => {
    const settings = jobSettings();
    const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(payload.timeout_ms)]);
    const policy = outboundPolicy(settings.outboundAllow);
    const records = await fetchRecords(payload.source_url, policy, signal, ctx.signal);
    ctx.progress(50);
    const output = runOperation(records, payload);
    const base = {
      operation: payload.operation,
      input_records: records.length,
      output_records: output.length,
      destination: payload.destination ?? null,
    };
    if (payload.destination === undefined) {
      return { ...base, destination_written: false, data: output };
    }
    const url = new URL(payload.destination);
    if (url.protocol !== "file:") {
      return {
        ...base,
        destination_written: false,
        data: output,
        note:
          `only file:// destinations are written; ${url.protocol}// is not supported, result returned inline`,
      };
    }
    const dir = settings.dataProcessOutputDir;
    const checked = destinationPath(url, dir);
    if ("error" in checked) throw new NonRetryableError(checked.error);
    await writeJsonFile(await prepareConfinedFile(checked.path, dir), output);
    ctx.log.info("data written", { destination: payload.destination, records: output.length });
    return { ...base, destination_written: true };
  },
});

export default dataProcessJob;
