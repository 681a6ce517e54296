/**
 * The CLI's HTTP client: one JSON call to the API with the key
 * (`JQ_API_KEY`) as a Bearer header. Every failure becomes one `CliError`
 * line: the API's JSON error (`409 invalid_state: job … is completed`), or
 * why it could not be reached (connection refused, timeout, not JSON).
 *
 * @module
 */
import { CliError } from "./errors.ts";

/** Where the API is when `JQ_URL` is unset: `deno task start`'s default address. */
export const DEFAULT_URL = "http://127.0.0.1:8080";

/** Longest one call may take. */
const TIMEOUT_MS = 15_000;

/** A JSON value as the API answers it. */
export type JsonValue =
  | null
  | boolean
  | number
  | string
  | JsonValue[]
  | { [key: string]: JsonValue };

/** An object in an answer. */
export type JsonObject = { [key: string]: JsonValue };

/** Calls the API at `baseUrl`. */
export class ApiClient {
  readonly baseUrl: string;
  readonly #key: string | undefined;

  constructor(baseUrl: string, key?: string) {
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw new CliError(`JQ_URL is not a URL: ${JSON.stringify(baseUrl)}`);
    }
    if (url.protocol !== "http:" && url.protocol !== "https:") {
      throw new CliError(`JQ_URL must be http or https: ${JSON.stringify(baseUrl)}`);
    }
    this.baseUrl = url.href.replace(/\/+$/, "");
    this.#key = key || undefined;
  }

  /**
   * Sends `method path` (`path` from `/api/v1/...`) with an optional JSON
   * body; returns the parsed JSON answer, or throws `CliError`.
   */
  async call(method: string, path: string, body?: unknown): Promise<JsonObject> {
    const headers: Record<string, string> = { accept: "application/json" };
    // Every POST carries JSON: the API refuses bodiless cross-site-style POSTs (415).
    if (method !== "GET" && method !== "DELETE") headers["content-type"] = "application/json";
    if (this.#key) headers.authorization = `Bearer ${this.#key}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
    } catch (error) {
      throw new CliError(`cannot reach the API at ${this.baseUrl}: ${reason(error)}`);
    }
    const text = await res.text();
    let parsed: JsonValue;
    try {
      parsed = JSON.parse(text) as JsonValue;
    } catch {
      throw new CliError(
        `${res.status} from ${this.baseUrl}${path}: the answer is not JSON (is JQ_URL the API?)`,
        res.status,
      );
    }
    if (!res.ok) {
      const error = isObject(parsed) && isObject(parsed.error) ? parsed.error : null;
      const code = typeof error?.code === "string" ? error.code : "error";
      const message = typeof error?.message === "string" ? error.message : res.statusText;
      const hint = res.status === 401 && !this.#key ? " (set JQ_API_KEY)" : "";
      throw new CliError(`${res.status} ${code}: ${oneLine(message)}${hint}`, res.status);
    }
    if (!isObject(parsed)) throw new CliError(`unexpected answer from ${path}`, res.status);
    return parsed;
  }
}

/** True for a JSON object (not an array or null). */
export function isObject(value: JsonValue | undefined): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, " ").trim();
}

/** Why a fetch failed, in a few words. */
function reason(error: unknown): string {
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return `no answer within ${TIMEOUT_MS / 1000} s`;
  }
  // Deno's "fetch failed" says why in its cause.
  const message = [error, error instanceof Error ? error.cause : undefined]
    .map((e) => e instanceof Error ? e.message : e === undefined ? "" : String(e)).join(" ");
  if (/refused/i.test(message)) return "connection refused (is the API running?)";
  if (/timed? ?out/i.test(message)) return "connection timed out";
  if (/dns|lookup|resolve/i.test(message)) return "unknown host";
  return oneLine(message);
}
