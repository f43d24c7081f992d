import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { bindPod } from "../api/binding.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { byController, CONTROLLER_INDEX, Informer } from "../informer.ts";
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import { DaemonSetController } from "./controller.ts";
import {
  CONTROLLER_REVISION_HASH_LABEL,
  POD_TEMPLATE_GENERATION_LABEL,
  REVISION_HASH_ANNOTATION,
  targetNodeName,
} from "./nodes.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MERGE = "application/merge-patch+json";
const DS = findKind("apps/v1", "DaemonSet")!;
const POD = findKind("v1", "Pod")!;
const NODE = findKind("v1", "Node")!;
const EVENT = findKind("v1", "Event")!;

interface Taint {
  key: string;
  value?: string;
  effect: string;
}

function daemonSet(spec: Record<string, unknown> = {}, podSpec: Record<string, unknown> = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent", namespace: "default" },
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: {
        metadata: { labels: { app: "agent" } },
        spec: { containers: [{ name: "c", image: "localhost/edge-test:1" }], ...podSpec },
      },
      ...spec,
    },
  };
}

interface Rig {
  store: Store;
  objects: Objects;
  clock: FakeClock;
  controller: DaemonSetController;
  pods: Informer;
  /** waits until the informers have seen everything written so far */
  synced(): Promise<void>;
  /** reconcile, then wait for the informers to see what it wrote */
  sync(): Promise<void>;
  /** the DaemonSet's pods not being deleted, by target node */
  podsByNode(): Record<string, string[]>;
  livePods(): KubeObject[];
  ds(): Promise<KubeObject>;
  status(): Promise<Record<string, number>>;
  addNode(name: string, labels?: Record<string, string>, taints?: Taint[]): Promise<void>;
  patchNode(name: string, patch: Record<string, unknown>): Promise<void>;
  events(reason: string): Promise<KubeObject[]>;
  close(): Promise<void>;
}

/** A controller over an in-memory store, informers running, worker not started. */
async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const pods = new Informer({ store, prefix: storePrefix(POD), name: "pods" });
  pods.addIndex(CONTROLLER_INDEX, byController);
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? ""]);
  const nodes = new Informer({ store, prefix: storePrefix(NODE), name: "nodes" });
  const daemonSets = new Informer({ store, prefix: storePrefix(DS), name: "daemonsets" });
  const events = new EventRecorder({ store, component: "daemonset-controller", clock });
  const controller = new DaemonSetController({ store, daemonSets, nodes, pods, events, clock });
  const informers: [Informer, string][] = [
    [pods, storePrefix(POD)],
    [nodes, storePrefix(NODE)],
    [daemonSets, storePrefix(DS)],
  ];
  await Promise.all(informers.map(([i]) => i.start()));
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const synced = async () => {
    for (let i = 0; i < 200; i++) {
      let caughtUp = true;
      for (const [informer, prefix] of informers) {
        if (versions(informer.list()) !== versions((await store.list(prefix)).items)) {
          caughtUp = false;
        }
      }
      if (caughtUp) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  const livePods = () => pods.list().filter((p) => !p.metadata.deletionTimestamp);
  const ds = () => objects.get(DS, "default", "agent");
  return {
    store,
    objects,
    clock,
    controller,
    pods,
    synced,
    async sync() {
      await synced();
      await controller.reconcile("default/agent");
      await synced();
    },
    livePods,
    podsByNode() {
      const out: Record<string, string[]> = {};
      for (const pod of livePods()) {
        (out[targetNodeName(pod) ?? ""] ??= []).push(pod.metadata.name!);
      }
      for (const names of Object.values(out)) names.sort();
      return out;
    },
    ds,
    async status() {
      return (await ds()).status as Record<string, number>;
    },
    async addNode(name, labels = {}, taints = []) {
      await objects.create(NODE, undefined, {
        apiVersion: "v1",
        kind: "Node",
        metadata: { name, labels: { "kubernetes.io/hostname": name, ...labels } },
        spec: taints.length > 0 ? { taints } : {},
      }, WRITE);
    },
    async patchNode(name, patch) {
      await objects.patch(NODE, undefined, name, MERGE, patch, WRITE);
    },
    async events(reason) {
      return (await store.list(storePrefix(EVENT))).items.filter((e) => e.reason === reason);
    },
    async close() {
      await controller.stop();
      await Promise.all(informers.map(([i]) => i.stop()));
      await store.close();
    },
  };
}

/** Marks a pod Running and Ready since `readySince` (ms), or Failed. */
async function setPhase(
  r: Rig,
  pod: KubeObject,
  phase: "Ready" | "Failed" | "Succeeded",
  readySince = r.clock.now(),
): Promise<void> {
  const since = new Date(readySince).toISOString().replace(/\.\d{3}Z$/, "Z");
  const status = phase === "Ready"
    ? {
      phase: "Running",
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: since }],
    }
    : { phase };
  await r.objects.patch(POD, "default", pod.metadata.name!, MERGE, { status }, {
    ...WRITE,
    subresource: "status",
  });
}

