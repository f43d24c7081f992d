import assert from "node:assert/strict";
import { openKvStore } from "../storage/kv_store.ts";
import type { KubeObject, ObjectMeta, OwnerReference } from "../storage/object.ts";
import { RESOURCE_TYPES } from "../storage/registry.ts";
import { apiVersionOf, type ResourceType, storeKey } from "../storage/resource.ts";
import type { Store } from "../storage/store.ts";
import { type DeleteOptions, Objects } from "./api/objects.ts";
import { GarbageCollector } from "./garbage_collector.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const HOLD = "example.com/hold";

function type(kind: string): ResourceType {
  const rt = RESOURCE_TYPES.find((t) => t.kind === kind);
  if (!rt) throw new Error(`no resource type for kind ${kind}`);
  return rt;
}

interface Cluster {
  store: Store;
  objects: Objects;
}

/** A fresh in-memory store with namespaces `default` and `other`, closed afterwards. */
async function withCluster(
  fn: (cluster: Cluster) => Promise<void>,
  wrap: (store: Store) => Store = (s) => s,
): Promise<void> {
  const inner = await openKvStore(":memory:");
  try {
    const store = wrap(inner);
    const objects = new Objects(store);
    for (const name of ["default", "other"]) {
      await objects.create(type("Namespace"), undefined, { metadata: { name } }, WRITE);
    }
    await fn({ store, objects });
  } finally {
    await inner.close();
  }
}

/** A running collector over `store`, stopped afterwards. */
async function withCollector(store: Store, fn: () => Promise<void>): Promise<void> {
  const gc = new GarbageCollector({ store, types: RESOURCE_TYPES, retryMs: 50 });
  await gc.start();
  try {
    await fn();
  } finally {
    await gc.stop();
  }
}

/** Create an object of `kind` (namespaced ones in `default` unless `meta.namespace` says). */
async function create(
  { objects }: Cluster,
  kind: string,
  name: string,
  meta: ObjectMeta = {},
): Promise<KubeObject> {
  const rt = type(kind);
  const input: KubeObject = { apiVersion: apiVersionOf(rt), kind, metadata: { name, ...meta } };
  if (kind === "Deployment" || kind === "ReplicaSet") {
    input.spec = {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image: "busybox:1" }] },
      },
    };
  }
  const namespace = rt.namespaced ? meta.namespace ?? "default" : undefined;
  return (await objects.create(rt, namespace, input, WRITE)).object;
}

function ref(owner: KubeObject, blockOwnerDeletion?: boolean): OwnerReference {
  return {
    apiVersion: owner.apiVersion,
    kind: owner.kind,
    name: owner.metadata.name!,
    uid: owner.metadata.uid!,
    ...(blockOwnerDeletion === undefined ? {} : { blockOwnerDeletion }),
  };
}

function read({ store }: Cluster, obj: KubeObject): Promise<KubeObject | null> {
  const rt = type(obj.kind);
  return store.get(storeKey(rt, obj.metadata.namespace, obj.metadata.name!));
}

async function remove(
  { objects }: Cluster,
  obj: KubeObject,
  propagationPolicy?: DeleteOptions["propagationPolicy"],
): Promise<void> {
  await objects.delete(type(obj.kind), obj.metadata.namespace, obj.metadata.name!, {
    ...(propagationPolicy ? { propagationPolicy } : {}),
    dryRun: false,
  });
}

/** Drop `finalizer` from the stored object. */
async function release(cluster: Cluster, obj: KubeObject, finalizer: string): Promise<void> {
  const current = await read(cluster, obj);
  assert.ok(current, `${obj.metadata.name} should exist to release ${finalizer}`);
  current.metadata.finalizers = (current.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  await cluster.objects.update(
    type(obj.kind),
    obj.metadata.namespace,
    obj.metadata.name!,
    current,
    WRITE,
  );
}

/** Poll `check` every 20 ms until it holds; fail after 5 s. */
async function eventually(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function gone(cluster: Cluster, ...objs: KubeObject[]): Promise<boolean> {
  for (const obj of objs) if (await read(cluster, obj)) return false;
  return true;
}

Deno.test("GarbageCollector deletes the dependents of a deleted owner, transitively (Background)", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const deploy = await create(cluster, "Deployment", "web");
      const rs = await create(cluster, "ReplicaSet", "web-1", { ownerReferences: [ref(deploy)] });
      const a = await create(cluster, "ConfigMap", "web-a", { ownerReferences: [ref(rs)] });
      const b = await create(cluster, "ConfigMap", "web-b", { ownerReferences: [ref(rs)] });
      const bystander = await create(cluster, "ConfigMap", "bystander");
      await remove(cluster, deploy);
      await eventually("the ReplicaSet and its ConfigMaps are gone", () => gone(cluster, rs, a, b));
      assert.ok(await read(cluster, bystander));
    });
  });
});

