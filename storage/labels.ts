/**
 * Label selectors: the string form of `?labelSelector=` (a port of
 * `k8s.io/apimachinery/pkg/labels` parsing, with its error messages), the structured
 * `metav1.LabelSelector` of specs, matching, and kubectl's printed form.
 *
 * @example
 * ```ts
 * const sel = parseLabelSelector("app=web,tier in (front,edge),!canary");
 * matchesLabelSelector(sel, { app: "web", tier: "edge" }); // true
 * ```
 *
 * @module
 */

import { ApiError } from "./status.ts";
import { labelValueErrors, qualifiedNameErrors } from "./validation.ts";

/** A selector operator, spelled as in `selection.Operator`. */
export type SelectorOperator =
  | "="
  | "=="
  | "!="
  | "in"
  | "notin"
  | "exists"
  | "!"
  | "gt"
  | "lt";

/** One requirement of a selector: `key op values`. */
export interface Requirement {
  key: string;
  operator: SelectorOperator;
  values: string[];
}

/**
 * A parsed label selector: requirements that must all hold. `nothing` marks the selector of an
 * absent `metav1.LabelSelector`, which matches no object.
 */
export interface LabelSelector {
  requirements: Requirement[];
  nothing?: boolean;
}

/** metav1.LabelSelectorRequirement */
export interface LabelSelectorRequirementSpec {
  key: string;
  operator: string;
  values?: string[];
}

/** metav1.LabelSelector as it appears in specs. */
export interface LabelSelectorSpec {
  matchLabels?: Record<string, string>;
  matchExpressions?: LabelSelectorRequirementSpec[];
}

// ----- lexer ---------------------------------------------------------------------------------

type Token =
  | "error"
  | "eos"
  | "closedPar"
  | "comma"
  | "doesNotExist"
  | "doubleEquals"
  | "equals"
  | "greaterThan"
  | "identifier"
  | "in"
  | "lessThan"
  | "notEquals"
  | "notIn"
  | "openPar";

const STRING_TO_TOKEN: Record<string, Token> = {
  ")": "closedPar",
  ",": "comma",
  "!": "doesNotExist",
  "==": "doubleEquals",
  "=": "equals",
  ">": "greaterThan",
  "in": "in",
  "<": "lessThan",
  "!=": "notEquals",
  "notin": "notIn",
  "(": "openPar",
};

function isWhitespace(ch: string): boolean {
  return ch === " " || ch === "\t" || ch === "\r" || ch === "\n";
}

function isSpecialSymbol(ch: string): boolean {
  return "=!(),><".includes(ch);
}

interface Scanned {
  tok: Token;
  literal: string;
}

function lex(input: string): Scanned[] {
  const items: Scanned[] = [];
  let pos = 0;
  for (;;) {
    while (pos < input.length && isWhitespace(input[pos] ?? "")) pos++;
    if (pos >= input.length) {
      items.push({ tok: "eos", literal: "" });
      return items;
    }
    const ch = input[pos] ?? "";
    if (isSpecialSymbol(ch)) {
      let buffer = "";
      let last: Scanned | undefined;
      while (pos < input.length && isSpecialSymbol(input[pos] ?? "")) {
        buffer += input[pos];
        const tok = STRING_TO_TOKEN[buffer];
        if (tok) {
          last = { tok, literal: buffer };
          pos++;
        } else if (last) {
          break;
        } else {
          pos++;
        }
      }
      if (!last) {
        items.push({ tok: "error", literal: `error expected: keyword found '${buffer}'` });
        return [...items, { tok: "eos", literal: "" }];
      }
      items.push(last);
      continue;
    }
    let literal = "";
    while (pos < input.length) {
      const c = input[pos] ?? "";
      if (isWhitespace(c) || isSpecialSymbol(c)) break;
      literal += c;
      pos++;
    }
    const keyword = STRING_TO_TOKEN[literal];
    items.push({ tok: keyword ?? "identifier", literal });
  }
}

// ----- parser --------------------------------------------------------------------------------

type Context = "keyAndOperator" | "values";

class Parser {
  private pos = 0;
  constructor(private readonly items: Scanned[]) {}

  lookahead(ctx: Context): Scanned {
    const item = this.items[this.pos] ?? { tok: "eos", literal: "" };
    if (ctx === "values" && (item.tok === "in" || item.tok === "notIn")) {
      return { tok: "identifier", literal: item.literal };
    }
    return item;
  }

  consume(ctx: Context): Scanned {
    const item = this.lookahead(ctx);
    if (this.pos < this.items.length) this.pos++;
    return item;
  }

  parse(): Requirement[] {
    const requirements: Requirement[] = [];
    for (;;) {
      const { tok, literal } = this.lookahead("values");
      if (tok === "identifier" || tok === "doesNotExist") {
        let r: Requirement;
        try {
          r = this.parseRequirement();
        } catch (e) {
          throw new Error(`unable to parse requirement: ${(e as Error).message}`);
        }
        requirements.push(r);
        const next = this.consume("values");
        if (next.tok === "eos") return requirements;
        if (next.tok === "comma") {
          const after = this.lookahead("values");
          if (after.tok !== "identifier" && after.tok !== "doesNotExist") {
            throw new Error(`found '${after.literal}', expected: identifier after ','`);
          }
          continue;
        }
        throw new Error(`found '${next.literal}', expected: ',' or 'end of string'`);
      }
      if (tok === "eos") return requirements;
      throw new Error(`found '${literal}', expected: !, identifier, or 'end of string'`);
    }
  }

