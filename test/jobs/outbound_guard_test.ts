/**
 * The outbound guard: which addresses are refused, what OUTBOUND_ALLOW
 * opens, the submit-time literal check, and guardedFetch checking every
 * resolved address and every redirect hop.
 */
import assert from "node:assert/strict";
import {
  isIpLiteral,
  literalRefusal,
  outboundPolicy,
  OutboundRefusedError,
  parseAllowEntry,
  refusal,
  specialRange,
} from "../../src/jobs/outbound_guard.ts";
import { checkedAddresses, guardedFetch, type Resolver } from "../../src/jobs/guarded_http.ts";
import { NonRetryableError } from "../../src/jobs/definition.ts";
import { loadConfig } from "../../src/config.ts";

const none = outboundPolicy([]);
const at = (address: string, port = 80, hostname = address) => ({ hostname, port, address });

Deno.test("guard: special ranges are refused, public unicast is not", () => {
  const refused: Record<string, string> = {
    "127.0.0.1": "loopback",
    "127.255.0.9": "loopback",
    "::1": "loopback",
    "::ffff:127.0.0.1": "loopback", // IPv4-mapped counts as IPv4
    "10.1.2.3": "private",
    "172.16.0.1": "private",
    "192.168.1.1": "private",
    "169.254.1.1": "linkLocal",
    "fe80::1": "linkLocal",
    "100.64.0.1": "carrierGradeNat",
    "224.0.0.1": "multicast",
    "ff02::1": "multicast",
    "0.0.0.0": "unspecified",
    "::": "unspecified",
    "240.0.0.1": "reserved",
    "192.0.2.1": "reserved",
    "fc00::1": "uniqueLocal",
    "64:ff9b::a00:1": "rfc6052", // NAT64 of 10.0.0.1
    "169.254.169.254": "cloud metadata",
    "168.63.129.16": "cloud metadata", // Azure, in a public range
    "100.100.100.200": "cloud metadata",
    "fd00:ec2::254": "cloud metadata",
  };
  for (const [address, range] of Object.entries(refused)) {
    assert.strictEqual(specialRange(address), range, address);
    assert.match(refusal(none, at(address)) ?? "", /refused/, address);
  }
  for (const address of ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111"]) {
    assert.strictEqual(specialRange(address), null, address);
    assert.strictEqual(refusal(none, at(address)), null, address);
  }
  assert.strictEqual(specialRange("not-an-ip"), "invalid");
});

Deno.test("guard: OUTBOUND_ALLOW entries: hosts, host:port, ports, IPs and CIDRs", () => {
  const policy = outboundPolicy([
    "hooks.internal",
    "api.internal:8443",
    "9000",
    "10.0.0.0/8",
    "127.0.0.1:8080",
    "[::1]:7000",
    "192.168.5.5",
  ]);
  const ok = (d: ReturnType<typeof at>) => assert.strictEqual(refusal(policy, d), null);
  const no = (d: ReturnType<typeof at>) => assert.match(refusal(policy, d) ?? "", /refused/);
  ok(at("10.9.8.7", 443, "hooks.internal")); // by name, any port
  ok(at("10.9.8.7", 1, "HOOKS.internal."));
  ok(at("172.16.0.2", 8443, "api.internal"));
  no(at("172.16.0.2", 8444, "api.internal"));
  ok(at("127.0.0.1", 9000)); // any destination on that port
  ok(at("10.200.0.1", 5432)); // in the CIDR
  no(at("172.16.0.1", 5432)); // private, outside the CIDR
  ok(at("127.0.0.1", 8080));
  no(at("127.0.0.1", 8081));
  ok(at("::1", 7000));
  no(at("::1", 7001));
  ok(at("192.168.5.5", 1));
  no(at("192.168.5.6", 1));
  ok(at("::ffff:10.0.0.1", 1)); // a mapped address matches its IPv4 range
  assert.deepStrictEqual(parseAllowEntry(":8080"), { kind: "port", port: 8080 });
  for (const bad of ["99999", "host:port", "10.0.0.0/33", "a b", "[::1", "http://x"]) {
    assert.throws(() => parseAllowEntry(bad), /OUTBOUND_ALLOW entry/, bad);
  }
});

