/**
 * Schemas and checks several kinds share: quantities, int-or-string, label selectors,
 * conditions, object references, and a few small helpers for cells and causes.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import { isPlainObject } from "../object.ts";
import { QUANTITY_PATTERN } from "../quantity.ts";
import { notSupportedValue, requiredValue, type StatusCause } from "../status.ts";
import { causesFor, forbidden, qualifiedNameErrors, validateLabels } from "../validation.ts";
import { StringMap, Time } from "./_meta.ts";

/** Kubernetes' message for a malformed quantity. */
export const QUANTITY_MESSAGE =
  "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'";

/** resource.Quantity: `"500m"`, `"1Gi"`, `2`. */
export const Quantity = z
  .union([z.string().regex(QUANTITY_PATTERN), z.number()], { error: QUANTITY_MESSAGE })
  .meta({ "x-kubernetes-int-or-string": true });

/** A map of resource name to quantity (`limits`, `requests`, `capacity`). */
export const ResourceList = z.record(z.string(), Quantity);

/** intstr.IntOrString: a port number or name, or a count or percentage. */
export const IntOrString = z
  .union([z.int(), z.string()], { error: "must be an integer or a string" })
  .meta({ "x-kubernetes-int-or-string": true });

/** metav1.LabelSelectorRequirement */
export const LabelSelectorRequirement = z.strictObject({
  key: z.string(),
  operator: z.string(),
  values: z.array(z.string()).optional(),
});

/** metav1.LabelSelector */
export const LabelSelector = z.strictObject({
  matchLabels: StringMap.optional(),
  matchExpressions: z.array(LabelSelectorRequirement).optional(),
});

/** A status condition: the union of the fields Pod, Node, Deployment… conditions carry. */
export const Condition = z.strictObject({
  type: z.string(),
  status: z.string(),
  observedGeneration: z.int().optional(),
  lastProbeTime: Time.optional(),
  lastHeartbeatTime: Time.optional(),
  lastUpdateTime: Time.optional(),
  lastTransitionTime: Time.optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
});

/** core/v1 ObjectReference */
export const ObjectReference = z.strictObject({
  kind: z.string().optional(),
  namespace: z.string().optional(),
  name: z.string().optional(),
  uid: z.string().optional(),
  apiVersion: z.string().optional(),
  resourceVersion: z.string().optional(),
  fieldPath: z.string().optional(),
});

/** core/v1 LocalObjectReference */
export const LocalObjectReference = z.strictObject({ name: z.string().optional() });

/** An open object for deep, rarely-written areas: any members accepted. */
export const OpenObject = z.looseObject({});

const SELECTOR_OPERATORS = ["In", "NotIn", "Exists", "DoesNotExist"] as const;

/** Causes for a `metav1.LabelSelector` (`ValidateLabelSelector`). */
export function validateLabelSelector(selector: unknown, path: string): StatusCause[] {
  if (!isPlainObject(selector)) return [];
  const causes = validateLabels(selector.matchLabels, `${path}.matchLabels`);
  const exprs = Array.isArray(selector.matchExpressions) ? selector.matchExpressions : [];
  for (const [i, expr] of exprs.entries()) {
    if (!isPlainObject(expr)) continue;
    const p = `${path}.matchExpressions[${i}]`;
    const values = Array.isArray(expr.values) ? expr.values : [];
    const op = String(expr.operator);
    if (!(SELECTOR_OPERATORS as readonly string[]).includes(op)) {
      causes.push(notSupportedValue(`${p}.operator`, expr.operator, SELECTOR_OPERATORS));
    } else if ((op === "In" || op === "NotIn") && values.length === 0) {
      causes.push(
        requiredValue(`${p}.values`, "must be specified when `operator` is 'In' or 'NotIn'"),
      );
    } else if ((op === "Exists" || op === "DoesNotExist") && values.length > 0) {
      causes.push(
        forbidden(
          `${p}.values`,
          "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
        ),
      );
    }
    const key = String(expr.key ?? "");
    causes.push(...causesFor(`${p}.key`, key, qualifiedNameErrors(key)));
  }
  return causes;
}

/** The object's field at `path` (undefined when any step is missing). */
export function at(obj: unknown, ...path: (string | number)[]): unknown {
  let cur = obj;
  for (const seg of path) {
    if (typeof seg === "number" ? Array.isArray(cur) : isPlainObject(cur)) {
      cur = (cur as Record<string | number, unknown>)[seg];
    } else return undefined;
  }
  return cur;
}

/** `at(...)` as a string ("" when absent or not a string). */
export function str(obj: unknown, ...path: (string | number)[]): string {
  const v = at(obj, ...path);
  return typeof v === "string" ? v : "";
}

/** `at(...)` as a number (0 when absent or not a number). */
export function num(obj: unknown, ...path: (string | number)[]): number {
  const v = at(obj, ...path);
  return typeof v === "number" ? v : 0;
}

/** `at(...)` as an array of plain objects (non-objects dropped). */
export function objects(obj: unknown, ...path: (string | number)[]): Record<string, unknown>[] {
  const v = at(obj, ...path);
  return Array.isArray(v) ? v.filter(isPlainObject) : [];
}

/** `at(...)` as an array of strings (non-strings dropped). */
export function strings(obj: unknown, ...path: (string | number)[]): string[] {
  const v = at(obj, ...path);
  return Array.isArray(v) ? v.filter((s): s is string => typeof s === "string") : [];
}

/** `at(...)` as a string map (non-string values dropped). */
export function stringMap(obj: unknown, ...path: (string | number)[]): Record<string, string> {
  const v = at(obj, ...path);
  if (!isPlainObject(v)) return {};
  return Object.fromEntries(
    Object.entries(v).filter((e): e is [string, string] => typeof e[1] === "string"),
  );
}

/** A field getter for field selectors: the string form of the value at `path`. */
export function fieldGetter(...path: string[]): (obj: KubeObject) => string | undefined {
  return (obj) => {
    const v = at(obj, ...path);
    if (v === undefined) return undefined;
    return typeof v === "string" ? v : String(v);
  };
}

/** Deep equality of JSON values (used for immutability checks). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  }
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a);
    return ka.length === Object.keys(b).length &&
      ka.every((k) => Object.hasOwn(b, k) && jsonEqual(a[k], b[k]));
  }
  return false;
}
