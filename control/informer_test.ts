import assert from "node:assert/strict";
import { openKvStore } from "../storage/kv_store.ts";
import type { KubeObject } from "../storage/object.ts";
import type { Store, StoreEvent, StoreWatch } from "../storage/store.ts";
import { Informer, type InformerEvent } from "./informer.ts";

const PREFIX = "/core/configmaps/";

function cm(name: string, data: Record<string, string> = {}, owner?: string): KubeObject {
  const metadata: KubeObject["metadata"] = { name, namespace: "default", uid: `uid-${name}` };
  if (owner) {
    metadata.ownerReferences = [{ apiVersion: "v1", kind: "ConfigMap", name: owner, uid: owner }];
  }
  return { apiVersion: "v1", kind: "ConfigMap", metadata, data };
}

function key(name: string): string {
  return `${PREFIX}default/${name}`;
}

async function eventually(what: string, check: () => boolean): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function summary(ev: InformerEvent): string {
  return `${ev.type} ${ev.object.metadata.name}`;
}

Deno.test("Informer lists, then follows adds, updates and deletes, with indexes", async () => {
  const store = await openKvStore(":memory:");
  try {
    await store.create(key("a"), cm("a", {}, "owner-1"));
    const informer = new Informer({ store, prefix: PREFIX, name: "test" });
    informer.addIndex("owner", (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid));
    const events: string[] = [];
    informer.onEvent((ev) => events.push(summary(ev)));
    await informer.start();
    assert.deepEqual(events, ["add a"]);
    assert.deepEqual(informer.byIndex("owner", "owner-1").map((o) => o.metadata.name), ["a"]);

    await store.create(key("b"), cm("b", {}, "owner-1"));
    const a = await store.get(key("a"));
    await store.update(key("a"), { ...a!, data: { x: "1" }, metadata: { ...a!.metadata } });
    await store.delete(key("b"));
    await eventually("three events", () => events.length === 4);
    assert.deepEqual(events, ["add a", "add b", "update a", "delete b"]);
    assert.deepEqual(informer.get(key("a"))?.data, { x: "1" });
    assert.equal(informer.get(key("b")), undefined);
    assert.deepEqual(informer.byIndex("owner", "owner-1").map((o) => o.metadata.name), ["a"]);
    assert.equal(informer.revision, store.revision());
    await informer.stop();
  } finally {
    await store.close();
  }
});

Deno.test("Informer lists again after its watch fails and reports what changed meanwhile", async () => {
  const inner = await openKvStore(":memory:");
  // A store whose first watch fails at once, as a watch from a compacted revision does.
  let watches = 0;
  const failOnce = (prefix: string, from: number): StoreWatch => {
    watches++;
    if (watches > 1) return inner.watch(prefix, from);
    return {
      close() {},
      [Symbol.asyncIterator]: () => ({
        next: (): Promise<IteratorResult<StoreEvent>> => Promise.reject(new Error("Expired")),
      }),
    } as StoreWatch;
  };
  const store = new Proxy(inner, {
    get(target, property) {
      if (property === "watch") return failOnce;
      const value = Reflect.get(target, property, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Store;
  try {
    await inner.create(key("gone"), cm("gone"));
    await inner.create(key("kept"), cm("kept"));
    const informer = new Informer({ store, prefix: PREFIX, name: "test", retryMs: 50 });
    const events: string[] = [];
    informer.onEvent((ev) => events.push(summary(ev)));
    const logged = console.error;
    console.error = () => {};
    try {
      await informer.start();
      await inner.delete(key("gone"));
      const kept = await inner.get(key("kept"));
      await inner.update(key("kept"), { ...kept!, data: { v: "2" } });
      await inner.create(key("new"), cm("new"));
      await eventually("the relist's events", () => events.length === 5);
    } finally {
      console.error = logged;
    }
    assert.deepEqual(events.slice(0, 2).sort(), ["add gone", "add kept"]);
    assert.deepEqual(events.slice(2).sort(), ["add new", "delete gone", "update kept"]);
    assert.equal(watches >= 2, true);
    await informer.stop();
  } finally {
    await inner.close();
  }
});
