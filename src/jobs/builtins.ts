/**
 * The built-in job types. Each lives in its own file; this list is the only
 * place that names them all. Importing it has no side effects (no env or fs
 * access), so restricted worker threads can load it.
 *
 * @module
 */
import type { JobDefinition } from "./definition.ts";
import { computeJob } from "./compute.ts";
import { dataProcessJob } from "./data_process.ts";
import { emailJob } from "./email.ts";
import { webhookJob } from "./webhook.ts";

/** The built-ins keyed by type name, with their precise types (for the typed client). */
export const builtinJobs = {
  email: emailJob,
  data_process: dataProcessJob,
  webhook: webhookJob,
  compute: computeJob,
} as const;

/** The built-in definitions, type-erased for the registry. */
export function builtinDefinitions(): JobDefinition[] {
  // Erased like JobRegistry.register does; payloads are always parsed by their own schema first.
  return Object.values(builtinJobs) as unknown as JobDefinition[];
}
