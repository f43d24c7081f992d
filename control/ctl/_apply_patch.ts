/**
 * kubectl's client-side apply patch: a three-way JSON merge patch
 * (`jsonmergepatch.CreateThreeWayJSONMergePatch`) between the last applied configuration
 * (`original`), the configuration being applied (`modified`) and the live object (`current`).
 *
 * - Fields set in `modified` that differ from `current` are set (lists are replaced whole).
 * - Fields present in `original` but gone from `modified` are deleted (`null`), so a field
 *   the user removed from the manifest is removed from the object.
 * - Fields only in `current` (set by the server or other clients) are left alone.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import { goJson } from "./_format.ts";

/** A JSON merge patch (RFC 7386): `null` deletes a field. */
export type MergePatch = Record<string, unknown>;

/** The annotation that holds the last applied configuration. */
export const LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration";

/**
 * The three-way merge patch from `current` to `modified`, deleting what `original` had and
 * `modified` dropped. An empty object means nothing to change.
 */
export function threeWayMergePatch(
  original: Record<string, unknown> | undefined,
  modified: Record<string, unknown>,
  current: Record<string, unknown>,
): MergePatch {
  const delta = keepOrDropNulls(twoWay(current, modified), false);
  const deletions = original ? keepOrDropNulls(twoWay(original, modified), true) : {};
  return mergeInto(delta, deletions);
}

/** RFC 7386 `CreateMergePatch(a, b)`: the patch that turns `a` into `b`. */
function twoWay(a: Record<string, unknown>, b: Record<string, unknown>): MergePatch {
  const patch: MergePatch = {};
  for (const [key, bv] of Object.entries(b)) {
    if (!(key in a)) {
      patch[key] = bv;
      continue;
    }
    const av = a[key];
    if (isPlainObject(av) && isPlainObject(bv)) {
      const sub = twoWay(av, bv);
      if (Object.keys(sub).length > 0) patch[key] = sub;
    } else if (!jsonEqual(av, bv)) {
      patch[key] = bv;
    }
  }
  for (const key of Object.keys(a)) if (!(key in b)) patch[key] = null;
  return patch;
}

/**
 * `keepOrDeleteNullInObj`: with `keepNull`, only the deletions (nulls) of a patch; without,
 * everything but them. Explicitly empty maps are values, not empty patches.
 */
function keepOrDropNulls(patch: MergePatch, keepNull: boolean): MergePatch {
  const out: MergePatch = {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) {
      if (keepNull) out[key] = null;
    } else if (isPlainObject(value)) {
      if (Object.keys(value).length === 0) {
        if (!keepNull) out[key] = value;
        continue;
      }
      const sub = keepOrDropNulls(value, keepNull);
      if (Object.keys(sub).length > 0) out[key] = sub;
    } else if (!keepNull) {
      out[key] = value;
    }
  }
  return out;
}

/** Deep-merge `extra` into `base` (maps merged, everything else taken from `extra`). */
function mergeInto(base: MergePatch, extra: MergePatch): MergePatch {
  const out: MergePatch = { ...base };
  for (const [key, value] of Object.entries(extra)) {
    const existing = out[key];
    out[key] = isPlainObject(existing) && isPlainObject(value) ? mergeInto(existing, value) : value;
  }
  return out;
}

function jsonEqual(a: unknown, b: unknown): boolean {
  return goJson(a) === goJson(b);
}

/**
 * kubectl's `GetModifiedConfiguration(obj, annotate=true)`: the object to apply, with the
 * last-applied annotation set to the object's own JSON (without that annotation, keys sorted,
 * newline-terminated, as kubectl writes it).
 */
export function withLastApplied(obj: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(obj);
  const metadata = isPlainObject(copy.metadata) ? copy.metadata : {};
  copy.metadata = metadata;
  const annotations = isPlainObject(metadata.annotations) ? metadata.annotations : {};
  delete annotations[LAST_APPLIED];
  metadata.annotations = annotations;
  const applied = goJson(copy) + "\n";
  annotations[LAST_APPLIED] = applied;
  return copy;
}

/** The last applied configuration stored on a live object, if any. */
export function lastApplied(live: Record<string, unknown>): Record<string, unknown> | undefined {
  const metadata = live.metadata;
  if (!isPlainObject(metadata) || !isPlainObject(metadata.annotations)) return undefined;
  const text = metadata.annotations[LAST_APPLIED];
  if (typeof text !== "string" || text.trim() === "") return undefined;
  try {
    const parsed = JSON.parse(text);
    return isPlainObject(parsed) ? parsed : undefined;
  } catch {
    return undefined;
  }
}
