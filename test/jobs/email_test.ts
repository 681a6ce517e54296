import assert from "node:assert/strict";
import { NonRetryableError } from "../../src/jobs/definition.ts";
import type { JobContext } from "../../src/jobs/definition.ts";
import {
  createEmailJob,
  type EmailPayload,
  type EmailResult,
  emailSchema,
} from "../../src/jobs/email.ts";
import { FileTransport } from "../../src/jobs/mail/file_transport.ts";
import { encodeHeaderValue, renderMail, rfc5322Date } from "../../src/jobs/mail/message.ts";
import { dotStuff, SmtpTransport } from "../../src/jobs/mail/smtp_transport.ts";
import { type MailTransport, transportFromEnv } from "../../src/jobs/mail/transport.ts";
import { outboundPolicy, OutboundRefusedError } from "../../src/jobs/outbound_guard.ts";
import { startFakeSmtp } from "./fake_smtp.ts";
import { fakeContext } from "./helpers.ts";

const PAYLOAD: EmailPayload = {
  to: "user@example.com",
  subject: "Welcome!",
  body: "Thanks for signing up",
  from: "noreply@example.com",
};

function runWith(transport: MailTransport, ctx: JobContext, payload: EmailPayload = PAYLOAD) {
  return createEmailJob({ transport }).handler(ctx, payload) as Promise<EmailResult>;
}

Deno.test("email schema: the spec's payload; header injection and bad addresses refused", () => {
  assert.deepStrictEqual(emailSchema.parse(PAYLOAD), PAYLOAD);
  for (
    const bad of [
      { ...PAYLOAD, to: "not-an-email" },
      { ...PAYLOAD, from: "a@b.co\r\nBcc: evil@x.io" },
      { ...PAYLOAD, subject: "hi\r\nBcc: evil@x.io" },
      { ...PAYLOAD, cc: ["ok@x.io", "bad"] },
      { ...PAYLOAD, extra: 1 },
      { to: "a@b.co" },
    ]
  ) {
    assert.strictEqual(emailSchema.safeParse(bad).success, false, JSON.stringify(bad));
  }
});

Deno.test("renderMail: RFC 5322 headers, CRLF, 7bit or base64 body", () => {
  const date = new Date("2025-10-21T10:30:00Z");
  const ascii = renderMail({ messageId: "id1@example.com", ...PAYLOAD, cc: ["c@x.io"], date });
  assert.strictEqual(
    ascii.raw,
    [
      "From: noreply@example.com",
      "To: user@example.com",
      "Cc: c@x.io",
      "Subject: Welcome!",
      "Date: Tue, 21 Oct 2025 10:30:00 +0000",
      "Message-ID: <id1@example.com>",
      "MIME-Version: 1.0",
      "Content-Type: text/plain; charset=utf-8",
      "Content-Transfer-Encoding: 7bit",
      "",
      "Thanks for signing up",
      "",
    ].join("\r\n"),
  );
  assert.deepStrictEqual(ascii.recipients, ["user@example.com", "c@x.io"]);
  const utf8 = renderMail({
    messageId: "id2@x",
    ...PAYLOAD,
    subject: "Ça va? 😀",
    body: "héllo\nworld",
    date,
  });
  assert.match(utf8.raw, /Subject: =\?UTF-8\?B\?[A-Za-z0-9+/=]+\?=/);
  assert.match(utf8.raw, /Content-Transfer-Encoding: base64/);
  const b64 = utf8.raw.split("\r\n\r\n")[1].replace(/\r\n/g, "");
  assert.strictEqual(
    new TextDecoder().decode(Uint8Array.from(atob(b64), (c) => c.charCodeAt(0))),
    "héllo\nworld",
  );
  assert.strictEqual(encodeHeaderValue("plain"), "plain");
  assert.strictEqual(rfc5322Date(date), "Tue, 21 Oct 2025 10:30:00 +0000");
  assert.strictEqual(dotStuff(".a\r\nb\r\n.\r\n"), "..a\r\nb\r\n..\r\n.\r\n");
});

