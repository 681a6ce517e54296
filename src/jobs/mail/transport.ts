/**
 * The pluggable mail transport and the choice between the built-in ones.
 * Configuration is read lazily (inside the handler), because job modules are
 * also imported by restricted worker threads that may not read env.
 *
 * @module
 */
import type { OutgoingMail } from "./message.ts";
import { FileTransport } from "./file_transport.ts";
import { SmtpTransport } from "./smtp_transport.ts";

/** Sends rendered mail somewhere. */
export interface MailTransport {
  /** Short name reported in job results ("file", "smtp"). */
  readonly name: string;
  send(mail: OutgoingMail, signal: AbortSignal): Promise<{ message_id: string }>;
}

/** Default outbox folder when EMAIL_OUTBOX_DIR is unset. */
export const DEFAULT_OUTBOX_DIR = "./data/outbox";

function env(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined; // no env permission: fall back to defaults
  }
}

/** SMTP when SMTP_URL is set, else `.eml` files in EMAIL_OUTBOX_DIR (default ./data/outbox). */
export function transportFromEnv(): MailTransport {
  const smtp = env("SMTP_URL");
  if (smtp) return SmtpTransport.fromUrl(smtp, { helo: env("SMTP_HELO") });
  return new FileTransport(env("EMAIL_OUTBOX_DIR") ?? DEFAULT_OUTBOX_DIR);
}
