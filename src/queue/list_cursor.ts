/**
 * Opaque list cursors: a position in a ZSET as (score, how many members with
 * exactly that score were already returned). Unlike an offset, it stays right
 * when new jobs arrive at the other end of the set between pages.
 *
 * @module
 */
import { InvalidInputError } from "./errors.ts";

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
