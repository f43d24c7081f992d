/**
 * Strategic merge patch (`application/strategic-merge-patch+json`), the apply half of
 * k8s.io/apimachinery's `strategicpatch` package, driven by a {@linkcode PatchMeta} tree instead
 * of Go struct tags.
 *
 * - Maps merge recursively and `null` deletes a key, as in a JSON merge patch.
 * - Lists are replaced unless their field has patch strategy `merge`: lists of maps then merge
 *   element-wise by the field's merge key, lists of primitives become the union.
 * - Directives: `$patch: replace | merge | delete` (on a map, or as an element of a merge list),
 *   `$retainKeys`, `$setElementOrder/<field>`, `$deleteFromPrimitiveList/<field>`. They never
 *   appear in the result.
 *
 * New elements of a merge list come first unless the patch carries `$setElementOrder` (which
 * `kubectl apply` always sends): Kubernetes orders patch elements by the patch, server-only
 * elements by the live list, and interleaves them by live order.
 *
 * Other `$`-prefixed keys are data, not directives: CustomResourceDefinition schemas have
 * `$ref` and `$schema` fields.
 *
 * Errors, as kube-apiserver's `interpretStrategicMergePatchError` maps them: a malformed patch
 * is 400 BadRequest; a list of lists is 422 Invalid.
 *
 * @example
 * ```ts
 * const meta = { fields: { containers: { strategy: "merge", mergeKey: "name" } } } as const;
 * applyStrategicMergePatch(
 *   { containers: [{ name: "app", image: "app:1" }, { name: "log", image: "log:1" }] },
 *   { containers: [{ name: "app", image: "app:2" }, { name: "log", $patch: "delete" }] },
 *   meta,
 * ); // { containers: [{ name: "app", image: "app:2" }] }
 * ```
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";
import {
  cloneJson,
  getOwn,
  goFormat,
  hasOwn,
  isObject,
  jsonKind,
  type JsonObject,
  patchNotApplicable,
  setOwn,
} from "./_internal.ts";

/** A field's patch strategy, as in the `patchStrategy` struct tag. */
export type PatchStrategy = "merge" | "replace" | "retainKeys" | "merge,retainKeys";

/**
 * Patch metadata for a value: the strategy and merge key of the field holding it, the
 * metadata of its fields (for maps) and of its elements (for lists). Absent entries mean
 * "no strategy": maps merge, lists are replaced.
 */
export interface PatchMeta {
  /** Metadata of the fields of a map value. */
  readonly fields?: Readonly<Record<string, PatchMeta>>;
  /** Metadata of the elements of a list value. */
  readonly items?: PatchMeta;
  /** The `patchMergeKey` identifying elements of a merge list of maps. */
  readonly mergeKey?: string;
  /** The `patchStrategy` of this field. */
  readonly strategy?: PatchStrategy;
}

const DIRECTIVE = "$patch";
const RETAIN_KEYS = "$retainKeys";
const SET_ELEMENT_ORDER = "$setElementOrder";
const DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList";

const NO_META: PatchMeta = {};

const BAD_RETAIN_KEYS = "invalid patch format of retainKeys";
const BAD_SET_ELEMENT_ORDER = "invalid patch format of setElementOrder list";
const BAD_PRIMITIVE_LIST = "invalid patch format of primitive list";

/**
 * Applies a strategic merge patch to `doc` using `meta` for list strategies and merge keys.
 * Neither argument is modified; the result shares no objects with them.
 *
 * @throws {ApiError} 400 BadRequest for a malformed patch or unknown directive, 422 Invalid
 * for a list of lists.
 */
export function applyStrategicMergePatch(
  doc: unknown,
  patch: unknown,
  meta: PatchMeta,
): Record<string, unknown> {
  if (!isObject(patch)) {
    throw ApiError.badRequest(
      `json: cannot unmarshal ${goType(patch)} into Go value of type map[string]interface {}`,
    );
  }
  const original: JsonObject = isObject(doc) ? cloneJson(doc) : {};
  return mergeMap(original, cloneJson(patch), meta);
}

function fieldMeta(meta: PatchMeta, key: string): PatchMeta {
  return meta.fields && Object.hasOwn(meta.fields, key) ? meta.fields[key] ?? NO_META : NO_META;
}

