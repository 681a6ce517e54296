/** list_cursor.ts: listing cursors round-trip and reject garbage. */
import assert from "node:assert/strict";
import {
  decodeCursor,
  decodePendingCursor,
  encodeCursor,
  encodePendingCursor,
} from "../../src/queue/list_cursor.ts";
import { InvalidInputError } from "../../src/queue/errors.ts";

Deno.test("cursors round-trip and reject garbage", () => {
  for (const score of ["0", "1800000000000", "-inf", "109951162777600123"]) {
    assert.deepStrictEqual(decodeCursor(encodeCursor({ score, skip: 3 })), { score, skip: 3 });
  }
  assert.throws(() => decodeCursor("%%%"), InvalidInputError);
  assert.throws(() => decodeCursor(btoa("abc:1")), InvalidInputError);
});

Deno.test("pending cursors round-trip and reject garbage", () => {
  const id = crypto.randomUUID();
  const position = { priority: 100, index: 12345, id };
  assert.deepStrictEqual(decodePendingCursor(encodePendingCursor(position)), position);
  assert.throws(() => decodePendingCursor("%%%"), InvalidInputError);
  assert.throws(
    () => decodePendingCursor(encodeCursor({ score: "5", skip: 1 })),
    InvalidInputError,
  );
  assert.throws(
    () => decodePendingCursor(encodePendingCursor({ ...position, id: "nope" })),
    InvalidInputError,
  );
});