function podOn(r: Rig, node: string): KubeObject {
  const pod = r.livePods().find((p) => targetNodeName(p) === node);
  assert.ok(pod, `a pod for ${node}`);
  return pod;
}

Deno.test("DaemonSetController runs one pod on each node its nodeSelector matches, placed by node affinity", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1", { role: "gw" });
    await r.addNode("edge-2", { role: "gw" });
    await r.addNode("edge-3", { role: "sensor" });
    await r.objects.create(DS, "default", daemonSet({}, { nodeSelector: { role: "gw" } }), WRITE);
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()).sort(), ["edge-1", "edge-2"]);

    const ds = await r.ds();
    const hash = ds.metadata.annotations?.[REVISION_HASH_ANNOTATION];
    assert.match(hash ?? "", /^[bcdfghjklmnpqrstvwxz2456789]+$/);
    const pod = podOn(r, "edge-1");
    assert.match(pod.metadata.name!, /^agent-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
    assert.deepEqual(pod.metadata.labels, {
      app: "agent",
      [CONTROLLER_REVISION_HASH_LABEL]: hash,
      [POD_TEMPLATE_GENERATION_LABEL]: "1",
    });
    assert.deepEqual(pod.metadata.ownerReferences, [{
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      name: "agent",
      uid: ds.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    }]);
    const spec = pod.spec as Record<string, unknown>;
    assert.equal(spec.nodeName, undefined, "the scheduler binds it");
    assert.deepEqual(spec.affinity, {
      nodeAffinity: {
        requiredDuringSchedulingIgnoredDuringExecution: {
          nodeSelectorTerms: [{
            matchFields: [{ key: "metadata.name", operator: "In", values: ["edge-1"] }],
          }],
        },
      },
    });
    assert.deepEqual(
      (spec.tolerations as { key: string; effect: string }[]).map((t) => `${t.key}:${t.effect}`),
      [
        "node.kubernetes.io/not-ready:NoExecute",
        "node.kubernetes.io/unreachable:NoExecute",
        "node.kubernetes.io/disk-pressure:NoSchedule",
        "node.kubernetes.io/memory-pressure:NoSchedule",
        "node.kubernetes.io/pid-pressure:NoSchedule",
        "node.kubernetes.io/unschedulable:NoSchedule",
      ],
    );
    const created = await r.events("SuccessfulCreate");
    assert.equal(created.length, 2);
    assert.match(String(created[0]?.message), /^Created pod: agent-/);
    assert.deepEqual(created[0]?.source, { component: "daemonset-controller" });

    await r.sync(); // as the pods' events would have it
    assert.deepEqual(await r.status(), {
      currentNumberScheduled: 2,
      numberMisscheduled: 0,
      desiredNumberScheduled: 2,
      numberReady: 0,
      observedGeneration: 1,
      updatedNumberScheduled: 2,
      numberUnavailable: 2,
    });
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController skips nodes with untolerated NoSchedule taints and tolerates node problems", async () => {
  const r = await rig();
  try {
    await r.addNode("plain");
    await r.addNode("dedicated", {}, [{ key: "dedicated", value: "gpu", effect: "NoSchedule" }]);
    await r.addNode("down", {}, [
      { key: "node.kubernetes.io/not-ready", effect: "NoExecute" },
      { key: "node.kubernetes.io/unreachable", effect: "NoExecute" },
    ]);
    await r.addNode("cordoned", {}, [
      { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
      { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" },
    ]);
    await r.addNode("soft", {}, [{ key: "gpu", effect: "PreferNoSchedule" }]);
    await r.addNode("offline", {}, [{
      key: "node.kubernetes.io/network-unavailable",
      effect: "NoSchedule",
    }]);
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()).sort(), ["cordoned", "down", "plain", "soft"]);

    // a template that tolerates the taint, and a hostNetwork pod tolerates network-unavailable
    await r.objects.patch(DS, "default", "agent", MERGE, {
      spec: {
        template: {
          spec: {
            hostNetwork: true,
            tolerations: [{ key: "dedicated", operator: "Equal", value: "gpu" }],
          },
        },
      },
    }, WRITE);
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()).sort(), [
      "cordoned",
      "dedicated",
      "down",
      "offline",
      "plain",
      "soft",
    ]);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController keeps a pod on a node tainted not-ready:NoSchedule and evicts on an untolerated NoExecute taint", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.sync();
    const first = podOn(r, "edge-1").metadata.name;

    // the node lifecycle controller's taints of a node that stopped being Ready
    await r.patchNode("edge-1", {
      spec: {
        taints: [
          { key: "node.kubernetes.io/not-ready", effect: "NoSchedule" },
          { key: "node.kubernetes.io/not-ready", effect: "NoExecute" },
        ],
      },
    });
    await r.sync();
    await r.sync();
    assert.deepEqual(r.podsByNode(), { "edge-1": [first] }, "the running pod stays");
    const status = await r.status();
    assert.equal(status.desiredNumberScheduled, 0, "no new pod would go there");
    assert.equal(status.numberMisscheduled, 1);

    await r.patchNode("edge-1", {
      spec: { taints: [{ key: "maintenance", effect: "NoExecute" }] },
    });
    await r.sync();
    assert.deepEqual(r.podsByNode(), {});
    assert.equal((await r.events("SuccessfulDelete")).length, 1);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController follows nodes: added, relabelled, removed", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1", { role: "gw" });
    await r.objects.create(DS, "default", daemonSet({}, { nodeSelector: { role: "gw" } }), WRITE);
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()), ["edge-1"]);

    await r.addNode("edge-2", { role: "gw" });
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()).sort(), ["edge-1", "edge-2"]);

    await r.patchNode("edge-1", { metadata: { labels: { role: "sensor" } } });
    await r.sync();
    assert.deepEqual(Object.keys(r.podsByNode()), ["edge-2"], "label no longer matches");

    // a bound pod on a node that goes away: no kubelet will finish it, so it goes at once
    await bindPod(r.objects, POD, "default", podOn(r, "edge-2").metadata.name!, "edge-2");
    await r.objects.delete(NODE, undefined, "edge-2", { dryRun: false });
    await r.sync();
    assert.deepEqual(r.pods.list(), [], "deleted, not left terminating");
    await r.sync();
    const status = await r.status();
    assert.equal(status.desiredNumberScheduled, 0);
    assert.equal(status.currentNumberScheduled, 0);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController deletes all but the oldest pod on a node", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.sync();
    const first = podOn(r, "edge-1");
    const extra = structuredClone(first);
    extra.metadata = {
      name: "agent-zzzzz",
      namespace: "default",
      labels: first.metadata.labels!,
      ownerReferences: first.metadata.ownerReferences!,
    };
    delete extra.status;
    await r.objects.create(POD, "default", extra, WRITE);
    await r.sync();
    assert.deepEqual(r.podsByNode(), { "edge-1": [first.metadata.name] });
    const deleted = await r.events("SuccessfulDelete");
    assert.equal(deleted[0]?.message, "Deleted pod: agent-zzzzz");
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController replaces a Failed pod, backing off when it keeps failing", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.sync();
    const first = podOn(r, "edge-1");
    await setPhase(r, first, "Failed");
    await r.sync();
    assert.deepEqual(r.podsByNode(), {}, "the failed pod is deleted first");
    const failed = await r.events("FailedDaemonPod");
    assert.equal(
      failed[0]?.message,
      `Found failed daemon pod default/${first.metadata.name} on node edge-1, will try to kill it`,
    );
    assert.equal(failed[0]?.type, "Warning");
    await r.sync();
    const second = podOn(r, "edge-1");
    assert.notEqual(second.metadata.name, first.metadata.name, "then replaced");

    await setPhase(r, second, "Failed");
    await r.sync();
    assert.equal(podOn(r, "edge-1").metadata.name, second.metadata.name, "backing off");
    await r.clock.advance(1000);
    await r.sync();
    assert.deepEqual(r.podsByNode(), {}, "after a second it goes");
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController rolls a new template out no more than maxUnavailable nodes at a time", async () => {
  const r = await rig();
  try {
    for (const name of ["edge-1", "edge-2", "edge-3", "edge-4"]) await r.addNode(name);
    await r.objects.create(
      DS,
      "default",
      daemonSet({
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: "50%" } },
      }),
      WRITE,
    );
    await r.sync();
    for (const pod of r.livePods()) await setPhase(r, pod, "Ready", r.clock.now() - 1000);
    await r.sync();
    const oldHash = (await r.ds()).metadata.annotations?.[REVISION_HASH_ANNOTATION];
    assert.equal((await r.status()).numberAvailable, 4);

    await r.objects.patch(DS, "default", "agent", MERGE, {
      spec: { template: { spec: { containers: [{ name: "c", image: "localhost/edge-test:2" }] } } },
    }, WRITE);
    await r.sync();
    const hashes = () =>
      r.livePods().map((p) => p.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL]);
    assert.equal(r.livePods().length, 2, "two old pods deleted");
    assert.ok(hashes().every((h) => h === oldHash));
    await r.sync();
    assert.equal(r.livePods().length, 4, "and replaced");
    const newHash = (await r.ds()).metadata.annotations?.[REVISION_HASH_ANNOTATION];
    assert.notEqual(newHash, oldHash);
    assert.equal(hashes().filter((h) => h === newHash).length, 2);
    await r.sync();
    assert.equal(r.livePods().length, 4, "the new pods are not available yet: wait");
    let status = await r.status();
    assert.equal(status.updatedNumberScheduled, 2);
    assert.equal(status.numberUnavailable, 2);

    for (const pod of r.livePods()) {
      if (pod.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === newHash) {
        await setPhase(r, pod, "Ready");
      }
    }
    await r.sync();
    await r.sync();
    await r.sync();
    assert.equal(r.livePods().length, 4);
    assert.ok(hashes().every((h) => h === newHash), "all updated");
    for (const pod of r.livePods()) {
      if ((pod.status as { phase?: string }).phase !== "Running") await setPhase(r, pod, "Ready");
    }
    await r.sync();
    status = await r.status();
    assert.equal(status.updatedNumberScheduled, 4);
    assert.equal(status.numberAvailable, 4);
    assert.equal(status.numberUnavailable, undefined);
    assert.equal(status.observedGeneration, 2);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController with OnDelete replaces only the pods someone deleted", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.addNode("edge-2");
    await r.objects.create(
      DS,
      "default",
      daemonSet({ updateStrategy: { type: "OnDelete" } }),
      WRITE,
    );
    await r.sync();
    const before = r.podsByNode();
    await r.objects.patch(DS, "default", "agent", MERGE, {
      spec: { template: { metadata: { labels: { app: "agent", v: "2" } } } },
    }, WRITE);
    await r.sync();
    await r.sync();
    assert.deepEqual(r.podsByNode(), before, "nothing is replaced by itself");
    assert.equal((await r.status()).updatedNumberScheduled, undefined);

    await r.objects.delete(POD, "default", before["edge-1"]![0]!, { dryRun: false });
    await r.sync();
    const replacement = podOn(r, "edge-1");
    assert.equal(replacement.metadata.labels?.v, "2");
    assert.equal(podOn(r, "edge-2").metadata.name, before["edge-2"]![0]);
    await r.sync();
    assert.equal((await r.status()).updatedNumberScheduled, 1);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController counts ready, available after minReadySeconds and misscheduled pods", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1", { role: "gw" });
    await r.addNode("edge-2", { role: "gw" });
    await r.objects.create(
      DS,
      "default",
      daemonSet({ minReadySeconds: 10 }, { nodeSelector: { role: "gw" } }),
      WRITE,
    );
    await r.sync();
    await setPhase(r, podOn(r, "edge-1"), "Ready");
    await r.sync();
    let status = await r.status();
    assert.equal(status.numberReady, 1);
    assert.equal(status.numberAvailable, undefined);
    assert.equal(status.numberUnavailable, 2);

    await r.clock.advance(11_000);
    await r.sync();
    status = await r.status();
    assert.equal(status.numberAvailable, 1);
    assert.equal(status.numberUnavailable, 1);

    // a pod of ours on a node that should not run it, but may keep it (tolerated NoExecute)
    await r.patchNode("edge-2", {
      spec: { taints: [{ key: "node.kubernetes.io/unreachable", effect: "NoSchedule" }] },
    });
    await r.sync();
    status = await r.status();
    assert.equal(status.desiredNumberScheduled, 1);
    assert.equal(status.currentNumberScheduled, 1);
    assert.equal(status.numberMisscheduled, 1);
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController does not create twice while its creations are not yet seen", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.addNode("edge-2");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.synced();
    await r.pods.stop(); // a watch that has fallen behind: the new pods are not seen
    await r.controller.reconcile("default/agent");
    await r.controller.reconcile("default/agent");
    const stored = (await r.store.list(storePrefix(POD))).items;
    assert.equal(stored.length, 2, "the second sync waited for the first one's pods");
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController adopts a matching orphan instead of creating another pod", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.objects.create(POD, "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "stray", namespace: "default", labels: { app: "agent" } },
      spec: { nodeName: "edge-1", containers: [{ name: "c", image: "localhost/edge-test:1" }] },
    }, WRITE);
    // with RollingUpdate the adopted pod, of no known template, would be replaced at once
    await r.objects.create(
      DS,
      "default",
      daemonSet({ updateStrategy: { type: "OnDelete" } }),
      WRITE,
    );
    await r.sync();
    await r.sync();
    assert.deepEqual(r.podsByNode(), { "edge-1": ["stray"] });
    const ds = await r.ds();
    assert.equal(podOn(r, "edge-1").metadata.ownerReferences?.[0]?.uid, ds.metadata.uid);
    const status = await r.status();
    assert.equal(status.currentNumberScheduled, 1);
    assert.equal(status.updatedNumberScheduled, undefined, "made from no known template");
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController does nothing while idle", async () => {
  const r = await rig();
  try {
    await r.addNode("edge-1");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await r.sync();
    await r.sync();
    const revision = (await r.store.list(storePrefix(DS))).revision;
    await r.sync();
    await r.sync();
    assert.equal((await r.store.list(storePrefix(DS))).revision, revision, "no write at all");
    assert.equal(r.clock.pending, 0, "no timer is waiting");
  } finally {
    await r.close();
  }
});

Deno.test("DaemonSetController, started, converges from informer events alone", async () => {
  const r = await rig();
  try {
    r.controller.start();
    const until = async (what: string, ok: () => boolean) => {
      for (let i = 0; i < 200 && !ok(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
      assert.ok(ok(), what);
    };
    await r.addNode("edge-1");
    await r.objects.create(DS, "default", daemonSet(), WRITE);
    await until("a pod on edge-1", () => Object.keys(r.podsByNode()).length === 1);
    await r.addNode("edge-2");
    await until("a pod on each node", () => Object.keys(r.podsByNode()).length === 2);
    await r.patchNode("edge-1", { spec: { taints: [{ key: "x", effect: "NoExecute" }] } });
    await until("none on edge-1", () => Object.keys(r.podsByNode()).join() === "edge-2");
    // the status converges; a write made before the taint was seen may still count edge-1
    for (let i = 0; i < 2000; i++) {
      const s = await r.status();
      if (s?.currentNumberScheduled === 1 && s.desiredNumberScheduled === 1) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const status = await r.status();
    assert.equal(status.currentNumberScheduled, 1);
    assert.equal(status.desiredNumberScheduled, 1);
  } finally {
    await r.close();
  }
});
