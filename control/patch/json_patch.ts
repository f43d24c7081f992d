/**
 * RFC 6902 JSON Patch (`application/json-patch+json`), with kube-apiserver's error statuses.
 *
 * - A body that is not a list of operation objects, an unknown `op`, a missing member or a
 *   malformed JSON Pointer is a malformed patch document: 400 BadRequest.
 * - More than 10000 operations: 413 RequestEntityTooLarge, as kube-apiserver's
 *   `maxJSONPatchOperations`.
 * - An operation that does not apply (missing path, index out of range, failed `test`) is
 *   answered like kube-apiserver's `NewGenericServerResponse(422, …)`: reason Invalid with the
 *   message `the server rejected our request due to an error in our request`. Kubernetes drops
 *   the json-patch text at that point; we keep it as the `patch` cause so kubectl can print it.
 *
 * @example
 * ```ts
 * applyJsonPatch({ spec: { replicas: 1 } }, [
 *   { op: "test", path: "/spec/replicas", value: 1 },
 *   { op: "replace", path: "/spec/replicas", value: 3 },
 * ]); // { spec: { replicas: 3 } }
 * ```
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";
import {
  cloneJson,
  describe,
  getOwn,
  hasOwn,
  isObject,
  jsonEqual,
  patchNotApplicable,
  setOwn,
} from "./_internal.ts";

/** The most operations one JSON patch may hold (kube-apiserver's `maxJSONPatchOperations`). */
export const MAX_JSON_PATCH_OPERATIONS = 10000;

/** One validated RFC 6902 operation. */
export type JsonPatchOperation =
  | { op: "add" | "replace" | "test"; path: string; value: unknown }
  | { op: "remove"; path: string }
  | { op: "move" | "copy"; from: string; path: string };

const OPS = new Set(["add", "remove", "replace", "move", "copy", "test"]);
const ARRAY_INDEX = /^(0|[1-9][0-9]*)$/;

/**
 * Applies an RFC 6902 patch to `doc` and returns the patched document. Neither argument is
 * modified; the result shares no objects with them.
 *
 * @throws {ApiError} 400 for a malformed patch document, 413 for too many operations, 422 when
 * an operation does not apply.
 */
export function applyJsonPatch(doc: unknown, ops: unknown): unknown {
  const operations = parseJsonPatch(ops);
  let result = cloneJson(doc);
  for (const [index, op] of operations.entries()) {
    try {
      result = applyOperation(result, op);
    } catch (err) {
      if (!(err instanceof NotApplicable)) throw err;
      throw patchNotApplicable(`operation ${index} (${op.op}): ${err.message}`);
    }
  }
  return result;
}

/**
 * Validates a decoded JSON patch document and returns its operations.
 *
 * @throws {ApiError} 400 for a malformed document, 413 for more than
 * {@linkcode MAX_JSON_PATCH_OPERATIONS} operations.
 */
export function parseJsonPatch(ops: unknown): JsonPatchOperation[] {
  if (!Array.isArray(ops)) {
    throw ApiError.badRequest(
      `json: cannot unmarshal ${goKind(ops)} into Go value of type jsonpatch.Patch`,
    );
  }
  if (ops.length > MAX_JSON_PATCH_OPERATIONS) {
    throw new ApiError(
      "RequestEntityTooLarge",
      `Request entity too large: The allowed maximum operations in a JSON patch is ${MAX_JSON_PATCH_OPERATIONS}, got ${ops.length}`,
    );
  }
  return ops.map((raw, index) => parseOperation(raw, index));
}

function parseOperation(raw: unknown, index: number): JsonPatchOperation {
  if (!isObject(raw)) {
    throw ApiError.badRequest(
      `json: cannot unmarshal ${goKind(raw)} into Go value of type jsonpatch.Operation`,
    );
  }
  const op = getOwn(raw, "op");
  if (typeof op !== "string" || !OPS.has(op)) {
    throw ApiError.badRequest(
      `invalid JSON patch operation ${index}: unexpected op ${describe(op ?? null)}; ` +
        `supported ops: "add", "remove", "replace", "move", "copy", "test"`,
    );
  }
  const path = pointerMember(raw, "path", index, op);
  switch (op) {
    case "add":
    case "replace":
    case "test":
      if (!hasOwn(raw, "value")) {
        throw ApiError.badRequest(`invalid JSON patch operation ${index} (${op}): missing "value"`);
      }
      return { op, path, value: raw.value };
    case "move":
    case "copy":
      return { op, path, from: pointerMember(raw, "from", index, op) };
    default:
      return { op: "remove", path };
  }
}

function pointerMember(raw: Record<string, unknown>, member: string, index: number, op: string) {
  const value = getOwn(raw, member);
  if (typeof value !== "string") {
    throw ApiError.badRequest(
      `invalid JSON patch operation ${index} (${op}): ` +
        (value === undefined ? `missing "${member}"` : `"${member}" must be a string`),
    );
  }
  if (parsePointer(value) === undefined) {
    throw ApiError.badRequest(
      `invalid JSON patch operation ${index} (${op}): "${member}" is not a JSON pointer: ` +
        describe(value),
    );
  }
  return value;
}

