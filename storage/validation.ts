/**
 * Validation of API objects: the one entry point {@linkcode validateObject} that turns an
 * untrusted request body into a defaulted, normalised {@linkcode KubeObject} or an
 * {@linkcode ApiError}, plus the Kubernetes name/label/key rules (with Kubernetes' exact
 * messages) that kinds reuse for their cross-field checks.
 *
 * @example
 * ```ts
 * const { object, warnings } = validateObject(configMaps, body, { fieldValidation: "Warn" });
 * ```
 *
 * @module
 */

import type { z } from "zod";
import { isPlainObject, type KubeObject } from "./object.ts";
import { apiVersionOf, type ResourceType } from "./resource.ts";
import {
  ApiError,
  invalidValue,
  notSupportedValue,
  requiredValue,
  type StatusCause,
} from "./status.ts";

// ---------------------------------------------------------------------------------------------
// Name and key rules (k8s.io/apimachinery/pkg/util/validation)
// ---------------------------------------------------------------------------------------------

const DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const DNS1123_SUBDOMAIN_FMT = `${DNS1123_LABEL_FMT}(\\.${DNS1123_LABEL_FMT})*`;
const DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?";
const QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]";
const LABEL_VALUE_FMT = `(${QNAME_FMT})?`;
const CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+";

const DNS1123_LABEL_RE = new RegExp(`^${DNS1123_LABEL_FMT}$`);
const DNS1123_SUBDOMAIN_RE = new RegExp(`^${DNS1123_SUBDOMAIN_FMT}$`);
const DNS1035_LABEL_RE = new RegExp(`^${DNS1035_LABEL_FMT}$`);
const QNAME_RE = new RegExp(`^${QNAME_FMT}$`);
const LABEL_VALUE_RE = new RegExp(`^${LABEL_VALUE_FMT}$`);
const CONFIG_KEY_RE = new RegExp(`^${CONFIG_KEY_FMT}$`);

/** Maximum length of a DNS-1123 label (63). */
export const DNS1123_LABEL_MAX_LENGTH = 63;
/** Maximum length of a DNS-1123 subdomain (253). */
export const DNS1123_SUBDOMAIN_MAX_LENGTH = 253;
/** Maximum total size of `metadata.annotations` in bytes (256 KiB). */
export const TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024;

const encoder = new TextEncoder();

/** Length in UTF-8 bytes, as Go's `len(string)`. */
export function byteLength(s: string): number {
  return encoder.encode(s).length;
}

/** `must be no more than N characters` */
function maxLenError(n: number): string {
  return `must be no more than ${n} characters`;
}

/** apimachinery's `RegexError`, including its double space before each "or". */
function regexError(msg: string, fmt: string, ...examples: string[]): string {
  if (examples.length === 0) return `${msg} (regex used for validation is '${fmt}')`;
  return `${msg} (e.g. ${
    examples.map((e) => `'${e}', `).join(" or ")
  }regex used for validation is '${fmt}')`;
}

/** True when `s` is a DNS-1123 label: lower-case alphanumerics and '-', at most 63 bytes. */
export function isDns1123Label(s: string): boolean {
  return s.length <= DNS1123_LABEL_MAX_LENGTH && DNS1123_LABEL_RE.test(s);
}

/** True when `s` is a DNS-1123 subdomain: dot-separated labels, at most 253 bytes. */
export function isDns1123Subdomain(s: string): boolean {
  return s.length <= DNS1123_SUBDOMAIN_MAX_LENGTH && DNS1123_SUBDOMAIN_RE.test(s);
}

/** Kubernetes' `IsDNS1123Label` messages for `s` (empty when valid). */
export function dns1123LabelErrors(s: string): string[] {
  const errs: string[] = [];
  if (byteLength(s) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!DNS1123_LABEL_RE.test(s)) {
    if (DNS1123_SUBDOMAIN_RE.test(s)) errs.push("must not contain dots");
    else {
      errs.push(
        regexError(
          "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character",
          DNS1123_LABEL_FMT,
          "my-name",
          "123-abc",
        ),
      );
    }
  }
  return errs;
}

