/**
 * Opaque list cursors: a position in a ZSET as (score, how many members with
 * exactly that score were already returned). Unlike an offset, it stays right
 * when new jobs arrive at the other end of the set between pages.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";
import { QUEUE_NAME_SOURCE } from "./keys.ts";

/** A job id inside a pending cursor (`job_id.ts`: `[<queue>:]<uuid>`). */
const PENDING_ID = new RegExp(`^(?:${QUEUE_NAME_SOURCE}:)?[0-9a-f-]{36}$`);

/** A decoded cursor. */
export interface ListPosition {
  /** Score of the last returned member, as Redis printed it. */
  score: string;
  /** Members with that score already returned. */
  skip: number;
}

/** Encodes a position as an opaque URL-safe string. */
export function encodeCursor(position: ListPosition): string {
  return btoa(`${position.score}:${position.skip}`).replace(/\+/g, "-").replace(/\//g, "_")
    .replace(/=+$/, "");
}

/** Decodes a cursor; throws `InvalidInputError` on anything malformed. */
export function decodeCursor(cursor: string): ListPosition {
  try {
    const text = atob(cursor.replace(/-/g, "+").replace(/_/g, "/"));
    const match = /^(-?[0-9.e+]+|[+-]inf):([0-9]+)$/.exec(text);
    if (match && Number.isFinite(Number(match[2]))) {
      return { score: match[1], skip: Number(match[2]) };
    }
  } catch {
    // fall through
  }
  throw new InvalidInputError("malformed cursor", "cursor");
}

/** A position in the pending lists: after `id`, found at `index - 1` of `priority`'s list. */
export interface PendingPosition {
  priority: number;
  /** How many ids of that list were already passed (the next index to read). */
  index: number;
  /** The last id returned, used to find the position again after claims. */
  id: string;
}

/** Encodes a pending-list position as an opaque URL-safe string. */
export function encodePendingCursor(position: PendingPosition): string {
  return encodeCursor({ score: `P${position.priority}`, skip: position.index }) + "." +
    btoa(position.id).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** Decodes a pending cursor; throws `InvalidInputError` on anything malformed. */
export function decodePendingCursor(cursor: string): PendingPosition {
  try {
    const [head, tail] = cursor.split(".");
    const text = atob(head.replace(/-/g, "+").replace(/_/g, "/"));
    const id = atob((tail ?? "").replace(/-/g, "+").replace(/_/g, "/"));
    const match = /^P([0-9]{1,3}):([0-9]{1,12})$/.exec(text);
    if (match && PENDING_ID.test(id)) {
      return { priority: Number(match[1]), index: Number(match[2]), id };
    }
  } catch {
    // fall through
  }
  throw new InvalidInputError("malformed cursor", "cursor");
}