Deno.test("guard: OUTBOUND_ALLOW is checked by the configuration", () => {
  assert.deepStrictEqual(loadConfig([], {}).OUTBOUND_ALLOW, []);
  assert.deepStrictEqual(
    loadConfig(["--outbound-allow", "127.0.0.1:8080, 10.0.0.0/8"], {}).OUTBOUND_ALLOW,
    ["127.0.0.1:8080", "10.0.0.0/8"],
  );
  assert.throws(() => loadConfig([], { OUTBOUND_ALLOW: "127.0.0.1:x" }), /OUTBOUND_ALLOW/);
});

Deno.test("guard: literal addresses are refused at submit, names are left for run time", () => {
  const refusedAtSubmit = [
    "http://127.0.0.1:8080/x",
    "http://[::1]/",
    "http://[::ffff:7f00:1]/",
    "http://2130706433/", // 127.0.0.1 as one number: the URL parser normalizes it
    "http://0x7f.1/",
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data/",
    "https://0.0.0.0/",
  ];
  for (const url of refusedAtSubmit) {
    assert.match(literalRefusal(none, new URL(url)) ?? "", /refused/, url);
  }
  for (const url of ["http://localhost/", "https://example.com/", "http://8.8.8.8/"]) {
    assert.strictEqual(literalRefusal(none, new URL(url)), null, url);
  }
  assert.strictEqual(
    literalRefusal(outboundPolicy(["127.0.0.1:8080"]), new URL("http://127.0.0.1:8080/")),
    null,
  );
  assert.match(
    literalRefusal(outboundPolicy(["127.0.0.1:8080"]), new URL("http://127.0.0.1/")) ?? "",
    /127\.0\.0\.1:80 refused/,
    "the URL's default port is the port checked",
  );
  assert.ok(isIpLiteral("[::1]") && isIpLiteral("1.2.3.4") && !isIpLiteral("a.example"));
});

Deno.test("guard: every resolved address is checked; one refused address refuses the name", async () => {
  const fake = (answers: Record<string, string[]>): Resolver => (host) =>
    Promise.resolve((answers[host] ?? []).map((address) => ({
      address,
      family: address.includes(":") ? 6 : 4,
    })));
  const resolve = fake({
    "public.test": ["93.184.216.34"],
    "mixed.test": ["93.184.216.34", "127.0.0.1"],
    "v6.test": ["2606:4700::1", "::1"],
    "internal.test": ["10.0.0.5"],
  });
  assert.deepStrictEqual(
    (await checkedAddresses(none, "public.test", 80, resolve)).map((a) => a.address),
    ["93.184.216.34"],
  );
  for (const host of ["mixed.test", "v6.test", "internal.test"]) {
    await assert.rejects(checkedAddresses(none, host, 80, resolve), OutboundRefusedError, host);
  }
  // Allowed by name: trusted whatever it resolves to; by range: every address in it.
  await checkedAddresses(outboundPolicy(["internal.test"]), "internal.test", 80, resolve);
  await checkedAddresses(outboundPolicy(["10.0.0.0/24"]), "internal.test", 80, resolve);
  // A public address and an allowed loopback one: both pass.
  await checkedAddresses(outboundPolicy(["127.0.0.1"]), "mixed.test", 80, resolve);
  await assert.rejects(checkedAddresses(none, "nowhere.test", 80, resolve), /no address/);
});