/** Kubernetes' `IsDNS1123Subdomain` messages for `s` (empty when valid). */
export function dns1123SubdomainErrors(s: string): string[] {
  const errs: string[] = [];
  if (byteLength(s) > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  }
  if (!DNS1123_SUBDOMAIN_RE.test(s)) {
    errs.push(
      regexError(
        "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character",
        DNS1123_SUBDOMAIN_FMT,
        "example.com",
      ),
    );
  }
  return errs;
}

/** Kubernetes' `IsDNS1035Label` messages (Service names) for `s` (empty when valid). */
export function dns1035LabelErrors(s: string): string[] {
  const errs: string[] = [];
  if (byteLength(s) > DNS1123_LABEL_MAX_LENGTH) errs.push(maxLenError(DNS1123_LABEL_MAX_LENGTH));
  if (!DNS1035_LABEL_RE.test(s)) {
    errs.push(
      regexError(
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character",
        DNS1035_LABEL_FMT,
        "my-name",
        "abc-123",
      ),
    );
  }
  return errs;
}

const QNAME_MSG =
  "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character";

/** Kubernetes' `IsQualifiedName` messages (label keys, annotation keys, finalizers). */
export function qualifiedNameErrors(value: string): string[] {
  const errs: string[] = [];
  const parts = value.split("/");
  let name: string;
  if (parts.length === 1) {
    name = parts[0] ?? "";
  } else if (parts.length === 2) {
    const prefix = parts[0] ?? "";
    name = parts[1] ?? "";
    if (prefix.length === 0) errs.push("prefix part must be non-empty");
    else errs.push(...dns1123SubdomainErrors(prefix).map((m) => `prefix part ${m}`));
  } else {
    return [
      `a qualified name ${
        regexError(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc")
      } with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')`,
    ];
  }
  if (name.length === 0) errs.push("name part must be non-empty");
  else if (byteLength(name) > 63) errs.push(`name part ${maxLenError(63)}`);
  if (!QNAME_RE.test(name)) {
    errs.push(`name part ${regexError(QNAME_MSG, QNAME_FMT, "MyName", "my.name", "123-abc")}`);
  }
  return errs;
}

/** Kubernetes' `IsValidLabelValue` messages. */
export function labelValueErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > 63) errs.push(maxLenError(63));
  if (!LABEL_VALUE_RE.test(value)) {
    errs.push(
      regexError(
        "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character",
        LABEL_VALUE_FMT,
        "MyValue",
        "my_value",
        "12345",
      ),
    );
  }
  return errs;
}

/** Kubernetes' `IsConfigMapKey` messages (ConfigMap and Secret data keys). */
export function configKeyErrors(value: string): string[] {
  const errs: string[] = [];
  if (byteLength(value) > DNS1123_SUBDOMAIN_MAX_LENGTH) {
    errs.push(maxLenError(DNS1123_SUBDOMAIN_MAX_LENGTH));
  }
  if (!CONFIG_KEY_RE.test(value)) {
    errs.push(
      regexError(
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'",
        CONFIG_KEY_FMT,
        "key.name",
        "KEY_NAME",
        "key-name",
      ),
    );
  }
  if (value === ".") errs.push("must not be '.'");
  else if (value === "..") errs.push("must not be '..'");
  else if (value.startsWith("..")) errs.push("must not start with '..'");
  return errs;
}

/** Kubernetes' `IsValidPortName` messages (IANA service names: container and service ports). */
export function portNameErrors(name: string): string[] {
  const errs: string[] = [];
  if (name.length > 15) errs.push(maxLenError(15));
  if (!/^[-a-z0-9]+$/.test(name)) {
    errs.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)");
  }
  if (!/[a-z]/.test(name)) errs.push("must contain at least one letter (a-z)");
  if (name.includes("--")) errs.push("must not contain consecutive hyphens");
  if (name.startsWith("-") || name.endsWith("-")) errs.push("must not begin or end with a hyphen");
  return errs;
}

