/**
 * The submit form, generated from each job type's JSON Schema
 * (/api/v1/job-types). The API is the validator: the form has `novalidate`
 * and shows the API's 422 details next to the fields they name. Each click
 * submits with a fresh Idempotency-Key, and an answer lost on the way back
 * (503 outcome_unknown, a network error) is retried with that same key
 * (`submitJob`), so the job is created once. The optional queue field
 * (suggestions from the `#known-queues` datalist) is sent as `queue` when
 * filled; empty submits to the deployment's default queue.
 *
 * @module
 */
import { ApiError, newIdempotencyKey, submitJob } from "./api.js";
import { el, replace } from "./dom.js";

/**
 * @typedef {{type: string, description?: string, schema?: any, defaults?: Record<string, unknown>}} JobType
 * @typedef {{name: string, kind: "string" | "number" | "integer" | "boolean" | "enum" | "json",
 *   input: HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement, error: HTMLElement,
 *   required: boolean, wrapper: HTMLElement}} Field
 */

const OPTION_FIELDS = [
  { name: "priority", label: "Priority (0–100)", min: 0, max: 100 },
  { name: "max_attempts", label: "Max attempts", min: 1, max: 100 },
  { name: "timeout_ms", label: "Timeout (ms)", min: 1 },
  { name: "delay_ms", label: "Delay (ms)", min: 0 },
];

let uid = 0;

/**
 * The JSON Schema type of a property, resolving `anyOf: [X, {type: "null"}]`.
 *
 * @param {any} prop
 * @returns {Field["kind"]}
 */
function kindOf(prop) {
  if (!prop || typeof prop !== "object") return "json";
  if (
    Array.isArray(prop.enum) && prop.enum.every((/** @type {unknown} */ v) => typeof v === "string")
  ) {
    return "enum";
  }
  let type = prop.type;
  if (Array.isArray(type)) type = type.find((/** @type {string} */ t) => t !== "null");
  if (!type && Array.isArray(prop.anyOf)) {
    const nonNull = prop.anyOf.filter((/** @type {any} */ s) => s?.type !== "null");
    if (nonNull.length === 1) return kindOf(nonNull[0]);
  }
  if (type === "string" || type === "number" || type === "integer" || type === "boolean") {
    return type;
  }
  return "json";
}

/**
 * Builds the form inside `root`.
 *
 * @param {HTMLElement} root container
 * @param {JobType[]} types
 * @param {(jobId: string) => void} onSubmitted
 */
