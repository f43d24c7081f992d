import assert from "node:assert/strict";
import { applyMergePatch, createMergePatch, createThreeWayMergePatch } from "./merge_patch.ts";

// RFC 7386 Appendix A: [original, patch, result].
const RFC_7386_EXAMPLES: [unknown, unknown, unknown][] = [
  [{ a: "b" }, { a: "c" }, { a: "c" }],
  [{ a: "b" }, { b: "c" }, { a: "b", b: "c" }],
  [{ a: "b" }, { a: null }, {}],
  [{ a: "b", b: "c" }, { a: null }, { b: "c" }],
  [{ a: ["b"] }, { a: "c" }, { a: "c" }],
  [{ a: "c" }, { a: ["b"] }, { a: ["b"] }],
  [{ a: { b: "c" } }, { a: { b: "d", c: null } }, { a: { b: "d" } }],
  [{ a: [{ b: "c" }] }, { a: [1] }, { a: [1] }],
  [["a", "b"], ["c", "d"], ["c", "d"]],
  [{ a: "b" }, ["c"], ["c"]],
  [{ a: "foo" }, null, null],
  [{ a: "foo" }, "bar", "bar"],
  [{ e: null }, { a: 1 }, { e: null, a: 1 }],
  [[1, 2], { a: "b", c: null }, { a: "b" }],
  [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
];

Deno.test("applyMergePatch() produces every RFC 7386 appendix A result", () => {
  for (const [original, patch, result] of RFC_7386_EXAMPLES) {
    assert.deepEqual(applyMergePatch(original, patch), result, JSON.stringify([original, patch]));
  }
});

Deno.test("applyMergePatch() replaces lists instead of merging them", () => {
  assert.deepEqual(
    applyMergePatch(
      { spec: { containers: [{ name: "a", image: "a:1" }, { name: "b" }] } },
      { spec: { containers: [{ name: "a", image: "a:2" }] } },
    ),
    { spec: { containers: [{ name: "a", image: "a:2" }] } },
  );
});

Deno.test("applyMergePatch() keeps nulls inside a replacing array", () => {
  assert.deepEqual(applyMergePatch({}, { a: [null, { b: null }] }), { a: [null, { b: null }] });
});

Deno.test("applyMergePatch() never mutates its inputs nor aliases patch values", () => {
  const doc = { metadata: { labels: { a: "1", b: "2" } }, data: { x: "1" } };
  const patch = { metadata: { labels: { a: null, c: "3" } }, data: { y: { z: [1] } } };
  const docCopy = structuredClone(doc);
  const patchCopy = structuredClone(patch);
  const result = applyMergePatch(doc, patch) as { data: { y: { z: number[] } } };
  assert.deepEqual(result, {
    metadata: { labels: { b: "2", c: "3" } },
    data: { x: "1", y: { z: [1] } },
  });
  assert.deepEqual(doc, docCopy);
  assert.deepEqual(patch, patchCopy);
  assert.notEqual(result.data.y.z, patch.data.y.z);
});

Deno.test("applyMergePatch() treats __proto__ keys as data", () => {
  const patch = JSON.parse('{"__proto__": {"polluted": true}, "a": {"__proto__": {"x": 1}}}');
  const result = applyMergePatch({ a: {} }, patch) as Record<string, unknown>;
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.equal(JSON.stringify(result), '{"a":{"__proto__":{"x":1}},"__proto__":{"polluted":true}}');
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(({} as Record<string, unknown>).x, undefined);

  const removed = applyMergePatch(
    JSON.parse('{"__proto__": 1, "b": 2}'),
    JSON.parse('{"__proto__": null}'),
  );
  assert.equal(JSON.stringify(removed), '{"b":2}');
});

Deno.test("createMergePatch() round-trips every RFC 7386 object example", () => {
  for (const [original, , result] of RFC_7386_EXAMPLES) {
    const patch = createMergePatch(original, result);
    assert.deepEqual(applyMergePatch(original, patch), result, JSON.stringify([original, result]));
  }
});

Deno.test("createMergePatch() emits changes, additions and deletions only", () => {
  assert.deepEqual(
    createMergePatch(
      { a: 1, b: { c: 1, d: 1 }, e: [1], f: "same", g: { h: 1 } },
      { a: 2, b: { c: 1 }, e: [1, 2], f: "same", g: { h: 1 }, i: {} },
    ),
    { a: 2, b: { d: null }, e: [1, 2], i: {} },
  );
  assert.deepEqual(createMergePatch({ a: { b: 1 } }, { a: { b: 1 } }), {});
  assert.deepEqual(createMergePatch({ a: 1 }, { a: null }), { a: null });
  assert.deepEqual(createMergePatch({}, { a: null }), {});
  assert.deepEqual(createMergePatch({ a: 1 }, [1]), [1]);
});

Deno.test("createThreeWayMergePatch() deletes what the manifest dropped and keeps server fields", () => {
  const lastApplied = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", labels: { app: "web", tier: "fe" } },
    data: { a: "1", b: "2" },
  };
  const modified = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "cfg", labels: { app: "web" } },
    data: { a: "1", c: "3" },
  };
  const current = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "cfg",
      namespace: "default",
      uid: "u-1",
      resourceVersion: "7",
      labels: { app: "web", tier: "fe", team: "x" },
    },
    data: { a: "changed-by-someone", b: "2" },
  };
  const patch = createThreeWayMergePatch(lastApplied, modified, current);
  assert.deepEqual(patch, {
    metadata: { labels: { tier: null } },
    data: { a: "1", b: null, c: "3" },
  });
  assert.deepEqual(applyMergePatch(current, patch), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "cfg",
      namespace: "default",
      uid: "u-1",
      resourceVersion: "7",
      labels: { app: "web", team: "x" },
    },
    data: { a: "1", c: "3" },
  });
});

Deno.test("createThreeWayMergePatch() returns {} when applying would change nothing", () => {
  const manifest = { kind: "Thing", spec: { size: 1, tags: ["a"] } };
  const live = { kind: "Thing", spec: { size: 1, tags: ["a"] }, status: { ready: true } };
  assert.deepEqual(createThreeWayMergePatch(manifest, manifest, live), {});
  assert.deepEqual(createThreeWayMergePatch(undefined, manifest, live), {});
  // A key the manifest dropped that is already gone needs no deletion.
  assert.deepEqual(
    createThreeWayMergePatch({ kind: "Thing", spec: { size: 1, old: 1 } }, manifest, live),
    { spec: { old: null } },
  );
});

Deno.test("createThreeWayMergePatch() sends replaced lists and explicit empty objects", () => {
  assert.deepEqual(
    createThreeWayMergePatch(
      { spec: { tags: ["a"] } },
      { spec: { tags: ["b"], selector: {} } },
      { spec: { tags: ["a"], extra: 1 } },
    ),
    { spec: { tags: ["b"], selector: {} } },
  );
});

Deno.test("createThreeWayMergePatch() does not mutate its inputs", () => {
  const last = { a: { b: 1, c: 2 } };
  const modified = { a: { b: 2 } };
  const current = { a: { b: 1, c: 2, d: 3 } };
  const copies = structuredClone([last, modified, current]);
  assert.deepEqual(createThreeWayMergePatch(last, modified, current), { a: { b: 2, c: null } });
  assert.deepEqual([last, modified, current], copies);
});
