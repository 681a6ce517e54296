/**
 * The job factory: type name -> definition. The API validates payloads with
 * it, the client uses it to type and check enqueues, and every worker thread
 * loads its own copy (so nothing here may touch env or fs at
import time).
 *
 * @module
 */
import { isValidQueueName } from "../queue/keys.ts";
import type { z } from "zod";
import type { JobDefinition } from "./definition.ts";
import { builtinDefinitions } from "./builtins.ts";
import { isJobDefinition, loadJobModule, resolveModuleSpecifier } from "./module_loader.ts";

export { builtinDefinitions, isJobDefinition, resolveModuleSpecifier };

/** One schema problem: dotted path into the payload (empty for the root) and message. */
export interface ValidationIssue {
  path: string;
  message: string;
}

/** Outcome of `JobRegistry.validate`. */
export type ValidationResult =
  | { ok: true; payload: unknown }
  | { ok: false; issues: ValidationIssue[] };

/** Turns zod issues into `{path, message}` pairs with dotted paths. */
export function zodIssues(
  error: z.ZodError,
  prefix: readonly PropertyKey[] = [],
): ValidationIssue[] {
  return error.issues.map((issue) => ({
    path: [...prefix, ...issue.path].map(String).join("."),
    message: issue.message,
  }));
}

/**
 * The registry of job types.
 *
 * @example
 * ```ts
 * const registry = new JobRegistry().register(emailJob);
 * registry.validate("email", { to: "a@example.com" }); // { ok: false, issues: [...] }
 * ```
 */
export class JobRegistry {
  #definitions = new Map<string, JobDefinition>();

  /** Adds a type; throws when the name is taken or the definition is malformed. */
  register<S extends z.ZodType>(definition: JobDefinition<S>): this {
    if (!isJobDefinition(definition)) {
      throw new TypeError("not a job definition: needs a type name, a zod schema and a handler");
    }
    if (this.#definitions.has(definition.type)) {
      throw new Error(`duplicate job type ${JSON.stringify(definition.type)}`);
    }
    if (definition.queue !== undefined && !isValidQueueName(definition.queue)) {
      throw new Error(
        `job type ${JSON.stringify(definition.type)}: queue ${
          JSON.stringify(definition.queue)
        } is not a queue name (1-64 letters, digits, "_", "-" or ".")`,
      );
    }
    // Type erasure at the factory boundary: a handler typed for its own payload
    // is stored as one taking `unknown`. Safe because every call site parses the
    // payload with this same definition's schema first.
    this.#definitions.set(definition.type, definition as unknown as JobDefinition);
    return this;
  }

  /** The definition of `type`, or undefined. */
  get(type: string): JobDefinition | undefined {
    return this.#definitions.get(type);
  }

  /** True when `type` is registered. */
  has(type: string): boolean {
    return this.#definitions.has(type);
  }

  /** Registered type names, sorted. */
  types(): string[] {
    return [...this.#definitions.keys()].sort();
  }

  /** Every definition, sorted by type name. */
  list(): JobDefinition[] {
    return this.types().map((t) => this.#definitions.get(t)!);
  }

  /** Parses `payload` with the type's schema; the parsed value has defaults applied. */
  validate(type: string, payload: unknown): ValidationResult {
    const definition = this.#definitions.get(type);
    if (!definition) {
      return {
        ok: false,
        issues: [{ path: "", message: `unknown job type ${JSON.stringify(type)}` }],
      };
    }
    const parsed = definition.schema.safeParse(payload);
    return parsed.success
      ? { ok: true, payload: parsed.data }
      : { ok: false, issues: zodIssues(parsed.error) };
  }
}

/**
 * Builds a registry of the built-in types plus the definitions exported by
 * `extraModules` (paths relative to the working directory, or URLs). A module
 * may default-export a definition or an array of them, or export them by name.
 *
 * @example
 * ```ts
 * const registry = await loadRegistry(["./my_jobs.ts"]);
 * ```
 */
export async function loadRegistry(extraModules: string[] = []): Promise<JobRegistry> {
  const registry = new JobRegistry();
  for (const definition of builtinDefinitions()) registry.register(definition);
  for (const spec of extraModules) {
    const url = resolveModuleSpecifier(spec);
    for (const definition of await loadJobModule(url)) {
      if (registry.has(definition.type)) {
        throw new Error(
          `job module ${spec}: type ${JSON.stringify(definition.type)} is already registered`,
        );
      }
      registry.register(definition);
    }
  }
  return registry;
}

/**
 * The `JOB_MODULES` setting (comma-separated paths/URLs) as a list; empty
 * when unset or when env access is denied (restricted worker threads).
 */
export function jobModulesFromEnv(name = "JOB_MODULES"): string[] {
  let raw: string | undefined;
  try {
    raw = Deno.env.get(name);
  } catch {
    return [];
  }
  return (raw ?? "").split(",").map((s) => s.trim()).filter((s) => s.length > 0);
}