/** Kubernetes' `IsValidPortNum` message, or empty when 1 ≤ port ≤ 65535. */
export function portNumberErrors(port: number): string[] {
  return Number.isInteger(port) && port >= 1 && port <= 65535
    ? []
    : ["must be between 1 and 65535, inclusive"];
}

// ---------------------------------------------------------------------------------------------
// Causes Kubernetes words beyond those in status.ts
// ---------------------------------------------------------------------------------------------

/** A cause for a repeated value (`Duplicate value: "x"`). */
export function duplicateValue(field: string, value: unknown): StatusCause {
  return { reason: "FieldValueDuplicate", field, message: `Duplicate value: ${shown(value)}` };
}

/** A cause for a forbidden field (`Forbidden: <detail>`). */
export function forbidden(field: string, detail: string): StatusCause {
  return { reason: "FieldValueForbidden", field, message: `Forbidden: ${detail}` };
}

/** A cause for a reference to something that does not exist (`Not found: "x"`). */
export function notFoundValue(field: string, value: unknown): StatusCause {
  return { reason: "FieldValueNotFound", field, message: `Not found: ${shown(value)}` };
}

/** A cause for a value over a size limit (`Too long: may not be more than N bytes`). */
export function tooLong(field: string, max: number): StatusCause {
  return {
    reason: "FieldValueTooLong",
    field,
    message: `Too long: may not be more than ${max} ${max === 1 ? "byte" : "bytes"}`,
  };
}

/** An `Invalid value` cause whose shown value is bounded in size (long strings are cut). */
export function invalid(field: string, value: unknown, detail: string): StatusCause {
  return invalidValue(field, boundedValue(value), detail);
}

function boundedValue(value: unknown): unknown {
  if (typeof value === "string" && value.length > 256) return `${value.slice(0, 256)}...`;
  if (typeof value === "object" && value !== null) {
    const text = safeStringify(value);
    return text.length > 256 ? `${text.slice(0, 256)}...` : value;
  }
  return value;
}

function safeStringify(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "null";
  } catch {
    return String(Object.prototype.toString.call(value));
  }
}

function shown(value: unknown): string {
  return safeStringify(boundedValue(value));
}

/** `Invalid value` causes for each message of a name rule, at `field`. */
export function causesFor(field: string, value: string, messages: string[]): StatusCause[] {
  return messages.map((m) => invalid(field, value, m));
}

/** Causes for a labels map (`metadata.labels` or a template's), as Kubernetes' `ValidateLabels`. */
export function validateLabels(labels: unknown, field: string): StatusCause[] {
  if (!isPlainObject(labels)) return [];
  const causes: StatusCause[] = [];
  for (const [k, v] of Object.entries(labels)) {
    causes.push(...causesFor(field, k, qualifiedNameErrors(k)));
    if (typeof v === "string") causes.push(...causesFor(field, v, labelValueErrors(v)));
  }
  return causes;
}

/** Causes for an annotations map, as Kubernetes' `ValidateAnnotations`. */
export function validateAnnotations(annotations: unknown, field: string): StatusCause[] {
  if (!isPlainObject(annotations)) return [];
  const causes: StatusCause[] = [];
  let total = 0;
  for (const [k, v] of Object.entries(annotations)) {
    causes.push(...causesFor(field, k, qualifiedNameErrors(k.toLowerCase())));
    total += byteLength(k) + (typeof v === "string" ? byteLength(v) : 0);
  }
  if (total > TOTAL_ANNOTATION_SIZE_LIMIT) causes.push(tooLong(field, TOTAL_ANNOTATION_SIZE_LIMIT));
  return causes;
}

// ---------------------------------------------------------------------------------------------
// validateObject
// ---------------------------------------------------------------------------------------------

/** How unknown fields are treated, as the `fieldValidation` query parameter. */
export type FieldValidation = "Strict" | "Warn" | "Ignore";

