import assert from "node:assert/strict";
import { openKvStore } from "../../storage/kv_store.ts";
import type { KubeObject } from "../../storage/object.ts";
import {
  ANN_BIND_COMPLETED,
  ANN_SELECTED_NODE,
  claimVolumeName,
} from "../../storage/persistent_volumes.ts";
import { findKind, RESOURCE_TYPES } from "../../storage/registry.ts";
import type { ResourceType } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store, StoreWatch } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { testClaim, testClass, testNode, testPod, testVolume } from "./_testing.ts";
import { type BindFunction, bindThroughBinding, Scheduler } from "./scheduler.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;

function kind(name: string): ResourceType {
  const rt = RESOURCE_TYPES.find((t) => t.group === "" && t.kind === name);
  assert.ok(rt, name);
  return rt;
}

const NAMESPACES = kind("Namespace");
const NODES = kind("Node");
const PODS = kind("Pod");
const CLAIMS = kind("PersistentVolumeClaim");
const VOLUMES = kind("PersistentVolume");
const CLASSES = findKind("storage.k8s.io/v1", "StorageClass")!;

/** A store with the `default` namespace, closed after `fn` whatever happens. */
async function withCluster(fn: (store: Store, objects: Objects) => Promise<void>): Promise<void> {
  const store = await openKvStore(":memory:");
  try {
    const objects = new Objects(store);
    await objects.create(
      NAMESPACES,
      undefined,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } },
      WRITE,
    );
    await fn(store, objects);
  } finally {
    await store.close();
  }
}

/** Poll `probe` until it returns a value, failing after a bounded wait. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function podScheduled(pod: KubeObject): Condition | undefined {
  const status = pod.status as { conditions?: Condition[] } | undefined;
  return status?.conditions?.find((c) => c.type === "PodScheduled");
}

/**
 * Waits for pod `name` to carry `PodScheduled=False`, reason Unschedulable, with `message`, and
 * for a FailedScheduling Event with the same message; returns the Event.
 */
async function assertUnschedulable(
  store: Store,
  objects: Objects,
  name: string,
  message: string,
): Promise<KubeObject> {
  const condition = await eventually("the Unschedulable condition", async () => {
    const c = podScheduled(await objects.get(PODS, "default", name));
    return c?.status === "False" ? c : undefined;
  });
  assert.equal(condition.reason, "Unschedulable");
  assert.equal(condition.message, message);
  const event = await eventually("the FailedScheduling event", async () => {
    const { items } = await store.list("/core/events/default/");
    return items.find((e) =>
      e.reason === "FailedScheduling" &&
      (e.involvedObject as { name?: string } | undefined)?.name === name
    );
  });
  assert.equal(event.message, message);
  return event;
}

function nodeNameOf(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string }).nodeName;
}

Deno.test("Scheduler marks an unschedulable pod, records an Event, then binds it when a node fits", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("small", { cpu: "1" }), WRITE);
    const created = await objects.create(PODS, "default", testPod("big", { cpu: "2" }), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      const message = "0/1 nodes are available: 1 Insufficient cpu.";
      const event = await assertUnschedulable(store, objects, "big", message);
      assert.equal(event.type, "Warning");
      assert.deepEqual(event.source, { component: "default-scheduler" });
      assert.equal(event.reportingComponent, "default-scheduler");
      assert.ok((event.count as number) >= 1);
      assert.ok(event.firstTimestamp && event.lastTimestamp);
      const involved = event.involvedObject as Record<string, unknown>;
      assert.equal(involved.kind, "Pod");
      assert.equal(involved.apiVersion, "v1");
      assert.equal(involved.namespace, "default");
      assert.equal(involved.name, "big");
      assert.equal(involved.uid, created.object.metadata.uid);
      assert.ok(involved.resourceVersion);

      await objects.create(NODES, undefined, testNode("large", { cpu: "4" }), WRITE);
      const bound = await eventually("the pod to be bound", async () => {
        const pod = await objects.get(PODS, "default", "big");
        return nodeNameOf(pod) ? pod : undefined;
      });
      assert.equal(nodeNameOf(bound), "large");
      const scheduled = await eventually("PodScheduled=True", async () => {
        const c = podScheduled(await objects.get(PODS, "default", "big"));
        return c?.status === "True" ? c : undefined;
      });
      assert.equal(scheduled.type, "PodScheduled");
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("Scheduler re-plans from fresh state when it loses a bind race", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const real = bindThroughBinding(objects, PODS);
    const calls: string[] = [];
    const bind: BindFunction = async (pod, nodeName, expectedResourceVersion) => {
      calls.push(expectedResourceVersion);
      if (calls.length === 1) {
        await objects.patch(
          PODS,
          "default",
          pod.metadata.name ?? "",
          "application/merge-patch+json",
          { metadata: { labels: { touched: "yes" } } },
          WRITE,
        );
        throw ApiError.conflict(
          { group: "", resource: "pods" },
          "web",
          "the object has been modified",
        );
      }
      await real(pod, nodeName, expectedResourceVersion);
    };
    const created = await objects.create(PODS, "default", testPod("web"), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, bind, retryMs: 10 });
    await scheduler.start();
    try {
      const bound = await eventually("the pod to be bound", async () => {
        const pod = await objects.get(PODS, "default", "web");
        return nodeNameOf(pod) ? pod : undefined;
      });
      assert.equal(nodeNameOf(bound), "n1");
      assert.equal(bound.metadata.labels?.touched, "yes");
      assert.equal(calls.length, 2);
      assert.equal(calls[0], created.object.metadata.resourceVersion);
      assert.notEqual(calls[1], calls[0]);
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("bindThroughBinding() refuses a stale resourceVersion and an already bound pod with Conflict", async () => {
  await withCluster(async (_store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const { object: pod } = await objects.create(PODS, "default", testPod("web"), WRITE);
    const bind = bindThroughBinding(objects, PODS);
    await assert.rejects(
      bind(pod, "n1", "1"),
      (e) => e instanceof ApiError && e.reason === "Conflict",
    );
    await bind(pod, "n1", pod.metadata.resourceVersion ?? "");
    const bound = await objects.get(PODS, "default", "web");
    assert.equal(nodeNameOf(bound), "n1");
    await assert.rejects(
      bind(bound, "n1", bound.metadata.resourceVersion ?? ""),
      (e) => e instanceof ApiError && e.reason === "Conflict" && /already assigned/.test(e.message),
    );
  });
});

Deno.test("Scheduler ignores pods for another scheduler and stops cleanly", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const other = testPod("custom", { spec: { schedulerName: "other-scheduler" } });
    await objects.create(PODS, "default", other, WRITE);
    await objects.create(PODS, "default", testPod("mine"), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      await eventually("the default-scheduler pod to be bound", async () => {
        return nodeNameOf(await objects.get(PODS, "default", "mine"));
      });
      assert.equal(nodeNameOf(await objects.get(PODS, "default", "custom")), undefined);
      const { items } = await store.list("/core/events/default/");
      assert.equal(items.length, 0);
    } finally {
      await scheduler.stop();
    }
  });
});

