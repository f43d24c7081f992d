import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { Informer } from "../informer.ts";
import { POD_NAMESPACE_INDEX, ReplicaSetController } from "./controller.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const RS = findKind("apps/v1", "ReplicaSet")!;
const POD = findKind("v1", "Pod")!;
const EVENT = findKind("v1", "Event")!;

function replicaSet(replicas: number, minReadySeconds = 0): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "web", namespace: "default" },
    spec: {
      replicas,
      minReadySeconds,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: { labels: { app: "web" } },
        spec: { containers: [{ name: "c", image: "localhost/edge-test:1" }] },
      },
    },
  };
}

interface Rig {
  store: Store;
  objects: Objects;
  clock: FakeClock;
  controller: ReplicaSetController;
  pods: Informer;
  replicaSets: Informer;
  /** waits until the informers have seen everything written so far */
  synced(): Promise<void>;
  podsOf(): KubeObject[];
  rs(): Promise<KubeObject>;
  close(): Promise<void>;
}

/** A controller over an in-memory store, informers running, worker not started. */
async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const pods = new Informer({ store, prefix: storePrefix(POD), name: "pods" });
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? ""]);
  const replicaSets = new Informer({ store, prefix: storePrefix(RS), name: "replicasets" });
  const events = new EventRecorder({ store, component: "replicaset-controller", clock });
  const controller = new ReplicaSetController({ store, replicaSets, pods, events, clock });
  await Promise.all([pods.start(), replicaSets.start()]);
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const caughtUp = async (informer: Informer, prefix: string) =>
    versions(informer.list()) === versions((await store.list(prefix)).items);
  const synced = async () => {
    for (let i = 0; i < 200; i++) {
      if (
        await caughtUp(pods, storePrefix(POD)) && await caughtUp(replicaSets, storePrefix(RS))
      ) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  return {
    store,
    objects,
    clock,
    controller,
    pods,
    replicaSets,
    synced,
    podsOf: () => pods.list().filter((p) => !p.metadata.deletionTimestamp),
    rs: () => objects.get(RS, "default", "web"),
    async close() {
      await controller.stop();
      await Promise.all([pods.stop(), replicaSets.stop()]);
      await store.close();
    },
  };
}

/** Marks a pod Running and Ready since `readySince` (ms). */
async function makeReady(r: Rig, pod: KubeObject, readySince: number): Promise<void> {
  const since = new Date(readySince).toISOString().replace(/\.\d{3}Z$/, "Z");
  await r.objects.patch(POD, "default", pod.metadata.name!, "application/merge-patch+json", {
    status: {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: since }],
    },
  }, { ...WRITE, subresource: "status" });
}

Deno.test("ReplicaSetController creates the missing pods, owned and labelled, and reports status", async () => {
  const r = await rig();
  try {
    await r.objects.create(RS, "default", replicaSet(3), WRITE);
    await r.synced();
    assert.equal(await r.controller.reconcile("default/web"), false);
    await r.synced();
    await r.controller.reconcile("default/web"); // as the pods' events would have it
    const pods = r.podsOf();
    assert.equal(pods.length, 3);
    const rs = await r.rs();
    for (const pod of pods) {
      assert.match(pod.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
      assert.deepEqual(pod.metadata.labels, { app: "web" });
      assert.equal(pod.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);
      assert.equal(pod.metadata.ownerReferences?.[0]?.controller, true);
    }
    assert.deepEqual(rs.status, { replicas: 3, fullyLabeledReplicas: 3, observedGeneration: 1 });
    const events = (await r.store.list(storePrefix(EVENT))).items;
    assert.equal(events.filter((e) => e.reason === "SuccessfulCreate").length, 3);
    assert.match(String(events[0]?.message), /^Created pod: web-/);
  } finally {
    await r.close();
  }
});

Deno.test("ReplicaSetController does not create twice while its creations are not yet seen", async () => {
  const r = await rig();
  try {
    await r.objects.create(RS, "default", replicaSet(2), WRITE);
    await r.synced();
    await r.pods.stop(); // a watch that has fallen behind: the new pods are not seen
    await r.controller.reconcile("default/web");
    await r.controller.reconcile("default/web");
    const stored = (await r.store.list(storePrefix(POD))).items;
    assert.equal(stored.length, 2, "the second sync waited for the first one's pods");
  } finally {
    await r.close();
  }
});

Deno.test("ReplicaSetController scales down not-ready pods first and counts available ones after minReadySeconds", async () => {
  const r = await rig();
  try {
    await r.objects.create(RS, "default", replicaSet(3, 10), WRITE);
    await r.synced();
    await r.controller.reconcile("default/web");
    await r.synced();
    const [a, b] = r.podsOf();
    await makeReady(r, a!, r.clock.now());
    await makeReady(r, b!, r.clock.now());
    await r.synced();
    await r.controller.reconcile("default/web");
    let rs = await r.rs();
    assert.equal((rs.status as { readyReplicas?: number }).readyReplicas, 2);
    assert.equal((rs.status as { availableReplicas?: number }).availableReplicas, undefined);
    await r.clock.advance(11_000);
    await r.controller.reconcile("default/web");
    rs = await r.rs();
    assert.equal((rs.status as { availableReplicas?: number }).availableReplicas, 2);

    await r.objects.patch(RS, "default", "web", "application/merge-patch+json", {
      spec: { replicas: 2 },
    }, WRITE);
    await r.synced();
    await r.controller.reconcile("default/web");
    await r.synced();
    const left = r.podsOf().map((p) => p.metadata.name).sort();
    assert.deepEqual(left, [a!.metadata.name, b!.metadata.name].sort(), "the unready pod went");
  } finally {
    await r.close();
  }
});

Deno.test("ReplicaSetController adopts a matching orphan and releases a pod that stops matching", async () => {
  const r = await rig();
  try {
    await r.objects.create(POD, "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "stray", namespace: "default", labels: { app: "web" } },
      spec: { containers: [{ name: "c", image: "localhost/edge-test:1" }] },
    }, WRITE);
    await r.objects.create(RS, "default", replicaSet(1), WRITE);
    await r.synced();
    await r.controller.reconcile("default/web");
    await r.synced();
    const pods = r.podsOf();
    assert.deepEqual(pods.map((p) => p.metadata.name), ["stray"], "adopted, none created");
    const rs = await r.rs();
    assert.equal(pods[0]?.metadata.ownerReferences?.[0]?.uid, rs.metadata.uid);

    await r.objects.patch(POD, "default", "stray", "application/merge-patch+json", {
      metadata: { labels: { app: "other" } },
    }, WRITE);
    await r.synced();
    await r.controller.reconcile("default/web");
    await r.synced();
    const stray = r.podsOf().find((p) => p.metadata.name === "stray");
    assert.deepEqual(stray?.metadata.ownerReferences ?? [], [], "released");
    assert.equal(r.podsOf().length, 2, "and replaced");
  } finally {
    await r.close();
  }
});
