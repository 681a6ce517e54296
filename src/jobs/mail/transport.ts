/**
 * The pluggable mail transport and the choice between the built-in ones.
 * Configuration is read lazily (inside the handler), because job modules are
 * also imported by restricted worker threads; there it comes from the
 * thread's job settings (`job_settings.ts`), not from env.
 *
 * @module
 */
import type { OutgoingMail } from "./message.ts";
import { FileTransport } from "./file_transport.ts";
import { SmtpTransport } from "./smtp_transport.ts";
import { type JobSettings, jobSettingsFromEnv } from "../job_settings.ts";
import { outboundPolicy } from "../outbound_guard.ts";

/** Sends rendered mail somewhere. */
export interface MailTransport {
  /** Short name reported in job results ("file", "smtp"). */
  readonly name: string;
  send(mail: OutgoingMail, signal: AbortSignal): Promise<{ message_id: string }>;
}

/**
 * SMTP (through the outbound guard) when the settings name a server, else
 * `.eml` files in the outbox.
 */
export function transportFromSettings(settings: JobSettings): MailTransport {
  if (settings.smtpUrl) {
    return SmtpTransport.fromUrl(settings.smtpUrl, {
      helo: settings.smtpHelo,
      policy: outboundPolicy(settings.outboundAllow),
    });
  }
  return new FileTransport(settings.emailOutboxDir);
}

/** The transport this process's environment selects (SMTP_URL, EMAIL_OUTBOX_DIR, DATA_DIR). */
export function transportFromEnv(): MailTransport {
  return transportFromSettings(jobSettingsFromEnv());
}
