/**
 * Renders an email as RFC 5322 text (CRLF line endings), shared by every
 * transport so the `.eml` in the outbox is byte-for-byte what SMTP would send.
 *
 * @module
 */

/** What a transport sends: the SMTP envelope plus the rendered message. */
export interface OutgoingMail {
  /** Message-ID without angle brackets. */
  messageId: string;
  /** Envelope sender (MAIL FROM). */
  from: string;
  /** Envelope recipients (RCPT TO): To and Cc. */
  recipients: string[];
  /** The full message, CRLF line endings, ready for DATA. */
  raw: string;
}

/** Fields of a message to render. */
export interface MailFields {
  messageId: string;
  from: string;
  to: string;
  cc?: string[];
  subject: string;
  body: string;
  date?: Date;
}

const encoder = new TextEncoder();

function base64(text: string): string {
  const bytes = encoder.encode(text);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

function isPrintableAscii(text: string): boolean {
  return /^[\x20-\x7e]*$/.test(text);
}

/** RFC 2047 encoded-word for non-ASCII header text (e.g. a Subject with accents). */
export function encodeHeaderValue(text: string): string {
  if (isPrintableAscii(text)) return text;
  // Encode per code point chunk so no encoded-word exceeds 75 characters.
  const words: string[] = [];
  let chunk = "";
  for (const ch of text) {
    if (base64(chunk + ch).length > 45) {
      words.push(`=?UTF-8?B?${base64(chunk)}?=`);
      chunk = "";
    }
    chunk += ch;
  }
  if (chunk) words.push(`=?UTF-8?B?${base64(chunk)}?=`);
  return words.join("\r\n ");
}

/** RFC 5322 date: `Tue, 21 Oct 2025 10:30:00 +0000`. */
export function rfc5322Date(date: Date): string {
  return date.toUTCString().replace(/GMT$/, "+0000");
}

function isAscii(text: string): boolean {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) > 0x7f) return false;
  return true;
}

function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < text.length; i += width) lines.push(text.slice(i, i + width));
  return lines;
}

/**
 * Renders `fields` as a MIME text/plain message. ASCII bodies with short lines
 * go as 7bit (readable in the `.eml`); anything else as base64, which every
 * SMTP server accepts without the 8BITMIME extension.
 *
 * @example
 * ```ts
 * const mail = renderMail({ messageId: "1@x", from: "a@x.io", to: "b@y.io", subject: "Hi", body: "Yo" });
 * ```
 */
export function renderMail(fields: MailFields): OutgoingMail {
  const body = fields.body.replace(/\r\n|\r|\n/g, "\r\n");
  const lines = body.split("\r\n");
  const sevenBit = isAscii(body) && lines.every((l) => l.length <= 998);
  const headers = [
    `From: ${fields.from}`,
    `To: ${fields.to}`,
    ...(fields.cc && fields.cc.length > 0 ? [`Cc: ${fields.cc.join(", ")}`] : []),
    `Subject: ${encodeHeaderValue(fields.subject)}`,
    `Date: ${rfc5322Date(fields.date ?? new Date())}`,
    `Message-ID: <${fields.messageId}>`,
    "MIME-Version: 1.0",
    "Content-Type: text/plain; charset=utf-8",
    `Content-Transfer-Encoding: ${sevenBit ? "7bit" : "base64"}`,
  ];
  const content = sevenBit ? body : wrap(base64(fields.body), 76).join("\r\n");
  return {
    messageId: fields.messageId,
    from: fields.from,
    recipients: [fields.to, ...(fields.cc ?? [])],
    raw: `${headers.join("\r\n")}\r\n\r\n${content}\r\n`,
  };
}