export function renderSubmitForm(root, types, onSubmitted) {
  if (types.length === 0) {
    replace(root, el("p", { class: "muted", text: "No job types are registered." }));
    return;
  }
  const typeSelect = /** @type {HTMLSelectElement} */ (el(
    "select",
    { id: "submit-type", name: "type" },
    types.map((t) => el("option", { value: t.type, text: t.type })),
  ));
  const description = el("p", { class: "muted small", id: "submit-type-desc" });
  const fieldsBox = el("div", { class: "fields" });
  const optionsBox = el("div", { class: "fields" });
  const summary = el("div", { class: "form-error", role: "alert", hidden: true });
  const status = el("p", { class: "form-status", role: "status", "aria-live": "polite" });
  const submit = /** @type {HTMLButtonElement} */ (el("button", {
    type: "submit",
    class: "primary",
    text: "Submit job",
  }));

  /** @type {Field[]} */
  let fields = [];
  /** @type {Field[]} */
  let options = [];
  // Kept across job type changes: the queue is not part of a type's schema.
  const queueField = makeField("queue", {
    type: "string",
    title: "Queue",
    description: "Optional; empty submits to the default queue.",
    placeholder: "default queue",
  }, false);
  queueField.input.setAttribute("list", "known-queues");
  /** Every field, in the order of the form. */
  const allFields = () => [queueField, ...fields, ...options];

  const build = () => {
    const jt = types.find((t) => t.type === typeSelect.value) ?? types[0];
    description.textContent = jt.description ?? "";
    const schema = jt.schema ?? {};
    const props = schema && typeof schema.properties === "object" ? schema.properties : null;
    const required = new Set(Array.isArray(schema?.required) ? schema.required : []);
    fields = [];
    if (props) {
      for (const [name, prop] of Object.entries(props)) {
        fields.push(makeField(name, prop, required.has(name)));
      }
    } else {
      // No object schema: edit the whole payload as JSON.
      fields.push(makeField("", { ...schema, title: "Payload (JSON)" }, true));
    }
    replace(fieldsBox, fields.map((f) => f.wrapper));
    options = OPTION_FIELDS.map((o) => {
      const def = jt.defaults?.[o.name];
      return makeField(o.name, {
        type: "integer",
        title: o.label,
        minimum: o.min,
        maximum: o.max,
        placeholder: def === undefined ? "" : `default ${def}`,
      }, false);
    });
    replace(optionsBox, options.map((f) => f.wrapper));
    clearErrors();
  };

  const clearErrors = () => {
    summary.hidden = true;
    replace(summary);
    for (const f of allFields()) {
      f.error.textContent = "";
      f.error.hidden = true;
      f.input.removeAttribute("aria-invalid");
    }
  };

  /**
   * @param {Field} f
   * @param {string} message
   */
  const fieldError = (f, message) => {
    f.error.textContent = f.error.textContent ? `${f.error.textContent}; ${message}` : message;
    f.error.hidden = false;
    f.input.setAttribute("aria-invalid", "true");
  };

  /** @param {string[]} messages */
  const formErrors = (messages) => {
    if (messages.length === 0) return;
    replace(summary, el("ul", {}, messages.map((m) => el("li", { text: m }))));
    summary.hidden = false;
  };

  const form = el(
    "form",
    { novalidate: true, "aria-describedby": "submit-type-desc" },
    el(
      "div",
      { class: "field" },
      el("label", { for: "submit-type", text: "Job type" }),
      typeSelect,
    ),
    description,
    queueField.wrapper,
    el("fieldset", {}, el("legend", { text: "Payload" }), fieldsBox),
    el("details", { class: "options" }, el("summary", { text: "Options" }), optionsBox),
    summary,
    el("div", { class: "actions" }, submit),
    status,
  );

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearErrors();
    status.textContent = "";
    /** @type {Record<string, unknown>} */
    const body = { type: typeSelect.value };
    const queue = queueField.input.value.trim();
    if (queue !== "") body.queue = queue;
    let payload = /** @type {any} */ ({});
    let bad = false;
    for (const f of fields) {
      const r = readField(f);
      if ("error" in r) {
        fieldError(f, r.error);
        bad = true;
      } else if (r.value !== undefined) {
        if (f.name === "") payload = r.value;
        else payload[f.name] = r.value;
      }
    }
    body.payload = payload;
    for (const f of options) {
      const r = readField(f);
      if ("error" in r) {
        fieldError(f, r.error);
        bad = true;
      } else if (r.value !== undefined) body[f.name] = r.value;
    }
    if (bad) return focusFirstInvalid();
    submit.disabled = true;
    status.textContent = "Submitting…";
    try {
      // One key per click: its retries (same key) cannot submit the job twice.
      const res = await submitJob(body, {
        idempotencyKey: newIdempotencyKey(),
        onRetry: (error, retry, of) => {
          status.textContent =
            `No answer from the queue (${error.code}); retrying ${retry}/${of} ` +
            "with the same idempotency key…";
        },
      });
      const id = String(res?.job_id ?? "");
      status.textContent = `Submitted job ${id}`;
      onSubmitted(id);
    } catch (error) {
      status.textContent = "";
      if (error instanceof ApiError) showApiError(error);
      else formErrors([String(error)]);
    } finally {
      submit.disabled = false;
    }
  });

  /** @param {ApiError} error */
  const showApiError = (error) => {
    const unplaced = [];
    const issues = normalizeDetails(error.details);
    for (const issue of issues) {
      const f = findField(issue.path);
      if (f) fieldError(f, issue.message);
      else {unplaced.push(
          issue.path.length ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
        );}
    }
    if (issues.length === 0 || unplaced.length > 0) {
      formErrors([`${error.message}${error.status ? ` (HTTP ${error.status})` : ""}`, ...unplaced]);
    }
    focusFirstInvalid();
  };

  /**
   * The field an error path points at: `payload.to` or `to` -> field "to";
   * `priority` -> the option field; `queue` -> the queue field.
   *
   * @param {string[]} path
   * @returns {Field | undefined}
   */
  const findField = (path) => {
    if (path.length === 0) return undefined;
    if (path.length === 1 && path[0] === "queue") return queueField;
    if (path[0] === "payload") {
      const rest = path.slice(1);
      if (rest.length === 0) return fields.find((f) => f.name === "");
      return fields.find((f) => f.name === rest[0]) ?? fields.find((f) => f.name === "");
    }
    return options.find((f) => f.name === path[0]) ?? fields.find((f) => f.name === path[0]);
  };

  const focusFirstInvalid = () => {
    const first = allFields().find((f) => f.input.getAttribute("aria-invalid") === "true");
    if (first) {
      first.input.closest("details")?.setAttribute("open", "");
      first.input.focus();
    } else if (!summary.hidden) summary.focus?.();
  };

  summary.tabIndex = -1;
  typeSelect.addEventListener("change", build);
  build();
  replace(root, form);
}

/**
 * The validator's wording made human where it is not: a required field left
 * empty reaches the API as missing ("expected string, received undefined").
 *
 * @param {string} message
 */
export function humanMessage(message) {
  return /received undefined$/.test(message) ? "Required: fill this in." : message;
}

/**
 * The API's 422 `details` in one shape: `[{path: string[], message}]`. Accepts
 * arrays of `{path: "a.b" | ["a","b"], message}` and `{field: message}` maps.
 *
 * @param {unknown} details
 * @returns {{path: string[], message: string}[]}
 */