  parseRequirement(): Requirement {
    const { key, operator } = this.parseKeyAndInferOperator();
    if (operator === "exists" || operator === "!") return newRequirement(key, operator, []);
    const op = this.parseOperator();
    const values = op === "in" || op === "notin" ? this.parseValues() : this.parseExactValue();
    return newRequirement(key, op, [...values].sort());
  }

  parseKeyAndInferOperator(): { key: string; operator?: SelectorOperator } {
    let operator: SelectorOperator | undefined;
    let item = this.consume("values");
    if (item.tok === "doesNotExist") {
      operator = "!";
      item = this.consume("values");
    }
    if (item.tok !== "identifier") throw new Error(`found '${item.literal}', expected: identifier`);
    validateKey(item.literal);
    const next = this.lookahead("values").tok;
    if ((next === "eos" || next === "comma") && operator !== "!") operator = "exists";
    return { key: item.literal, operator };
  }

  parseOperator(): SelectorOperator {
    const { tok, literal } = this.consume("keyAndOperator");
    switch (tok) {
      case "in":
        return "in";
      case "equals":
        return "=";
      case "doubleEquals":
        return "==";
      case "greaterThan":
        return "gt";
      case "lessThan":
        return "lt";
      case "notIn":
        return "notin";
      case "notEquals":
        return "!=";
      default:
        throw new Error(`found '${literal}', expected: in, notin, =, ==, !=, gt, lt`);
    }
  }

  parseValues(): Set<string> {
    const open = this.consume("values");
    if (open.tok !== "openPar") throw new Error(`found '${open.literal}' expected: '('`);
    const { tok, literal } = this.lookahead("values");
    if (tok === "identifier" || tok === "comma") {
      const s = this.parseIdentifiersList();
      const close = this.consume("values");
      if (close.tok !== "closedPar") throw new Error(`found '${literal}', expected: ')'`);
      return s;
    }
    if (tok === "closedPar") {
      this.consume("values");
      return new Set([""]);
    }
    throw new Error(`found '${literal}', expected: ',', ')' or identifier`);
  }

  parseIdentifiersList(): Set<string> {
    const s = new Set<string>();
    for (;;) {
      const { tok, literal } = this.consume("values");
      if (tok === "identifier") {
        s.add(literal);
        const next = this.lookahead("values");
        if (next.tok === "comma") continue;
        if (next.tok === "closedPar") return s;
        throw new Error(`found '${next.literal}', expected: ',' or ')'`);
      }
      if (tok === "comma") {
        if (s.size === 0) s.add("");
        const next = this.lookahead("values");
        if (next.tok === "closedPar") {
          s.add("");
          return s;
        }
        if (next.tok === "comma") {
          this.consume("values");
          s.add("");
        }
        continue;
      }
      throw new Error(`found '${literal}', expected: ',', or identifier`);
    }
  }

  parseExactValue(): Set<string> {
    const next = this.lookahead("values");
    if (next.tok === "eos" || next.tok === "comma") return new Set([""]);
    const { tok, literal } = this.consume("values");
    if (tok === "identifier") return new Set([literal]);
    throw new Error(`found '${literal}', expected: identifier`);
  }
}

function validateKey(key: string): void {
  const errs = qualifiedNameErrors(key);
  if (errs.length > 0) {
    throw new Error(`key: Invalid value: ${JSON.stringify(key)}: ${errs.join("; ")}`);
  }
}

function newRequirement(key: string, operator: SelectorOperator, values: string[]): Requirement {
  validateKey(key);
  switch (operator) {
    case "in":
    case "notin":
      if (values.length === 0) {
        throw new Error(
          "values: Invalid value: []: for 'in', 'notin' operators, values set can't be empty",
        );
      }
      break;
    case "=":
    case "==":
    case "!=":
      if (values.length !== 1) {
        throw new Error(
          `values: Invalid value: ${
            JSON.stringify(values)
          }: exact-match compatibility requires one single value`,
        );
      }
      break;
    case "exists":
    case "!":
      if (values.length !== 0) {
        throw new Error(
          `values: Invalid value: ${
            JSON.stringify(values)
          }: values set must be empty for exists and does not exist`,
        );
      }
      break;
    case "gt":
    case "lt":
      if (values.length !== 1 || !/^-?[0-9]+$/.test(values[0] ?? "")) {
        throw new Error(
          `values[0]: Invalid value: ${
            JSON.stringify(values[0] ?? "")
          }: for 'Gt', 'Lt' operators, the value must be an integer`,
        );
      }
      break;
  }
  for (const [i, v] of values.entries()) {
    const errs = labelValueErrors(v);
    if (errs.length > 0) {
      throw new Error(`values[${i}]: Invalid value: ${JSON.stringify(v)}: ${errs.join("; ")}`);
    }
  }
  return { key, operator, values };
}

