/**
 * The limits job types declare in code (`defineJob({ limits })`), checked
 * once as a worker starts and recorded in Redis (`Broker.declareLimits`), so
 * the whole deployment, API included, sees and obeys them.
 *
 * @module
 */
import type { JobDefinition } from "../jobs/definition.ts";
import { type Limit, limitSchema } from "./limit.ts";

/**
 * Each type's declared limit (null: none). Throws naming the type when a
 * declaration is out of range: a worker refuses to start with it.
 */
export function declaredLimits(
  definitions: readonly JobDefinition[],
): Array<{ type: string; limit: Limit | null }> {
  return definitions.map((definition) => {
    if (definition.limits === undefined) return { type: definition.type, limit: null };
    const parsed = limitSchema.safeParse(definition.limits);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new Error(
        `job type ${JSON.stringify(definition.type)}: limits.${
          issue.path.join(".")
        }: ${issue.message}`,
      );
    }
    return { type: definition.type, limit: parsed.data };
  });
}
