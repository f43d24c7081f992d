import assert from "node:assert/strict";
import { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS, parseJsonPatch } from "./json_patch.ts";
import { assertApiError } from "../../storage/_testing.ts";

/** The 422 kube-apiserver answers when an operation does not apply; returns the cause text. */
function doesNotApply(doc: unknown, ops: unknown): string {
  const err = assertApiError(() => applyJsonPatch(doc, ops), 422, "Invalid");
  assert.equal(err.message, "the server rejected our request due to an error in our request");
  const cause = err.details?.causes?.[0];
  assert.equal(cause?.field, "patch");
  return cause?.message ?? "";
}

// RFC 6902 Appendix A.

Deno.test("applyJsonPatch() A.1 adds an object member", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: "bar" }, [{ op: "add", path: "/baz", value: "qux" }]),
    { baz: "qux", foo: "bar" },
  );
});

Deno.test("applyJsonPatch() A.2 adds an array element before the index", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: ["bar", "baz"] }, [{ op: "add", path: "/foo/1", value: "qux" }]),
    { foo: ["bar", "qux", "baz"] },
  );
});

Deno.test("applyJsonPatch() A.3 removes an object member", () => {
  assert.deepEqual(
    applyJsonPatch({ baz: "qux", foo: "bar" }, [{ op: "remove", path: "/baz" }]),
    { foo: "bar" },
  );
});

Deno.test("applyJsonPatch() A.4 removes an array element", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: ["bar", "qux", "baz"] }, [{ op: "remove", path: "/foo/1" }]),
    { foo: ["bar", "baz"] },
  );
});

Deno.test("applyJsonPatch() A.5 replaces a value", () => {
  assert.deepEqual(
    applyJsonPatch({ baz: "qux", foo: "bar" }, [{ op: "replace", path: "/baz", value: "boo" }]),
    { baz: "boo", foo: "bar" },
  );
});

Deno.test("applyJsonPatch() A.6 moves a value", () => {
  assert.deepEqual(
    applyJsonPatch(
      { foo: { bar: "baz", waldo: "fred" }, qux: { corge: "grault" } },
      [{ op: "move", from: "/foo/waldo", path: "/qux/thud" }],
    ),
    { foo: { bar: "baz" }, qux: { corge: "grault", thud: "fred" } },
  );
});

Deno.test("applyJsonPatch() A.7 moves an array element", () => {
  assert.deepEqual(
    applyJsonPatch(
      { foo: ["all", "grass", "cows", "eat"] },
      [{ op: "move", from: "/foo/1", path: "/foo/3" }],
    ),
    { foo: ["all", "cows", "eat", "grass"] },
  );
});

Deno.test("applyJsonPatch() A.8 passes tests that match", () => {
  const doc = { baz: "qux", foo: ["a", 2, "c"] };
  assert.deepEqual(
    applyJsonPatch(doc, [
      { op: "test", path: "/baz", value: "qux" },
      { op: "test", path: "/foo/1", value: 2 },
    ]),
    doc,
  );
});

Deno.test("applyJsonPatch() A.9 rejects a failed test with 422 Invalid", () => {
  const detail = doesNotApply({ baz: "qux" }, [{ op: "test", path: "/baz", value: "bar" }]);
  assert.match(detail, /testing value \/baz failed/);
});

Deno.test("applyJsonPatch() A.10 adds a nested member object", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: "bar" }, [{ op: "add", path: "/child", value: { grandchild: {} } }]),
    { foo: "bar", child: { grandchild: {} } },
  );
});

Deno.test("applyJsonPatch() A.11 ignores unrecognized members of an operation", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: "bar" }, [{ op: "add", path: "/baz", value: "qux", xyz: 123 }]),
    { foo: "bar", baz: "qux" },
  );
});

Deno.test("applyJsonPatch() A.12 rejects adding to a nonexistent target with 422", () => {
  const detail = doesNotApply({ foo: "bar" }, [{ op: "add", path: "/baz/bat", value: "qux" }]);
  assert.match(detail, /add\): doc is missing path: "\/baz\/bat"/);
});

Deno.test("applyJsonPatch() A.14 unescapes ~01 as ~1, not /", () => {
  const doc = { "/": 9, "~1": 10 };
  assert.deepEqual(applyJsonPatch(doc, [{ op: "test", path: "/~01", value: 10 }]), doc);
});

Deno.test("applyJsonPatch() A.15 does not equate strings and numbers", () => {
  doesNotApply({ "/": 9, "~1": 10 }, [{ op: "test", path: "/~01", value: "10" }]);
});

