/**
 * Decodes Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) into
 * the JSON object the client meant, so the rest of the server only ever sees JSON.
 *
 * client-go's typed clients (`kubectl create namespace|configmap|secret|deployment|service|
 * job|cronjob|serviceaccount`, `kubectl debug --copy-to`) send protobuf and do not fall back
 * to JSON on 415. The body is the 4-byte magic `k8s\x00` followed by a `runtime.Unknown`
 * whose `raw` field is the object's own message; see `_protobuf_schema.ts` for the kinds.
 *
 * The JSON is what Go's `encoding/json` prints for the decoded struct, which is also what
 * `kubectl create … --dry-run=client -o json` prints: Go's protobuf encoder writes every
 * non-pointer field, so presence on the wire says little, and the Go types decide instead
 * (`"creationTimestamp": null`, `"resources": {}`, `"status": {}` and so on).
 *
 * @example
 * ```ts
 * const body = new Uint8Array(await c.req.arrayBuffer());
 * const object = decodeProtobufObject(body);
 * // { kind: "Namespace", apiVersion: "v1", metadata: { name: "demo", creationTimestamp: null },
 * //   spec: {}, status: {} }
 * ```
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";
import { ANY_VERSION_KINDS, KINDS, MESSAGES } from "./_protobuf_schema.ts";
import { LEN, malformed, type Tag, VARINT, WireReader } from "./_protobuf_wire.ts";

/** The media type of Kubernetes protobuf bodies. */
export const PROTOBUF_MEDIA_TYPE = "application/vnd.kubernetes.protobuf";

const MAGIC = [0x6b, 0x38, 0x73, 0x00]; // "k8s\0"

type ScalarName = "string" | "int32" | "int64" | "bool" | "bytes";
type SpecialName = "Time" | "MicroTime" | "Quantity" | "IntOrString" | "FieldsV1";

type Base =
  | { kind: "scalar"; name: ScalarName }
  | { kind: "special"; name: SpecialName }
  | { kind: "message"; name: string };

interface Field {
  number: number;
  json: string;
  omitempty: boolean;
  inline: boolean;
  shape: "plain" | "pointer" | "slice" | "map";
  base: Base;
}

interface Message {
  name: string;
  fields: Field[];
  byNumber: Map<number, Field>;
}

/** A decoded message: the value of each field seen on the wire, by field number. */
type Decoded = Map<number, unknown>;

const SCALARS = new Set<string>(["string", "int32", "int64", "bool", "bytes"]);
const SPECIALS = new Set<string>(["Time", "MicroTime", "Quantity", "IntOrString", "FieldsV1"]);

function parseBase(name: string): Base {
  if (SCALARS.has(name)) return { kind: "scalar", name: name as ScalarName };
  if (SPECIALS.has(name)) return { kind: "special", name: name as SpecialName };
  return { kind: "message", name };
}

function compile(name: string): Message {
  const defs = MESSAGES[name];
  if (!defs) throw new Error(`protobuf schema: message ${name} is not defined`);
  const fields = defs.map(([number, tag, type]): Field => {
    const [json = "", ...options] = tag.split(",");
    const [shape, rest]: [Field["shape"], string] = type.startsWith("*")
      ? ["pointer", type.slice(1)]
      : type.startsWith("[]")
      ? ["slice", type.slice(2)]
      : type.startsWith("map[string]")
      ? ["map", type.slice("map[string]".length)]
      : ["plain", type];
    return {
      number,
      json,
      omitempty: options.includes("omitempty"),
      inline: options.includes("inline"),
      shape,
      base: parseBase(rest),
    };
  });
  return { name, fields, byNumber: new Map(fields.map((f) => [f.number, f])) };
}

const COMPILED = new Map<string, Message>();

/** The compiled message `name`; every message reachable from a kind is compiled at load. */
function message(name: string): Message {
  const found = COMPILED.get(name);
  if (found) return found;
  const compiled = compile(name);
  COMPILED.set(name, compiled);
  for (const f of compiled.fields) if (f.base.kind === "message") message(f.base.name);
  return compiled;
}

const WIRE_FORMS = ["Timestamp", "IntOrString", "Quantity", "FieldsV1"];
for (const name of [...Object.values(KINDS), ...Object.values(ANY_VERSION_KINDS), ...WIRE_FORMS]) {
  message(name);
}

const utf8 = new TextDecoder("utf-8", { ignoreBOM: true });

