/**
 * An OTLP/HTTP trace receiver for tests: `POST /v1/traces` bodies (protobuf,
 * gzip or not) decoded with the official OTLP definitions
 * (`test/fixtures/otlp_proto/`, loaded by protobufjs), kept as flat spans.
 * Any other path is handed to `extra` (a test's webhook target, say).
 *
 * @module
 */
import protobuf from "protobufjs";

const PROTO_ROOT = new URL("../fixtures/otlp_proto/", import.meta.url).pathname;

/** One received span, ids as lowercase hex ("" for none). */
export interface ReceivedSpan {
  service: string;
  scope: string;
  name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client, 4 producer, 5 consumer. */
  kind: number;
  traceId: string;
  spanId: string;
  parentSpanId: string;
  traceState: string;
  attributes: Record<string, unknown>;
  /** OTLP status code: 0 unset, 1 ok, 2 error. */
  status: { code: number; message: string };
  events: Array<{ name: string; attributes: Record<string, unknown> }>;
  links: Array<{ traceId: string; spanId: string }>;
}

/** A running receiver. */
export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>`: the value of OTEL_EXPORTER_OTLP_ENDPOINT. */
  url: string;
  spans: ReceivedSpan[];
  /** Export requests received (decoded or not). */
  requests: number;
  /** Waits until `match` finds a span list it accepts, or throws after `ms`. */
  waitFor(what: string, ms: number, done: (spans: ReceivedSpan[]) => boolean): Promise<void>;
  close(): Promise<void>;
}

let requestType: protobuf.Type | null = null;

/** ExportTraceServiceRequest from the official definitions. */
function exportRequestType(): protobuf.Type {
  if (requestType) return requestType;
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => PROTO_ROOT + target;
  root.loadSync("opentelemetry/proto/collector/trace/v1/trace_service.proto");
  requestType = root.lookupType("opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest");
  return requestType;
}

const hex = (bytes: unknown) =>
  bytes instanceof Uint8Array
    ? Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")
    : "";

interface AnyValue {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: number | { toNumber(): number };
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
}

function value(v: AnyValue | undefined): unknown {
  if (!v) return undefined;
  if (v.stringValue !== undefined) return v.stringValue;
  if (v.boolValue !== undefined) return v.boolValue;
  if (v.intValue !== undefined) {
    return typeof v.intValue === "number" ? v.intValue : v.intValue.toNumber();
  }
  if (v.doubleValue !== undefined) return v.doubleValue;
  if (v.arrayValue) return (v.arrayValue.values ?? []).map(value);
  return undefined;
}

function attributes(list: Array<{ key: string; value?: AnyValue }> | undefined) {
  const out: Record<string, unknown> = {};
  for (const kv of list ?? []) out[kv.key] = value(kv.value);
  return out;
}

interface DecodedRequest {
  resourceSpans?: Array<{
    resource?: { attributes?: Array<{ key: string; value?: AnyValue }> };
    scopeSpans?: Array<{
      scope?: { name?: string };
      spans?: Array<{
        traceId: Uint8Array;
        spanId: Uint8Array;
        parentSpanId?: Uint8Array;
        traceState?: string;
        name: string;
        kind?: number;
        attributes?: Array<{ key: string; value?: AnyValue }>;
        status?: { code?: number; message?: string };
        events?: Array<{ name: string; attributes?: Array<{ key: string; value?: AnyValue }> }>;
        links?: Array<{ traceId: Uint8Array; spanId: Uint8Array }>;
      }>;
    }>;
  }>;
}

/** The spans of one protobuf export request. */
export function decodeExport(body: Uint8Array): ReceivedSpan[] {
  const type = exportRequestType();
  const request = type.toObject(type.decode(body), { defaults: false }) as DecodedRequest;
  const out: ReceivedSpan[] = [];
  for (const rs of request.resourceSpans ?? []) {
    const service = String(attributes(rs.resource?.attributes)["service.name"] ?? "");
    for (const ss of rs.scopeSpans ?? []) {
      for (const s of ss.spans ?? []) {
        out.push({
          service,
          scope: ss.scope?.name ?? "",
          name: s.name,
          kind: s.kind ?? 0,
          traceId: hex(s.traceId),
          spanId: hex(s.spanId),
          parentSpanId: hex(s.parentSpanId),
          traceState: s.traceState ?? "",
          attributes: attributes(s.attributes),
          status: { code: s.status?.code ?? 0, message: s.status?.message ?? "" },
          events: (s.events ?? []).map((e) => ({
            name: e.name,
            attributes: attributes(e.attributes),
          })),
          links: (s.links ?? []).map((l) => ({ traceId: hex(l.traceId), spanId: hex(l.spanId) })),
        });
      }
    }
  }
  return out;
}

async function bodyBytes(req: Request): Promise<Uint8Array> {
  const stream = req.headers.get("content-encoding") === "gzip"
    ? req.body!.pipeThrough(new DecompressionStream("gzip"))
    : req.body!;
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Starts a receiver on a free loopback port.
 *
 * @example
 * ```ts
 * const otlp = await startOtlpReceiver();
 * // OTEL_EXPORTER_OTLP_ENDPOINT=otlp.url ...
 * await otlp.waitFor("the attempt span", 10_000, (s) => s.some((x) => x.kind === 5));
 * ```
 */
export function startOtlpReceiver(
  extra?: (req: Request) => Response | Promise<Response>,
): OtlpReceiver {
  const receiver: OtlpReceiver = {
    url: "",
    spans: [],
    requests: 0,
    async waitFor(what, ms, done) {
      const deadline = Date.now() + ms;
      while (!done(receiver.spans)) {
        if (Date.now() > deadline) {
          throw new Error(
            `timed out waiting for ${what}; got ${
              JSON.stringify(receiver.spans.map((s) => s.name))
            }`,
          );
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    close: () => server.shutdown(),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    const path = new URL(req.url).pathname;
    if (req.method === "POST" && path === "/v1/traces") {
      receiver.requests++;
      receiver.spans.push(...decodeExport(await bodyBytes(req)));
      return new Response(new Uint8Array(0), {
        headers: { "content-type": "application/x-protobuf" },
      });
    }
    if (extra) return await extra(req);
    return new Response("not found", { status: 404 });
  });
  receiver.url = `http://127.0.0.1:${server.addr.port}`;
  return receiver;
}
