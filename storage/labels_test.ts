import assert from "node:assert/strict";
import {
  formatLabels,
  formatLabelSelector,
  labelSelectorFromSpec,
  labelSelectorString,
  matchesLabelSelector,
  parseLabelSelector,
} from "./labels.ts";
import { ApiError } from "./status.ts";

function rejects(selector: string, message: string): void {
  assert.throws(
    () => parseLabelSelector(selector),
    (e) => e instanceof ApiError && e.code === 400 && e.message === message,
    selector,
  );
}

Deno.test("parseLabelSelector() parses every operator, whitespace tolerant", () => {
  const sel = parseLabelSelector(
    " app = web , tier in (front, edge),env!=prod,  track notin (x) ,has, !gone,v==1 ",
  );
  assert.deepEqual(
    sel.requirements.map((r) => [r.key, r.operator, r.values]),
    [
      ["app", "=", ["web"]],
      ["env", "!=", ["prod"]],
      ["gone", "!", []],
      ["has", "exists", []],
      ["tier", "in", ["edge", "front"]],
      ["track", "notin", ["x"]],
      ["v", "==", ["1"]],
    ],
  );
  assert.equal(
    labelSelectorString(sel),
    "app=web,env!=prod,!gone,has,tier in (edge,front),track notin (x),v==1",
  );
});

Deno.test("parseLabelSelector() of an empty string matches everything", () => {
  const sel = parseLabelSelector("");
  assert.equal(matchesLabelSelector(sel, {}), true);
  assert.equal(matchesLabelSelector(sel, { a: "b" }), true);
});

Deno.test("matchesLabelSelector() applies each operator", () => {
  const labels = { app: "web", tier: "front", n: "5" };
  const yes = [
    "app=web",
    "app==web",
    "app!=db",
    "tier in (front,back)",
    "tier notin (back)",
    "app",
    "!missing",
    "missing!=x",
    "missing notin (x)",
    "n>3",
    "n<6",
  ];
  const no = [
    "app=db",
    "app!=web",
    "tier in (back)",
    "tier notin (front)",
    "missing",
    "!app",
    "missing=x",
    "missing in (x)",
    "n>5",
    "app>1",
  ];
  for (const s of yes) assert.equal(matchesLabelSelector(parseLabelSelector(s), labels), true, s);
  for (const s of no) assert.equal(matchesLabelSelector(parseLabelSelector(s), labels), false, s);
});

Deno.test("parseLabelSelector() rejects malformed selectors with Kubernetes' messages", () => {
  rejects("a in x", "unable to parse requirement: found 'x' expected: '('");
  rejects("a,", "found '', expected: identifier after ','");
  rejects("a b", "unable to parse requirement: found 'b', expected: in, notin, =, ==, !=, gt, lt");
  rejects("a=b=c", "found '=', expected: ',' or 'end of string'");
  rejects("=b", "found '=', expected: !, identifier, or 'end of string'");
  rejects("a in (x", "unable to parse requirement: found '', expected: ',' or ')'");
  rejects(
    "a ~ b",
    "unable to parse requirement: found '~', expected: in, notin, =, ==, !=, gt, lt",
  );
  assert.throws(() => parseLabelSelector("a=b;c"), ApiError);
  assert.throws(() => parseLabelSelector("Bad Key!=x y"), ApiError);
  assert.throws(() => parseLabelSelector("a=$(rm)"), ApiError);
  assert.throws(
    () => parseLabelSelector("-bad=x"),
    /unable to parse requirement: key: Invalid value/,
  );
});

Deno.test("labelSelectorFromSpec() converts matchLabels and matchExpressions", () => {
  const sel = labelSelectorFromSpec({
    matchLabels: { app: "web" },
    matchExpressions: [
      { key: "tier", operator: "In", values: ["b", "a"] },
      { key: "canary", operator: "DoesNotExist" },
      { key: "env", operator: "NotIn", values: ["prod"] },
      { key: "zone", operator: "Exists" },
    ],
  });
  assert.equal(labelSelectorString(sel), "app=web,!canary,env notin (prod),tier in (a,b),zone");
  assert.equal(matchesLabelSelector(sel, { app: "web", tier: "a", zone: "z" }), true);
  assert.equal(matchesLabelSelector(sel, { app: "web", tier: "a", zone: "z", canary: "1" }), false);
});

Deno.test("labelSelectorFromSpec() of undefined matches nothing and of {} everything", () => {
  assert.equal(matchesLabelSelector(labelSelectorFromSpec(undefined), {}), false);
  assert.equal(matchesLabelSelector(labelSelectorFromSpec({}), { a: "b" }), true);
});

Deno.test("labelSelectorFromSpec() rejects an unknown operator and missing values", () => {
  assert.throws(
    () => labelSelectorFromSpec({ matchExpressions: [{ key: "a", operator: "Like" }] }),
    /"Like" is not a valid label selector operator/,
  );
  assert.throws(
    () => labelSelectorFromSpec({ matchExpressions: [{ key: "a", operator: "In", values: [] }] }),
    ApiError,
  );
});

Deno.test("formatLabelSelector() prints kubectl's Selector column", () => {
  assert.equal(formatLabelSelector(undefined), "<none>");
  assert.equal(formatLabelSelector({}), "<none>");
  assert.equal(formatLabelSelector({ matchLabels: { b: "2", a: "1" } }), "a=1,b=2");
  assert.equal(
    formatLabelSelector({ matchExpressions: [{ key: "a", operator: "Bogus" }] }),
    "<error>",
  );
});

Deno.test("formatLabels() sorts keys and prints <none> when empty", () => {
  assert.equal(formatLabels({ z: "1", a: "2" }), "a=2,z=1");
  assert.equal(formatLabels({}), "<none>");
  assert.equal(formatLabels(undefined), "<none>");
});
