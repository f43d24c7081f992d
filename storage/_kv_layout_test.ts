import assert from "node:assert/strict";
import {
  assertKey,
  assertPrefix,
  chunk,
  CHUNK_BYTES,
  encodeObject,
  keyOfPointer,
  objectAt,
  pointerKey,
} from "./_kv_layout.ts";

Deno.test("chunk() cuts at CHUNK_BYTES and always returns at least one chunk", () => {
  assert.deepEqual(chunk(new Uint8Array(0)).map((c) => c.length), [0]);
  assert.deepEqual(chunk(new Uint8Array(CHUNK_BYTES)).map((c) => c.length), [CHUNK_BYTES]);
  assert.deepEqual(chunk(new Uint8Array(CHUNK_BYTES * 2 + 1)).map((c) => c.length), [
    CHUNK_BYTES,
    CHUNK_BYTES,
    1,
  ]);
});

Deno.test("objectAt() joins chunks into a frozen object and rejects a missing chunk", () => {
  const obj = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "a" },
    data: { x: "é".repeat(CHUNK_BYTES) },
  };
  const chunks = new Map([[7, chunk(encodeObject(obj))]]);
  assert.equal(chunks.get(7)?.length, 3);
  const decoded = objectAt(chunks, 7, 3, "/core/configmaps/ns/a");
  assert.deepEqual(decoded, obj);
  assert.ok(Object.isFrozen(decoded.metadata));
  delete chunks.get(7)?.[1];
  assert.throws(() => objectAt(chunks, 7, 3, "/core/configmaps/ns/a"), /2 of 3 chunks are present/);
  assert.throws(
    () => objectAt(chunks, 8, 1, "/core/configmaps/ns/b"),
    /'\/core\/configmaps\/ns\/b' at revision 8/,
  );
});

Deno.test("pointerKey() splits a key into segments and keyOfPointer() joins them back", () => {
  assert.deepEqual(pointerKey("/core/configmaps/ns/a"), ["k", "core", "configmaps", "ns", "a"]);
  assert.equal(keyOfPointer(pointerKey("/core/namespaces/ns")), "/core/namespaces/ns");
});

Deno.test("assertKey() and assertPrefix() accept only well-formed paths", () => {
  assertKey("get", "/core/namespaces/default");
  assertPrefix("list", "/");
  assertPrefix("list", "/core/configmaps/");
  for (const bad of ["", "/", "core/a", "/core/", "/core//a"]) {
    assert.throws(() => assertKey("get", bad), TypeError, bad);
  }
  for (const bad of ["", "/core", "core/", "//"]) {
    assert.throws(() => assertPrefix("list", bad), TypeError, bad);
  }
});
