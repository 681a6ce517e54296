/**
 * Reading JSON request bodies safely: content type checked, size limited
 * while the stream is read (a 100 MB upload is cut off at the limit, not
 * buffered), strict UTF-8, and nesting depth bounded before JSON.parse so
 * hostile documents cannot exhaust the stack of code that walks them later.
 *
 * @module
 */
import type { BodyTicket } from "./body_budget.ts";
import { HttpError } from "./errors.ts";

/** Deepest accepted nesting of arrays/objects in a request body. */
export const MAX_JSON_DEPTH = 64;

const JSON_SUBTYPE = /^application\/[a-z0-9.+-]+\+json$/;

/** True for `application/json` and `application/*+json`, any parameters. */
export function isJsonContentType(value: string | null): boolean {
  if (!value) return false;
  if (value === "application/json") return true; // what nearly every client sends
  const type = value.split(";")[0].trim().toLowerCase();
  return type === "application/json" || JSON_SUBTYPE.test(type);
}

/** Nesting depth of a JSON text, ignoring brackets inside strings. */
export function jsonDepth(text: string): number {
  let depth = 0;
  let max = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      // Jump to the closing quote: the first one after an even run of backslashes.
      let end = i;
      while (true) {
        end = text.indexOf('"', end + 1);
        if (end < 0) return max; // unterminated string: no more brackets count
        let k = end - 1;
        while (text.charCodeAt(k) === 0x5c) k--;
        if ((end - 1 - k) % 2 === 0) break;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > max) max = depth;
    } else if (c === 0x7d || c === 0x5d) depth--;
  }
  return max;
}

function tooLarge(limit: number): HttpError {
  return new HttpError(413, "payload_too_large", `request body exceeds ${limit} bytes`, {
    limit_bytes: limit,
  });
}

const DIGITS = /^\d+$/;

/**
 * Reads the body up to `limit` bytes; throws 413 as soon as it goes past.
 *
 * A body with a declared Content-Length at most `limit` (and no
 * Transfer-Encoding) is read in one go: the HTTP layer delivers exactly the
 * declared number of bytes for requests from a socket, and the size is
 * checked again after reading. Any other body (chunked, no length) is read
 * chunk by chunk and cut off once it passes the limit.
 *
 * With a `ticket`, the bytes are reserved from the isolate's body budget
 * before they are held (a declared length up front, else chunk by chunk);
 * past the budget the body is dropped unread and a 503 `overloaded` thrown.
 */
export async function readLimited(
  request: Request,
  limit: number,
  ticket?: BodyTicket,
): Promise<Uint8Array> {
  const headers = request.headers;
  const declared = headers.get("content-length");
  if (declared !== null && DIGITS.test(declared)) {
    if (Number(declared) > limit) {
      await request.body?.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    if (headers.get("transfer-encoding") === null) {
      // No `request.body` access here (that alone builds a ReadableStream),
      // except to drop the body when the budget refuses it.
      await reserve(() => request.body?.cancel(), ticket, Number(declared));
      const bytes = new Uint8Array(await request.arrayBuffer());
      if (bytes.byteLength > limit) throw tooLarge(limit);
      return bytes;
    }
  }
  if (!request.body) return new Uint8Array(0);
  // The lock is never released: the body is consumed either way, and
  // releasing it costs a TypeError (with stack trace) per request.
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    await reserve(() => reader.cancel(), ticket, value.byteLength);
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0];
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** Takes `n` bytes from `ticket`; when refused, drops the rest of the body first. */
async function reserve(
  drop: () => Promise<void> | undefined,
  ticket: BodyTicket | undefined,
  n: number,
): Promise<void> {
  if (!ticket) return;
  try {
    ticket.take(n);
  } catch (error) {
    await drop()?.catch(() => {});
    throw error;
  }
}

/** Strict UTF-8; reusable, as every `decode` call without `stream` starts afresh. */
const UTF8 = new TextDecoder("utf-8", { fatal: true });

/**
 * The request's JSON body, or an HttpError: 415 (not JSON), 413 (too big),
 * 400 `invalid_json` (bad UTF-8, bad syntax, empty, or nested too deep), 503
 * `overloaded` (past `ticket`'s budget).
 */
export async function readJsonBody(
  request: Request,
  limit: number,
  ticket?: BodyTicket,
): Promise<unknown> {
  if (!isJsonContentType(request.headers.get("content-type"))) {
    await request.body?.cancel().catch(() => {});
    throw new HttpError(
      415,
      "unsupported_media_type",
      "request body must be JSON (Content-Type: application/json)",
    );
  }
  const bytes = await readLimited(request, limit, ticket);
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new HttpError(400, "invalid_json", "request body is not valid UTF-8");
  }
  if (text.trim() === "") throw new HttpError(400, "invalid_json", "request body is empty");
  if (jsonDepth(text) > MAX_JSON_DEPTH) {
    throw new HttpError(400, "invalid_json", `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? error.message.slice(0, 200) : "parse error";
    throw new HttpError(400, "invalid_json", `request body is not valid JSON: ${detail}`);
  }
}