/** The wire type a single value of `base` arrives with (repeated numbers may also be packed). */
function wireOf(base: Base): number {
  return base.kind !== "scalar" || base.name === "string" || base.name === "bytes" ? LEN : VARINT;
}

function expectWire(want: number, tag: Tag, path: string, r: WireReader): void {
  if (tag.wire !== want) {
    throw malformed(
      `wrong wire type ${tag.wire} for ${path} (field ${tag.field}, expected ${want}) ` +
        `before byte ${r.at}`,
    );
  }
}

function readScalar(name: ScalarName, r: WireReader, path: string): unknown {
  switch (name) {
    case "string":
      return utf8.decode(r.sub().bytes);
    case "bytes":
      return r.sub().bytes.slice();
    case "bool":
      return r.varint() !== 0n;
    case "int32":
      return Number(BigInt.asIntN(32, r.varint()));
    case "int64": {
      const at = r.at;
      const v = BigInt.asIntN(64, r.varint());
      if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) {
        throw malformed(`int64 ${v} for ${path} at byte ${at} cannot be represented in JSON`);
      }
      return Number(v);
    }
  }
}

function readValue(base: Base, tag: Tag, r: WireReader, prev: unknown, path: string): unknown {
  expectWire(wireOf(base), tag, path, r);
  switch (base.kind) {
    case "scalar":
      return readScalar(base.name, r, path);
    case "message": {
      const into = prev instanceof Map ? prev as Decoded : new Map();
      decodeInto(message(base.name), r.sub(), into, path);
      return into;
    }
    case "special":
      return readSpecial(base.name, r.sub(), prev, path);
  }
}

function isPackable(base: Base): boolean {
  return base.kind === "scalar" && base.name !== "string" && base.name !== "bytes";
}

function decodeInto(msg: Message, r: WireReader, into: Decoded, path: string): void {
  while (!r.done) {
    const tag = r.tag();
    const field = msg.byNumber.get(tag.field);
    if (!field) {
      r.skip(tag);
      continue;
    }
    const where = `${path}.${field.json || field.base.name}`;
    if (field.shape === "slice") {
      const list = (into.get(field.number) as unknown[] | undefined) ?? [];
      into.set(field.number, list);
      if (tag.wire === LEN && isPackable(field.base)) {
        const packed = r.sub();
        while (!packed.done) list.push(readScalar(field.base.name as ScalarName, packed, where));
      } else {
        list.push(readValue(field.base, tag, r, undefined, where));
      }
    } else if (field.shape === "map") {
      const map = (into.get(field.number) as Map<string, unknown> | undefined) ?? new Map();
      into.set(field.number, map);
      readMapEntry(field.base, tag, r, map, where);
    } else {
      into.set(field.number, readValue(field.base, tag, r, into.get(field.number), where));
    }
  }
}

function readMapEntry(
  base: Base,
  tag: Tag,
  r: WireReader,
  map: Map<string, unknown>,
  path: string,
): void {
  expectWire(LEN, tag, path, r);
  const entry = r.sub();
  let key = "";
  let value: unknown;
  while (!entry.done) {
    const t = entry.tag();
    if (t.field === 1) {
      expectWire(LEN, t, `${path} key`, entry);
      key = utf8.decode(entry.sub().bytes);
    } else if (t.field === 2) {
      value = readValue(base, t, entry, value, `${path}[${JSON.stringify(key)}]`);
    } else {
      entry.skip(t);
    }
  }
  map.set(key, value);
}

// --- types with their own wire and JSON forms ---

/** A decoded metav1.Time or MicroTime: absent bytes mean the zero time. */
interface TimeValue {
  seconds: number;
  nanos: number;
}