Deno.test("applyJsonPatch() A.16 appends an array value with -", () => {
  assert.deepEqual(
    applyJsonPatch({ foo: ["bar"] }, [{ op: "add", path: "/foo/-", value: ["abc", "def"] }]),
    { foo: ["bar", ["abc", "def"]] },
  );
});

// Pointers, arrays and the whole document.

Deno.test("applyJsonPatch() resolves ~1 as / and ~0 as ~ in keys", () => {
  assert.deepEqual(
    applyJsonPatch(
      { metadata: { annotations: { "example.com/a~b": "1" } } },
      [{ op: "replace", path: "/metadata/annotations/example.com~1a~0b", value: "2" }],
    ),
    { metadata: { annotations: { "example.com/a~b": "2" } } },
  );
});

Deno.test("applyJsonPatch() adds at index == length and rejects beyond it", () => {
  assert.deepEqual(
    applyJsonPatch({ a: [1, 2] }, [{ op: "add", path: "/a/2", value: 3 }]),
    { a: [1, 2, 3] },
  );
  assert.match(
    doesNotApply({ a: [1, 2] }, [{ op: "add", path: "/a/3", value: 3 }]),
    /invalid index: 3/,
  );
});

Deno.test("applyJsonPatch() rejects out-of-range, negative, leading-zero and - indices", () => {
  doesNotApply({ a: [1, 2] }, [{ op: "remove", path: "/a/2" }]);
  doesNotApply({ a: [1, 2] }, [{ op: "replace", path: "/a/-1", value: 0 }]);
  doesNotApply({ a: [1, 2] }, [{ op: "replace", path: "/a/01", value: 0 }]);
  doesNotApply({ a: [1, 2] }, [{ op: "test", path: "/a/-", value: 2 }]);
  doesNotApply({ a: [1, 2] }, [{ op: "add", path: "/a/x", value: 0 }]);
});

Deno.test("applyJsonPatch() rejects replace and remove of a missing member", () => {
  assert.match(
    doesNotApply({}, [{ op: "replace", path: "/spec/replicas", value: 3 }]),
    /doc is missing key: \/spec\/replicas/,
  );
  doesNotApply({ spec: {} }, [{ op: "remove", path: "/spec/replicas" }]);
});

Deno.test("applyJsonPatch() copies deeply, so later ops do not alias the source", () => {
  assert.deepEqual(
    applyJsonPatch({ a: { b: 1 } }, [
      { op: "copy", from: "/a", path: "/c" },
      { op: "replace", path: "/c/b", value: 2 },
    ]),
    { a: { b: 1 }, c: { b: 2 } },
  );
});

Deno.test("applyJsonPatch() rejects moving a value into its own child and a missing from", () => {
  doesNotApply({ a: { b: 1 } }, [{ op: "move", from: "/a", path: "/a/b/c" }]);
  doesNotApply({ a: 1 }, [{ op: "copy", from: "/missing", path: "/b" }]);
  assert.deepEqual(applyJsonPatch({ a: 1 }, [{ op: "move", from: "/a", path: "/a" }]), { a: 1 });
});

Deno.test('applyJsonPatch() replaces the whole document with path ""', () => {
  assert.deepEqual(applyJsonPatch({ a: 1 }, [{ op: "replace", path: "", value: { b: 2 } }]), {
    b: 2,
  });
  assert.deepEqual(applyJsonPatch({ a: 1 }, [{ op: "test", path: "", value: { a: 1 } }]), {
    a: 1,
  });
});

Deno.test("applyJsonPatch() test compares objects structurally and null as a value", () => {
  const doc = { a: { x: 1, y: [1, { z: null }] } };
  applyJsonPatch(doc, [{ op: "test", path: "/a", value: { y: [1, { z: null }], x: 1 } }]);
  doesNotApply(doc, [{ op: "test", path: "/a/y/1/z", value: 0 }]);
  doesNotApply(doc, [{ op: "test", path: "/a/missing", value: null }]);
});

Deno.test("applyJsonPatch() is atomic: a later failure leaves the input untouched", () => {
  const doc = { a: 1, list: [1] };
  doesNotApply(doc, [
    { op: "replace", path: "/a", value: 2 },
    { op: "add", path: "/list/-", value: 2 },
    { op: "test", path: "/a", value: 1 },
  ]);
  assert.deepEqual(doc, { a: 1, list: [1] });
});