Deno.test("email: the file transport writes <job-id>@domain.eml; retries overwrite it", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const transport = new FileTransport(`${dir}/outbox`);
    const { ctx } = fakeContext();
    const result = await runWith(transport, ctx);
    assert.strictEqual(result.message_id, `${ctx.jobId}@example.com`);
    assert.strictEqual(result.transport, "file");
    const files = [...Deno.readDirSync(`${dir}/outbox`)].map((e) => e.name);
    assert.deepStrictEqual(files, [`${ctx.jobId}@example.com.eml`]);
    const text = await Deno.readTextFile(`${dir}/outbox/${files[0]}`);
    assert.match(text, /^From: noreply@example\.com\r\nTo: user@example\.com\r\n/);
    assert.match(text, /\r\n\r\nThanks for signing up\r\n$/);
    await runWith(transport, ctx); // a retry of the same job
    assert.strictEqual([...Deno.readDirSync(`${dir}/outbox`)].length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("email over SMTP: EHLO, AUTH PLAIN, MAIL, RCPT, DATA with dot-stuffing", async () => {
  const server = startFakeSmtp();
  try {
    const transport = SmtpTransport.fromUrl(`smtp://bob:secret@127.0.0.1:${server.port}`);
    const { ctx } = fakeContext();
    const result = await runWith(transport, ctx, {
      ...PAYLOAD,
      cc: ["cc@example.org"],
      body: "hi\n.hidden\nbye",
    });
    assert.strictEqual(result.transport, "smtp");
    assert.strictEqual(result.recipients, 2);
    const [session] = server.sessions;
    assert.deepStrictEqual(session.commands.map((c) => c.split(" ")[0]), [
      "EHLO",
      "AUTH",
      "MAIL",
      "RCPT",
      "RCPT",
      "DATA",
      "QUIT",
    ]);
    assert.deepStrictEqual(session.auth, { username: "bob", password: "secret" });
    assert.strictEqual(session.mailFrom, "noreply@example.com");
    assert.deepStrictEqual(session.rcptTo, ["user@example.com", "cc@example.org"]);
    assert.match(session.data ?? "", /\r\n\.\.hidden\r\n/);
    assert.match(session.data ?? "", new RegExp(`Message-ID: <${ctx.jobId}@example.com>`));
  } finally {
    await server.close();
  }
});

Deno.test("email over SMTP: the guard checks the connected address before any byte", async () => {
  const server = startFakeSmtp();
  try {
    // localhost resolves to loopback: refused by default, at once, nothing said.
    const refused = SmtpTransport.fromUrl(`smtp://localhost:${server.port}`, {
      policy: outboundPolicy([]),
    });
    await assert.rejects(
      runWith(refused, fakeContext().ctx),
      (e: unknown) =>
        e instanceof OutboundRefusedError &&
        new RegExp(`localhost:${server.port} \\(127\\.0\\.0\\.1\\) refused`).test(e.message),
    );
    await new Promise((r) => setTimeout(r, 20));
    assert.deepStrictEqual(server.sessions.flatMap((s) => s.commands), [], "no command was sent");
    // Allowed by the operator (by port here), the same server gets the mail.
    const allowed = SmtpTransport.fromUrl(`smtp://localhost:${server.port}`, {
      policy: outboundPolicy([String(server.port)]),
    });
    assert.strictEqual((await runWith(allowed, fakeContext().ctx)).transport, "smtp");
    assert.ok(server.sessions.some((s) => s.commands.some((c) => c.startsWith("DATA"))));
  } finally {
    await server.close();
  }
});

Deno.test("email over SMTP: 5xx is permanent, 4xx and connection errors are retried", async () => {
  const permanent = startFakeSmtp({ reject: { RCPT: 550 } });
  const transient = startFakeSmtp({ reject: { MAIL: 451 } });
  try {
    await assert.rejects(
      runWith(SmtpTransport.fromUrl(`smtp://127.0.0.1:${permanent.port}`), fakeContext().ctx),
      (e: unknown) => e instanceof NonRetryableError && /550/.test(e.message),
    );
    await assert.rejects(
      runWith(
        SmtpTransport.fromUrl(`smtp://bob:wrong@127.0.0.1:${transient.port}`),
        fakeContext().ctx,
      ),
      (e: unknown) => e instanceof NonRetryableError && /535/.test(e.message),
    );
    await assert.rejects(
      runWith(SmtpTransport.fromUrl(`smtp://127.0.0.1:${transient.port}`), fakeContext().ctx),
      (e: unknown) =>
        e instanceof Error && !(e instanceof NonRetryableError) && /451/.test(e.message),
    );
    await permanent.close();
    await assert.rejects(
      runWith(SmtpTransport.fromUrl(`smtp://127.0.0.1:${permanent.port}`), fakeContext().ctx),
      (e: unknown) => e instanceof Error && !(e instanceof NonRetryableError),
    );
  } finally {
    await permanent.close();
    await transient.close();
  }
});

Deno.test("email over SMTP: a silent server times out; ctx.signal aborts", async () => {
  const server = startFakeSmtp({ silent: true });
  try {
    const slow = new SmtpTransport({ hostname: "127.0.0.1", port: server.port, timeoutMs: 100 });
    await assert.rejects(runWith(slow, fakeContext().ctx), /no reply within 100 ms/);
    const { ctx, controller } = fakeContext();
    const reason = new DOMException("cancelled", "AbortError");
    const running = runWith(SmtpTransport.fromUrl(`smtp://127.0.0.1:${server.port}`), ctx);
    setTimeout(() => controller.abort(reason), 30);
    await assert.rejects(running, (e: unknown) => e === reason);
  } finally {
    await server.close();
  }
});

Deno.test("transportFromEnv: SMTP_URL selects SMTP, else the outbox folder", () => {
  const saved = { smtp: Deno.env.get("SMTP_URL"), outbox: Deno.env.get("EMAIL_OUTBOX_DIR") };
  try {
    Deno.env.delete("SMTP_URL");
    Deno.env.delete("EMAIL_OUTBOX_DIR");
    const file = transportFromEnv();
    assert.ok(file instanceof FileTransport);
    assert.strictEqual(file.dir, `${Deno.cwd()}/data/outbox`, "DATA_DIR/outbox, made absolute");
    Deno.env.set("EMAIL_OUTBOX_DIR", "/tmp/x");
    assert.strictEqual((transportFromEnv() as FileTransport).dir, "/tmp/x");
    Deno.env.set("SMTP_URL", "smtps://u:p%40ss@mail.example.com");
    const smtp = transportFromEnv() as SmtpTransport;
    assert.strictEqual(smtp.name, "smtp");
    assert.deepStrictEqual(
      [smtp.options.hostname, smtp.options.port, smtp.options.tls, smtp.options.password],
      ["mail.example.com", 465, true, "p@ss"],
    );
    assert.ok(smtp.options.policy, "the job's SMTP transport goes through the outbound guard");
  } finally {
    for (const [name, value] of [["SMTP_URL", saved.smtp], ["EMAIL_OUTBOX_DIR", saved.outbox]]) {
      if (value === undefined) Deno.env.delete(name!);
      else Deno.env.set(name!, value);
    }
  }
});