function isMergeList(meta: PatchMeta): boolean {
  return meta.strategy === "merge" || meta.strategy === "merge,retainKeys";
}

/** Merges `patch` into `original`; both are private copies and may be modified. */
function mergeMap(original: JsonObject, patch: JsonObject, meta: PatchMeta): JsonObject {
  if (hasOwn(patch, DIRECTIVE)) {
    const directive = patch[DIRECTIVE];
    delete patch[DIRECTIVE];
    switch (directive) {
      case "replace":
        return mergeMap({}, patch, meta);
      case "delete":
        return {};
      case "merge":
        break;
      default:
        throw unknownPatchType(directive, { ...patch, [DIRECTIVE]: directive });
    }
  }

  applyRetainKeys(original, patch);
  applySetElementOrder(original, patch, meta);

  for (const key of Object.keys(patch)) {
    const value = patch[key];
    if (key.startsWith(DELETE_FROM_PRIMITIVE_LIST)) {
      deleteFromPrimitiveList(original, key, value);
      continue;
    }
    if (value === null) {
      delete original[key];
      continue;
    }
    const child = fieldMeta(meta, key);
    const current = getOwn(original, key);
    if (isObject(current) && isObject(value) && child.strategy !== "replace") {
      setOwn(original, key, mergeMap(current, value, child));
    } else if (Array.isArray(current) && Array.isArray(value)) {
      setOwn(original, key, mergeListField(current, value, child));
    } else {
      setOwn(original, key, fromPatch(value, child));
    }
  }
  return original;
}

/** A patch value that has nothing to merge into, with its directives applied. */
function fromPatch(value: unknown, meta: PatchMeta): unknown {
  if (isObject(value)) return mergeMap({}, value, meta);
  if (Array.isArray(value)) return mergeListField([], value, meta);
  return value;
}

function mergeListField(original: unknown[], patch: unknown[], meta: PatchMeta): unknown[] {
  if (isMergeList(meta)) return mergeList(original, patch, meta);
  // Without a merge strategy the patch list replaces the original; `$patch: replace` is
  // what happens anyway, and other directives only make sense in merge lists.
  return patch.filter((element) => {
    if (!isObject(element) || !hasOwn(element, DIRECTIVE)) return true;
    if (element[DIRECTIVE] === "replace" && Object.keys(element).length === 1) return false;
    throw ApiError.badRequest(
      `${DIRECTIVE} elements are only supported in lists with patch strategy merge, got: ` +
        goFormat(element),
    );
  });
}

