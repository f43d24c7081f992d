/**
 * RFC 7386 JSON Merge Patch (`application/merge-patch+json`): applying one, computing one from
 * two documents, and the three-way patch `kubectl apply` sends for types without patch
 * strategies (k8s.io/apimachinery `jsonmergepatch.CreateThreeWayJSONMergePatch`).
 *
 * @example
 * ```ts
 * applyMergePatch({ a: "b", c: { d: "e", f: "g" } }, { a: "z", c: { f: null } });
 * // { a: "z", c: { d: "e" } }
 * createMergePatch({ a: 1, b: 2 }, { a: 1, c: 3 }); // { b: null, c: 3 }
 * ```
 *
 * @module
 */

import { cloneJson, hasOwn, isObject, jsonEqual, type JsonObject, setOwn } from "./_internal.ts";

/**
 * Applies an RFC 7386 merge patch: objects merge recursively, `null` deletes a member, and any
 * other value (arrays included) replaces the target. A patch that is not an object replaces
 * the whole document. Neither argument is modified.
 */
export function applyMergePatch(doc: unknown, patch: unknown): unknown {
  if (!isObject(patch)) return cloneJson(patch);
  const result: JsonObject = isObject(doc) ? cloneJson(doc) : {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      delete result[key];
    } else {
      setOwn(result, key, applyMergePatch(hasOwn(result, key) ? result[key] : undefined, value));
    }
  }
  return result;
}

/**
 * The merge patch that turns `original` into `modified`: changed and added members with their
 * new values, removed members as `null`, unchanged members left out (`{}` when nothing
 * changed). A `null` member of `modified` counts as absent. When either side is not an
 * object, the patch is `modified` itself.
 */
export function createMergePatch(original: unknown, modified: unknown): unknown {
  if (!isObject(original) || !isObject(modified)) return cloneJson(modified);
  return diffObjects(original, modified);
}

function diffObjects(original: JsonObject, modified: JsonObject): JsonObject {
  const patch: JsonObject = {};
  for (const key of Object.keys(modified)) {
    const next = modified[key];
    const prev = hasOwn(original, key) ? original[key] : null;
    if (next === null) {
      if (prev !== null) setOwn(patch, key, null);
    } else if (isObject(prev) && isObject(next)) {
      const sub = diffObjects(prev, next);
      if (Object.keys(sub).length > 0) setOwn(patch, key, sub);
    } else if (!jsonEqual(prev, next)) {
      setOwn(patch, key, cloneJson(next));
    }
  }
  for (const key of Object.keys(original)) {
    if (!hasOwn(modified, key) && original[key] !== null) setOwn(patch, key, null);
  }
  return patch;
}

/**
 * The three-way merge patch `kubectl apply` computes for kinds without patch strategies:
 * deletions are the members of `lastApplied` (the `last-applied-configuration` annotation)
 * that `modified` no longer has; changes are the members of `modified` that differ from
 * `current`. Members that only `current` has (set by the server or other clients) are left
 * alone. Returns `{}` when applying would change nothing.
 *
 * @example
 * ```ts
 * createThreeWayMergePatch(
 *   { data: { a: "1", b: "2" } },              // last applied
 *   { data: { a: "1", c: "3" } },              // new manifest
 *   { data: { a: "1", b: "2", x: "server" } }, // live object
 * ); // { data: { b: null, c: "3" } }
 * ```
 */
export function createThreeWayMergePatch(
  lastApplied: Record<string, unknown> | undefined,
  modified: Record<string, unknown>,
  current: Record<string, unknown>,
): Record<string, unknown> {
  const deletions = keepOnlyNulls(diffObjects(lastApplied ?? {}, modified));
  const changes = dropNulls(diffObjects(current, modified));
  return applyMergePatch(deletions, changes) as Record<string, unknown>;
}

/** The `null` leaves of a patch (kubectl's `keepOrDeleteNullInObj(m, true)`). */
function keepOnlyNulls(patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) {
      setOwn(out, key, null);
    } else if (isObject(value)) {
      const sub = keepOnlyNulls(value);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    }
  }
  return out;
}

/**
 * A patch without its `null` leaves (kubectl's `keepOrDeleteNullInObj(m, false)`); an empty
 * object that was set explicitly stays, as a value.
 */
function dropNulls(patch: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (value === null) continue;
    if (isObject(value) && Object.keys(value).length > 0) {
      const sub = dropNulls(value);
      if (Object.keys(sub).length > 0) setOwn(out, key, sub);
    } else {
      setOwn(out, key, value);
    }
  }
  return out;
}
