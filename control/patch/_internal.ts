/**
 * Private JSON helpers shared by the patch implementations.
 *
 * Every key read goes through {@linkcode getOwn}/{@linkcode hasOwn} and every key write through
 * {@linkcode setOwn}, so a key such as `__proto__` or `constructor` is plain data: it is never
 * resolved through the prototype chain and never reassigns an object's prototype.
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";

/** A JSON object (a "map" in Kubernetes' patch vocabulary). */
export type JsonObject = { [key: string]: unknown };

/** True for a non-null, non-array object. */
export function isObject(value: unknown): value is JsonObject {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Whether `obj` has `key` as an own property. */
export function hasOwn(obj: JsonObject, key: string): boolean {
  return Object.hasOwn(obj, key);
}

/** The own property `key` of `obj`, or `undefined`. */
export function getOwn(obj: JsonObject, key: string): unknown {
  return Object.hasOwn(obj, key) ? obj[key] : undefined;
}

/** Defines `key` on `obj` as an ordinary data property, even for `__proto__`. */
export function setOwn(obj: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(obj, key, {
    value,
    writable: true,
    enumerable: true,
    configurable: true,
  });
}

/** A deep copy of a JSON value; `__proto__` keys are copied as data. */
export function cloneJson<T>(value: T): T {
  if (Array.isArray(value)) return value.map((v) => cloneJson(v)) as T;
  if (isObject(value)) {
    const out: JsonObject = {};
    for (const key of Object.keys(value)) setOwn(out, key, cloneJson(value[key]));
    return out as T;
  }
  return value;
}

/** Structural equality of two JSON values (object key order is ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a)) {
    return Array.isArray(b) && a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isObject(a)) {
    if (!isObject(b)) return false;
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length &&
      keys.every((k) => hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}

/** The kind of a JSON value as Go's reflect would group it: object, array, or primitive type. */
export function jsonKind(value: unknown): "object" | "array" | "null" | string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "array";
  return typeof value;
}

/** A short JSON rendering of a value for error messages. */
export function describe(value: unknown): string {
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 200 ? `${text.slice(0, 197)}...` : text;
}

/** The message kube-apiserver sends with a 422 for a patch that does not apply. */
export const PATCH_NOT_APPLICABLE_MESSAGE =
  "the server rejected our request due to an error in our request";

/**
 * The 422 kube-apiserver answers for a well-formed patch that cannot be applied
 * (`NewGenericServerResponse(http.StatusUnprocessableEntity, …)`). Kubernetes drops the
 * underlying text; we keep it as a cause on the `patch` field so kubectl can show it.
 */
export function patchNotApplicable(detail: string): ApiError {
  return new ApiError("Invalid", PATCH_NOT_APPLICABLE_MESSAGE, {
    causes: [{ reason: "FieldValueInvalid", field: "patch", message: detail }],
  });
}

/** A value formatted as Go's `%v` formats decoded JSON, as Kubernetes' patch errors show it. */
export function goFormat(value: unknown): string {
  if (value === null || value === undefined) return "<nil>";
  if (Array.isArray(value)) return `[${value.map(goFormat).join(" ")}]`;
  if (isObject(value)) {
    const keys = Object.keys(value).sort();
    return `map[${keys.map((k) => `${k}:${goFormat(value[k])}`).join(" ")}]`;
  }
  return String(value);
}
