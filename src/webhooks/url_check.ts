/**
 * The outbound guard's submit-time check of a webhook URL (a job's
 * `callback_url`, a subscription's `url`): a host that is an IP literal the
 * guard refuses (private, loopback, link-local, ... unless `OUTBOUND_ALLOW`
 * allows it) is refused before anything is stored. Host names are checked at
 * each delivery, against what they resolve to then (`guarded_http.ts`).
 *
 * @module
 */
import { jobSettings } from "../jobs/job_settings.ts";
import { literalRefusal, outboundPolicy } from "../jobs/outbound_guard.ts";
import { HttpError } from "../api/errors.ts";

/** Why the guard refuses `url`'s literal address, or null. */
export function webhookUrlRefusal(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return "is not a valid URL";
  }
  return literalRefusal(outboundPolicy(jobSettings().outboundAllow), parsed);
}

/** Throws the API's 422 for a refused webhook URL at `path`. */
export function assertWebhookUrl(url: string | undefined, path: string): void {
  if (url === undefined) return;
  const refused = webhookUrlRefusal(url);
  if (refused === null) return;
  throw new HttpError(422, "validation_error", `${path}: ${refused}`, {
    issues: [{ path, message: refused }],
  });
}