// ----- public API ----------------------------------------------------------------------------

/**
 * Parses a label selector string (`a=b`, `a==b`, `a!=b`, `a in (x,y)`, `a notin (x)`, `a`,
 * `!a`, `a>1`, comma-joined). An empty string matches everything. Throws `ApiError`
 * BadRequest with Kubernetes' parser message when the string is invalid.
 */
export function parseLabelSelector(selector: string): LabelSelector {
  try {
    const requirements = new Parser(lex(selector)).parse();
    return { requirements: sortByKey(requirements) };
  } catch (e) {
    throw ApiError.badRequest((e as Error).message);
  }
}

function sortByKey(requirements: Requirement[]): Requirement[] {
  return [...requirements].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** True when `labels` satisfy every requirement of `selector`. */
export function matchesLabelSelector(
  selector: LabelSelector,
  labels: Record<string, string> | undefined,
): boolean {
  if (selector.nothing) return false;
  const set = labels ?? {};
  return selector.requirements.every((r) => matchesRequirement(r, set));
}

function matchesRequirement(r: Requirement, labels: Record<string, string>): boolean {
  const has = Object.hasOwn(labels, r.key);
  const value = has ? labels[r.key] ?? "" : "";
  switch (r.operator) {
    case "=":
    case "==":
    case "in":
      return has && r.values.includes(value);
    case "!=":
    case "notin":
      return !has || !r.values.includes(value);
    case "exists":
      return has;
    case "!":
      return !has;
    case "gt":
    case "lt": {
      if (!has || !/^-?[0-9]+$/.test(value)) return false;
      const n = Number(value);
      const bound = Number(r.values[0]);
      return r.operator === "gt" ? n > bound : n < bound;
    }
  }
}

/**
 * The selector of a `metav1.LabelSelector` (`LabelSelectorAsSelector`): `undefined` matches
 * nothing, `{}` matches everything. Throws `ApiError` BadRequest for an invalid operator or
 * values.
 */
export function labelSelectorFromSpec(spec: LabelSelectorSpec | undefined): LabelSelector {
  if (typeof spec !== "object" || spec === null || Array.isArray(spec)) {
    return { requirements: [], nothing: true };
  }
  const requirements: Requirement[] = [];
  try {
    for (const [k, v] of Object.entries(spec.matchLabels ?? {})) {
      requirements.push(newRequirement(k, "=", [v]));
    }
    for (const expr of spec.matchExpressions ?? []) {
      const values = [...new Set(expr.values ?? [])].sort();
      switch (expr.operator) {
        case "In":
          requirements.push(newRequirement(expr.key, "in", values));
          break;
        case "NotIn":
          requirements.push(newRequirement(expr.key, "notin", values));
          break;
        case "Exists":
          requirements.push(newRequirement(expr.key, "exists", values));
          break;
        case "DoesNotExist":
          requirements.push(newRequirement(expr.key, "!", values));
          break;
        default:
          throw new Error(
            `${JSON.stringify(expr.operator)} is not a valid label selector operator`,
          );
      }
    }
  } catch (e) {
    throw ApiError.badRequest((e as Error).message);
  }
  return { requirements: sortByKey(requirements) };
}

/** A requirement as the selector string form: `a=b`, `a in (x,y)`, `!a`. */
function requirementString(r: Requirement): string {
  const values = r.values.length === 1 ? r.values[0] ?? "" : [...r.values].sort().join(",");
  switch (r.operator) {
    case "!":
      return `!${r.key}`;
    case "exists":
      return r.key;
    case "in":
      return `${r.key} in (${values})`;
    case "notin":
      return `${r.key} notin (${values})`;
    case "gt":
      return `${r.key}>${values}`;
    case "lt":
      return `${r.key}<${values}`;
    default:
      return `${r.key}${r.operator}${values}`;
  }
}

/** The selector string form (`Selector.String()`), "" for everything. */
export function labelSelectorString(selector: LabelSelector): string {
  return selector.requirements.map(requirementString).join(",");
}

/**
 * kubectl's printed form of a `metav1.LabelSelector` (`metav1.FormatLabelSelector`), used by
 * the Selector column: `app=web,tier in (a,b)`; `<none>` when empty or absent, `<error>` when
 * invalid.
 */
export function formatLabelSelector(spec: LabelSelectorSpec | undefined): string {
  let selector: LabelSelector;
  try {
    selector = labelSelectorFromSpec(spec);
  } catch {
    return "<error>";
  }
  const s = labelSelectorString(selector);
  return s === "" ? "<none>" : s;
}

/** A labels map in kubectl's form (`labels.FormatLabels`): sorted `k=v` joined by commas. */
export function formatLabels(labels: Record<string, string> | undefined): string {
  const keys = Object.keys(labels ?? {}).sort();
  if (keys.length === 0) return "<none>";
  return keys.map((k) => `${k}=${labels?.[k] ?? ""}`).join(",");
}