/** Options of {@linkcode validateObject}. */
export interface ValidateOptions {
  fieldValidation: FieldValidation;
  /** the stored object on update */
  old?: KubeObject;
}

/** What {@linkcode validateObject} returns: the object to store and warnings for the client. */
export interface ValidateResult {
  object: KubeObject;
  warnings: string[];
}

/** Deepest nesting of a request body we accept. */
const MAX_DEPTH = 512;
/** How many times unknown fields are stripped and the body parsed again. */
const MAX_STRIP_ROUNDS = 8;

/**
 * Decodes, defaults, normalises and validates an object of kind `rt`.
 *
 * Steps: body must be a JSON object; `apiVersion`/`kind` must match `rt` (filled in when
 * absent); the kind's schema is applied (defaults included); unknown fields are rejected
 * (`Strict`), reported as warnings (`Warn`) or dropped (`Ignore`); then, on create (no `old`),
 * `rt.prepareForCreate`; then `rt.normalize`, the metadata rules and `rt.validate`. Throws only
 * {@linkcode ApiError}: `BadRequest` for bodies that cannot be decoded, `Invalid` (422) with
 * field causes otherwise.
 */
export function validateObject(
  rt: ResourceType,
  input: unknown,
  options: ValidateOptions,
): ValidateResult {
  try {
    return _validateObject(rt, input, options);
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw ApiError.badRequest(
      `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: ${
        e instanceof Error ? e.message : String(e)
      }`,
    );
  }
}

function _validateObject(
  rt: ResourceType,
  input: unknown,
  options: ValidateOptions,
): ValidateResult {
  const apiVersion = apiVersionOf(rt);
  if (!isPlainObject(input)) {
    throw ApiError.badRequest(
      `${rt.kind} in version "${rt.version}" cannot be handled as a ${rt.kind}: the body must be a JSON object, not ${
        typeName(input)
      }`,
    );
  }
  const unknown: string[] = [];
  let data: Record<string, unknown>;
  try {
    data = _sanitize(input, "", 0, unknown) as Record<string, unknown>;
  } catch (e) {
    if (!(e instanceof ProtoKeyError)) throw e;
    const meta = isPlainObject(input.metadata) ? input.metadata : {};
    throw ApiError.invalid(
      { group: rt.group, resource: rt.plural, kind: rt.kind },
      typeof meta.name === "string" ? meta.name : "",
      [invalidValue(e.field, "__proto__", "keys named __proto__ are not supported")],
    );
  }
  if (data.apiVersion !== undefined && data.apiVersion !== apiVersion) {
    throw ApiError.badRequest(
      `the API version in the data (${
        typeof data.apiVersion === "string" ? data.apiVersion : safeStringify(data.apiVersion)
      }) does not match the expected API version (${apiVersion})`,
    );
  }
  if (data.kind !== undefined && data.kind !== rt.kind) {
    throw ApiError.badRequest(
      `the kind in the data (${
        typeof data.kind === "string" ? data.kind : safeStringify(data.kind)
      }) does not match the expected kind (${rt.kind})`,
    );
  }
  data.apiVersion = apiVersion;
  data.kind = rt.kind;

  let parsed: z.ZodSafeParseResult<unknown> = rt.schema.safeParse(data);
  for (let round = 0; round < MAX_STRIP_ROUNDS && !parsed.success; round++) {
    const found = _stripUnrecognized(data, parsed.error.issues);
    if (found.length === 0) break;
    unknown.push(...found);
    parsed = rt.schema.safeParse(data);
  }

  const warnings: string[] = [];
  if (unknown.length > 0) {
    const messages = unknown.map((p) => `unknown field "${p}"`);
    if (options.fieldValidation === "Strict") {
      throw ApiError.badRequest(`strict decoding error: ${messages.join(", ")}`);
    }
    if (options.fieldValidation === "Warn") warnings.push(...messages);
  }

  const name = _nameOf(data);
  const ref = { group: rt.group, resource: rt.plural, kind: rt.kind };
  if (!parsed.success) {
    const causes = parsed.error.issues.flatMap((issue) => _issueCauses(issue, data));
    throw ApiError.invalid(ref, name, causes.length > 0 ? causes : [invalid("", "", "invalid")]);
  }

  const object = parsed.data as KubeObject;
  if (!rt.namespaced) delete object.metadata.namespace;
  if (!options.old) rt.prepareForCreate?.(object);
  rt.normalize?.(object);
  const causes = [
    ...validateMetadata(rt, object),
    ...(rt.validate?.(object, options.old) ?? []),
  ];
  if (causes.length > 0) throw ApiError.invalid(ref, object.metadata.name ?? name, causes);
  return { object, warnings };
}

