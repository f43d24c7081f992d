import assert from "node:assert/strict";
import { type IndexEntry, ObjectIndex } from "./_kv_index.ts";

function entry(rev: number): IndexEntry {
  return { obj: { apiVersion: "v1", kind: "ConfigMap", metadata: {} }, rev, n: 1 };
}

function keys(index: ObjectIndex, prefix: string, startAfter?: string): string[] {
  return [...index.range(prefix, startAfter)].map(([key]) => key);
}

Deno.test("ObjectIndex.range() lists one bucket in string order, from after startAfter", () => {
  const index = new ObjectIndex();
  for (
    const key of ["/core/pods/ns/b", "/core/pods/ns/a-b", "/core/pods/ns/a", "/core/pods/ns2/a"]
  ) {
    index.set(key, entry(1));
  }
  assert.deepEqual(keys(index, "/core/pods/ns/"), [
    "/core/pods/ns/a",
    "/core/pods/ns/a-b",
    "/core/pods/ns/b",
  ]);
  assert.deepEqual(keys(index, "/core/pods/ns/", "/core/pods/ns/a"), [
    "/core/pods/ns/a-b",
    "/core/pods/ns/b",
  ]);
  assert.deepEqual(keys(index, "/core/pods/ns/", "/core/pods/ns/zzz"), []);
  assert.deepEqual(keys(index, "/core/pods/ns2/", "/core/pods/ns/b"), ["/core/pods/ns2/a"]);
  assert.deepEqual(keys(index, "/core/services/"), []);
});

Deno.test("ObjectIndex.range() merges buckets for a short prefix in string order", () => {
  const index = ObjectIndex.from([
    ["/core/pods/ns/a", entry(1)],
    ["/core/namespaces/ns", entry(2)],
    ["/core/a", entry(3)],
    ["/apps/deployments/ns/a", entry(4)],
  ]);
  assert.deepEqual(keys(index, "/core/"), ["/core/a", "/core/namespaces/ns", "/core/pods/ns/a"]);
  assert.deepEqual(keys(index, "/"), [
    "/apps/deployments/ns/a",
    "/core/a",
    "/core/namespaces/ns",
    "/core/pods/ns/a",
  ]);
  assert.deepEqual(keys(index, "/core/", "/core/namespaces/ns"), ["/core/pods/ns/a"]);
});

Deno.test("ObjectIndex.set() replaces and delete() removes an entry", () => {
  const index = new ObjectIndex();
  index.set("/core/pods/ns/a", entry(1));
  index.set("/core/pods/ns/a", entry(2));
  assert.equal(index.get("/core/pods/ns/a")?.rev, 2);
  assert.deepEqual(keys(index, "/core/pods/"), ["/core/pods/ns/a"]);
  index.delete("/core/pods/ns/a");
  index.delete("/core/pods/ns/missing");
  assert.equal(index.get("/core/pods/ns/a"), undefined);
  assert.deepEqual(keys(index, "/"), []);
});
