/**
 * The CLI's argument parsing: words, `--flag value` (or `--flag=value`) and
 * the boolean `--json`/`--help`. Unknown flags are refused by the command
 * that reads them (`Args.take` + `Args.done`), so a typo never passes silently.
 *
 * @module
 */
import { UsageError } from "./errors.ts";

/** Flags that take no value. */
const BOOLEAN_FLAGS = new Set(["json", "help"]);

/** Parsed arguments: what is left to read. */
export class Args {
  readonly words: string[];
  readonly #flags: Map<string, string>;

  private constructor(words: string[], flags: Map<string, string>) {
    this.words = words;
    this.#flags = flags;
  }

  /** Parses `argv`; throws `UsageError` for a flag without its value. */
  static parse(argv: readonly string[]): Args {
    const words: string[] = [];
    const flags = new Map<string, string>();
    for (let i = 0; i < argv.length; i++) {
      const arg = argv[i];
      if (arg === "-h") {
        flags.set("help", "true");
      } else if (arg.startsWith("--")) {
        const eq = arg.indexOf("=");
        const name = eq < 0 ? arg.slice(2) : arg.slice(2, eq);
        if (BOOLEAN_FLAGS.has(name)) {
          flags.set(name, "true");
          continue;
        }
        const value = eq < 0 ? argv[++i] : arg.slice(eq + 1);
        if (value === undefined || value === "") throw new UsageError(`--${name} needs a value`);
        flags.set(name, value);
      } else {
        words.push(arg);
      }
    }
    return new Args(words, flags);
  }

  /** True when the boolean flag was given (it is consumed). */
  has(name: string): boolean {
    return this.#flags.delete(name);
  }

  /** The flag's value, if given (it is consumed). */
  take(name: string): string | undefined {
    const value = this.#flags.get(name);
    this.#flags.delete(name);
    return value;
  }

  /** Refuses flags no command read. */
  done(): void {
    const [left] = this.#flags.keys();
    if (left !== undefined) throw new UsageError(`unknown option --${left}`);
  }
}
