/**
 * URL fields of job payloads, with the checks the server makes written out
 * for JSON Schema too. zod parses URLs with the WHATWG URL parser, which no
 * JSON Schema keyword expresses, so the published schema carries two
 * constraints the parse already implies (they change nothing the server
 * accepts): a `pattern` for the schemes, and the `x-whatwg-url` extension
 * saying the value must parse as a URL (see the OpenAPI document's
 * description).
 *
 * @module
 */
import { z } from "zod";

/** Longest URL a payload may carry. */
export const MAX_URL_LENGTH = 2048;

/** The OpenAPI extension keyword: the (trimmed) string parses with `new URL()`. */
export const WHATWG_URL_KEYWORD = "x-whatwg-url";

/**
 * http(s) URLs as `z.url({protocol: /^https?$/})` accepts them: it trims
 * surrounding whitespace (JS `\s`) and then requires `http://` or
 * `https://`, any letter case.
 */
export const HTTP_URL_PATTERN = "^\\s*[Hh][Tt][Tt][Pp][Ss]?://";

/**
 * Any URL with a scheme, as `URL.canParse(value)` (no base) accepts it: the
 * parser drops leading C0 controls and spaces and every tab or newline, then
 * needs a letter followed by letters, digits, `+`, `-` or `.` up to a colon.
 */
export const SCHEME_URL_PATTERN = "^[\\x00-\\x20]*[A-Za-z][A-Za-z0-9+.\\-\\t\\n\\r]*:";

/** An http(s) URL field. */
export function httpUrlSchema(description: string) {
  return z.url({ protocol: /^https?$/ }).max(MAX_URL_LENGTH).meta({
    description,
    pattern: HTTP_URL_PATTERN,
    [WHATWG_URL_KEYWORD]: true,
  });
}

/** A URL field of any scheme; `message` is the issue when it does not parse. */
export function anyUrlSchema(description: string, message: string) {
  return z.string().max(MAX_URL_LENGTH)
    .refine((value) => URL.canParse(value), message)
    .meta({ description, pattern: SCHEME_URL_PATTERN, [WHATWG_URL_KEYWORD]: true });
}
