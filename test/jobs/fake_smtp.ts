/**
 * A tiny scripted SMTP server for tests: speaks just enough RFC 5321 for our
 * client and records what it was told.
 *
 * @module
 */

/** What the server saw in one session. */
export interface SmtpSession {
  commands: string[];
  auth?: { username: string; password: string };
  mailFrom?: string;
  rcptTo: string[];
  data?: string;
}

/** Options: reply codes to force for a command (e.g. `{ "RCPT": 550 }`). */
export interface FakeSmtpOptions {
  reject?: Record<string, number>;
  /** Never answer the greeting (for timeouts). */
  silent?: boolean;
}

/** Starts the server; `close()` stops it. */
export function startFakeSmtp(options: FakeSmtpOptions = {}) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const sessions: SmtpSession[] = [];
  const conns = new Set<Deno.Conn>();
  const encoder = new TextEncoder();
  const decoder = new TextDecoder();

  async function serve(conn: Deno.Conn) {
    const session: SmtpSession = { commands: [], rcptTo: [] };
    sessions.push(session);
    const send = (text: string) => conn.write(encoder.encode(text + "\r\n"));
    let buffer = "";
    let inData = false;
    const buf = new Uint8Array(65536);
    try {
      if (options.silent) {
        await conn.read(buf);
        return;
      }
      await send("220 fake.test ESMTP ready");
      while (true) {
        const n = await conn.read(buf);
        if (n === null) return;
        buffer += decoder.decode(buf.subarray(0, n));
        while (true) {
          if (inData) {
            const end = buffer.indexOf("\r\n.\r\n");
            if (end < 0) break;
            session.data = buffer.slice(0, end + 2);
            buffer = buffer.slice(end + 5);
            inData = false;
            await send("250 2.0.0 queued as FAKE1");
            continue;
          }
          const eol = buffer.indexOf("\r\n");
          if (eol < 0) break;
          const line = buffer.slice(0, eol);
          buffer = buffer.slice(eol + 2);
          session.commands.push(line);
          const verb = line.split(/[ :]/)[0].toUpperCase();
          const forced = options.reject?.[verb];
          if (forced) {
            await send(`${forced} forced failure for ${verb}`);
            continue;
          }
          switch (verb) {
            case "EHLO":
              await send("250-fake.test greets you");
              await send("250-AUTH PLAIN LOGIN");
              await send("250 8BITMIME");
              break;
            case "AUTH": {
              const [, user, pass] = atob(line.split(" ")[2]).split("\0");
              session.auth = { username: user, password: pass };
              await send(pass === "secret" ? "235 2.7.0 ok" : "535 5.7.8 bad credentials");
              break;
            }
            case "MAIL":
              session.mailFrom = /<(.*)>/.exec(line)?.[1];
              await send("250 ok");
              break;
            case "RCPT":
              session.rcptTo.push(/<(.*)>/.exec(line)?.[1] ?? "");
              await send("250 ok");
              break;
            case "DATA":
              inData = true;
              await send("354 go ahead");
              break;
            case "QUIT":
              await send("221 bye");
              return;
            default:
              await send("502 not implemented");
          }
        }
      }
    } catch {
      // client went away
    } finally {
      conns.delete(conn);
      try {
        conn.close();
      } catch {
        // closed
      }
    }
  }

  const accepting = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      void serve(conn);
    }
  })().catch(() => {});

  return {
    port: (listener.addr as Deno.NetAddr).port,
    sessions,
    async close() {
      try {
        listener.close();
      } catch {
        // closed already
      }
      for (const c of conns) {
        try {
          c.close();
        } catch {
          // closed
        }
      }
      await accepting;
    },
  };
}