Deno.test("GarbageCollector keeps a dependent that has a live owner and drops its reference to the gone one", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const first = await create(cluster, "ConfigMap", "first");
      const second = await create(cluster, "ConfigMap", "second");
      const dep = await create(cluster, "ConfigMap", "shared", {
        ownerReferences: [ref(first), ref(second)],
      });
      await remove(cluster, first);
      await eventually("the reference to the deleted owner is removed", async () => {
        const current = await read(cluster, dep);
        assert.ok(current, "the dependent with a live owner must stay");
        return current.metadata.ownerReferences?.length === 1;
      });
      assert.deepEqual((await read(cluster, dep))?.metadata.ownerReferences, [ref(second)]);
      await remove(cluster, second);
      await eventually("the dependent goes with its last owner", () => gone(cluster, dep));
    });
  });
});

Deno.test("GarbageCollector collects dependents whose ownerReferences dangle at startup", async () => {
  await withCluster(async (cluster) => {
    const owner = await create(cluster, "ConfigMap", "owner");
    const noSuchUid = await create(cluster, "ConfigMap", "no-such-uid", {
      ownerReferences: [{ ...ref(owner), name: "ghost", uid: crypto.randomUUID() }],
    });
    const otherUid = await create(cluster, "ConfigMap", "other-uid", {
      ownerReferences: [{ ...ref(owner), uid: crypto.randomUUID() }],
    });
    const owned = await create(cluster, "ConfigMap", "owned", { ownerReferences: [ref(owner)] });
    await withCollector(cluster.store, async () => {
      await eventually(
        "both dependents with dangling references are gone",
        () => gone(cluster, noSuchUid, otherUid),
      );
      assert.ok(await read(cluster, owned));
    });
  });
});

Deno.test("GarbageCollector counts cluster-scoped owners and treats owners in another namespace as dangling", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const node = await create(cluster, "Node", "edge-1");
      const elsewhere = await create(cluster, "ConfigMap", "elsewhere", { namespace: "other" });
      const onNode = await create(cluster, "ConfigMap", "on-node", {
        ownerReferences: [ref(node)],
      });
      const crossNamespace = await create(cluster, "ConfigMap", "cross", {
        ownerReferences: [ref(elsewhere)],
      });
      await eventually(
        "the cross-namespace dependent is gone",
        () => gone(cluster, crossNamespace),
      );
      assert.ok(await read(cluster, elsewhere));
      assert.ok(await read(cluster, onNode));
      await remove(cluster, node);
      await eventually("the Node's dependent is gone", () => gone(cluster, onNode));
    });
  });
});

Deno.test("GarbageCollector orphans dependents: it strips the ownerReference, then lets the owner go", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const deploy = await create(cluster, "Deployment", "web");
      const rs = await create(cluster, "ReplicaSet", "web-1", {
        ownerReferences: [ref(deploy, true)],
      });
      const cm = await create(cluster, "ConfigMap", "web-a", { ownerReferences: [ref(rs)] });
      await remove(cluster, deploy, "Orphan");
      await eventually("the Deployment is gone", () => gone(cluster, deploy));
      const kept = await read(cluster, rs);
      assert.ok(kept, "the orphaned ReplicaSet stays");
      assert.equal(kept.metadata.ownerReferences, undefined);
      assert.deepEqual((await read(cluster, cm))?.metadata.ownerReferences, [ref(rs)]);
    });
  });
});

Deno.test("GarbageCollector orphaning retries an ownerReference removal that loses a race (Conflict)", async () => {
  let racer: { key: string; raced: boolean } | undefined;
  const wrap = (store: Store): Store =>
    new Proxy(store, {
      get(target, prop) {
        if (prop !== "update") return Reflect.get(target, prop).bind(target);
        return async (key: string, obj: KubeObject, expected?: number) => {
          if (racer && key === racer.key && !racer.raced) {
            racer.raced = true;
            const current = await target.get(key);
            assert.ok(current);
            current.metadata.labels = { touched: "yes" };
            await target.update(key, current);
          }
          return await target.update(key, obj, expected);
        };
      },
    });
  await withCluster(async (cluster) => {
    const owner = await create(cluster, "ConfigMap", "owner");
    const dep = await create(cluster, "ConfigMap", "dep", { ownerReferences: [ref(owner)] });
    racer = { key: storeKey(type("ConfigMap"), "default", "dep"), raced: false };
    await withCollector(cluster.store, async () => {
      await remove(cluster, owner, "Orphan");
      await eventually("the owner is gone", () => gone(cluster, owner));
    });
    assert.equal(racer.raced, true);
    const kept = await read(cluster, dep);
    assert.ok(kept);
    assert.equal(kept.metadata.ownerReferences, undefined);
    assert.deepEqual(kept.metadata.labels, { touched: "yes" });
  }, wrap);
});

