/**
 * A tenant's quotas, as the API takes and shows them, and as they are stored
 * (`QuotaStore`): the most jobs it may have waiting to run (pending or
 * scheduled, over all its queues) and the fastest it may submit.
 *
 * @module
 */
import { z } from "zod";

/** Longest `submit_rate.per_ms`: a day. */
export const MAX_RATE_WINDOW_MS = 24 * 60 * 60 * 1000;

/** What `PUT /tenants/:name` takes: null (or absent) lifts a quota. */
export const quotaSchema = z.object({
  max_pending: z.int().min(0).max(1e9).nullable().default(null)
    .describe(
      "Most jobs the tenant may have pending or scheduled over all its queues; a submit " +
        "past it is 429 quota_exceeded. null: no limit",
    ),
  submit_rate: z.object({
    max: z.int().min(1).max(1e6).describe("Submits per window (also the largest burst)"),
    per_ms: z.int().min(1).max(MAX_RATE_WINDOW_MS).describe("The window"),
  }).strict().nullable().default(null)
    .describe(
      "Sustained at most max submits per per_ms (a GCRA: bursts of up to max); a submit " +
        "past it is 429 quota_exceeded with Retry-After. null: no limit",
    ),
}).strict();

/** A tenant's quotas. */
export type Quota = z.output<typeof quotaSchema>;

/** No quota at all (a tenant nobody configured). */
export const NO_QUOTA: Quota = { max_pending: null, submit_rate: null };

/** True when `quota` limits nothing. */
export function unlimited(quota: Quota): boolean {
  return quota.max_pending === null && quota.submit_rate === null;
}
