/**
 * Request plumbing shared by the API handlers: resource paths, bodies with a size cap, query
 * options.
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";
import type { ResourceType } from "../../storage/resource.ts";
import { isDns1123Label, isDns1123Subdomain } from "../../storage/validation.ts";
import { parseYamlDocuments } from "../../storage/yaml.ts";

/** What a resource URL names. */
export interface ResourcePath {
  rt: ResourceType;
  /** namespace from the URL (namespaced kinds only; undefined = all namespaces) */
  namespace?: string;
  /** object name; undefined for collection requests */
  name?: string;
  /** subresource: "status", "scale", "binding", "log", … */
  subresource?: string;
}

/** Resolves `(group, version, plural)` to a served type. */
export type ResourceLookup = (
  group: string,
  version: string,
  plural: string,
) => ResourceType | undefined;

/** Subresources of `namespaces` that share the `/namespaces/{name}/{x}` shape with resources. */
const NAMESPACE_SUBRESOURCES = new Set(["status", "finalize"]);

/**
 * Parse the part of a URL after `/api/v1` or `/apis/{group}/{version}`.
 * Returns undefined when the path names no served resource (→ 404).
 */
export function parseResourcePath(
  lookup: ResourceLookup,
  group: string,
  version: string,
  segments: string[],
): ResourcePath | undefined {
  let namespace: string | undefined;
  let rest = segments;
  if (
    rest[0] === "namespaces" && rest.length >= 3 && !NAMESPACE_SUBRESOURCES.has(rest[2]!)
  ) {
    namespace = rest[1]!;
    rest = rest.slice(2);
  }
  if (rest.length < 1 || rest.length > 3) return undefined;
  const rt = lookup(group, version, rest[0]!);
  if (!rt) return undefined;
  if (namespace !== undefined && !rt.namespaced) return undefined;
  const path: ResourcePath = { rt };
  if (namespace !== undefined) {
    checkSegment("namespace", namespace, true);
    path.namespace = namespace;
  }
  if (rest[1] !== undefined) {
    checkSegment("name", rest[1], rt.nameRule === "dns1123-label");
    path.name = rest[1];
  }
  if (rest[2] !== undefined) path.subresource = rest[2];
  return path;
}

/**
 * A name in a URL that cannot be valid can never be found; reject it before it reaches a store
 * key (no `/`, `..` or control characters ever get near storage).
 */
function checkSegment(what: string, value: string, label: boolean): void {
  const ok = label ? isDns1123Label(value) : isDns1123Subdomain(value);
  if (!ok) {
    throw ApiError.badRequest(`invalid ${what} in request path: ${JSON.stringify(value)}`);
  }
}

/** Read a request body as text, refusing more than `limit` bytes with 413. */
export async function readBodyText(req: Request, limit: number): Promise<string> {
  const all = await readBodyBytes(req, limit);
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(all);
  } catch {
    throw ApiError.badRequest("request body is not valid UTF-8");
  }
}

/** Read a request body, refusing more than `limit` bytes with 413. */
export async function readBodyBytes(req: Request, limit: number): Promise<Uint8Array> {
  const tooLarge = () =>
    new ApiError("RequestEntityTooLarge", `Request entity too large: limit is ${limit}`);
  const declared = Number(req.headers.get("content-length") ?? "NaN");
  if (Number.isFinite(declared) && declared > limit) throw tooLarge();
  if (!req.body) return new Uint8Array();
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  try {
    while (true) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > limit) {
        await reader.cancel();
        throw tooLarge();
      }
      chunks.push(value);
    }
  } finally {
    reader.releaseLock();
  }
  const all = new Uint8Array(size);
  let offset = 0;
  for (const c of chunks) {
    all.set(c, offset);
    offset += c.byteLength;
  }
  return all;
}

/** Parse a JSON request body; malformed JSON → 400 like kube-apiserver. */
export function parseJsonBody(text: string): unknown {
  if (text.trim() === "") throw ApiError.badRequest("request body is empty");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw ApiError.badRequest(
      `the object provided is unrecognized: ${(e as Error).message}`,
    );
  }
  checkNesting(value);
  return value;
}

/** How deep a request body may nest; real Kubernetes objects stay far below it. */
export const MAX_BODY_NESTING = 100;

/**
 * Refuse bodies nested deeper than {@linkcode MAX_BODY_NESTING} before any recursive code
 * (patches, validation) sees them. Iterative, so it cannot overflow the stack itself.
 */
export function checkNesting(value: unknown): void {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== "object" || v === null) continue;
    if (depth >= MAX_BODY_NESTING) {
      throw ApiError.badRequest(`the request body nests deeper than ${MAX_BODY_NESTING} levels`);
    }
    for (const child of Array.isArray(v) ? v : Object.values(v)) stack.push([child, depth + 1]);
  }
}

/** Parse an `application/yaml` request body holding one object. */
export function parseYamlBody(text: string): unknown {
  let docs: unknown[];
  try {
    docs = parseYamlDocuments(text);
  } catch (e) {
    throw ApiError.badRequest(`the object provided is unrecognized: ${(e as Error).message}`);
  }
  if (docs.length !== 1) throw ApiError.badRequest("the request body must hold exactly one object");
  checkNesting(docs[0]);
  return docs[0];
}

/** `fieldValidation` query parameter (default Warn, as kube-apiserver since 1.27). */
export function fieldValidationOf(url: URL): "Strict" | "Warn" | "Ignore" {
  const v = url.searchParams.get("fieldValidation");
  if (v === null || v === "") return "Warn";
  if (v === "Strict" || v === "Warn" || v === "Ignore") return v;
  throw ApiError.badRequest(
    `fieldValidation must be one of "Strict", "Warn" or "Ignore", got ${JSON.stringify(v)}`,
  );
}

/** `dryRun=All` means: validate and answer, but write nothing. */
export function isDryRun(url: URL): boolean {
  const values = url.searchParams.getAll("dryRun");
  for (const v of values) {
    if (v !== "All") {
      throw ApiError.badRequest(`dryRun must be "All" when given, got ${JSON.stringify(v)}`);
    }
  }
  return values.length > 0;
}

/** A non-negative integer query parameter, or undefined when absent. */
export function intParam(url: URL, name: string): number | undefined {
  const v = url.searchParams.get(name);
  if (v === null || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) {
    throw ApiError.badRequest(`${name} must be a non-negative integer, got ${JSON.stringify(v)}`);
  }
  return Number(v);
}

/** A boolean query parameter (`true`/`1`). */
export function boolParam(url: URL, name: string): boolean {
  const v = url.searchParams.get(name);
  return v === "true" || v === "1";
}

/** Parse a resourceVersion string from a client; "" → undefined. */
export function parseResourceVersion(v: string | null | undefined): number | undefined {
  if (v === null || v === undefined || v === "") return undefined;
  if (!/^\d{1,15}$/.test(v)) {
    throw ApiError.badRequest(`invalid resourceVersion: ${JSON.stringify(v)}`);
  }
  return Number(v);
}