/** A claim as the API takes it: the fixture without the fields the server sets. */
function claimInput(name: string, options: Parameters<typeof testClaim>[1] = {}): KubeObject {
  const claim = testClaim(name, options);
  delete claim.metadata.uid;
  delete claim.status;
  return claim;
}

/** Bind `claim` to a new local volume on `node`, as the PV controller would. */
async function bindClaim(objects: Objects, claim: string, node: string): Promise<void> {
  const volume = `pv-${claim}`;
  const stored = await objects.get(CLAIMS, "default", claim);
  const pv = testVolume(volume, { node, claim: { name: claim } });
  (pv.spec as { claimRef: { uid?: string } }).claimRef.uid = stored.metadata.uid;
  delete pv.status;
  await objects.create(VOLUMES, undefined, pv, WRITE);
  const next = structuredClone(stored);
  next.spec = { ...(stored.spec as object), volumeName: volume };
  next.metadata.annotations = { ...stored.metadata.annotations, [ANN_BIND_COMPLETED]: "yes" };
  const { object } = await objects.update(CLAIMS, "default", claim, next, WRITE);
  await objects.update(CLAIMS, "default", claim, { ...object, status: { phase: "Bound" } }, {
    ...WRITE,
    subresource: "status",
  });
}

function selectedNode(claim: KubeObject): string | undefined {
  return claim.metadata.annotations?.[ANN_SELECTED_NODE];
}