/** Causes for the metadata rules every kind shares (`ValidateObjectMeta`). */
export function validateMetadata(rt: ResourceType, obj: KubeObject): StatusCause[] {
  const meta = obj.metadata;
  const causes: StatusCause[] = [];
  const nameErrors = rt.nameRule === "dns1123-label" ? dns1123LabelErrors : dns1123SubdomainErrors;
  if (meta.generateName) {
    // a prefix may end in '-': checked as if it ended in a letter (maskTrailingDash)
    const masked = meta.generateName.length > 1 && meta.generateName.endsWith("-")
      ? `${meta.generateName.slice(0, -1)}a`
      : meta.generateName;
    causes.push(...causesFor("metadata.generateName", meta.generateName, nameErrors(masked)));
  }
  if (!meta.name) {
    if (!meta.generateName) {
      causes.push(requiredValue("metadata.name", "name or generateName is required"));
    }
  } else {
    causes.push(...causesFor("metadata.name", meta.name, nameErrors(meta.name)));
  }
  if (rt.namespaced && meta.namespace !== undefined && meta.namespace !== "") {
    causes.push(
      ...causesFor("metadata.namespace", meta.namespace, dns1123LabelErrors(meta.namespace)),
    );
  }
  causes.push(...validateLabels(meta.labels, "metadata.labels"));
  causes.push(...validateAnnotations(meta.annotations, "metadata.annotations"));
  for (const [i, f] of (meta.finalizers ?? []).entries()) {
    causes.push(...causesFor(`metadata.finalizers[${i}]`, f, qualifiedNameErrors(f)));
  }
  return causes;
}

function _nameOf(data: Record<string, unknown>): string {
  const meta = data.metadata;
  if (isPlainObject(meta) && typeof meta.name === "string") return boundedName(meta.name);
  return "";
}

function boundedName(name: string): string {
  return name.length > 256 ? `${name.slice(0, 256)}...` : name;
}

/**
 * A deep copy of JSON data without `null` members (Go decodes them as absent) and without
 * `__proto__` keys (recorded as unknown fields). Throws BadRequest past {@linkcode MAX_DEPTH}.
 */
/** Raised by `_sanitize` for a `__proto__` key; becomes a 422 naming the field. */
class ProtoKeyError extends Error {
  constructor(readonly field: string) {
    super(`__proto__ key at ${field}`);
  }
}

function _sanitize(v: unknown, path: string, depth: number, unknown: string[]): unknown {
  if (depth > MAX_DEPTH) {
    throw ApiError.badRequest(`object nesting exceeds the maximum depth of ${MAX_DEPTH}`);
  }
  if (Array.isArray(v)) {
    return v.map((item, i) => _sanitize(item, `${path}[${i}]`, depth + 1, unknown));
  }
  if (typeof v === "object" && v !== null) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(v)) {
      const childPath = path ? `${path}.${key}` : key;
      if (key === "__proto__") {
        // Never a Kubernetes field, label or data key worth keeping: refuse it loudly rather
        // than let a plain-object copy swallow it.
        throw new ProtoKeyError(childPath);
      }
      const child = (v as Record<string, unknown>)[key];
      if (child === null || child === undefined) continue;
      out[key] = _sanitize(child, childPath, depth + 1, unknown);
    }
    return out;
  }
  return v;
}

