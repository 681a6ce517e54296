/**
 * A minimal SMTP client (RFC 5321) over Deno.connect: EHLO, STARTTLS when
 * offered (or implicit TLS for smtps://), AUTH PLAIN when the URL has
 * credentials, MAIL FROM, RCPT TO, DATA, QUIT. One connection per message:
 * job throughput is bounded by the worker pool, not by SMTP handshakes.
 *
 * Failure policy: 5xx replies are permanent (NonRetryableError), 4xx replies
 * and connection problems are transient and retried by the queue.
 *
 * With a `policy` (the email job always gives one), the outbound guard checks
 * the address the socket actually connected to before a single byte is sent
 * or read (TLS included: implicit TLS starts only after the check), so a
 * name resolving to a refused address fails the job at once.
 *
 * @module
 */
import { NonRetryableError } from "../definition.ts";
import { assertAllowed, type OutboundPolicy } from "../outbound_guard.ts";
import type { OutgoingMail } from "./message.ts";
import type { MailTransport } from "./transport.ts";

/** Connection settings. */
export interface SmtpOptions {
  hostname: string;
  port: number;
  username?: string;
  password?: string;
  /** Implicit TLS from the first byte (smtps://, usually port 465). */
  tls?: boolean;
  /** Upgrade with STARTTLS when the server offers it (default true). */
  startTls?: boolean;
  /** Name sent with EHLO. */
  helo?: string;
  /** Per-reply timeout. */
  timeoutMs?: number;
  /** The outbound guard's allow list; unset: no check (direct use, tests). */
  policy?: OutboundPolicy;
}

/** A server reply. */
interface Reply {
  code: number;
  lines: string[];
}

/** Error carrying the server's reply; transient (4xx) ones are retried. */
export class SmtpReplyError extends Error {
  constructor(readonly code: number, readonly reply: string, command: string) {
    super(`SMTP ${command} rejected: ${code} ${reply}`);
    this.name = "SmtpReplyError";
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Reads CRLF-terminated lines from a connection. */
class LineReader {
  #buffer = "";
  constructor(private conn: Deno.Conn, private maxLine = 64 * 1024) {}

  async line(): Promise<string> {
    const chunk = new Uint8Array(4096);
    while (true) {
      const end = this.#buffer.indexOf("\r\n");
      if (end >= 0) {
        const line = this.#buffer.slice(0, end);
        this.#buffer = this.#buffer.slice(end + 2);
        return line;
      }
      if (this.#buffer.length > this.maxLine) throw new Error("SMTP reply line too long");
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("SMTP server closed the connection");
      this.#buffer += decoder.decode(chunk.subarray(0, n), { stream: true });
    }
  }
}

/** Escapes lines starting with "." (RFC 5321 §4.5.2) and ends DATA. */
export function dotStuff(raw: string): string {
  const body = raw.replace(/(^|\r\n)\./g, "$1..");
  return `${body.endsWith("\r\n") ? body : body + "\r\n"}.\r\n`;
}

/** Sends mail through an SMTP server. */
export class SmtpTransport implements MailTransport {
  readonly name = "smtp";
  constructor(readonly options: SmtpOptions) {}

  /**
   * Parses `smtp://user:pass@host:port` (default port 25; STARTTLS when
   * offered, `?starttls=false` to skip) or `smtps://…` (implicit TLS, port 465).
   */
  static fromUrl(
    url: string,
    extra: { helo?: string; timeoutMs?: number; policy?: OutboundPolicy } = {},
  ): SmtpTransport {
    const u = new URL(url);
    if (u.protocol !== "smtp:" && u.protocol !== "smtps:") {
      throw new Error(`SMTP_URL must be smtp:// or smtps://, got ${u.protocol}`);
    }
    const tls = u.protocol === "smtps:";
    return new SmtpTransport({
      hostname: u.hostname.replace(/^\[|\]$/g, ""),
      port: u.port ? Number(u.port) : tls ? 465 : 25,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      tls,
      startTls: u.searchParams.get("starttls") !== "false",
      helo: extra.helo,
      timeoutMs: extra.timeoutMs,
      policy: extra.policy,
    });
  }

  async send(mail: OutgoingMail, signal: AbortSignal): Promise<{ message_id: string }> {
    signal.throwIfAborted();
    const o = this.options;
    let conn: Deno.Conn = await Deno.connect({ hostname: o.hostname, port: o.port });
    if (o.policy) {
      const peer = conn.remoteAddr as Deno.NetAddr;
      try {
        assertAllowed(o.policy, { hostname: o.hostname, port: o.port, address: peer.hostname });
      } catch (error) {
        closeQuietly(conn);
        throw error;
      }
    }
    if (o.tls) conn = await Deno.startTls(conn as Deno.TcpConn, { hostname: o.hostname });
    // Closing the socket is the one way to interrupt a pending read.
    const onAbort = () => closeQuietly(conn);
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      let reader = new LineReader(conn);
      const timeoutMs = o.timeoutMs ?? 30_000;
      const read = async (command: string, expect: number[]): Promise<Reply> => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const reply = await Promise.race([
          readReply(reader),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => {
              closeQuietly(conn);
              reject(new Error(`SMTP ${command}: no reply within ${timeoutMs} ms`));
            }, timeoutMs);
          }),
        ]).finally(() => clearTimeout(timer));
        if (!expect.includes(reply.code)) {
          const error = new SmtpReplyError(reply.code, reply.lines.join(" "), command);
          throw reply.code >= 500 ? new NonRetryableError(error.message, { cause: error }) : error;
        }
        return reply;
      };
      const command = async (line: string, expect: number[], label = line.split(" ")[0]) => {
        await writeAll(conn, encoder.encode(`${line}\r\n`));
        return read(label, expect);
      };

