/**
 * The job ends webhooks are sent for, in their three spellings: the API's
 * (`completed`), the wire's `type` (`job.completed`) and the one-letter code
 * the scripts store (`c`, as `_webhooks.lua` and the record's `callback` use).
 *
 * @module
 */
import { CALLBACK_EVENTS, type CallbackEvent } from "../queue/job.ts";

export { CALLBACK_EVENTS, type CallbackEvent };

/** The stored letter of each event. */
export const EVENT_LETTER: Readonly<Record<CallbackEvent, string>> = {
  completed: "c",
  failed: "f",
  cancelled: "x",
};

/** The event a stored letter names, or null. */
export function eventOfLetter(letter: string): CallbackEvent | null {
  for (const event of CALLBACK_EVENTS) if (EVENT_LETTER[event] === letter) return event;
  return null;
}

/** The letters of `events`, in canonical order (`["failed","completed"]` -> `"cf"`). */
export function lettersOf(events: readonly CallbackEvent[]): string {
  return CALLBACK_EVENTS.filter((e) => events.includes(e)).map((e) => EVENT_LETTER[e]).join("");
}
