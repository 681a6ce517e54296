/**
 * `email`: renders an RFC 5322 message and hands it to a transport: `.eml`
 * files in an outbox folder by default, SMTP when SMTP_URL is set.
 *
 * The Message-ID is derived from the job id, so a retry after a crash
 * produces the same message (the file transport overwrites it; SMTP
 * receivers can de-duplicate on it): delivery is at-least-once.
 *
 * @module
 */
import { z } from "zod";
import { defineJob, type JobDefinition } from "./definition.ts";
import { renderMail } from "./mail/message.ts";
import { type MailTransport, transportFromEnv } from "./mail/transport.ts";

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
  /** A transport, or a factory called per job; default: `transportFromEnv()`. */
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
    if (t === undefined) return transportFromEnv();
    return typeof t === "function" ? t() : t;
  };
  return defineJob({
    type: "email",
    description: "Sends a plain-text email: .eml file in the outbox, or SMTP when SMTP_URL is set.",
    schema: emailSchema,
    defaults: { max_attempts: 5, timeout_ms: 60_000 },
    // Outbox folder and SMTP host come from env at run time, so they cannot be
    // listed statically: write (outbox), net (SMTP); env is narrowed to what we read.
    permissions: {
      env: ["SMTP_URL", "SMTP_HELO", "EMAIL_OUTBOX_DIR"],
      read: true,
      write: true,
      net: true,
    },
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

/** The `email` job type with the env-configured transport. */
export const emailJob = createEmailJob();

export default emailJob;