      await read("greeting", [220]);
      const helo = o.helo ?? "localhost";
      let ehlo = await command(`EHLO ${helo}`, [250]);
      if (!o.tls && o.startTls !== false && hasExtension(ehlo, "STARTTLS")) {
        await command("STARTTLS", [220]);
        conn = await Deno.startTls(conn as Deno.TcpConn, { hostname: o.hostname });
        reader = new LineReader(conn);
        ehlo = await command(`EHLO ${helo}`, [250]);
      }
      if (o.username !== undefined) {
        const token = btoa(
          String.fromCharCode(...encoder.encode(`\0${o.username}\0${o.password ?? ""}`)),
        );
        await command(`AUTH PLAIN ${token}`, [235], "AUTH");
      }
      await command(`MAIL FROM:<${mail.from}>`, [250], "MAIL FROM");
      for (const rcpt of mail.recipients) await command(`RCPT TO:<${rcpt}>`, [250, 251], "RCPT TO");
      await command("DATA", [354]);
      await writeAll(conn, encoder.encode(dotStuff(mail.raw)));
      await read("DATA", [250]);
      await command("QUIT", [221]).catch(() => {}); // the message is accepted; QUIT is courtesy
      return { message_id: mail.messageId };
    } catch (error) {
      if (signal.aborted) throw signal.reason;
      throw error;
    } finally {
      signal.removeEventListener("abort", onAbort);
      closeQuietly(conn);
    }
  }
}

async function readReply(reader: LineReader): Promise<Reply> {
  const lines: string[] = [];
  while (true) {
    const line = await reader.line();
    const match = /^(\d{3})([ -])?(.*)$/.exec(line);
    if (!match) throw new Error(`malformed SMTP reply: ${line.slice(0, 200)}`);
    lines.push(match[3]);
    if (match[2] !== "-") return { code: Number(match[1]), lines };
    if (lines.length > 1000) throw new Error("SMTP reply has too many lines");
  }
}

function hasExtension(reply: Reply, name: string): boolean {
  return reply.lines.some((l) => l.toUpperCase().split(" ")[0] === name);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < bytes.length) offset += await conn.write(bytes.subarray(offset));
}

function closeQuietly(conn: Deno.Conn): void {
  try {
    conn.close();
  } catch {
    // already closed
  }
}