Deno.test("GarbageCollector deletes dependents first in Foreground and the owner once no blocking dependent remains", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const deploy = await create(cluster, "Deployment", "web");
      const rs = await create(cluster, "ReplicaSet", "web-1", {
        ownerReferences: [ref(deploy, true)],
        finalizers: [HOLD],
      });
      const a = await create(cluster, "ConfigMap", "web-a", { ownerReferences: [ref(rs, true)] });
      const b = await create(cluster, "ConfigMap", "web-b", { ownerReferences: [ref(rs, true)] });
      await remove(cluster, deploy, "Foreground");
      await eventually(
        "the ReplicaSet's dependents are gone and it waits on its own finalizer",
        async () => {
          const held = await read(cluster, rs);
          return await gone(cluster, a, b) && held !== null &&
            held.metadata.deletionTimestamp !== undefined &&
            JSON.stringify(held.metadata.finalizers) === JSON.stringify([HOLD]);
        },
      );
      const waiting = await read(cluster, deploy);
      assert.ok(waiting, "the Deployment waits for its blocking dependent");
      assert.ok(waiting.metadata.deletionTimestamp);
      assert.deepEqual(waiting.metadata.finalizers, ["foregroundDeletion"]);
      await release(cluster, rs, HOLD);
      await eventually(
        "the ReplicaSet and the Deployment are gone",
        () => gone(cluster, rs, deploy),
      );
    });
  });
});

Deno.test("GarbageCollector Foreground deletion does not wait for dependents without blockOwnerDeletion but deletes them", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const owner = await create(cluster, "ConfigMap", "owner");
      const held = await create(cluster, "ConfigMap", "held", {
        ownerReferences: [ref(owner)],
        finalizers: [HOLD],
      });
      const free = await create(cluster, "ConfigMap", "free", { ownerReferences: [ref(owner)] });
      await remove(cluster, owner, "Foreground");
      await eventually(
        "the owner and the unheld dependent are gone",
        () => gone(cluster, owner, free),
      );
      await eventually("the held dependent is being deleted", async () => {
        return (await read(cluster, held))?.metadata.deletionTimestamp !== undefined;
      });
      await release(cluster, held, HOLD);
      await eventually("the held dependent is gone", () => gone(cluster, held));
    });
  });
});

Deno.test("GarbageCollector started again converges on what changed while it was stopped", async () => {
  await withCluster(async (cluster) => {
    const deploy = await create(cluster, "Deployment", "web");
    const rs = await create(cluster, "ReplicaSet", "web-1", {
      ownerReferences: [ref(deploy, true)],
      finalizers: [HOLD],
    });
    const cm = await create(cluster, "ConfigMap", "web-a", { ownerReferences: [ref(rs, true)] });
    const owner = await create(cluster, "ConfigMap", "owner");
    const dep = await create(cluster, "ConfigMap", "dep", { ownerReferences: [ref(owner)] });
    await withCollector(cluster.store, async () => {
      await remove(cluster, deploy, "Foreground");
      await eventually("the first collector has deleted the ConfigMap", () => gone(cluster, cm));
    });
    await release(cluster, rs, HOLD);
    await remove(cluster, owner);
    assert.ok(await read(cluster, deploy), "nothing finalizes the Deployment while stopped");
    assert.ok(await read(cluster, dep), "nothing collects the dependent while stopped");
    await withCollector(cluster.store, async () => {
      await eventually(
        "the Deployment and the dependent are gone",
        () => gone(cluster, deploy, dep),
      );
    });
  });
});

Deno.test("GarbageCollector Foreground deletion keeps a dependent with another live owner and drops the reference", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const leaving = await create(cluster, "ConfigMap", "leaving");
      const staying = await create(cluster, "ConfigMap", "staying");
      const dep = await create(cluster, "ConfigMap", "shared", {
        ownerReferences: [ref(leaving, true), ref(staying)],
      });
      await remove(cluster, leaving, "Foreground");
      await eventually("the owner deleted in the foreground is gone", () => gone(cluster, leaving));
      assert.deepEqual((await read(cluster, dep))?.metadata.ownerReferences, [ref(staying)]);
    });
  });
});

Deno.test("GarbageCollector Foreground deletion breaks an ownership cycle of blocking references", async () => {
  await withCluster(async (cluster) => {
    await withCollector(cluster.store, async () => {
      const a = await create(cluster, "ConfigMap", "a");
      const b = await create(cluster, "ConfigMap", "b", { ownerReferences: [ref(a, true)] });
      await cluster.objects.update(type("ConfigMap"), "default", "a", {
        ...a,
        metadata: { ...a.metadata, ownerReferences: [ref(b, true)] },
      }, WRITE);
      await remove(cluster, a, "Foreground");
      await eventually("both objects of the cycle are gone", () => gone(cluster, a, b));
    });
  });
});
