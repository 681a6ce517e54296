/**
 * Request validation with zod, turned into the API's error answers: a body
 * that does not fit its schema is a 422 `validation_error`, a bad query or
 * path value a 400, both listing the offending fields by dotted path.
 *
 * @module
 */
import type { z } from "zod";
import { zodIssues } from "../jobs/registry.ts";
import { HttpError } from "./errors.ts";

/**
 * Parses `value` or throws 422 `validation_error` with dotted field paths
 * (`prefix` is put in front of each, e.g. the index of a job in a batch).
 *
 * @example
 * ```ts
 * const { jobs } = parseOr422(submitBatchSchema, await readJsonBody(c.req.raw, max), "batch");
 * ```
 */
export function parseOr422<S extends z.ZodType>(
  schema: S,
  value: unknown,
  what: string,
  prefix: readonly PropertyKey[] = [],
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(422, "validation_error", `invalid ${what}`, {
    issues: zodIssues(parsed.error, prefix),
  });
}

/**
 * Parses a query/path value or throws 400 with the given code.
 *
 * @example
 * ```ts
 * const id = parseOr400(jobIdSchema, c.req.param("id"), "invalid_job_id", "job id");
 * ```
 */
export function parseOr400<S extends z.ZodType>(
  schema: S,
  value: unknown,
  code: string,
  what: string,
): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  throw new HttpError(400, code, `invalid ${what}`, { issues: zodIssues(parsed.error) });
}
