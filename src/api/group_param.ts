/**
 * The `group` query parameter of the job list: a bad one is 422
 * `validation_error` (as a bad queue name is), before any other check, since
 * it is the operator's input, not a malformed request.
 *
 * @module
 */
import { LIMITS } from "../queue/job.ts";
import { HttpError } from "./errors.ts";

/** What a group must be (the same rule a submit's `group` has). */
export const GROUP_RULE = `a group is 1..${LIMITS.maxGroupBytes} bytes of UTF-8`;

const utf8 = new TextEncoder();

/** Throws the 422 for a group no job can have; `where` names the parameter. */
export function checkGroupParam(value: string | undefined, where: string): void {
  if (value === undefined) return;
  const bytes = utf8.encode(value).length;
  if (bytes > 0 && bytes <= LIMITS.maxGroupBytes) return;
  throw new HttpError(422, "validation_error", `${where}: ${GROUP_RULE}`, {
    issues: [{ path: where, message: GROUP_RULE }],
  });
}
