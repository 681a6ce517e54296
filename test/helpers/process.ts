/**
 * Process checks shared by the worker and chaos tests.
 *
 * @module
 */

/** True while a process with `pid` exists and is not a zombie (from /proc). */
export function processAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    // Field 3 is the state; Z means exited but not yet reaped.
    return stat.slice(stat.lastIndexOf(")") + 2)[0] !== "Z";
  } catch {
    return false;
  }
}
