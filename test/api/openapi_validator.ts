/**
 * Reads requests and answers the way the published OpenAPI document says,
 * with a real JSON Schema 2020-12 validator (Ajv). Everything it knows comes
 * from the document: schemas, parameters, the request bodies' `x-max-*`
 * limits, and the `x-whatwg-url` keyword as the document's description
 * defines it. Formats are annotations there, so Ajv does not assert them.
 *
 * @module
 */
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";

/** A JSON object. */
export type Json = Record<string, unknown>;

const DOC_ID = "https://jobqueue.invalid/openapi.json";

/** `#/...` references made absolute, so any part of the document compiles on its own. */
function absolute(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(absolute);
  if (typeof value !== "object" || value === null) return value;
  return Object.fromEntries(
    Object.entries(value).map((
      [k, v],
    ) => [
      k,
      k === "$ref" && typeof v === "string" && v.startsWith("#") ? DOC_ID + v : absolute(v),
    ]),
  );
}

/** Nesting depth of a JSON value (a scalar is 0, `[]` and `{}` are 1). */
export function depthOf(value: unknown): number {
  if (typeof value !== "object" || value === null) return 0;
  let max = 0;
  for (const v of Object.values(value)) max = Math.max(max, depthOf(v));
  return max + 1;
}

function newAjv(coerce: boolean): Ajv2020 {
  // strictRequired/strictTypes are style lints (e.g. `required` inside `not`), not correctness.
  const ajv = new Ajv2020({
    strict: true,
    strictRequired: false,
    strictTypes: false,
    validateFormats: false,
    allErrors: false,
    coerceTypes: coerce,
  });
  ajv.addKeyword({
    keyword: "x-whatwg-url",
    type: "string",
    schemaType: "boolean",
    validate: (on: boolean, value: string) => !on || URL.canParse(value.trim()),
  });
  // The wrapper's keyword holding the document's components.
  ajv.addKeyword({ keyword: "components" });
  return ajv;
}

/** One documented operation's answer for a status. */
export interface DocumentedResponse {
  status: string;
  /** Media types of its body. */
  media: string[];
  /** `error.code`s an error answer may carry; empty for a success. */
  codes: string[];
}

/** The published document as a validator. */
export class SpecValidator {
  readonly doc: Json;
  readonly #abs: Json;
  readonly #ajv = newAjv(false);
  readonly #queryAjv = newAjv(true);
  readonly #compiled = new Map<string, ValidateFunction>();

  constructor(doc: Json) {
    this.doc = doc;
    this.#abs = absolute(doc) as Json;
    const components = this.#abs.components;
    this.#ajv.addSchema({ $id: DOC_ID, components });
    this.#queryAjv.addSchema({ $id: DOC_ID, components });
  }

  /** The operation object of `method path` (path as in the document, `{id}`). */
  operation(path: string, method: string): Json {
    const item = (this.#abs.paths as Record<string, Json>)[path];
    const op = item?.[method.toLowerCase()] as Json | undefined;
    if (!op) throw new Error(`not documented: ${method} ${path}`);
    return op;
  }

  /** Every documented (path, method) pair, methods upper-case. */
  operations(): Array<{ path: string; method: string }> {
    return Object.entries(this.doc.paths as Record<string, Json>).flatMap(([path, item]) =>
      Object.keys(item).map((m) => ({ path, method: m.toUpperCase() }))
    );
  }

  #validator(key: string, schema: Json, coerce = false): ValidateFunction {
    let v = this.#compiled.get(key);
    if (!v) {
      v = (coerce ? this.#queryAjv : this.#ajv).compile(schema);
      this.#compiled.set(key, v);
    }
    return v;
  }

  /** True when `value` matches `components.schemas[name]`. */
  matches(name: string, value: unknown): boolean {
    return this.#validator(`schema ${name}`, { $ref: `${DOC_ID}#/components/schemas/${name}` })(
      value,
    );
  }

  /** True when `value` matches `schema`, a schema written against this document (its `#/` refs). */
  matchesSchema(key: string, schema: Json, value: unknown): boolean {
    return this.#validator(`extra ${key}`, absolute(schema) as Json)(value);
  }

  /**
   * True when the JSON `body` is a valid request body of the operation:
   * its schema, and the limits no schema keyword can say.
   */
  bodyValid(path: string, method: string, body: unknown, bytes: number): boolean {
    const requestBody = this.operation(path, method).requestBody as Json;
    if (bytes > (requestBody["x-max-body-bytes"] as number)) return false;
    if (depthOf(body) > (requestBody["x-max-json-depth"] as number)) return false;
    const schema = (requestBody.content as Record<string, Json>)["application/json"].schema as Json;
    return this.#validator(`body ${method} ${path}`, schema)(body);
  }