Deno.test("applyJsonPatch() never mutates its inputs nor aliases op values", () => {
  const doc = { spec: { list: [{ n: 1 }] } };
  const value = { n: 2 };
  const ops = [{ op: "add", path: "/spec/list/-", value }, { op: "remove", path: "/spec/list/0" }];
  const docCopy = structuredClone(doc);
  const opsCopy = structuredClone(ops);
  const result = applyJsonPatch(doc, ops) as { spec: { list: { n: number }[] } };
  assert.deepEqual(result, { spec: { list: [{ n: 2 }] } });
  assert.deepEqual(doc, docCopy);
  assert.deepEqual(ops, opsCopy);
  assert.notEqual(result.spec.list[0], value);
});

// Prototype pollution.

Deno.test("applyJsonPatch() treats __proto__ as a plain key", () => {
  const result = applyJsonPatch({}, [{ op: "add", path: "/__proto__", value: { polluted: 1 } }]);
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.deepEqual(Object.keys(result as object), ["__proto__"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  doesNotApply({}, [{ op: "add", path: "/__proto__/polluted", value: 1 }]);
  doesNotApply({}, [{ op: "add", path: "/constructor/prototype/polluted", value: 1 }]);
  doesNotApply({}, [{ op: "test", path: "/toString", value: null }]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);

  const parsed = JSON.parse('{"__proto__": {"a": 1}}');
  const patched = applyJsonPatch(parsed, [{ op: "add", path: "/__proto__/b", value: 2 }]);
  assert.equal(JSON.stringify(patched), '{"__proto__":{"a":1,"b":2}}');
  assert.equal(({} as Record<string, unknown>).b, undefined);
});

// Malformed patch documents: 400 BadRequest (413 when too long).

Deno.test("applyJsonPatch() rejects a body that is not a list with kube's 400", () => {
  assertApiError(
    () => applyJsonPatch({}, { op: "add", path: "/a", value: 1 }),
    400,
    "BadRequest",
    /^json: cannot unmarshal object into Go value of type jsonpatch\.Patch$/,
  );
  assertApiError(() => applyJsonPatch({}, null), 400, "BadRequest");
  assertApiError(
    () => applyJsonPatch({}, [["add"]]),
    400,
    "BadRequest",
    /cannot unmarshal array into Go value of type jsonpatch\.Operation/,
  );
});

Deno.test("applyJsonPatch() rejects malformed operations with 400 before applying any", () => {
  const doc = { a: 1 };
  assertApiError(() => applyJsonPatch(doc, [{ op: "bogus", path: "/a" }]), 400, "BadRequest", /op/);
  assertApiError(() => applyJsonPatch(doc, [{ path: "/a" }]), 400, "BadRequest");
  assertApiError(() => applyJsonPatch(doc, [{ op: "add", value: 1 }]), 400, "BadRequest", /"path"/);
  assertApiError(
    () => applyJsonPatch(doc, [{ op: "add", path: "/b" }]),
    400,
    "BadRequest",
    /"value"/,
  );
  assertApiError(
    () => applyJsonPatch(doc, [{ op: "move", path: "/b" }]),
    400,
    "BadRequest",
    /"from"/,
  );
  assertApiError(() => applyJsonPatch(doc, [{ op: "remove", path: 3 }]), 400, "BadRequest");
  assertApiError(
    () => applyJsonPatch(doc, [{ op: "remove", path: "a" }]),
    400,
    "BadRequest",
    /JSON pointer/,
  );
  assertApiError(() => applyJsonPatch(doc, [{ op: "remove", path: "/a~2" }]), 400, "BadRequest");
  // A later malformed op is reported even though an earlier op would fail to apply.
  assertApiError(
    () => applyJsonPatch(doc, [{ op: "remove", path: "/zzz" }, { op: "nope", path: "/" }]),
    400,
    "BadRequest",
  );
});

Deno.test("applyJsonPatch() accepts add with value null and an empty patch", () => {
  assert.deepEqual(applyJsonPatch({}, [{ op: "add", path: "/a", value: null }]), { a: null });
  assert.deepEqual(applyJsonPatch({ a: 1 }, []), { a: 1 });
});

Deno.test("parseJsonPatch() rejects more than 10000 operations with 413", () => {
  const op = { op: "test", path: "", value: {} };
  assert.equal(parseJsonPatch(Array(MAX_JSON_PATCH_OPERATIONS).fill(op)).length, 10000);
  assertApiError(
    () => parseJsonPatch(Array(MAX_JSON_PATCH_OPERATIONS + 1).fill(op)),
    413,
    "RequestEntityTooLarge",
    /The allowed maximum operations in a JSON patch is 10000, got 10001/,
  );
});