function readSpecial(name: SpecialName, r: WireReader, prev: unknown, path: string): unknown {
  switch (name) {
    case "Time":
    case "MicroTime": {
      // metav1.Time.Unmarshal: no bytes is the zero time; otherwise a fresh Timestamp.
      if (r.done) return null;
      const d: Decoded = new Map();
      decodeInto(message("Timestamp"), r, d, path);
      const time: TimeValue = {
        seconds: (d.get(1) as number | undefined) ?? 0,
        nanos: name === "Time" ? 0 : (d.get(2) as number | undefined) ?? 0,
      };
      return time;
    }
    case "Quantity": {
      // resource.Quantity.Unmarshal parses field 1 when present and keeps the old value otherwise.
      const d: Decoded = new Map();
      decodeInto(message("Quantity"), r, d, path);
      const s = d.get(1) as string | undefined;
      if (s === undefined) return prev;
      if (s.trim() === "") throw malformed(`empty quantity for ${path}`);
      return s;
    }
    case "IntOrString": {
      const into = prev instanceof Map ? prev as Decoded : new Map();
      decodeInto(message("IntOrString"), r, into, path);
      return into;
    }
    case "FieldsV1": {
      const into = prev instanceof Map ? prev as Decoded : new Map();
      decodeInto(message("FieldsV1"), r, into, path);
      return into;
    }
  }
}

// --- Go encoding/json of the decoded structs ---

const OMIT = Symbol("omit");

const ZERO: Record<ScalarName, unknown> = {
  string: "",
  int32: 0,
  int64: 0,
  bool: false,
  bytes: new Uint8Array(),
};

function isZero(v: unknown): boolean {
  return v === "" || v === 0 || v === false || (v instanceof Uint8Array && v.length === 0);
}

/** Sets an own enumerable property, even for keys like `__proto__` that come off the wire. */
function setOwn(out: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
}

function base64(bytes: Uint8Array): string {
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

const ZERO_TIME_SECONDS = -62135596800; // 0001-01-01T00:00:00Z, Go's time.Time{}
const MIN_SECONDS = -62167219200; // 0000-01-01T00:00:00Z
const MAX_SECONDS = 253402300799; // 9999-12-31T23:59:59Z

function timeJSON(v: TimeValue | null | undefined, micro: boolean, path: string): unknown {
  if (!v) return null;
  // time.Unix normalises nanoseconds into [0, 1e9).
  const seconds = v.seconds + Math.floor(v.nanos / 1e9);
  const nanos = ((v.nanos % 1e9) + 1e9) % 1e9;
  if (seconds === ZERO_TIME_SECONDS && nanos === 0) return null;
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) {
    throw malformed(`timestamp ${v.seconds}s for ${path} is outside years 0000-9999`);
  }
  const iso = new Date(seconds * 1000).toISOString().slice(0, 19);
  if (!micro) return `${iso}Z`;
  return `${iso}.${String(Math.floor(nanos / 1000)).padStart(6, "0")}Z`;
}

function specialJSON(name: SpecialName, v: unknown, path: string): unknown {
  switch (name) {
    case "Time":
      return timeJSON(v as TimeValue | null | undefined, false, path);
    case "MicroTime":
      return timeJSON(v as TimeValue | null | undefined, true, path);
    case "Quantity":
      return (v as string | undefined) ?? "0";
    case "IntOrString": {
      const d = v as Decoded | undefined;
      const type = (d?.get(1) as number | undefined) ?? 0;
      if (type === 0) return (d?.get(2) as number | undefined) ?? 0;
      if (type === 1) return (d?.get(3) as string | undefined) ?? "";
      throw malformed(`IntOrString type ${type} for ${path} is neither 0 (int) nor 1 (string)`);
    }
    case "FieldsV1": {
      const raw = (v as Decoded | undefined)?.get(1) as Uint8Array | undefined;
      if (raw === undefined) return null;
      try {
        return JSON.parse(utf8.decode(raw));
      } catch {
        throw malformed(`fieldsV1 for ${path} is not valid JSON`);
      }
    }
  }
}

function valueJSON(base: Base, v: unknown, path: string): unknown {
  switch (base.kind) {
    case "scalar": {
      const value = v ?? ZERO[base.name];
      return value instanceof Uint8Array ? base64(value) : value;
    }
    case "special":
      return specialJSON(base.name, v, path);
    case "message":
      return messageJSON(message(base.name), v as Decoded | undefined, {}, path);
  }
}

function fieldJSON(field: Field, v: unknown, path: string): unknown {
  switch (field.shape) {
    case "slice": {
      const list = v as unknown[] | undefined;
      if (!list || list.length === 0) return field.omitempty ? OMIT : null;
      return list.map((e, i) => valueJSON(field.base, e, `${path}[${i}]`));
    }
    case "map": {
      const map = v as Map<string, unknown> | undefined;
      if (!map || map.size === 0) return field.omitempty ? OMIT : null;
      const out: Record<string, unknown> = {};
      for (const key of [...map.keys()].sort()) {
        setOwn(out, key, valueJSON(field.base, map.get(key), `${path}[${JSON.stringify(key)}]`));
      }
      return out;
    }
    case "pointer":
      if (v === undefined) return field.omitempty ? OMIT : null;
      return valueJSON(field.base, v, path);
    case "plain":
      if (field.base.kind === "scalar" && field.omitempty && isZero(v ?? ZERO[field.base.name])) {
        return OMIT;
      }
      return valueJSON(field.base, v, path);
  }
}

