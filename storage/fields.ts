/**
 * Field selectors (`?fieldSelector=spec.nodeName=edge-1,status.phase!=Running`): parsing with
 * Kubernetes' escaping rules and messages, the keys each kind supports, and matching.
 *
 * @module
 */

import type { KubeObject } from "./object.ts";
import type { ResourceType } from "./resource.ts";
import { ApiError } from "./status.ts";

/** One term of a field selector. */
export interface FieldRequirement {
  field: string;
  operator: "=" | "==" | "!=";
  value: string;
}

/** A parsed field selector: all terms must hold; empty matches everything. */
export type FieldSelector = FieldRequirement[];

const OPERATORS = ["!=", "==", "="] as const;

/** Splits on unescaped `sep` (backslash escapes are kept for `unescape`). */
function splitUnescaped(s: string, sep: string): string[] {
  const parts: string[] = [];
  let cur = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i] ?? "";
    if (ch === "\\" && i + 1 < s.length) {
      cur += ch + (s[i + 1] ?? "");
      i++;
    } else if (ch === sep) {
      parts.push(cur);
      cur = "";
    } else cur += ch;
  }
  parts.push(cur);
  return parts;
}

/** Splits a term at its first unescaped operator: `[lhs, op, rhs]`. */
function splitTerm(term: string): [string, FieldRequirement["operator"], string] | undefined {
  for (let i = 0; i < term.length; i++) {
    if (term[i] === "\\") {
      i++;
      continue;
    }
    for (const op of OPERATORS) {
      if (term.startsWith(op, i)) return [term.slice(0, i), op, term.slice(i + op.length)];
    }
  }
  return undefined;
}

/** Undoes `\\`, `\,` and `\=` escapes (`fields.UnescapeValue`). */
function unescapeValue(s: string, whole: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "\\") {
      const next = s[i + 1];
      if (next === "\\" || next === "," || next === "=") {
        out += next;
        i++;
        continue;
      }
      throw ApiError.badRequest(`invalid field selector: '${whole}': invalid escape sequence`);
    }
    if (ch === "," || ch === "=") {
      throw ApiError.badRequest(`invalid field selector: '${whole}': unescaped ${ch}`);
    }
    out += ch;
  }
  return out;
}

/** The keys `rt` supports: `metadata.name`, `metadata.namespace` (namespaced) and its own. */
export function supportedFieldSelectors(rt: ResourceType): string[] {
  return ["metadata.name", "metadata.namespace", ...Object.keys(rt.fieldSelectors)];
}

/**
 * Parses a field selector for `rt`. Throws `ApiError` BadRequest for a malformed selector
 * (`invalid selector: 'x'; can't understand 'x'`) or a key the kind does not support
 * (`field label not supported: spec.foo`, Kubernetes' wording for built-in kinds).
 */
export function parseFieldSelector(selector: string, rt: ResourceType): FieldSelector {
  const out: FieldSelector = [];
  if (selector.trim() === "") return out;
  const supported = new Set(supportedFieldSelectors(rt));
  for (const part of splitUnescaped(selector, ",")) {
    if (part === "") continue;
    const split = splitTerm(part);
    if (!split) {
      throw ApiError.badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    }
    const [field, operator, raw] = split;
    const value = unescapeValue(raw, selector);
    if (!supported.has(field)) throw ApiError.badRequest(`field label not supported: ${field}`);
    out.push({ field, operator, value });
  }
  return out;
}

/** The value of a selectable field of `obj` ("" when absent, as Kubernetes' field sets). */
export function fieldValue(rt: ResourceType, obj: KubeObject, field: string): string {
  if (field === "metadata.name") return obj.metadata.name ?? "";
  if (field === "metadata.namespace") return obj.metadata.namespace ?? "";
  const getter = rt.fieldSelectors[field];
  return getter?.(obj) ?? "";
}

/** True when `obj` satisfies every term of `selector`. */
export function matchesFieldSelector(
  selector: FieldSelector,
  rt: ResourceType,
  obj: KubeObject,
): boolean {
  return selector.every((r) => {
    const v = fieldValue(rt, obj, r.field);
    return r.operator === "!=" ? v !== r.value : v === r.value;
  });
}
