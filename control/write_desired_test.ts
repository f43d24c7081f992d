import assert from "node:assert/strict";
import { findKind } from "../storage/registry.ts";
import { ApiError } from "../storage/status.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { Objects } from "./api/objects.ts";
import { writeDesired } from "./write_desired.ts";

const CONFIG_MAPS = findKind("v1", "ConfigMap")!;

function cm(data: Record<string, string>, resourceVersion?: string) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: "x", namespace: "default", ...(resourceVersion ? { resourceVersion } : {}) },
    data,
  };
}

Deno.test("writeDesired() creates, updates, reports a stale copy and throws the rest", async () => {
  const store = await storeWithNamespaces("default");
  try {
    const objects = new Objects(store);
    assert.equal(
      await writeDesired(objects, CONFIG_MAPS, "default", undefined, cm({ a: "1" })),
      "written",
    );
    const current = await objects.get(CONFIG_MAPS, "default", "x");
    const next = cm({ a: "2" }, current.metadata.resourceVersion);
    assert.equal(await writeDesired(objects, CONFIG_MAPS, "default", current, next), "written");
    // the same copy again: its resourceVersion is no longer the stored one
    assert.equal(await writeDesired(objects, CONFIG_MAPS, "default", current, next), "stale");
    // a create of something that exists: the informer had not seen it yet
    assert.equal(await writeDesired(objects, CONFIG_MAPS, "default", undefined, cm({})), "stale");
    await assert.rejects(
      writeDesired(objects, CONFIG_MAPS, "default", undefined, {
        ...cm({}),
        metadata: { name: "Not_Valid", namespace: "default" },
      }),
      (e) => e instanceof ApiError && e.code === 422,
    );
  } finally {
    await store.close();
  }
});
