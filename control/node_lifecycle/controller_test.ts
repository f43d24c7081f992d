import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { microTime } from "../../storage/time.ts";
import { Objects, timestamp } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { Informer } from "../informer.ts";
import { NodeLifecycleController, POD_NODE_NAME_INDEX, podNodeName } from "./controller.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const NODE = findKind("v1", "Node")!;
const POD = findKind("v1", "Pod")!;
const LEASE = findKind("coordination.k8s.io/v1", "Lease")!;
const EVENT = findKind("v1", "Event")!;
const T0 = Date.parse("2026-11-22T10:00:00Z");
const UNREACHABLE = "node.kubernetes.io/unreachable";
const NOT_READY = "node.kubernetes.io/not-ready";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** Kubernetes' seconds-precision time of `ms`. */
function at(ms: number): string {
  return timestamp(new Date(ms));
}

/** A controller with its informers, as the controller manager would run them. */
interface Running {
  controller: NodeLifecycleController;
  stop(): Promise<void>;
}

interface Rig {
  store: Store;
  objects: Objects;
  clock: FakeClock;
  /** the running controller (set by boot) */
  running: Running | undefined;
  /** starts informers and a new controller instance (stopping the running one) */
  boot(): Promise<Running>;
  /** waits until the informers have caught up and the store has been quiet a little while */
  settle(): Promise<void>;
  /** advances the fake clock, then settles */
  advance(ms: number): Promise<void>;
  node(name?: string): Promise<KubeObject>;
  pod(name: string): Promise<KubeObject | null>;
  events(reason: string): Promise<KubeObject[]>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default", "kube-node-lease");
  const clock = new FakeClock(T0);
  const objects = new Objects(store, () => new Date(clock.now()));
  const prefixes = [storePrefix(NODE), storePrefix(POD), storePrefix(LEASE)];
  /** the running instance's node, pod and lease informers, in `prefixes` order */
  let informers: Informer[] = [];
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`)
      .sort().join(",");
  const caughtUp = async () => {
    for (const [i, informer] of informers.entries()) {
      const stored = (await store.list(prefixes[i]!)).items;
      if (versions(informer.list()) !== versions(stored)) return false;
    }
    return true;
  };
  const r: Rig = {
    store,
    objects,
    clock,
    running: undefined,
    async boot() {
      await r.running?.stop();
      const informer = (prefix: string, name: string) =>
        new Informer({ store, prefix, name, clock });
      const nodes = informer(prefixes[0]!, "nodes");
      const pods = informer(prefixes[1]!, "pods");
      pods.addIndex(POD_NODE_NAME_INDEX, podNodeName);
      const leases = informer(prefixes[2]!, "leases");
      informers = [nodes, pods, leases];
      const events = new EventRecorder({ store, component: "node-controller", clock });
      const controller = new NodeLifecycleController({
        store,
        nodes,
        pods,
        leases,
        events,
        clock,
      });
      await Promise.all([nodes.start(), pods.start(), leases.start()]);
      controller.start();
      const running: Running = {
        controller,
        async stop() {
          await controller.stop();
          await Promise.all([nodes.stop(), pods.stop(), leases.stop()]);
          if (r.running === running) {
            r.running = undefined;
            informers = [];
          }
        },
      };
      r.running = running;
      await r.settle();
      return running;
    },
    async settle() {
      let last = -1;
      let quiet = 0;
      for (let i = 0; i < 500; i++) {
        const revision = store.revision();
        if (revision === last && await caughtUp()) {
          if (++quiet >= 4) return;
        } else quiet = 0;
        last = revision;
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      throw new Error("the controller did not settle");
    },
    async advance(ms) {
      await clock.advance(ms);
      await r.settle();
    },
    node: (name = "n1") => objects.get(NODE, undefined, name),
    pod: (name) => store.get(`${storePrefix(POD)}default/${name}`),
    async events(reason) {
      return (await store.list(storePrefix(EVENT))).items.filter((e) => e.reason === reason);
    },
    async close() {
      await r.running?.stop();
      await store.close();
    },
  };
  return r;
}

const HEALTHY: Record<string, string> = {
  MemoryPressure: "False",
  DiskPressure: "False",
  PIDPressure: "False",
  Ready: "True",
};

/** Posts node status as the agent does: the given condition statuses, heartbeat `now`. */
async function postStatus(
  r: Rig,
  statuses: Record<string, string> = HEALTHY,
  name = "n1",
): Promise<void> {
  const now = at(r.clock.now());
  const conditions = Object.entries(statuses).map(([type, status]) => ({
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: now,
    reason: `Kubelet${type}${status}`,
    message: `${type} is ${status}`,
  }));
  await r.objects.patch(NODE, undefined, name, "application/merge-patch+json", {
    status: { conditions },
  }, { ...WRITE, subresource: "status" });
}

/** Renews the node's Lease at the clock's time, as the agent does every 10 s. */
async function renewLease(r: Rig, name = "n1"): Promise<void> {
  const spec = {
    holderIdentity: name,
    leaseDurationSeconds: 40,
    renewTime: microTime(r.clock.now()),
  };
  try {
    await r.objects.patch(LEASE, "kube-node-lease", name, "application/merge-patch+json", {
      spec,
    }, WRITE);
  } catch {
    await r.objects.create(LEASE, "kube-node-lease", {
      apiVersion: "coordination.k8s.io/v1",
      kind: "Lease",
      metadata: { name, namespace: "kube-node-lease" },
      spec,
    }, WRITE);
  }
}

/** Registers a healthy node with a fresh Lease. */
async function addNode(r: Rig, name = "n1"): Promise<void> {
  await r.objects.create(NODE, undefined, {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
  }, WRITE);
  await postStatus(r, HEALTHY, name);
  await renewLease(r, name);
}

/** A running, ready pod bound to `node`. */
async function addPod(
  r: Rig,
  name: string,
  options: { tolerations?: object[]; ownerKind?: string; node?: string } = {},
): Promise<void> {
  const metadata: KubeObject["metadata"] = { name, namespace: "default" };
  if (options.ownerKind) {
    metadata.ownerReferences = [{
      apiVersion: "apps/v1",
      kind: options.ownerKind,
      name: "owner",
      uid: "0e0e0e0e-0000-4000-8000-000000000000",
      controller: true,
    }];
  }
  await r.objects.create(POD, "default", {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec: {
      nodeName: options.node ?? "n1",
      containers: [{ name: "c", image: "localhost/edge-test:1" }],
      ...(options.tolerations ? { tolerations: options.tolerations } : {}),
    },
  }, WRITE);
  const since = at(r.clock.now());
  await r.objects.patch(POD, "default", name, "application/merge-patch+json", {
    status: {
      phase: "Running",
      conditions: [
        { type: "Initialized", status: "True", lastTransitionTime: since },
        { type: "Ready", status: "True", lastTransitionTime: since },
        { type: "ContainersReady", status: "True", lastTransitionTime: since },
        { type: "PodScheduled", status: "True", lastTransitionTime: since },
      ],
    },
  }, { ...WRITE, subresource: "status" });
}

function conditions(obj: KubeObject | null): Condition[] {
  return ((obj?.status as { conditions?: Condition[] } | undefined)?.conditions) ?? [];
}

function condition(obj: KubeObject | null, type: string): Condition | undefined {
  return conditions(obj).find((c) => c.type === type);
}

function taints(node: KubeObject): Taint[] {
  return (node.spec as { taints?: Taint[] }).taints ?? [];
}

function deleting(pod: KubeObject | null): boolean {
  return pod !== null && pod.metadata.deletionTimestamp !== undefined;
}

Deno.test("NodeLifecycleController marks a silent node Unknown after the grace period, not before", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await r.boot();
    await r.advance(20_000);
    await renewLease(r); // the Lease alone keeps the node alive
    await r.settle();
    assert.equal(r.running?.controller.nextDeadline, T0 + 60_000);
    await r.advance(39_999);
    let node = await r.node();
    assert.equal(condition(node, "Ready")?.status, "True");
    assert.deepEqual(taints(node), []);

    await r.advance(1);
    node = await r.node();
    const unknownSince = at(T0 + 60_000);
    for (const type of ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"]) {
      assert.deepEqual(condition(node, type), {
        type,
        status: "Unknown",
        reason: "NodeStatusUnknown",
        message: "Kubelet stopped posting node status.",
        lastHeartbeatTime: at(T0),
        lastTransitionTime: unknownSince,
      });
    }
    assert.deepEqual(taints(node), [
      { key: UNREACHABLE, effect: "NoSchedule", timeAdded: unknownSince },
      { key: UNREACHABLE, effect: "NoExecute", timeAdded: unknownSince },
    ]);
    const [event] = await r.events("NodeNotReady");
    assert.equal(event?.message, "Node n1 status is now: NodeNotReady");
    assert.equal(event?.type, "Normal");
    assert.equal((event?.involvedObject as { kind: string }).kind, "Node");
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController marks the pods of a node that stops being Ready not ready", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addPod(r, "web");
    await r.boot();
    await r.advance(40_000);
    const pod = await r.pod("web");
    assert.deepEqual(condition(pod, "Ready"), {
      type: "Ready",
      status: "False",
      lastTransitionTime: at(T0 + 40_000),
    });
    assert.equal(condition(pod, "ContainersReady")?.status, "True", "only Ready is touched");
    assert.equal(deleting(pod), false);
    const events = (await r.events("NodeNotReady")).filter((e) =>
      (e.involvedObject as { kind: string }).kind === "Pod"
    );
    assert.equal(events.length, 1);
    assert.equal(events[0]?.type, "Warning");
    assert.equal(events[0]?.message, "Node is not ready");
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController taints a node reporting Ready False not-ready, and swaps to unreachable", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await r.boot();
    await r.advance(5_000);
    await postStatus(r, { ...HEALTHY, Ready: "False" });
    await renewLease(r);
    await r.settle();
    let node = await r.node();
    const notReadySince = at(T0 + 5_000);
    assert.deepEqual(taints(node), [
      { key: NOT_READY, effect: "NoSchedule", timeAdded: notReadySince },
      { key: NOT_READY, effect: "NoExecute", timeAdded: notReadySince },
    ]);
    assert.equal(condition(node, "Ready")?.reason, "KubeletReadyFalse", "status is the kubelet's");

    await r.advance(40_000); // and now the agent stops too
    node = await r.node();
    assert.equal(condition(node, "Ready")?.status, "Unknown");
    assert.deepEqual(taints(node), [
      { key: UNREACHABLE, effect: "NoSchedule", timeAdded: at(T0 + 45_000) },
      { key: UNREACHABLE, effect: "NoExecute", timeAdded: notReadySince },
    ], "the NoExecute taint keeps counting from when the node first became unusable");
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController evicts pods when their toleration runs out, 300 s by default", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addPod(r, "plain");
    await addPod(r, "brief", {
      tolerations: [{
        key: UNREACHABLE,
        operator: "Exists",
        effect: "NoExecute",
        tolerationSeconds: 60,
      }],
    });
    await addPod(r, "daemon", { ownerKind: "DaemonSet" });
    await addPod(r, "forever", {
      tolerations: [{ key: UNREACHABLE, operator: "Exists", effect: "NoExecute" }],
    });
    await r.boot();
    await r.advance(40_000); // unreachable since T0+40s
    assert.equal(r.running?.controller.nextDeadline, T0 + 100_000);

    await r.advance(59_999);
    assert.equal(deleting(await r.pod("brief")), false);
    await r.advance(1);
    const brief = await r.pod("brief");
    assert.equal(deleting(brief), true, "deleted 60 s after the taint's timeAdded");
    assert.equal(brief?.metadata.deletionGracePeriodSeconds, 30, "graceful, as the API deletes");
    assert.deepEqual(condition(brief, "DisruptionTarget"), {
      type: "DisruptionTarget",
      status: "True",
      reason: "DeletionByTaintManager",
      message: "Taint manager: deleting due to NoExecute taint",
      lastTransitionTime: at(T0 + 100_000),
    });
    assert.equal(r.running?.controller.nextDeadline, T0 + 340_000);

    await r.advance(239_999);
    assert.equal(deleting(await r.pod("plain")), false);
    await r.advance(1);
    assert.equal(deleting(await r.pod("plain")), true, "deleted after the default 300 s");
    assert.equal(deleting(await r.pod("daemon")), false, "DaemonSet pods stay");
    assert.equal(deleting(await r.pod("forever")), false, "tolerated forever");
    const messages = (await r.events("TaintManagerEviction")).map((e) => e.message).sort();
    assert.deepEqual(messages, [
      "Marking for deletion Pod default/brief",
      "Marking for deletion Pod default/plain",
    ]);
    assert.equal(r.running?.controller.nextDeadline, undefined, "nothing left to wait for");
    assert.equal(r.clock.pending, 0);
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController evicts at once a pod that does not tolerate a NoExecute taint", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addPod(r, "plain");
    await addPod(r, "tolerant", {
      tolerations: [{ key: "dedicated", operator: "Exists", tolerationSeconds: 30 }],
    });
    await r.boot();
    await r.advance(5_000);
    await r.objects.patch(NODE, undefined, "n1", "application/merge-patch+json", {
      spec: { taints: [{ key: "dedicated", value: "gpu", effect: "NoExecute" }] },
    }, WRITE);
    await renewLease(r);
    await r.settle();
    assert.equal(deleting(await r.pod("plain")), true);
    assert.equal(deleting(await r.pod("tolerant")), false);
    await r.advance(29_999);
    assert.equal(deleting(await r.pod("tolerant")), false);
    await r.advance(1);
    assert.equal(deleting(await r.pod("tolerant")), true, "30 s after the taint was first seen");
    const node = await r.node();
    assert.deepEqual(taints(node), [{ key: "dedicated", value: "gpu", effect: "NoExecute" }]);
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController removes the taints and cancels evictions when the node is back", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addPod(r, "web");
    await r.boot();
    await r.advance(40_000);
    assert.equal(taints(await r.node()).length, 2);

    await r.advance(100_000);
    await postStatus(r);
    await renewLease(r);
    await r.settle();
    const node = await r.node();
    assert.equal(condition(node, "Ready")?.status, "True");
    assert.deepEqual(taints(node), []);
    const [cancelled] = await r.events("TaintManagerEviction");
    assert.equal(cancelled?.message, "Cancelling deletion of Pod default/web");
    assert.equal(r.running?.controller.nextDeadline, T0 + 180_000, "only the node's grace");

    await renewLease(r); // and the agent keeps renewing
    for (let t = 10_000; t <= 300_000; t += 10_000) {
      await r.clock.advance(10_000);
      await renewLease(r);
    }
    await r.settle();
    assert.equal(deleting(await r.pod("web")), false);
    assert.equal(condition(await r.node(), "Ready")?.status, "True");
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController: a new instance carries on from the stored state", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addPod(r, "web");
    await r.boot();
    await r.advance(40_000); // unreachable since T0+40s: eviction due at T0+340s
    await r.advance(10_000);
    await r.running!.stop();

    await r.advance(150_000);
    const before = await r.node();
    const running = await r.boot(); // at T0+200s
    const after = await r.node();
    assert.equal(after.metadata.resourceVersion, before.metadata.resourceVersion, "no rewrite");
    assert.equal(running.controller.nextDeadline, T0 + 340_000);
    await r.advance(139_999);
    assert.equal(deleting(await r.pod("web")), false);
    await r.advance(1);
    assert.equal(deleting(await r.pod("web")), true);
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController: a new instance gives every node a full grace period first", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await r.boot();
    await r.advance(30_000);
    await r.running!.stop();
    await r.advance(5_000);
    await r.boot(); // at T0+35s: the node gets until T0+75s, as in Kubernetes
    await r.advance(39_999);
    assert.equal(condition(await r.node(), "Ready")?.status, "True");
    await r.advance(1);
    assert.equal(condition(await r.node(), "Ready")?.status, "Unknown");
  } finally {
    await r.close();
  }
});

Deno.test("NodeLifecycleController is idle while nothing changes: no writes, one timer", async () => {
  const r = await rig();
  try {
    await addNode(r);
    await addNode(r, "n2");
    await addPod(r, "web");
    await r.boot();
    assert.equal(r.clock.pending, 1, "one timer for the earliest deadline");
    assert.equal(r.running?.controller.nextDeadline, T0 + 40_000);

    for (let i = 1; i <= 6; i++) {
      await r.advance(10_000);
      const revision = r.store.revision();
      await renewLease(r);
      await renewLease(r, "n2");
      await r.settle();
      assert.equal(r.store.revision(), revision + 2, "only the agents' Lease renewals");
      assert.equal(r.clock.pending, 1);
      assert.equal(r.running?.controller.nextDeadline, T0 + i * 10_000 + 40_000);
    }

    const revision = r.store.revision();
    await r.advance(39_999);
    assert.equal(r.store.revision(), revision, "no writes while waiting");
    assert.equal(r.clock.pending, 1);
  } finally {
    await r.close();
  }
});