function messageJSON(
  msg: Message,
  d: Decoded | undefined,
  out: Record<string, unknown>,
  path: string,
): Record<string, unknown> {
  for (const field of msg.fields) {
    const v = d?.get(field.number);
    if (field.inline) {
      messageJSON(message(field.base.name), v as Decoded | undefined, out, path);
      continue;
    }
    const json = fieldJSON(field, v, `${path}.${field.json}`);
    if (json !== OMIT) setOwn(out, field.json, json);
  }
  return out;
}

// --- the envelope ---

const UNSUPPORTED = "the body of the request was in an unknown format - " +
  "accepted media types include: application/json, application/yaml";

interface Envelope {
  apiVersion: string;
  kind: string;
  raw: WireReader;
}

function readString(tag: Tag, r: WireReader, path: string): string {
  expectWire(LEN, tag, path, r);
  return utf8.decode(r.sub().bytes);
}

function readEnvelope(bytes: Uint8Array): Envelope {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) {
    throw malformed('body does not start with the protobuf magic "k8s\\x00"');
  }
  const r = new WireReader(bytes.subarray(MAGIC.length), MAGIC.length);
  const envelope: Envelope = { apiVersion: "", kind: "", raw: new WireReader(new Uint8Array()) };
  let contentEncoding = "";
  let contentType = "";
  while (!r.done) {
    const tag = r.tag();
    if (tag.field === 1) {
      expectWire(LEN, tag, "Unknown.typeMeta", r);
      const typeMeta = r.sub();
      while (!typeMeta.done) {
        const t = typeMeta.tag();
        if (t.field === 1) envelope.apiVersion = readString(t, typeMeta, "TypeMeta.apiVersion");
        else if (t.field === 2) envelope.kind = readString(t, typeMeta, "TypeMeta.kind");
        else typeMeta.skip(t);
      }
    } else if (tag.field === 2) {
      expectWire(LEN, tag, "Unknown.raw", r);
      envelope.raw = r.sub();
    } else if (tag.field === 3) {
      contentEncoding = readString(tag, r, "Unknown.contentEncoding");
    } else if (tag.field === 4) {
      contentType = readString(tag, r, "Unknown.contentType");
    } else {
      r.skip(tag);
    }
  }
  if (contentEncoding !== "") {
    throw ApiError.badRequest(
      `Cannot decode protobuf body: contentEncoding ${JSON.stringify(contentEncoding)} ` +
        "is not supported",
    );
  }
  if (contentType !== "" && contentType !== PROTOBUF_MEDIA_TYPE) {
    throw ApiError.badRequest(
      `Cannot decode protobuf body: raw contentType ${JSON.stringify(contentType)} ` +
        `is not ${PROTOBUF_MEDIA_TYPE}`,
    );
  }
  if (envelope.kind === "") throw ApiError.badRequest("Object 'Kind' is missing in protobuf body");
  return envelope;
}

/**
 * Decodes a `application/vnd.kubernetes.protobuf` request body into the Kubernetes JSON
 * object it encodes, with `kind` and `apiVersion` taken from the envelope.
 *
 * Throws `ApiError` BadRequest for bytes that are not a well-formed protobuf envelope and
 * message, and UnsupportedMediaType for a kind this decoder has no schema for. Fields the
 * schema does not know are skipped.
 */
export function decodeProtobufObject(bytes: Uint8Array): Record<string, unknown> {
  const { apiVersion, kind, raw } = readEnvelope(bytes);
  const name = KINDS[`${apiVersion}/${kind}`] ?? ANY_VERSION_KINDS[kind];
  if (name === undefined) throw new ApiError("UnsupportedMediaType", UNSUPPORTED);
  const msg = message(name);
  const decoded: Decoded = new Map();
  decodeInto(msg, raw, decoded, kind);
  const out: Record<string, unknown> = { kind, apiVersion };
  return messageJSON(msg, decoded, out, kind);
}
