/**
 * Every key of one Redis node matching a pattern, through SCAN (never KEYS:
 * the bench may run against a shared server).
 *
 * @module
 */
import type { Redis } from "ioredis";

/** All keys of `node` matching `pattern`, sorted. */
export async function scanKeys(node: Redis, pattern: string): Promise<string[]> {
  const found: string[] = [];
  let cursor = "0";
  do {
    const [next, batch] = await node.scan(cursor, "MATCH", pattern, "COUNT", 1000);
    found.push(...batch);
    cursor = next;
  } while (cursor !== "0");
  return found.sort();
}
