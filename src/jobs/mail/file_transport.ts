/**
 * The default transport: each message becomes `<message-id>.eml` in an outbox
 * folder. The file name comes from the Message-ID, which comes from the job
 * id, so a retried job overwrites its own file instead of sending twice.
 *
 * @module
 */
import type { OutgoingMail } from "./message.ts";
import type { MailTransport } from "./transport.ts";

/** Writes RFC 5322 `.eml` files to a folder. */
export class FileTransport implements MailTransport {
  readonly name = "file";
  constructor(readonly dir: string) {}

  /** Path of the file a message goes to. */
  pathFor(messageId: string): string {
    const safe = messageId.replace(/[^A-Za-z0-9._@-]/g, "_");
    return `${this.dir.replace(/\/+$/, "")}/${safe}.eml`;
  }

  async send(mail: OutgoingMail, signal: AbortSignal): Promise<{ message_id: string }> {
    signal.throwIfAborted();
    await Deno.mkdir(this.dir, { recursive: true });
    const path = this.pathFor(mail.messageId);
    // Write then rename: a reader of the outbox never sees half a message.
    const tmp = `${path}.tmp`;
    await Deno.writeTextFile(tmp, mail.raw, { signal });
    await Deno.rename(tmp, path);
    return { message_id: mail.messageId };
  }
}