/** Removes every unrecognized key the issues name from `data`; returns their paths. */
function _stripUnrecognized(data: unknown, issues: readonly z.core.$ZodIssue[]): string[] {
  const found: string[] = [];
  for (const issue of issues) {
    if (issue.code !== "unrecognized_keys") continue;
    const holder = _valueAt(data, issue.path);
    if (!isPlainObject(holder)) continue;
    for (const key of issue.keys) {
      if (!Object.hasOwn(holder, key)) continue;
      delete holder[key];
      found.push(formatPath([...issue.path, key]));
    }
  }
  return found;
}

function _valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const seg of path) {
    if (Array.isArray(cur) && typeof seg === "number") cur = cur[seg];
    else if (isPlainObject(cur) && typeof seg === "string" && Object.hasOwn(cur, seg)) {
      cur = cur[seg];
    } else return undefined;
  }
  return cur;
}

/** Fields whose values are maps: their keys print as `[key]` in field paths. */
const MAP_FIELDS = new Set([
  "labels",
  "annotations",
  "data",
  "binaryData",
  "stringData",
  "nodeSelector",
  "capacity",
  "allocatable",
  "limits",
  "requests",
  "overhead",
  "matchLabels",
  "allocatedResources",
]);

/** A zod issue path in Kubernetes' field path form: `spec.containers[0].image`, `data[key]`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = "";
  let prev: PropertyKey | undefined;
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else {
      const key = String(seg);
      const isMapKey = typeof prev === "string" &&
        (MAP_FIELDS.has(prev) ||
          (prev === "selector" && key !== "matchLabels" && key !== "matchExpressions"));
      out += isMapKey ? `[${key}]` : out ? `.${key}` : key;
    }
    prev = seg;
  }
  return out;
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  if (typeof v === "number") return Number.isInteger(v) ? "integer" : "number";
  return typeof v;
}

const EXPECTED_NAMES: Record<string, string> = {
  int: "integer",
  int32: "integer",
  int64: "integer",
  number: "number",
  string: "string",
  boolean: "boolean",
  object: "object",
  array: "array",
  record: "object",
};

function _issueCauses(issue: z.core.$ZodIssue, root: unknown): StatusCause[] {
  if (issue.code === "unrecognized_keys") return [];
  const field = formatPath(issue.path);
  const value = _valueAt(root, issue.path);
  switch (issue.code) {
    case "invalid_type":
      if (value === undefined) return [requiredValue(field)];
      return [
        invalid(
          field,
          typeName(value),
          `must be of type ${EXPECTED_NAMES[issue.expected] ?? issue.expected}`,
        ),
      ];
    case "invalid_value":
      // a missing required enum field, as Kubernetes says it
      if (value === undefined) return [requiredValue(field)];
      return [
        notSupportedValue(field, boundedValue(value), issue.values.map((v) => String(v))),
      ];
    case "too_small":
      return [
        invalid(field, value, _boundMessage("min", issue.origin, issue.minimum, issue.inclusive)),
      ];
    case "too_big":
      return [
        invalid(field, value, _boundMessage("max", issue.origin, issue.maximum, issue.inclusive)),
      ];
    default:
      if (value === undefined) return [requiredValue(field)];
      return [invalid(field, typeof value === "object" ? typeName(value) : value, issue.message)];
  }
}

function _boundMessage(
  side: "min" | "max",
  origin: string,
  bound: number | bigint,
  inclusive: boolean | undefined,
): string {
  if (origin === "array" || origin === "set") {
    return side === "min"
      ? `must have at least ${bound} items`
      : `must have at most ${bound} items`;
  }
  if (origin === "string") {
    return side === "min"
      ? `must be at least ${bound} characters`
      : `must be no more than ${bound} characters`;
  }
  if (side === "min") {
    return inclusive === false
      ? `must be greater than ${bound}`
      : `must be greater than or equal to ${bound}`;
  }
  return inclusive === false
    ? `must be less than ${bound}`
    : `must be less than or equal to ${bound}`;
}
