/**
 * Reading JSON request bodies safely: content type checked, size limited
 * while the stream is read (a 100 MB upload is cut off at the limit, not
 * buffered), strict UTF-8, and nesting depth bounded before JSON.parse so
 * hostile documents cannot exhaust the stack of code that walks them later.
 * Bytes are charged to the body budget as they arrive, a body slower than
 * its deadlines is answered 408, and one the client abandons 499.
 *
 * @module
 */
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { BodyTicket } from "./body_budget.ts";
import type { BodyDeadlines, BodyTooSlowError } from "./body_deadline.ts";
import { HttpError } from "./errors.ts";
import { closeAfterAnswer } from "./http_server.ts";

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
 * The answer to a body that could not be read because the client closed or
 * broke the connection: its fault, not the server's, so it is neither logged
 * as an error nor counted as a 5xx. 499 is nginx's "client closed request";
 * the client is usually gone and never sees it, the metrics do.
 */
function clientClosed(): HttpError {
  return new HttpError(
    499 as ContentfulStatusCode,
    "client_closed_request",
    "the connection closed before the request body arrived",
  );
}

/** The 408 of a body that fell behind its deadline; the connection is not reused. */
function tooSlow(request: Request, deadlines: BodyDeadlines, error: BodyTooSlowError): HttpError {
  closeAfterAnswer(request);
  return new HttpError(
    408,
    "request_timeout",
    `the request body arrived too slowly (${error.received} bytes in ` +
      `${Math.round(error.elapsedMs)} ms; after ${deadlines.graceMs} ms it must keep up with ` +
      `${deadlines.minBytesPerS} bytes/s)`,
    { grace_ms: deadlines.graceMs, min_bytes_per_s: deadlines.minBytesPerS },
    { Connection: "close" },
  );
}

/**
 * Largest declared body read in one go (`Request.arrayBuffer`, one op for the
 * whole body) and charged to the budget once complete. Every body read chunk
 * by chunk through its ReadableStream (and a restarted deadline interval per
 * request, since fixed: body_deadline.ts) measured 18.1–18.5k
 * `http_submit_per_s` against 20.9–21.8k; the typical submit is well under
 * 1 KB. Until such a body is complete it holds at most this many uncharged
 * bytes, and its deadline is the head start plus its declared length at the
 * minimum pace.
 */
const WHOLE_MAX_BYTES = 64 * 1024;

/**
 * Reads the body up to `limit` bytes; throws 413 as soon as it goes past (a
 * declared Content-Length past it is refused before any byte is read).
 *
 * With a `ticket`, the bytes are charged to the isolate's body budget as
 * they arrive, never the declared length ahead of the bytes: a client that
 * declares 1 MiB and sends one byte holds one byte of the budget. A body
 * declared at most `WHOLE_MAX_BYTES` long is read in one go and charged
 * once complete; any other (larger, chunked, no length) chunk by chunk.
 * Past the budget the rest of the body is dropped and 503 `overloaded`
 * thrown.
 *
 * With the ticket's `deadlines`, a body that falls behind their pace is
 * answered 408 `request_timeout` (with `Connection: close`, and the
 * connection closed: `closeAfterAnswer`). A body the client stops sending
 * (closed, reset) is answered 499 `client_closed_request`.
 */
export function readLimited(
  request: Request,
  limit: number,
  ticket?: BodyTicket,
): Promise<Uint8Array> {
  const headers = request.headers;
  const declared = headers.get("content-length");
  if (declared !== null && DIGITS.test(declared)) {
    const length = Number(declared);
    if (length > limit) return refuse(request, tooLarge(limit));
    if (length <= WHOLE_MAX_BYTES && headers.get("transfer-encoding") === null) {
      return readWhole(request, limit, length, ticket);
    }
  }
  return readChunks(request, limit, ticket);
}

async function refuse(request: Request, error: HttpError): Promise<never> {
  await request.body?.cancel().catch(() => {});
  throw error;
}

/**
 * The body in one op. No `request.body` access here (that alone builds a
 * ReadableStream), except to drop it when the budget refuses it.
 */
async function readWhole(
  request: Request,
  limit: number,
  length: number,
  ticket?: BodyTicket,
): Promise<Uint8Array> {
  const deadlines = ticket?.deadlines;
  let buffer: ArrayBuffer;
  if (!deadlines) {
    buffer = await request.arrayBuffer().catch(() => {
      throw clientClosed();
    });
  } else {
    let late!: (reason: BodyTooSlowError) => void;
    const tooLate = new Promise<never>((_, reject) => (late = reject));
    const watch = deadlines.watch(late);
    // Its pace is judged on its declared length: due by the head start plus that at the minimum rate.
    watch.received = length;
    try {
      buffer = await Promise.race([request.arrayBuffer(), tooLate]);
    } catch {
      // A late body's read stays pending until its connection is closed after the 408.
      if (watch.tooSlow) throw tooSlow(request, deadlines, watch.tooSlow);
      throw clientClosed();
    } finally {
      watch.end();
    }
  }
  const bytes = new Uint8Array(buffer);
  if (bytes.byteLength > limit) throw tooLarge(limit);
  ticket?.take(bytes.byteLength);
  return bytes;
}

/** The body chunk by chunk, each charged as it arrives. */
async function readChunks(
  request: Request,
  limit: number,
  ticket?: BodyTicket,
): Promise<Uint8Array> {
  if (!request.body) return new Uint8Array(0);
  // The lock is never released: the body is consumed either way, and
  // releasing it costs a TypeError (with stack trace) per request.
  const reader = request.body.getReader();
  const deadlines = ticket?.deadlines;
  const watch = deadlines?.watch((reason) => void reader.cancel(reason).catch(() => {}));
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch {
        if (watch?.tooSlow) throw tooSlow(request, deadlines!, watch.tooSlow);
        throw clientClosed();
      }
      // A read pending when the deadline cancelled it ends as `done`.
      if (watch?.tooSlow) throw tooSlow(request, deadlines!, watch.tooSlow);
      if (next.done) break;
      const value = next.value;
      size += value.byteLength;
      if (watch) watch.received = size;
      if (size > limit) {
        await reader.cancel().catch(() => {});
        throw tooLarge(limit);
      }
      await reserve(() => reader.cancel(), ticket, value.byteLength);
      chunks.push(value);
    }
  } finally {
    watch?.end();
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
 * `overloaded` (past `ticket`'s budget), 408 (slower than the ticket's
 * deadlines), 499 (the client went away).
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