/** Kubernetes' `mergeSlice`: merges two lists of a field with patch strategy merge. */
function mergeList(original: unknown[], patch: unknown[], meta: PatchMeta): unknown[] {
  if (original.length === 0 && patch.length === 0) return original;
  const kind = elementKind(original, patch);
  if (kind !== "object") {
    const merged = [...original];
    for (const value of patch) if (!merged.includes(value)) merged.push(value);
    const identity = (v: unknown) => v;
    return orderMerged(merged, patch, original, identity);
  }

  const mergeKey = meta.mergeKey;
  if (mergeKey === undefined) {
    throw ApiError.badRequest("cannot merge lists without merge key for type map");
  }
  const itemMeta = meta.items ?? NO_META;
  let base = original as JsonObject[];
  const elements: JsonObject[] = [];
  let replace = false;
  for (const element of patch as JsonObject[]) {
    if (!hasOwn(element, DIRECTIVE)) {
      elements.push(element);
      continue;
    }
    const directive = element[DIRECTIVE];
    switch (directive) {
      case "delete": {
        if (!hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
        const key = element[mergeKey];
        base = base.filter((e) => !(hasOwn(e, mergeKey) && e[mergeKey] === key));
        break;
      }
      case "replace":
        replace = true;
        break;
      case "merge": {
        const rest = { ...element };
        delete rest[DIRECTIVE];
        if (Object.keys(rest).length > 0) elements.push(rest);
        break;
      }
      default:
        throw unknownPatchType(directive, element);
    }
  }
  if (replace) return elements.map((e) => fromPatch(e, itemMeta));

  const merged = [...base];
  for (const element of elements) {
    if (!hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
    const key = element[mergeKey];
    const at = merged.findIndex((e) => hasOwn(e, mergeKey) && e[mergeKey] === key);
    if (at >= 0) merged[at] = mergeMap(merged[at] as JsonObject, element, itemMeta);
    else merged.push(fromPatch(element, itemMeta) as JsonObject);
  }
  const keyOf = mergeKeyOf(mergeKey);
  requireMergeKey(mergeKey, merged, base);
  return orderMerged(merged, elements, base, keyOf);
}

/**
 * Kubernetes' ordering of a merged list: elements named in `patchOrder` first sorted by it,
 * the rest ("server-only") sorted by `serverOrder`, then the two interleaved by live order
 * (`normalizeElementOrder` + `mergeSortedSlice`).
 */
function orderMerged(
  merged: unknown[],
  patchOrder: unknown[],
  serverOrder: unknown[],
  keyOf: (value: unknown) => unknown,
): unknown[] {
  const indexIn = (list: unknown[], value: unknown) => {
    const key = keyOf(value);
    return list.findIndex((e) => keyOf(e) === key);
  };
  const patchItems = merged.filter((e) => indexIn(patchOrder, e) >= 0);
  const serverOnly = merged.filter((e) => indexIn(patchOrder, e) < 0);
  const sortBy = (items: unknown[], order: unknown[]) =>
    items
      .map((item, position) => ({ item, position, rank: indexIn(order, item) }))
      .sort((a, b) =>
        (a.rank < 0 ? Infinity : a.rank) - (b.rank < 0 ? Infinity : b.rank) ||
        a.position - b.position
      )
      .map((entry) => entry.item);
  const left = sortBy(serverOnly, serverOrder);
  const right = sortBy(patchItems, patchOrder);
  const out: unknown[] = [];
  let i = 0;
  let j = 0;
  while (i < left.length || j < right.length) {
    if (i >= left.length) {
      out.push(right[j++]);
    } else if (j >= right.length) {
      out.push(left[i++]);
    } else {
      const li = indexIn(serverOrder, left[i]);
      const ri = indexIn(serverOrder, right[j]);
      out.push(li >= 0 && ri >= 0 && li < ri ? left[i++] : right[j++]);
    }
  }
  return out;
}

function mergeKeyOf(mergeKey: string): (value: unknown) => unknown {
  return (value) => (isObject(value) ? getOwn(value, mergeKey) : undefined);
}

function requireMergeKey(mergeKey: string, ...lists: unknown[][]): void {
  for (const list of lists) {
    for (const element of list) {
      if (!isObject(element)) {
        throw ApiError.badRequest(
          `expected a map[string]interface {}, but received a ${goType(element)}`,
        );
      }
      if (!hasOwn(element, mergeKey)) throw noMergeKey(element, mergeKey);
    }
  }
}

/** The common kind of the elements of `lists` (Kubernetes' `sliceElementType`). */
function elementKind(...lists: unknown[][]): string {
  let kind: string | undefined;
  for (const list of lists) {
    for (const value of list) {
      const current = jsonKind(value);
      if (current === "array") throw patchNotApplicable("lists of lists are not supported");
      if (kind === undefined) kind = current;
      else if (kind !== current) {
        throw ApiError.badRequest(
          `list element types are not identical: ${lists.map(goFormat).join(" ")}`,
        );
      }
    }
  }
  return kind ?? "null";
}

/** `$retainKeys`: clears the keys of `original` the list does not name. */
function applyRetainKeys(original: JsonObject, patch: JsonObject): void {
  if (!hasOwn(patch, RETAIN_KEYS)) return;
  const retain = patch[RETAIN_KEYS];
  delete patch[RETAIN_KEYS];
  if (!Array.isArray(retain) || !retain.every((k) => typeof k === "string")) {
    throw ApiError.badRequest(BAD_RETAIN_KEYS);
  }
  for (const key of Object.keys(patch)) {
    if (
      patch[key] === null || key.startsWith(DELETE_FROM_PRIMITIVE_LIST) ||
      key.startsWith(SET_ELEMENT_ORDER)
    ) continue;
    if (!retain.includes(key)) throw ApiError.badRequest(BAD_RETAIN_KEYS);
  }
  for (const key of Object.keys(original)) {
    if (!retain.includes(key)) delete original[key];
  }
}

/** Splits `$setElementOrder/containers` into `containers`, or rejects a malformed key. */
function directiveField(key: string, prefix: string, error: string): string {
  const slash = key.indexOf("/");
  if (slash < 0 || key.slice(0, slash) !== prefix || slash === key.length - 1) {
    throw ApiError.badRequest(error);
  }
  return key.slice(slash + 1);
}

/**
 * `$setElementOrder/<field>`: merges the field's patch list (if any) into the original, then
 * orders the result as the directive lists it, keeping server-only elements in live order.
 */
function applySetElementOrder(original: JsonObject, patch: JsonObject, meta: PatchMeta): void {
  for (const key of Object.keys(patch)) {
    if (!key.startsWith(SET_ELEMENT_ORDER)) continue;
    const order = patch[key];
    delete patch[key];
    const field = directiveField(key, SET_ELEMENT_ORDER, BAD_SET_ELEMENT_ORDER);
    const current = getOwn(original, field);
    const change = getOwn(patch, field);
    if (
      !Array.isArray(order) || (current !== undefined && !Array.isArray(current)) ||
      (change !== undefined && !Array.isArray(change))
    ) {
      throw ApiError.badRequest(BAD_SET_ELEMENT_ORDER);
    }
    const child = fieldMeta(meta, field);
    const keyOf = child.mergeKey === undefined ? (v: unknown) => v : mergeKeyOf(child.mergeKey);
    if (change !== undefined) validateOrder(change, order, child.mergeKey);

    let merged: unknown[];
    if (current !== undefined && change !== undefined) {
      merged = mergeListField(current, change, child);
    } else if (change !== undefined) {
      merged = mergeListField([], change, child);
    } else if (current !== undefined) {
      merged = current;
    } else {
      continue;
    }
    delete patch[field];
    if (child.mergeKey !== undefined) requireMergeKey(child.mergeKey, merged, order);
    setOwn(original, field, orderMerged(merged, order, current ?? [], keyOf));
  }
}

/**
 * Kubernetes' `validatePatchWithSetOrderList`: the patch list's elements (deletions aside)
 * must appear in the `$setElementOrder` list, in the same relative order.
 */
function validateOrder(change: unknown[], order: unknown[], mergeKey: string | undefined): void {
  if (order.length === 0 || change.length === 0) return;
  const kept = change.filter((e) => !(isObject(e) && hasOwn(e, DIRECTIVE)));
  if (mergeKey !== undefined) requireMergeKey(mergeKey, kept, order);
  const keyOf = mergeKey === undefined ? (v: unknown) => v : mergeKeyOf(mergeKey);
  let p = 0;
  for (let o = 0; p < kept.length && o < order.length; o++) {
    if (keyOf(kept[p]) === keyOf(order[o])) p++;
  }
  if (p < kept.length) {
    throw ApiError.badRequest(
      `The order in patch list:\n${goFormat(change)}\n doesn't match ${SET_ELEMENT_ORDER} list:\n${
        goFormat(order)
      }\n`,
    );
  }
}

/** `$deleteFromPrimitiveList/<field>`: removes the listed values from a primitive list. */
function deleteFromPrimitiveList(original: JsonObject, key: string, values: unknown): void {
  const field = directiveField(key, DELETE_FROM_PRIMITIVE_LIST, BAD_PRIMITIVE_LIST);
  if (!Array.isArray(values) || values.some((v) => typeof v === "object" && v !== null)) {
    throw ApiError.badRequest(BAD_PRIMITIVE_LIST);
  }
  const current = getOwn(original, field);
  if (!Array.isArray(current)) return;
  elementKind(current, values);
  setOwn(original, field, current.filter((v) => !values.includes(v)));
}

function unknownPatchType(directive: unknown, map: JsonObject): ApiError {
  return ApiError.badRequest(`unknown patch type: ${goFormat(directive)} in map: ${goFormat(map)}`);
}

function noMergeKey(element: JsonObject, mergeKey: string): ApiError {
  return ApiError.badRequest(
    `map: ${goFormat(element)} does not contain declared merge key: ${mergeKey}`,
  );
}

/** How Go's encoding/json names a JSON value's type in an unmarshal error. */
function goType(value: unknown): string {
  switch (jsonKind(value)) {
    case "object":
      return "object";
    case "array":
      return "array";
    case "boolean":
      return "bool";
    case "string":
      return "string";
    case "null":
      return "null";
    default:
      return "number";
  }
}
