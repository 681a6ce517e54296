/**
 * Enforcing a tenant's quotas on its submits (`src/tenants/quota.ts`):
 *
 * - `max_pending`: each job carries a waiting limit for its own queue (the
 *   quota minus what the tenant's other queues hold, read just before), which
 *   enqueue.lua checks atomically with the write. Exact for a tenant's one
 *   queue; across several queues, submits racing into two of them at the
 *   same moment may pass it by what they add together. Jobs with
 *   dependencies are checked before the write instead (all or nothing).
 * - `submit_rate`: one charge per request (a batch charges its size) in
 *   Redis, so the rate holds over every API process.
 *
 * Refusals are 429 `quota_exceeded` naming the quota, and nothing is written.
 *
 * @module
 */
import type { EnqueueInput } from "../queue/job.ts";
import type { QuotaStore } from "../tenants/quota_store.ts";
import type { Quota } from "../tenants/quota.ts";
import { HttpError } from "./errors.ts";

/** The 429 of a tenant past its `max_pending`. */
export function pendingQuotaExceeded(tenant: string, max: number): HttpError {
  return new HttpError(
    429,
    "quota_exceeded",
    `tenant ${JSON.stringify(tenant)} has ${max} jobs waiting to run, its quota; nothing was ` +
      "written: submit again once some have started",
    { quota: "max_pending", limit: max },
  );
}

/**
 * Sets each input's waiting limit for `tenant`'s `max_pending` and charges
 * its submit rate, or throws the 429. Inputs must name their (full) queue.
 */
export async function applyQuota(
  quotas: QuotaStore,
  tenant: string,
  inputs: EnqueueInput[],
): Promise<void> {
  const quota = await quotas.get(tenant);
  const max = quota.max_pending;
  if (max !== null) {
    const targets = new Map<string, number>();
    for (const input of inputs) targets.set(input.queue!, (targets.get(input.queue!) ?? 0) + 1);
    const queues = [...new Set([...await quotas.queuesOf(tenant), ...targets.keys()])];
    for (const queue of targets.keys()) quotas.noteQueue(queue);
    const waiting = await quotas.waitingIn(queues);
    const total = waiting.reduce((a, b) => a + b, 0);
    if (total >= max) throw pendingQuotaExceeded(tenant, max);
    // Jobs with dependencies (a follow-up waits for its job) go in all together or not at
    // all: a per-job refusal could leave a dependent waiting for a job never written. So
    // they are checked here, before the write, and not in the script.
    if (inputs.some((input) => (input.depends_on?.length ?? 0) > 0)) {
      if (total + inputs.length > max) throw pendingQuotaExceeded(tenant, max);
      return await chargeRate(quotas, tenant, quota.submit_rate, inputs.length);
    }
    const byQueue = new Map(queues.map((q, i) => [q, waiting[i]]));
    for (const input of inputs) {
      const queue = input.queue!;
      // What the other queues hold, plus what this request sends them (as if all were written):
      // one request can never pass the quota through two queues.
      const elsewhere = total - byQueue.get(queue)! + inputs.length - targets.get(queue)!;
      input.waiting_limit = Math.max(0, max - elsewhere);
    }
  }
  await chargeRate(quotas, tenant, quota.submit_rate, inputs.length);
}

/** Charges `cost` submits to `tenant`'s submit rate, or throws its 429. */
async function chargeRate(
  quotas: QuotaStore,
  tenant: string,
  rate: Quota["submit_rate"],
  cost: number,
): Promise<void> {
  if (rate !== null) {
    const wait = await quotas.chargeRate(tenant, rate, cost);
    if (wait === -1) {
      throw new HttpError(
        429,
        "quota_exceeded",
        `${cost} jobs in one request exceed tenant ${JSON.stringify(tenant)}'s ` +
          `submit rate (at most ${rate.max} per ${rate.per_ms} ms): send smaller batches`,
        { quota: "submit_rate", limit: rate },
      );
    }
    if (wait > 0) {
      throw new HttpError(
        429,
        "quota_exceeded",
        `tenant ${JSON.stringify(tenant)} submits faster than its quota (${rate.max} per ` +
          `${rate.per_ms} ms); retry in ${wait} ms`,
        { quota: "submit_rate", limit: rate, retry_after_ms: wait },
        { "Retry-After": String(Math.max(1, Math.ceil(wait / 1000))) },
      );
    }
  }
}
