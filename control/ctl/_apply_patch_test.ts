import assert from "node:assert/strict";
import { LAST_APPLIED, lastApplied, threeWayMergePatch, withLastApplied } from "./_apply_patch.ts";

const cm = (data: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "app", namespace: "default" },
  data,
  ...extra,
});

Deno.test("withLastApplied() stores sorted compact JSON with a newline, like kubectl", () => {
  const obj = withLastApplied({
    kind: "ConfigMap",
    apiVersion: "v1",
    metadata: { name: "app" },
    data: { b: "<2>", a: "1" },
  });
  const meta = obj.metadata as { annotations: Record<string, string> };
  assert.equal(
    meta.annotations[LAST_APPLIED],
    '{"apiVersion":"v1","data":{"a":"1","b":"\\u003c2\\u003e"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"app"}}\n',
  );
});

Deno.test("threeWayMergePatch() is empty when the same config is applied again", () => {
  const applied = withLastApplied(cm({ a: "1" }));
  const live = {
    ...structuredClone(applied),
    metadata: { ...(applied.metadata as object), uid: "u1", resourceVersion: "7" },
  };
  assert.deepEqual(
    threeWayMergePatch(lastApplied(live), withLastApplied(cm({ a: "1" })), live),
    {},
  );
});

Deno.test("threeWayMergePatch() deletes fields removed from the config and keeps server fields", () => {
  const live = withLastApplied(cm({ a: "1", b: "2" }, { immutable: false }));
  (live.metadata as Record<string, unknown>).uid = "u1";
  (live.data as Record<string, unknown>).fromServer = "x";
  const modified = withLastApplied(cm({ a: "1" }));
  const patch = threeWayMergePatch(lastApplied(live), modified, live);
  assert.deepEqual(patch, {
    data: { b: null },
    immutable: null,
    metadata: {
      annotations: {
        [LAST_APPLIED]: (modified.metadata as { annotations: Record<string, string> })
          .annotations[LAST_APPLIED],
      },
    },
  });
});

Deno.test("threeWayMergePatch() replaces lists whole and sets changed scalars", () => {
  const original = { spec: { ports: [{ port: 80 }, { port: 443 }], type: "ClusterIP" } };
  const current = { spec: { ports: [{ port: 80 }, { port: 443 }], type: "ClusterIP", ip: "1" } };
  const modified = { spec: { ports: [{ port: 8080 }], type: "NodePort" } };
  assert.deepEqual(threeWayMergePatch(original, modified, current), {
    spec: { ports: [{ port: 8080 }], type: "NodePort" },
  });
});

Deno.test("threeWayMergePatch() without a last-applied annotation never deletes", () => {
  const current = { data: { a: "1", b: "2" } };
  assert.deepEqual(threeWayMergePatch(undefined, { data: { a: "3" } }, current), {
    data: { a: "3" },
  });
});

Deno.test("threeWayMergePatch() sets an explicitly empty map as a value", () => {
  assert.deepEqual(threeWayMergePatch({}, { data: {} }, {}), { data: {} });
});
