/**
 * One webhook delivery as `_webhooks.lua` records it (a MessagePack array in
 * the queue's deliveries HASH), and what is sent for it: the Standard
 * Webhooks body `{type, timestamp, data}` (data: the job's status document,
 * as `GET /api/v1/jobs/:id` shows it) and its signature headers.
 *
 * @module
 */
import { Webhook } from "standardwebhooks";
import { type Packed, unpack } from "../queue/msgpack.ts";
import { recordOf, recordToJob } from "../queue/record.ts";
import { jobToResponse } from "../api/serialize.ts";
import type { Job } from "../queue/job.ts";
import { type CallbackEvent, eventOfLetter } from "./events.ts";

/** 0-based positions of a delivery record (`_webhooks.lua` writes them 1-based). */
const D = {
  jobId: 0,
  event: 1,
  subscription: 2,
  url: 3,
  finishedAt: 4,
  attempts: 5,
  token: 6,
  record: 7,
  error: 8,
  status: 9,
  failedAt: 10,
} as const;

/** A decoded delivery. */
export interface Delivery {
  /** `<job id>~<n>`: also the `webhook-id` of every attempt. */
  id: string;
  jobId: string;
  queue: string;
  event: CallbackEvent;
  /** The subscription it is for, or null for the job's own `callback_url`. */
  subscription: string | null;
  /** The job's own callback URL ("" for a subscription's delivery: its URL is read at send time). */
  url: string;
  /** Epoch ms the job finished. */
  finishedAt: number;
  /** Attempts made (counting the one claimed now). */
  attempts: number;
  token: string | null;
  /** The job as it finished. */
  job: Job | null;
  lastError: string | null;
  lastStatus: number | null;
  /** Epoch ms it was given up, or null. */
  failedAt: number | null;
}

function str(value: Packed | undefined): string | null {
  return typeof value === "string" && value !== "" ? value : null;
}

function num(value: Packed | undefined): number | null {
  return typeof value === "number" && Number.isFinite(value) ? value : null;
}

/** The delivery `id` of `queue` from its stored bytes; null when unreadable. */
export function decodeDelivery(id: string, queue: string, bytes: Uint8Array): Delivery | null {
  let raw: Packed;
  try {
    raw = unpack(bytes);
  } catch {
    return null;
  }
  const d = Array.isArray(raw)
    ? raw
    : raw && typeof raw === "object" && !(raw instanceof Uint8Array)
    ? mapToArray(raw)
    : null;
  if (!d) return null;
  const jobId = str(d[D.jobId]);
  const event = eventOfLetter(str(d[D.event]) ?? "");
  if (!jobId || !event) return null;
  const record = recordOf(d[D.record] ?? null);
  return {
    id,
    jobId,
    queue,
    event,
    subscription: str(d[D.subscription]),
    url: str(d[D.url]) ?? "",
    finishedAt: num(d[D.finishedAt]) ?? 0,
    attempts: num(d[D.attempts]) ?? 0,
    token: str(d[D.token]),
    job: record ? recordToJob(jobId, record, queue) : null,
    lastError: str(d[D.error]),
    lastStatus: num(d[D.status]) || null,
    failedAt: num(d[D.failedAt]),
  };
}

/** Lua packs a table with holes as a map with integer keys (1-based). */
function mapToArray(map: { [key: string]: Packed }): Packed[] {
  const out: Packed[] = [];
  for (const [key, value] of Object.entries(map)) {
    const i = Number(key);
    if (Number.isInteger(i) && i >= 1 && i <= 11) out[i - 1] = value;
  }
  return out;
}

/** The body of a delivery: the same bytes on every attempt. */
export function deliveryBody(delivery: Delivery): string {
  return JSON.stringify({
    type: `job.${delivery.event}`,
    timestamp: new Date(delivery.finishedAt).toISOString(),
    data: delivery.job ? jobToResponse(delivery.job) : { job_id: delivery.jobId },
  });
}

/**
 * The Standard Webhooks headers of one attempt: the delivery's id, the
 * attempt's time (receivers refuse stale timestamps, so each attempt signs
 * anew) and `v1,<base64 HMAC-SHA256 of id.timestamp.body>` with `secret`.
 */
export function signatureHeaders(
  secret: string,
  id: string,
  body: string,
  at: Date,
): Record<string, string> {
  return {
    "webhook-id": id,
    "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
    "webhook-signature": new Webhook(secret).sign(id, at, body),
  };
}
