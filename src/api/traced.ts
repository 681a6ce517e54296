/**
 * Runs a submit route under its span (`src/tracing/submit_span.ts`): the
 * span ends with the answer's status, or with the error the request ended in
 * and the status its error body gets.
 *
 * @module
 */
import type { SubmitSpan } from "../tracing/submit_span.ts";
import { toHttpError } from "./errors.ts";

/**
 * `handle()`, its span ended either way.
 *
 * @example
 * ```ts
 * app.post("/jobs", (c) => traced(submitSpan(tracer, c.req.raw.headers, "POST /api/v1/jobs", false), () => submit(c)));
 * ```
 */
export async function traced(
  span: SubmitSpan,
  handle: () => Promise<Response>,
): Promise<Response> {
  try {
    const response = await handle();
    span.end(response.status);
    return response;
  } catch (error) {
    span.fail(error, toHttpError(error).status);
    throw error;
  }
}
