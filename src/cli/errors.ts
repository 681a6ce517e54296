/**
 * The CLI's two failures: a command line it cannot run (exit 2, with the
 * usage), and a call that failed (exit 1, one line: the API's JSON error
 * message, or why the API could not be reached).
 *
 * @module
 */

/** The command line is wrong: exit 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** A call failed: exit 1, `message` on one line. */
export class CliError extends Error {
  constructor(message: string, readonly status?: number) {
    super(message);
    this.name = "CliError";
  }
}