Deno.test("Scheduler selects a node for an unbound WaitForFirstConsumer claim, then binds the pod there once the claim is bound", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("a", { cpu: "16" }), WRITE);
    await objects.create(NODES, undefined, testNode("b", { cpu: "2" }), WRITE);
    await objects.create(CLASSES, undefined, testClass("local-path"), WRITE);
    await objects.create(CLAIMS, "default", claimInput("data"), WRITE);
    await objects.create(PODS, "default", testPod("db", { claims: ["data"] }), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      const claim = await eventually("the selected-node annotation", async () => {
        const c = await objects.get(CLAIMS, "default", "data");
        return selectedNode(c) ? c : undefined;
      });
      assert.equal(selectedNode(claim), "a");
      assert.equal(claimVolumeName(claim), "");
      const waiting = await objects.get(PODS, "default", "db");
      assert.equal(nodeNameOf(waiting), undefined);
      assert.equal(podScheduled(waiting), undefined);
      assert.equal((await store.list("/core/events/default/")).items.length, 0);

      await bindClaim(objects, "data", "a");
      const bound = await eventually("the pod to be bound", async () => {
        const pod = await objects.get(PODS, "default", "db");
        return nodeNameOf(pod) ? pod : undefined;
      });
      assert.equal(nodeNameOf(bound), "a");
      assert.equal((await store.list("/core/events/default/")).items.length, 0);
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("Scheduler binds a pod with a bound local volume to that volume's node though another has more room", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("a", { cpu: "16", memory: "64Gi" }), WRITE);
    await objects.create(NODES, undefined, testNode("b", { cpu: "2", memory: "2Gi" }), WRITE);
    await objects.create(CLASSES, undefined, testClass("local-path"), WRITE);
    await objects.create(CLAIMS, "default", claimInput("data"), WRITE);
    await bindClaim(objects, "data", "b");
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      for (let i = 0; i < 3; i++) {
        await objects.create(PODS, "default", testPod(`db-${i}`, { claims: ["data"] }), WRITE);
      }
      for (let i = 0; i < 3; i++) {
        const pod = await eventually(`db-${i} to be bound`, async () => {
          const pod = await objects.get(PODS, "default", `db-${i}`);
          return nodeNameOf(pod) ? pod : undefined;
        });
        assert.equal(nodeNameOf(pod), "b");
      }
      const claim = await objects.get(CLAIMS, "default", "data");
      assert.equal(selectedNode(claim), undefined);
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("Scheduler marks a pod whose claim is missing, then plans it again when the claim appears", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    await objects.create(NODES, undefined, testNode("n2"), WRITE);
    await objects.create(CLASSES, undefined, testClass("local-path"), WRITE);
    await objects.create(PODS, "default", testPod("db", { claims: ["data"] }), WRITE);
    // resyncs and cluster changes do not help here: only the claim's own event can
    const scheduler = new Scheduler({
      store,
      objects,
      types: RESOURCE_TYPES,
      retryMs: 10,
      resyncMs: 3_600_000,
    });
    await scheduler.start();
    try {
      const message = `0/2 nodes are available: persistentvolumeclaim "data" not found.`;
      await assertUnschedulable(store, objects, "db", message);

      await objects.create(CLAIMS, "default", claimInput("data"), WRITE);
      const claim = await eventually("the selected-node annotation", async () => {
        const c = await objects.get(CLAIMS, "default", "data");
        return selectedNode(c) ? c : undefined;
      });
      assert.ok(["n1", "n2"].includes(selectedNode(claim) ?? ""));
      assert.equal(nodeNameOf(await objects.get(PODS, "default", "db")), undefined);
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("Scheduler re-plans when its claim update loses a race", async () => {
  await withCluster(async (store, objects) => {
    let raced = 0;
    /** Changes the claim behind the scheduler's back before its first write to a claim. */
    class RacingObjects extends Objects {
      override async update(...args: Parameters<Objects["update"]>) {
        const [rt, namespace, name] = args;
        if (rt === CLAIMS && raced++ === 0) {
          await objects.patch(
            CLAIMS,
            namespace,
            name,
            "application/merge-patch+json",
            { metadata: { labels: { touched: "yes" } } },
            WRITE,
          );
        }
        return await super.update(...args);
      }
    }
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    await objects.create(CLASSES, undefined, testClass("local-path"), WRITE);
    await objects.create(CLAIMS, "default", claimInput("data"), WRITE);
    await objects.create(PODS, "default", testPod("db", { claims: ["data"] }), WRITE);
    const scheduler = new Scheduler({
      store,
      objects: new RacingObjects(store),
      types: RESOURCE_TYPES,
      retryMs: 10,
    });
    await scheduler.start();
    try {
      const claim = await eventually("the selected-node annotation", async () => {
        const c = await objects.get(CLAIMS, "default", "data");
        return selectedNode(c) ? c : undefined;
      });
      assert.equal(selectedNode(claim), "n1");
      assert.equal(claim.metadata.labels?.touched, "yes");
      assert.equal(raced, 2);
    } finally {
      await scheduler.stop();
    }
  });
});

/** `store`, except that a watch of `prefix` never reports anything. */
function deafTo(prefix: string, store: Store): Store {
  return new Proxy(store, {
    get(target, prop) {
      if (prop === "watch") {
        return (p: string, from: number): StoreWatch => {
          if (p !== prefix) return target.watch(p, from);
          let close = () => {};
          const closed = new Promise<void>((resolve) => close = resolve);
          return {
            close,
            [Symbol.asyncIterator]: () => ({
              next: async () => {
                await closed;
                return { done: true, value: undefined };
              },
            }),
          };
        };
      }
      const value = Reflect.get(target, prop, target);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
}

Deno.test("Scheduler reads a claim its watch has not reported yet instead of marking the pod", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    await objects.create(CLASSES, undefined, testClass("local-path"), WRITE);
    const scheduler = new Scheduler({
      store: deafTo("/core/persistentvolumeclaims/", store),
      objects,
      types: RESOURCE_TYPES,
      retryMs: 10,
    });
    await scheduler.start();
    try {
      await objects.create(CLAIMS, "default", claimInput("data"), WRITE);
      await objects.create(PODS, "default", testPod("db", { claims: ["data"] }), WRITE);
      const claim = await eventually("the selected-node annotation", async () => {
        const c = await objects.get(CLAIMS, "default", "data");
        return selectedNode(c) ? c : undefined;
      });
      assert.equal(selectedNode(claim), "n1");
      assert.equal(podScheduled(await objects.get(PODS, "default", "db")), undefined);
      assert.equal((await store.list("/core/events/default/")).items.length, 0);
    } finally {
      await scheduler.stop();
    }
  });
});
