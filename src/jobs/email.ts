/**
 * `email`: renders an RFC 5322 message and hands it to a transport: `.eml`
 * files in an outbox folder by default, SMTP when SMTP_URL is set. Its
 * threads may write the outbox only, or reach the SMTP host only.
 *
 * The Message-ID is derived from the job id, so a retry after a crash
 * produces the same message (the file transport overwrites it; SMTP
 * receivers can de-duplicate on it): delivery is at-least-once.
 *
 * @module
 */
import { z } from "zod";
import { defineJob, type JobDefinition, type JobPermissions } from "./definition.ts";
import { renderMail } from "./mail/message.ts";
import { type MailTransport, transportFromSettings } from "./mail/transport.ts";
import { type JobSettings, jobSettings } from "./job_settings.ts";
import { SmtpTransport } from "./mail/smtp_transport.ts";

// Header injection guard: no line breaks or NULs in header text. A regex
// rather than a refine, so the published JSON Schema says it too.
const NO_CONTROL = /^[^\r\n\0]*$/;

/** Payload of an email job. */
export const emailSchema = z.object({
  to: z.email().max(254),
  from: z.email().max(254),
  subject: z.string().max(998).regex(NO_CONTROL, "subject must not contain line breaks"),
  body: z.string().max(1024 * 1024),
  cc: z.array(z.email().max(254)).max(50).optional(),
}).strict();

/** Payload type of an email job. */
export type EmailPayload = z.output<typeof emailSchema>;

/** Result of an email job. */
export interface EmailResult {
  message_id: string;
  transport: string;
  recipients: number;
}

/** Options for `createEmailJob`. */
export interface EmailJobOptions {
  /** A transport, or a factory called per job; default: the one the job settings select. */
  transport?: MailTransport | (() => MailTransport);
}

/**
 * Builds the email job type with a given transport (tests, custom providers).
 *
 * @example
 * ```ts
 * const job = createEmailJob({ transport: new FileTransport("/tmp/outbox") });
 * ```
 */
export function createEmailJob(options: EmailJobOptions = {}): JobDefinition<typeof emailSchema> {
  const pick = (): MailTransport => {
    const t = options.transport;
    if (t === undefined) return transportFromSettings(jobSettings());
    return typeof t === "function" ? t() : t;
  };
  return defineJob({
    type: "email",
    description: "Sends a plain-text email: .eml file in the outbox, or SMTP when SMTP_URL is set.",
    schema: emailSchema,
    defaults: { max_attempts: 5, timeout_ms: 60_000 },
    // Exactly what the configured transport needs: the SMTP host, or the
    // outbox (read too: the write-then-rename needs it). No env: the settings
    // reach the thread in its init message.
    permissions: emailPermissions,
    handler: async (ctx, payload): Promise<EmailResult> => {
      const transport = pick();
      const domain = payload.from.split("@")[1];
      const mail = renderMail({
        messageId: `${ctx.jobId}@${domain}`,
        from: payload.from,
        to: payload.to,
        cc: payload.cc,
        subject: payload.subject,
        body: payload.body,
      });
      const { message_id } = await transport.send(mail, ctx.signal);
      ctx.log.info("email sent", { transport: transport.name, recipients: mail.recipients.length });
      return { message_id, transport: transport.name, recipients: mail.recipients.length };
    },
  });
}

/** The email type's thread permissions under `settings`. */
export function emailPermissions(settings: JobSettings): JobPermissions {
  if (!settings.smtpUrl) {
    return { read: [settings.emailOutboxDir], write: [settings.emailOutboxDir] };
  }
  try {
    const { hostname, port } = SmtpTransport.fromUrl(settings.smtpUrl).options;
    return { net: [`${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`] };
  } catch {
    return {}; // a malformed SMTP_URL: the handler reports it
  }
}

/** The `email` job type with the transport the job settings select. */
export const emailJob = createEmailJob();

export default emailJob;