export function normalizeDetails(details) {
  /** @type {{path: string[], message: string}[]} */
  const out = [];
  /** @param {unknown} p */
  const toPath = (p) => {
    if (Array.isArray(p)) return p.map(String);
    if (typeof p === "string" && p !== "") {
      return p.replace(/\[(\d+)\]/g, ".$1").split(".").filter(Boolean);
    }
    return [];
  };
  const list = Array.isArray(details)
    ? details
    : details && typeof details === "object" && Array.isArray(/** @type {any} */ (details).issues)
    ? /** @type {any} */ (details).issues
    : null;
  if (list) {
    for (const item of list) {
      if (item && typeof item === "object") {
        out.push({
          path: toPath(item.path ?? item.field ?? item.loc),
          message: humanMessage(String(item.message ?? item.msg ?? "invalid")),
        });
      } else out.push({ path: [], message: String(item) });
    }
  } else if (details && typeof details === "object") {
    for (const [key, value] of Object.entries(details)) {
      out.push({
        path: toPath(key),
        message: Array.isArray(value) ? value.join("; ") : String(value),
      });
    }
  }
  return out;
}

/**
 * One labelled input for a schema property.
 *
 * @param {string} name property name ("" = the whole payload)
 * @param {any} prop its JSON Schema
 * @param {boolean} required
 * @returns {Field}
 */
function makeField(name, prop, required) {
  const id = `f${++uid}-${name.replace(/[^A-Za-z0-9_-]/g, "_") || "payload"}`;
  const kind = name === "" ? "json" : kindOf(prop);
  const labelText = String(prop?.title ?? name);
  const hintText = typeof prop?.description === "string" ? prop.description : "";
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [hintText ? hintId : "", errorId].filter(Boolean).join(" ");
  const def = prop?.default;
  /** @type {HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement} */
  let input;
  if (kind === "enum") {
    input = /** @type {HTMLSelectElement} */ (el(
      "select",
      { id, name },
      required ? null : el("option", { value: "", text: "—" }),
      prop.enum.map((/** @type {string} */ v) => el("option", { value: v, text: v })),
    ));
    if (typeof def === "string") input.value = def;
  } else if (kind === "boolean") {
    input = /** @type {HTMLInputElement} */ (el("input", { id, name, type: "checkbox" }));
    /** @type {HTMLInputElement} */ (input).checked = def === true;
  } else if (kind === "json") {
    input = /** @type {HTMLTextAreaElement} */ (el("textarea", {
      id,
      name,
      rows: 4,
      spellcheck: "false",
      placeholder: jsonPlaceholder(prop),
    }));
    if (def !== undefined) input.value = JSON.stringify(def, null, 2);
  } else {
    const type = kind === "number" || kind === "integer"
      ? "number"
      : prop?.format === "email"
      ? "email"
      : prop?.format === "uri" || prop?.format === "url"
      ? "url"
      : "text";
    input = /** @type {HTMLInputElement} */ (el("input", {
      id,
      name,
      type,
      step: kind === "integer" ? 1 : kind === "number" ? "any" : undefined,
      min: prop?.minimum,
      max: prop?.maximum,
      placeholder: prop?.placeholder ??
        (Array.isArray(prop?.examples) ? String(prop.examples[0]) : undefined),
      autocomplete: "off",
    }));
    if (def !== undefined && def !== null) input.value = String(def);
    if (type === "text" && (prop?.maxLength ?? 0) > 200) {
      const ta = /** @type {HTMLTextAreaElement} */ (el("textarea", { id, name, rows: 3 }));
      if (def !== undefined && def !== null) ta.value = String(def);
      input = ta;
    }
  }
  input.setAttribute("aria-describedby", describedBy);
  if (required) input.setAttribute("aria-required", "true");
  const error = el("p", { id: errorId, class: "field-error", hidden: true });
  const label = el(
    "label",
    { for: id },
    labelText,
    required ? el("span", { class: "req", "aria-hidden": "true", text: " *" }) : null,
  );
  const wrapper = el(
    "div",
    { class: kind === "boolean" ? "field checkbox" : "field" },
    kind === "boolean" ? [input, label] : [label, input],
    hintText ? el("p", { id: hintId, class: "hint", text: hintText }) : null,
    error,
  );
  return { name, kind, input, error, required, wrapper };
}

/** @param {any} prop */
function jsonPlaceholder(prop) {
  const type = Array.isArray(prop?.type) ? prop.type[0] : prop?.type;
  if (type === "array") return "[ ]  (JSON)";
  if (type === "object") return "{ }  (JSON)";
  return "JSON value";
}

/**
 * Reads a field: `{value}` (undefined = omit) or `{error}` for input that
 * cannot be turned into JSON at all. Range checks are the API's job.
 *
 * @param {Field} f
 * @returns {{value: unknown} | {error: string}}
 */
function readField(f) {
  const input = f.input;
  if (f.kind === "boolean") return { value: /** @type {HTMLInputElement} */ (input).checked };
  const raw = input.value;
  if (raw.trim() === "") return { value: undefined };
  if (f.kind === "number" || f.kind === "integer") {
    const n = Number(raw);
    return Number.isFinite(n) ? { value: n } : { error: "must be a number" };
  }
  if (f.kind === "json") {
    try {
      return { value: JSON.parse(raw) };
    } catch (e) {
      return { error: `not valid JSON (${e instanceof Error ? e.message : String(e)})` };
    }
  }
  return { value: raw };
}