  /** True when the body limits alone (size, depth) admit it. */
  bodyLimitsOk(path: string, method: string, body: unknown, bytes: number): boolean {
    const requestBody = this.operation(path, method).requestBody as Json;
    return bytes <= (requestBody["x-max-body-bytes"] as number) &&
      depthOf(body) <= (requestBody["x-max-json-depth"] as number);
  }

  #parameters(path: string, method: string, where: string): Json[] {
    const params = (this.operation(path, method).parameters ?? []) as Json[];
    return params.filter((p) => p.in === where);
  }

  /**
   * True when the query is valid: every listed parameter's schema (values
   * coerced from text the way Ajv's `coerceTypes` does, as most OpenAPI
   * validators do), required ones present, and no parameter that is not
   * listed (the document says those are refused).
   */
  queryValid(path: string, method: string, query: URLSearchParams): boolean {
    const params = this.#parameters(path, method, "query");
    const names = new Set(params.map((p) => p.name as string));
    for (const key of query.keys()) if (!names.has(key)) return false;
    for (const p of params) {
      const values = query.getAll(p.name as string);
      if (values.length === 0) {
        if (p.required) return false;
        continue;
      }
      if (values.length > 1) return false; // no parameter here is an array
      // Ajv's coercion reads "Infinity" as a number within any bound; no server takes it.
      const type = (p.schema as Json).type;
      if ((type === "integer" || type === "number") && !Number.isFinite(Number(values[0]))) {
        return false;
      }
      const wrapper = { type: "object", properties: { v: p.schema } };
      const v = this.#validator(`query ${method} ${path} ${p.name}`, wrapper, true);
      if (!v({ v: values[0] })) return false;
    }
    return true;
  }

  /** True when header `name` (as HTTP delivers it, or absent) is valid for the operation. */
  headerValid(path: string, method: string, name: string, value: string | null): boolean {
    const p = this.#parameters(path, method, "header")
      .find((h) => (h.name as string).toLowerCase() === name.toLowerCase());
    if (!p) return true; // not a documented header: not the document's concern
    if (value === null) return !p.required;
    return this.#validator(`header ${method} ${path} ${name}`, p.schema as Json)(value);
  }

  /** The documented responses of an operation, `$ref`s followed. */
  responses(path: string, method: string): Map<string, Json> {
    const out = new Map<string, Json>();
    const all = this.operation(path, method).responses as Record<string, Json>;
    for (const [status, response] of Object.entries(all)) {
      out.set(status, this.#resolve(response));
    }
    return out;
  }

  #resolve(response: Json): Json {
    const target = response.$ref;
    if (typeof target !== "string") return response;
    const name = target.slice(`${DOC_ID}#/components/responses/`.length);
    return (this.#abs.components as Record<string, Record<string, Json>>).responses[name];
  }

  /** Status, media types and error codes of each documented response. */
  documented(path: string, method: string): DocumentedResponse[] {
    return [...this.responses(path, method)].map(([status, response]) => {
      const content = (response.content ?? {}) as Record<string, Json>;
      const schema = content["application/json"]?.schema as Json | undefined;
      const narrowed = (schema?.allOf as Json[] | undefined)?.[1] as
        | { properties: { error: { properties: { code: { enum: string[] } } } } }
        | undefined;
      return {
        status,
        media: Object.keys(content),
        codes: narrowed?.properties.error.properties.code.enum ?? [],
      };
    });
  }

  /**
   * Why an answer is not what the document says (null when it is): its status
   * must be documented, its JSON body must match that response's schema, and
   * an error's code must be one the response lists.
   */
  answerProblem(path: string, method: string, status: number, body: unknown): string | null {
    const response = this.responses(path, method).get(String(status));
    if (!response) return `status ${status} is not documented for ${method} ${path}`;
    const content = (response.content ?? {}) as Record<string, Json>;
    const schema = content["application/json"]?.schema as Json | undefined;
    if (!schema) return null;
    const v = this.#validator(`answer ${method} ${path} ${status}`, schema);
    if (!v(body)) {
      return `${method} ${path} ${status} body does not match the document: ${
        JSON.stringify(v.errors?.slice(0, 3))
      } in ${JSON.stringify(body).slice(0, 300)}`;
    }
    return null;
  }
}
