/**
 * Queue names wherever the API takes one (a submit's field, a query, a path):
 * a bad one is 422 `validation_error` whose message states the rule, before
 * any other check.
 *
 * @module
 */
import { isValidQueueName } from "../queue/keys.ts";
import { HttpError } from "./errors.ts";
import { QUEUE_NAME_RULE } from "./schemas.ts";

/** Throws the 422 for a queue name that breaks the rule; `where` names the field. */
export function checkQueueName(value: unknown, where: string): void {
  if (value === undefined) return;
  if (typeof value !== "string" || !isValidQueueName(value)) {
    throw new HttpError(
      422,
      "validation_error",
      `${where}: ${QUEUE_NAME_RULE} (got ${JSON.stringify(value)})`,
      { issues: [{ path: where, message: QUEUE_NAME_RULE }] },
    );
  }
}
