/**
 * Child processes with prefixed output, for roles that run several processes
 * (`start`, `cluster`). Each output line is written as `[name] line` so the
 * interleaved logs of many processes stay readable.
 *
 * @module
 */

/** A running child. */
export interface Child {
  readonly name: string;
  readonly pid: number;
  readonly status: Promise<Deno.CommandStatus>;
  kill(signal?: Deno.Signal): void;
}

async function pipeLines(
  stream: ReadableStream<Uint8Array>,
  prefix: string,
  out: (line: string) => void,
): Promise<void> {
  // A plain reader loop rather than TextDecoderStream: the latter's types clash
  // when worker and window libs are checked together.
  const decoder = new TextDecoder();
  let rest = "";
  for await (const chunk of stream) {
    const parts = (rest + decoder.decode(chunk, { stream: true })).split("\n");
    rest = parts.pop() ?? "";
    for (const part of parts) out(`${prefix}${part}`);
  }
  rest += decoder.decode();
  if (rest) out(`${prefix}${rest}`);
}

const encoder = new TextEncoder();
const writeOut = (line: string) => Deno.stdout.writeSync(encoder.encode(line + "\n"));
const writeErr = (line: string) => Deno.stderr.writeSync(encoder.encode(line + "\n"));

/**
 * Spawns `deno run -A <args>` (the same Deno binary) with `env` added, prefixing its output.
 */
export function spawnDeno(name: string, args: string[], env: Record<string, string> = {}): Child {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", ...args],
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const prefix = `[${name}] `;
  const piping = Promise.all([
    pipeLines(child.stdout, prefix, writeOut),
    pipeLines(child.stderr, prefix, writeErr),
  ]).catch(() => {});
  const status = piping.then(() => child.status);
  return {
    name,
    pid: child.pid,
    status,
    kill(signal: Deno.Signal = "SIGTERM") {
      try {
        child.kill(signal);
      } catch {
        // already exited
      }
    },
  };
}
