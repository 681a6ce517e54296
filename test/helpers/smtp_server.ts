/**
 * A real SMTP server implementation (npm `smtp-server`, test-only) on a free
 * loopback port, recording every message it accepts: for end-to-end tests of
 * the email type against something other than our own scripted fake.
 *
 * @module
 */
import { SMTPServer } from "smtp-server";
import type { AddressInfo } from "node:net";

/** One accepted message. */
export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** A running server. */
export interface TestSmtpServer {
  port: number;
  received: ReceivedMail[];
  /** Connections seen, even those that never sent a command. */
  connections(): number;
  close(): Promise<void>;
}

/** Starts the server (no TLS, no auth required). */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let connections = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ["STARTTLS"],
    logger: false,
    onConnect(_session, callback) {
      connections++;
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Uint8Array[] = [];
      stream.on("data", (chunk: Uint8Array) => chunks.push(chunk));
      stream.on("end", () => {
        const envelope = session.envelope;
        received.push({
          from: envelope.mailFrom ? envelope.mailFrom.address : "",
          to: envelope.rcptTo.map((r) => r.address),
          raw: new TextDecoder().decode(concat(chunks)),
        });
        callback();
      });
    },
  });
  const listening = server.listen(0, "127.0.0.1");
  await new Promise<void>((resolve) => listening.once("listening", () => resolve()));
  const port = (listening.address() as AddressInfo).port;
  return {
    port,
    received,
    connections: () => connections,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let offset = 0;
  for (const c of chunks) {
    out.set(c, offset);
    offset += c.byteLength;
  }
  return out;
}