/** Decodes an RFC 6901 pointer into reference tokens, or `undefined` when malformed. */
function parsePointer(pointer: string): string[] | undefined {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) return undefined;
  const tokens: string[] = [];
  for (const raw of pointer.slice(1).split("/")) {
    if (/~(?![01])/.test(raw)) return undefined;
    tokens.push(raw.replaceAll("~1", "/").replaceAll("~0", "~"));
  }
  return tokens;
}

/** An operation that is well formed but does not apply to the document. */
class NotApplicable extends Error {}

function tokensOf(pointer: string): string[] {
  // Pointers were validated by parseJsonPatch.
  return parsePointer(pointer) ?? [];
}

function applyOperation(doc: unknown, op: JsonPatchOperation): unknown {
  switch (op.op) {
    case "add":
      return add(doc, tokensOf(op.path), cloneJson(op.value), op);
    case "remove":
      return remove(doc, tokensOf(op.path), op);
    case "replace": {
      const tokens = tokensOf(op.path);
      if (!exists(doc, tokens)) {
        throw new NotApplicable(`doc is missing key: ${op.path}`);
      }
      return set(doc, tokens, cloneJson(op.value));
    }
    case "test": {
      const tokens = tokensOf(op.path);
      if (!exists(doc, tokens) || !jsonEqual(get(doc, tokens), op.value)) {
        throw new NotApplicable(`testing value ${op.path} failed`);
      }
      return doc;
    }
    case "move": {
      if (op.path !== op.from && op.path.startsWith(`${op.from}/`)) {
        throw new NotApplicable(`cannot move ${op.from} into its own child ${op.path}`);
      }
      const from = tokensOf(op.from);
      if (!exists(doc, from)) throw new NotApplicable(`doc is missing from path: ${op.from}`);
      const value = get(doc, from);
      return add(remove(doc, from, op), tokensOf(op.path), value, op);
    }
    case "copy": {
      const from = tokensOf(op.from);
      if (!exists(doc, from)) throw new NotApplicable(`doc is missing from path: ${op.from}`);
      return add(doc, tokensOf(op.path), cloneJson(get(doc, from)), op);
    }
  }
}

/** The container that holds the last token of `tokens`, or undefined when it does not exist. */
function parentOf(doc: unknown, tokens: string[]): unknown {
  let node = doc;
  for (const token of tokens.slice(0, -1)) {
    if (Array.isArray(node)) {
      if (!ARRAY_INDEX.test(token) || Number(token) >= node.length) return undefined;
      node = node[Number(token)];
    } else if (isObject(node)) {
      if (!hasOwn(node, token)) return undefined;
      node = node[token];
    } else {
      return undefined;
    }
  }
  return node;
}

function exists(doc: unknown, tokens: string[]): boolean {
  if (tokens.length === 0) return true;
  const parent = parentOf(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) return ARRAY_INDEX.test(key) && Number(key) < parent.length;
  return isObject(parent) && hasOwn(parent, key);
}

function get(doc: unknown, tokens: string[]): unknown {
  if (tokens.length === 0) return doc;
  const parent = parentOf(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) return parent[Number(key)];
  return isObject(parent) ? getOwn(parent, key) : undefined;
}

/** Replaces an existing value (the caller checked that it exists). */
function set(doc: unknown, tokens: string[], value: unknown): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) parent[Number(key)] = value;
  else if (isObject(parent)) setOwn(parent, key, value);
  return doc;
}

function add(doc: unknown, tokens: string[], value: unknown, op: JsonPatchOperation): unknown {
  if (tokens.length === 0) return value;
  const parent = parentOf(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) {
    if (key === "-") {
      parent.push(value);
    } else if (ARRAY_INDEX.test(key) && Number(key) <= parent.length) {
      parent.splice(Number(key), 0, value);
    } else {
      throw new NotApplicable(`Unable to access invalid index: ${key} at ${op.path}`);
    }
  } else if (isObject(parent)) {
    setOwn(parent, key, value);
  } else {
    throw new NotApplicable(`doc is missing path: "${op.path}"`);
  }
  return doc;
}

function remove(doc: unknown, tokens: string[], op: JsonPatchOperation): unknown {
  const pointer = op.op === "move" ? op.from : op.path;
  if (tokens.length === 0 || !exists(doc, tokens)) {
    throw new NotApplicable(`doc is missing path: "${pointer}"`);
  }
  const parent = parentOf(doc, tokens);
  const key = tokens[tokens.length - 1] as string;
  if (Array.isArray(parent)) parent.splice(Number(key), 1);
  else if (isObject(parent)) delete parent[key];
  return doc;
}

/** How Go's encoding/json names a JSON value's type in an unmarshal error. */
function goKind(value: unknown): string {
  if (Array.isArray(value)) return "array";
  if (value === null) return "null";
  switch (typeof value) {
    case "object":
      return "object";
    case "string":
      return "string";
    case "boolean":
      return "bool";
    default:
      return "number";
  }
}