Deno.test("guardedFetch: refuses loopback names, follows allowed redirects, refuses a hop to loopback", async () => {
  let hits = 0;
  const target = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => {
    hits++;
    return new Response("internal secret");
  });
  const hop = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const url = new URL(req.url);
    if (url.pathname === "/to-target") {
      return Response.redirect(`http://127.0.0.1:${target.addr.port}/`, 302);
    }
    if (url.pathname === "/loop") return Response.redirect(`${url.origin}/loop`, 307);
    if (url.pathname === "/to-file") return Response.redirect("file:///etc/passwd", 302);
    if (url.pathname === "/see-other") return Response.redirect(`${url.origin}/landing`, 303);
    return new Response(`${req.method} ${url.pathname} ${req.headers.get("host")}`);
  });
  const hopPort = hop.addr.port;
  const onlyHop = outboundPolicy([`127.0.0.1:${hopPort}`]);
  try {
    // Literal and name (localhost resolves to loopback) both refused by default.
    await assert.rejects(
      guardedFetch(`http://127.0.0.1:${target.addr.port}/`, { policy: none }),
      OutboundRefusedError,
    );
    await assert.rejects(
      guardedFetch(`http://localhost:${target.addr.port}/`, { policy: none }),
      (e: unknown) =>
        e instanceof OutboundRefusedError && /localhost:\d+ \(127\.0\.0\.1\)/.test(e.message),
    );
    // The allowed server answers; its redirect to the other loopback port is refused.
    const direct = await guardedFetch(`http://127.0.0.1:${hopPort}/hello`, { policy: onlyHop });
    assert.strictEqual(await direct.text(), `GET /hello 127.0.0.1:${hopPort}`);
    await assert.rejects(
      guardedFetch(`http://127.0.0.1:${hopPort}/to-target`, { policy: onlyHop }),
      (e: unknown) =>
        e instanceof OutboundRefusedError && e.message.includes(`127.0.0.1:${target.addr.port}`),
    );
    assert.strictEqual(hits, 0, "the refused hop was never contacted");
    // Hops are capped; other schemes refused; 303 turns a POST into a GET.
    await assert.rejects(
      guardedFetch(`http://127.0.0.1:${hopPort}/loop`, { policy: onlyHop }),
      (e: unknown) => e instanceof NonRetryableError && /more than 5 redirects/.test(e.message),
    );
    await assert.rejects(
      guardedFetch(`http://127.0.0.1:${hopPort}/to-file`, { policy: onlyHop }),
      /file: URL/,
    );
    const seeOther = await guardedFetch(`http://127.0.0.1:${hopPort}/see-other`, {
      policy: onlyHop,
      method: "POST",
      body: "x",
    });
    assert.strictEqual(await seeOther.text(), `GET /landing 127.0.0.1:${hopPort}`);
    // Allowing both follows the redirect.
    const both = outboundPolicy([`127.0.0.1`]);
    const followed = await guardedFetch(`http://127.0.0.1:${hopPort}/to-target`, { policy: both });
    assert.strictEqual(await followed.text(), "internal secret");
    assert.strictEqual(followed.url, `http://127.0.0.1:${target.addr.port}/`);
  } finally {
    await target.shutdown();
    await hop.shutdown();
  }
});

Deno.test("guardedFetch: connects to the checked address, never resolving the name again", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) => new Response(`host=${req.headers.get("host")}`),
  );
  let lookups = 0;
  // A rebinding resolver: the first answer is the allowed one, later ones would not be.
  const resolve: Resolver = () => {
    lookups++;
    return Promise.resolve([{ address: lookups === 1 ? "127.0.0.1" : "10.9.9.9", family: 4 }]);
  };
  try {
    const res = await guardedFetch(`http://rebind.test:${server.addr.port}/`, {
      policy: outboundPolicy(["127.0.0.1"]),
      resolve,
      headers: new Headers({ host: "other.test" }), // the caller does not pick the Host
    });
    assert.strictEqual(await res.text(), `host=rebind.test:${server.addr.port}`);
    assert.strictEqual(lookups, 1, "one resolution, whose checked answer was used");
  } finally {
    await server.shutdown();
  }
});

Deno.test("guardedFetch: https goes to the checked address and verifies the certificate for the name", async () => {
  const tls = new URL("./fixtures/tls/", import.meta.url);
  const cert = await Deno.readTextFile(new URL("guard_test_cert.pem", tls));
  const key = await Deno.readTextFile(new URL("guard_test_key.pem", tls));
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, cert, key, onListen: () => {} },
    (req) => new Response(`tls host=${req.headers.get("host")}`),
  );
  const port = server.addr.port;
  const resolve: Resolver = () => Promise.resolve([{ address: "127.0.0.1", family: 4 }]);
  const policy = outboundPolicy([`127.0.0.1:${port}`]);
  try {
    const res = await guardedFetch(`https://guard.test:${port}/`, { policy, resolve, ca: [cert] });
    assert.strictEqual(await res.text(), `tls host=guard.test:${port}`);
    // The same checked address under another name: the certificate does not match.
    const other: Resolver = () => Promise.resolve([{ address: "127.0.0.1", family: 4 }]);
    await assert.rejects(
      guardedFetch(`https://other.test:${port}/`, { policy, resolve: other, ca: [cert] }),
      /does not match certificate's altnames/,
    );
    // And the guard still refuses before any TLS when the address is not allowed.
    await assert.rejects(
      guardedFetch(`https://guard.test:${port}/`, { policy: none, resolve, ca: [cert] }),
      OutboundRefusedError,
    );
  } finally {
    await server.shutdown();
  }
});
