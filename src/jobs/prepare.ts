/**
 * Turns a caller's request into a broker `EnqueueInput`: checks the type is
 * known, parses the payload with the type's schema (defaults applied), checks
 * its size and fills in the type's defaults. The API and the typed client
 * share it, so both accept and reject exactly the same jobs.
 *
 * @module
 */
import { oversizeBytes } from "../queue/validate.ts";
import { type EnqueueInput, LIMITS } from "../queue/job.ts";
import { InvalidInputError } from "../queue/errors.ts";
import type { JobRegistry, ValidationIssue } from "./registry.ts";
import { jobSettings } from "./job_settings.ts";

/** Why a request was refused. */
export type PrepareFailure =
  | { ok: false; reason: "unknown_type"; message: string; knownTypes: string[] }
  | { ok: false; reason: "invalid_payload"; message: string; issues: ValidationIssue[] }
  // The payload fits the schema but the operator's policy refuses it (a
  // destination outside the allowed folder, a private address).
  | { ok: false; reason: "refused"; message: string; issues: ValidationIssue[] }
  | { ok: false; reason: "payload_too_large"; message: string; bytes: number; limit: number };

/** The outcome of `prepareEnqueue`. */
export type PrepareResult = { ok: true; input: EnqueueInput } | PrepareFailure;

/**
 * Validates `request` against `registry` and applies the type's defaults.
 *
 * @example
 * ```ts
 * const r = prepareEnqueue(registry, { type: "compute", payload: { duration_ms: 10 } });
 * if (r.ok) await broker.enqueue(r.input);
 * ```
 */
export function prepareEnqueue(registry: JobRegistry, request: EnqueueInput): PrepareResult {
  const definition = registry.get(request.type);
  if (!definition) {
    const knownTypes = registry.types();
    return {
      ok: false,
      reason: "unknown_type",
      message: `unknown job type ${JSON.stringify(request.type)}; known types: ${
        knownTypes.join(", ")
      }`,
      knownTypes,
    };
  }
  const validated = registry.validate(request.type, request.payload);
  if (!validated.ok) {
    return {
      ok: false,
      reason: "invalid_payload",
      message: `invalid payload for job type ${request.type}`,
      issues: validated.issues,
    };
  }
  const refused = definition.admit?.(validated.payload, jobSettings()) ?? [];
  if (refused.length > 0) {
    return {
      ok: false,
      reason: "refused",
      message: `job of type ${request.type} refused: ${refused.map((i) => i.message).join("; ")}`,
      issues: refused,
    };
  }
  // Serialized once: the broker stores this text (`payload_json`) and checks
  // its size again on its own; this answer carries the API's 413 details.
  // Undefined for a payload JSON cannot represent, which the broker refuses.
  const payloadJson: string | undefined = JSON.stringify(
    validated.payload === undefined ? null : validated.payload,
  );
  const bytes = oversizeBytes(payloadJson ?? "null");
  if (bytes > 0) {
    return {
      ok: false,
      reason: "payload_too_large",
      message: `payload is ${bytes} bytes; the limit is ${LIMITS.maxPayloadBytes}`,
      bytes,
      limit: LIMITS.maxPayloadBytes,
    };
  }
  const defaults = definition.defaults ?? {};
  const merged: EnqueueInput = {
    ...request,
    payload: validated.payload,
    payload_json: payloadJson,
    queue: request.queue ?? definition.queue,
    priority: request.priority ?? defaults.priority,
    max_attempts: request.max_attempts ?? defaults.max_attempts,
    timeout_ms: request.timeout_ms ?? defaults.timeout_ms,
    backoff: request.backoff ?? defaults.backoff,
  };
  // Leave unset fields out so the broker's own defaults apply. Copied rather
  // than deleted: `delete` would turn the object into a slow dictionary.
  const input = {} as Record<string, unknown>;
  for (const key of Object.keys(merged)) {
    const value = merged[key as keyof EnqueueInput];
    if (value !== undefined) input[key] = value;
  }
  return { ok: true, input: input as unknown as EnqueueInput };
}

/** Thrown by the typed client when a job is refused before reaching Redis. */
export class JobValidationError extends InvalidInputError {
  constructor(readonly failure: PrepareFailure) {
    const detail = failure.reason === "invalid_payload" || failure.reason === "refused"
      ? `: ${failure.issues.map((i) => `${i.path || "(root)"}: ${i.message}`).join("; ")}`
      : "";
    super(`${failure.message}${detail}`, failure.reason === "unknown_type" ? "type" : "payload");
    this.name = "JobValidationError";
  }
}
