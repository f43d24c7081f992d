import assert from "node:assert/strict";
import type { KubeObject, OwnerReference } from "../../storage/object.ts";
import { applyPatch, STRATEGIC_MERGE_PATCH } from "../patch/apply_patch.ts";
import {
  adoptPatch,
  BURST_REPLICAS,
  claimPods,
  controllerRef,
  controllerRefOf,
  isControlledBy,
  isPodActive,
  isPodAvailable,
  isPodReady,
  isPodTerminating,
  manageReplicasDiff,
  podAvailableInMs,
  podDeletionCost,
  podFromTemplate,
  podsToDelete,
  releasePatch,
  replicaSetStatus,
  slowStartBatch,
  slowStartBatches,
} from "./replicas.ts";

const NOW = Date.parse("2025-03-01T12:00:00Z");
const SECOND = 1000;

function iso(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function testRs(overrides: {
  name?: string;
  uid?: string;
  replicas?: number;
  minReadySeconds?: number;
  generation?: number;
  status?: object;
  deleting?: boolean;
} = {}): KubeObject {
  const rs: KubeObject = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name: overrides.name ?? "web-7d4b9",
      namespace: "default",
      uid: overrides.uid ?? "rs-uid",
      generation: overrides.generation ?? 1,
    },
    spec: {
      replicas: overrides.replicas ?? 3,
      minReadySeconds: overrides.minReadySeconds ?? 0,
      selector: { matchLabels: { app: "web" } },
      template: {
        metadata: {
          labels: { app: "web", tier: "front" },
          annotations: { "example.com/note": "hi" },
        },
        spec: { containers: [{ name: "app", image: "localhost/edge-test:1" }] },
      },
    },
  };
  if (overrides.deleting) rs.metadata.deletionTimestamp = iso(NOW);
  if (overrides.status) rs.status = overrides.status;
  return rs;
}

interface PodOptions {
  uid?: string;
  node?: string;
  phase?: string;
  /** when it became ready (ms); `null` for ready without a transition time */
  readySince?: number | null;
  restarts?: number;
  sidecarRestarts?: number;
  created?: number;
  labels?: Record<string, string>;
  owner?: KubeObject | "none" | "other";
  deleting?: boolean;
  cost?: string;
  namespace?: string;
}

function testPod(name: string, o: PodOptions = {}): KubeObject {
  const metadata: KubeObject["metadata"] = {
    name,
    namespace: o.namespace ?? "default",
    uid: o.uid ?? `uid-${name}`,
    resourceVersion: "7",
    labels: o.labels ?? { app: "web", tier: "front" },
  };
  if (o.created !== undefined) metadata.creationTimestamp = iso(o.created);
  if (o.deleting) metadata.deletionTimestamp = iso(NOW);
  if (o.cost !== undefined) {
    metadata.annotations = { "controller.kubernetes.io/pod-deletion-cost": o.cost };
  }
  const owner = o.owner ?? testRs();
  if (owner === "other") {
    metadata.ownerReferences = [{
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      name: "other",
      uid: "other-uid",
      controller: true,
    }];
  } else if (owner !== "none") {
    metadata.ownerReferences = [controllerRef(owner)];
  }
  const conditions: Record<string, unknown>[] = [];
  if (o.readySince !== undefined) {
    conditions.push(
      o.readySince === null
        ? { type: "Ready", status: "True" }
        : { type: "Ready", status: "True", lastTransitionTime: iso(o.readySince) },
    );
  } else {
    conditions.push({ type: "Ready", status: "False" });
  }
  const spec: Record<string, unknown> = { containers: [{ name: "app" }] };
  if (o.node) spec.nodeName = o.node;
  const status: Record<string, unknown> = {
    phase: o.phase ?? (o.node ? "Running" : "Pending"),
    conditions,
    containerStatuses: [{ name: "app", restartCount: o.restarts ?? 0 }],
  };
  if (o.sidecarRestarts !== undefined) {
    spec.initContainers = [{ name: "proxy", restartPolicy: "Always" }, { name: "setup" }];
    status.initContainerStatuses = [
      { name: "proxy", restartCount: o.sidecarRestarts },
      { name: "setup", restartCount: 50 },
    ];
  }
  return { apiVersion: "v1", kind: "Pod", metadata, spec, status };
}

function names(pods: readonly KubeObject[]): string[] {
  return pods.map((p) => p.metadata.name ?? "");
}

// ----- podFromTemplate ---------------------------------------------------------------------------

Deno.test("podFromTemplate() makes a pod with generateName, the template's metadata and a controller reference", () => {
  const rs = testRs();
  assert.deepEqual(podFromTemplate(rs), {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      generateName: "web-7d4b9-",
      namespace: "default",
      labels: { app: "web", tier: "front" },
      annotations: { "example.com/note": "hi" },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: "web-7d4b9",
        uid: "rs-uid",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: { containers: [{ name: "app", image: "localhost/edge-test:1" }] },
  });
});

Deno.test("podFromTemplate() copies the template, so changing the pod leaves the ReplicaSet alone", () => {
  const rs = testRs();
  const pod = podFromTemplate(rs);
  (pod.spec as { containers: { image: string }[] }).containers[0]!.image = "changed";
  pod.metadata.labels!.app = "changed";
  const template = (rs.spec as { template: { spec: { containers: { image: string }[] } } })
    .template;
  assert.equal(template.spec.containers[0]!.image, "localhost/edge-test:1");
  assert.deepEqual(podFromTemplate(rs).metadata.labels, { app: "web", tier: "front" });
});

// ----- ownership ----------------------------------------------------------------------------------

Deno.test("controllerRefOf() and isControlledBy() look at the controller reference only", () => {
  const rs = testRs();
  const owned = testPod("a");
  assert.equal(controllerRefOf(owned)?.uid, "rs-uid");
  assert.equal(isControlledBy(owned, rs), true);
  assert.equal(isControlledBy(testPod("b", { owner: "other" }), rs), false);
  const notController = testPod("c", { owner: "none" });
  notController.metadata.ownerReferences = [{ ...controllerRef(rs), controller: false }];
  assert.equal(controllerRefOf(notController), undefined);
  assert.equal(isControlledBy(notController, rs), false);
});

// ----- pod state ----------------------------------------------------------------------------------

Deno.test("isPodActive() is false for Succeeded, Failed and deleted pods", () => {
  assert.equal(isPodActive(testPod("p", { phase: "Pending" })), true);
  assert.equal(isPodActive(testPod("r", { phase: "Running" })), true);
  assert.equal(isPodActive(testPod("u", { phase: "Unknown" })), true);
  assert.equal(isPodActive(testPod("s", { phase: "Succeeded" })), false);
  assert.equal(isPodActive(testPod("f", { phase: "Failed" })), false);
  assert.equal(isPodActive(testPod("d", { phase: "Running", deleting: true })), false);
});

Deno.test("isPodTerminating() is true for a deleted pod that has not finished", () => {
  assert.equal(isPodTerminating(testPod("d", { phase: "Running", deleting: true })), true);
  assert.equal(isPodTerminating(testPod("s", { phase: "Succeeded", deleting: true })), false);
  assert.equal(isPodTerminating(testPod("r", { phase: "Running" })), false);
});

Deno.test("isPodReady() reads the Ready condition", () => {
  assert.equal(isPodReady(testPod("ready", { readySince: NOW })), true);
  assert.equal(isPodReady(testPod("unready")), false);
  const bare = testPod("bare");
  delete bare.status;
  assert.equal(isPodReady(bare), false);
});

Deno.test("isPodAvailable() counts every ready pod when minReadySeconds is 0", () => {
  assert.equal(isPodAvailable(testPod("a", { readySince: NOW }), 0, NOW), true);
  assert.equal(isPodAvailable(testPod("b", { readySince: null }), 0, NOW), true);
  assert.equal(isPodAvailable(testPod("c"), 0, NOW), false);
});

Deno.test("isPodAvailable() needs the pod ready for more than minReadySeconds", () => {
  const pod = testPod("a", { readySince: NOW - 10 * SECOND });
  assert.equal(isPodAvailable(pod, 30, NOW), false);
  assert.equal(isPodAvailable(pod, 10, NOW), false, "exactly minReadySeconds is not enough");
  assert.equal(isPodAvailable(pod, 10, NOW + 1), true);
  assert.equal(isPodAvailable(pod, 5, NOW), true);
});

Deno.test("isPodAvailable() never counts a ready pod without a ready time when minReadySeconds > 0", () => {
  assert.equal(isPodAvailable(testPod("a", { readySince: null }), 5, NOW), false);
  assert.equal(podAvailableInMs(testPod("a", { readySince: null }), 5, NOW), undefined);
});

Deno.test("podAvailableInMs() says how long until a ready pod becomes available", () => {
  const pod = testPod("a", { readySince: NOW - 10 * SECOND });
  assert.equal(podAvailableInMs(pod, 30, NOW), 20 * SECOND + 1);
  assert.equal(isPodAvailable(pod, 30, NOW + 20 * SECOND), false);
  assert.equal(isPodAvailable(pod, 30, NOW + 20 * SECOND + 1), true);
  assert.equal(podAvailableInMs(pod, 5, NOW), 0);
  assert.equal(podAvailableInMs(testPod("unready"), 5, NOW), undefined);
});

Deno.test("podDeletionCost() reads an int32 and counts anything else as 0", () => {
  const cost = (value: string) => podDeletionCost(testPod("a", { cost: value }));
  assert.equal(podDeletionCost(testPod("a")), 0);
  assert.equal(cost("10"), 10);
  assert.equal(cost("-5"), -5);
  assert.equal(cost("0"), 0);
  assert.equal(cost("2147483647"), 2147483647);
  assert.equal(cost("-2147483648"), -2147483648);
  for (const bad of ["+10", "008", "", "-", "1.5", "abc", "2147483648", " 1"]) {
    assert.equal(cost(bad), 0, `cost ${JSON.stringify(bad)}`);
  }
});

// ----- podsToDelete ---------------------------------------------------------------------------------

Deno.test("podsToDelete() deletes unscheduled pods before scheduled ones", () => {
  const pods = [
    testPod("running", { node: "n1", phase: "Running", readySince: NOW - 60 * SECOND }),
    testPod("pending-on-node", { node: "n1", phase: "Pending" }),
    testPod("unscheduled", { phase: "Pending" }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 1)), ["unscheduled"]);
});

Deno.test("podsToDelete() deletes Pending pods before Unknown before Running ones", () => {
  const pods = [
    testPod("running", { node: "n1", phase: "Running" }),
    testPod("unknown", { node: "n2", phase: "Unknown" }),
    testPod("pending", { node: "n3", phase: "Pending" }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["pending", "unknown"]);
});

Deno.test("podsToDelete() deletes pods that are not ready before ready ones", () => {
  const pods = [
    testPod("ready", { node: "n1", readySince: NOW - 5 * SECOND }),
    testPod("unready", { node: "n2" }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 1)), ["unready"]);
});

Deno.test("podsToDelete() deletes pods with a lower pod-deletion-cost first", () => {
  const pods = [
    testPod("default", { node: "n1" }),
    testPod("expensive", { node: "n2", cost: "100" }),
    testPod("cheap", { node: "n3", cost: "-100" }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["cheap", "default"]);
});

Deno.test("podsToDelete() deletes pods on nodes with more related pods first", () => {
  const pods = [
    testPod("alone", { node: "n1", created: NOW - 1 * SECOND }),
    testPod("crowded-1", { node: "n2", created: NOW - 9 * SECOND }),
    testPod("crowded-2", { node: "n2", created: NOW - 8 * SECOND }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 1)), ["crowded-2"]);
  // A sibling ReplicaSet's pods crowd n1 more: its pod goes first now.
  const siblings = [1, 2, 3].map((i) => testPod(`old-${i}`, { node: "n1", owner: "other" }));
  assert.deepEqual(
    names(podsToDelete(pods, 1, { relatedPods: [...pods, ...siblings] })),
    ["alone"],
  );
  // Inactive related pods do not count.
  const finished = siblings.map((p) => ({ ...p, status: { phase: "Succeeded" } }));
  assert.deepEqual(
    names(podsToDelete(pods, 1, { relatedPods: [...pods, ...finished] })),
    ["crowded-2"],
  );
});

Deno.test("podsToDelete() deletes the pod ready for less time first", () => {
  const pods = [
    testPod("ready-long", { node: "n1", readySince: NOW - 3600 * SECOND }),
    testPod("ready-short", { node: "n2", readySince: NOW - 10 * SECOND }),
    testPod("ready-no-time", { node: "n3", readySince: null }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["ready-no-time", "ready-short"]);
});

Deno.test("podsToDelete() with now ranks ready times by power-of-two age and breaks ties by uid", () => {
  // 100 s and 120 s ago fall in the same power-of-two bucket of nanoseconds (2^36..2^37 ns).
  const pods = [
    testPod("b", { node: "n1", uid: "uid-b", readySince: NOW - 100 * SECOND, restarts: 0 }),
    testPod("a", { node: "n2", uid: "uid-a", readySince: NOW - 120 * SECOND, restarts: 0 }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 1)), ["b"], "without now: newer first");
  assert.deepEqual(names(podsToDelete(pods, 1, { now: NOW })), ["a"], "with now: by uid");
  // 10 s ago is a lower bucket than 120 s ago: newer first again.
  const apart = [
    pods[1]!,
    testPod("c", { node: "n3", uid: "uid-z", readySince: NOW - 10 * SECOND }),
  ];
  assert.deepEqual(names(podsToDelete(apart, 1, { now: NOW })), ["c"]);
});

Deno.test("podsToDelete() deletes pods with more restarts first, then more sidecar restarts", () => {
  const pods = [
    testPod("calm", { node: "n1", restarts: 0 }),
    testPod("crashy", { node: "n2", restarts: 7 }),
    testPod("sometimes", { node: "n3", restarts: 2 }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["crashy", "sometimes"]);
  const sidecars = [
    testPod("quiet-sidecar", { node: "n1", restarts: 1, sidecarRestarts: 0 }),
    testPod("noisy-sidecar", { node: "n2", restarts: 1, sidecarRestarts: 4 }),
  ];
  // Restarts of init containers that are not sidecars (50 here) do not count.
  assert.deepEqual(names(podsToDelete(sidecars, 1)), ["noisy-sidecar"]);
});

Deno.test("podsToDelete() deletes newer pods first and pods without a creation time before all", () => {
  const pods = [
    testPod("old", { node: "n1", created: NOW - 3600 * SECOND }),
    testPod("new", { node: "n2", created: NOW - 60 * SECOND }),
    testPod("no-time", { node: "n3" }),
  ];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["no-time", "new"]);
  const twins = [
    testPod("b", { node: "n1", uid: "uid-b", created: NOW - 100 * SECOND }),
    testPod("a", { node: "n2", uid: "uid-a", created: NOW - 120 * SECOND }),
  ];
  assert.deepEqual(names(podsToDelete(twins, 1)), ["b"]);
  assert.deepEqual(names(podsToDelete(twins, 1, { now: NOW })), ["a"]);
});

Deno.test("podsToDelete() applies the rules in order: an earlier rule wins over every later one", () => {
  // Each pod is deleted before the next one by one rule and loses to it on every later rule.
  const pods = [
    testPod("running-ready", {
      node: "n1",
      readySince: NOW - 1 * SECOND,
      cost: "-9",
      restarts: 9,
      created: NOW,
    }),
    testPod("running-unready", { node: "n2", cost: "0", restarts: 5, created: NOW - 60 * SECOND }),
    testPod("pending", { node: "n3", phase: "Pending", cost: "9", created: NOW - 3600 * SECOND }),
    testPod("unscheduled", { phase: "Running", cost: "9", created: NOW - 3600 * SECOND }),
  ];
  assert.deepEqual(
    names(podsToDelete(pods, 3, { now: NOW })),
    ["unscheduled", "pending", "running-unready"],
  );
});

Deno.test("podsToDelete() returns every pod when the count covers them, and none for 0", () => {
  const pods = [testPod("a", { node: "n1" }), testPod("b")];
  assert.deepEqual(names(podsToDelete(pods, 2)), ["a", "b"]);
  assert.deepEqual(names(podsToDelete(pods, 5)), ["a", "b"]);
  assert.deepEqual(podsToDelete(pods, 0), []);
});

// ----- manageReplicasDiff -------------------------------------------------------------------------

Deno.test("manageReplicasDiff() creates the missing pods", () => {
  const rs = testRs({ replicas: 3 });
  assert.deepEqual(manageReplicasDiff(rs, [testPod("a")]), { action: "create", count: 2 });
});

Deno.test("manageReplicasDiff() creates at most burstReplicas pods at a time", () => {
  assert.equal(BURST_REPLICAS, 500);
  assert.deepEqual(manageReplicasDiff(testRs({ replicas: 1000 }), []), {
    action: "create",
    count: 500,
  });
  assert.deepEqual(manageReplicasDiff(testRs({ replicas: 10 }), [], { burstReplicas: 4 }), {
    action: "create",
    count: 4,
  });
});

Deno.test("manageReplicasDiff() deletes the surplus pods that podsToDelete() ranks first", () => {
  const pods = [
    testPod("ready", { node: "n1", readySince: NOW - 60 * SECOND }),
    testPod("unscheduled"),
    testPod("unready", { node: "n2" }),
  ];
  const diff = manageReplicasDiff(testRs({ replicas: 1 }), pods, { now: NOW });
  assert.equal(diff.action, "delete");
  assert.deepEqual(names(diff.action === "delete" ? diff.pods : []), ["unscheduled", "unready"]);
  const capped = manageReplicasDiff(testRs({ replicas: 0 }), pods, { burstReplicas: 1 });
  assert.deepEqual(names(capped.action === "delete" ? capped.pods : []), ["unscheduled"]);
});

Deno.test("manageReplicasDiff() does nothing at the desired count or while the ReplicaSet is deleted", () => {
  const pods = [testPod("a"), testPod("b")];
  assert.deepEqual(manageReplicasDiff(testRs({ replicas: 2 }), pods), { action: "none" });
  assert.deepEqual(manageReplicasDiff(testRs({ replicas: 5, deleting: true }), pods), {
    action: "none",
  });
});

Deno.test("manageReplicasDiff() takes a missing spec.replicas as 1", () => {
  const rs = testRs();
  delete (rs.spec as { replicas?: number }).replicas;
  assert.deepEqual(manageReplicasDiff(rs, []), { action: "create", count: 1 });
});

// ----- slow start -----------------------------------------------------------------------------------

Deno.test("slowStartBatches() doubles each batch and ends with what remains", () => {
  assert.deepEqual(slowStartBatches(20), [1, 2, 4, 8, 5]);
  assert.deepEqual(slowStartBatches(1), [1]);
  assert.deepEqual(slowStartBatches(0), []);
  assert.deepEqual(slowStartBatches(10, 3), [3, 6, 1]);
  assert.deepEqual(slowStartBatches(500).reduce((a, b) => a + b, 0), 500);
});

Deno.test("slowStartBatch() runs each batch side by side", async () => {
  let running = 0;
  const peaks: number[] = [];
  const { successes, error } = await slowStartBatch(7, 1, async () => {
    running++;
    peaks.push(running);
    await Promise.resolve();
    running--;
  });
  assert.equal(successes, 7);
  assert.equal(error, undefined);
  assert.equal(Math.max(...peaks), 4, "the last batch of 4 runs at once");
});

Deno.test("slowStartBatch() stops after the first batch with a failure", async () => {
  let calls = 0;
  const { successes, error } = await slowStartBatch(20, 1, () => {
    calls++;
    // the 4th call is in the third batch (calls 4-7)
    return calls === 4 ? Promise.reject(new Error("quota exceeded")) : Promise.resolve();
  });
  assert.equal(calls, 7, "batches 1, 2 and 4 ran; the rest were skipped");
  assert.equal(successes, 6);
  assert.equal((error as Error).message, "quota exceeded");
});

// ----- replicaSetStatus ---------------------------------------------------------------------------

Deno.test("replicaSetStatus() counts replicas, fully labeled, ready and available pods", () => {
  const rs = testRs({ replicas: 4, minReadySeconds: 10, generation: 3 });
  const pods = [
    testPod("available", { node: "n1", readySince: NOW - 60 * SECOND }),
    testPod("ready-recently", { node: "n1", readySince: NOW - 5 * SECOND }),
    testPod("unready", { node: "n2" }),
    testPod("partly-labeled", { node: "n2", labels: { app: "web" } }),
  ];
  const { status, changed } = replicaSetStatus(rs, pods, NOW);
  assert.deepEqual(status, {
    replicas: 4,
    fullyLabeledReplicas: 3,
    readyReplicas: 2,
    availableReplicas: 1,
    observedGeneration: 3,
  });
  assert.equal(changed, true);
});

Deno.test("replicaSetStatus() leaves zero counts out, as the API serves them", () => {
  const { status } = replicaSetStatus(testRs({ replicas: 0 }), [], NOW);
  assert.deepEqual(status, { replicas: 0, observedGeneration: 1 });
});

Deno.test("replicaSetStatus() reports no change when the status and generation are current", () => {
  const pods = [testPod("a", { node: "n1", readySince: NOW - 60 * SECOND })];
  const first = replicaSetStatus(testRs({ replicas: 1 }), pods, NOW);
  const rs = testRs({ replicas: 1, status: first.status });
  assert.equal(replicaSetStatus(rs, pods, NOW).changed, false);
  const newGeneration = testRs({ replicas: 1, generation: 2, status: first.status });
  assert.equal(replicaSetStatus(newGeneration, pods, NOW).changed, true);
  const podBecameUnready = [testPod("a", { node: "n1" })];
  assert.equal(replicaSetStatus(rs, podBecameUnready, NOW).changed, true);
});

Deno.test("replicaSetStatus() asks for a sync when the next ready pod becomes available", () => {
  const rs = testRs({ replicas: 3, minReadySeconds: 30 });
  const pods = [
    testPod("a", { node: "n1", readySince: NOW - 60 * SECOND }),
    testPod("b", { node: "n1", readySince: NOW - 10 * SECOND }),
    testPod("c", { node: "n1", readySince: NOW - 25 * SECOND }),
  ];
  const { requeueAfterMs } = replicaSetStatus(rs, pods, NOW);
  assert.equal(requeueAfterMs, 5 * SECOND + 1);
  const later = replicaSetStatus(rs, pods, NOW + 5 * SECOND + 1);
  assert.equal(later.status.availableReplicas, 2);
  assert.equal(later.requeueAfterMs, 15 * SECOND);
});

Deno.test("replicaSetStatus() falls back to minReadySeconds when a ready pod has no ready time", () => {
  const rs = testRs({ replicas: 1, minReadySeconds: 30 });
  const pods = [testPod("a", { node: "n1", readySince: null })];
  assert.equal(replicaSetStatus(rs, pods, NOW).requeueAfterMs, 30 * SECOND);
});

Deno.test("replicaSetStatus() asks for no sync when every ready pod is available", () => {
  const pods = [
    testPod("a", { node: "n1", readySince: NOW - 60 * SECOND }),
    testPod("unready", { node: "n1" }),
  ];
  assert.equal(
    replicaSetStatus(testRs({ minReadySeconds: 30 }), pods, NOW).requeueAfterMs,
    undefined,
  );
  const notReadyYet = [testPod("b", { node: "n1", readySince: NOW })];
  assert.equal(
    replicaSetStatus(testRs({ minReadySeconds: 0 }), notReadyYet, NOW).requeueAfterMs,
    undefined,
  );
});

Deno.test("replicaSetStatus() sets ReplicaFailure FailedCreate when creating pods failed", () => {
  const rs = testRs({ replicas: 3 });
  const { status, changed } = replicaSetStatus(rs, [testPod("a")], NOW, {
    error: new Error('pods "web-7d4b9-x" is forbidden: exceeded quota'),
  });
  assert.deepEqual(status.conditions, [{
    type: "ReplicaFailure",
    status: "True",
    lastTransitionTime: "2025-03-01T12:00:00Z",
    reason: "FailedCreate",
    message: 'pods "web-7d4b9-x" is forbidden: exceeded quota',
  }]);
  assert.equal(changed, true);
});

Deno.test("replicaSetStatus() sets ReplicaFailure FailedDelete when deleting pods failed", () => {
  const pods = [testPod("a"), testPod("b")];
  const { status } = replicaSetStatus(testRs({ replicas: 1 }), pods, NOW, { error: "boom" });
  assert.equal(status.conditions?.[0]?.reason, "FailedDelete");
  assert.equal(status.conditions?.[0]?.message, "boom");
});

Deno.test("replicaSetStatus() keeps an existing ReplicaFailure and removes it once there is no error", () => {
  const failure = {
    type: "ReplicaFailure",
    status: "True",
    lastTransitionTime: "2025-03-01T11:00:00Z",
    reason: "FailedCreate",
    message: "first error",
  };
  const other = { type: "Example", status: "True" };
  const rs = testRs({
    replicas: 2,
    status: {
      replicas: 1,
      fullyLabeledReplicas: 1,
      observedGeneration: 1,
      conditions: [other, failure],
    },
  });
  const pods = [testPod("a")];
  const again = replicaSetStatus(rs, pods, NOW, { error: new Error("second error") });
  assert.deepEqual(again.status.conditions, [other, failure]);
  assert.equal(again.changed, false);
  const recovered = replicaSetStatus(rs, pods, NOW);
  assert.deepEqual(recovered.status.conditions, [other]);
  assert.equal(recovered.changed, true);
});

Deno.test("replicaSetStatus() counts terminating pods only when given them", () => {
  const rs = testRs({ replicas: 1 });
  const pods = [testPod("a")];
  assert.equal(replicaSetStatus(rs, pods, NOW).status.terminatingReplicas, undefined);
  const terminating = [testPod("old", { deleting: true })];
  const { status } = replicaSetStatus(rs, pods, NOW, { terminatingPods: terminating });
  assert.equal(status.terminatingReplicas, 1);
  const zero = replicaSetStatus(rs, pods, NOW, { terminatingPods: [] });
  assert.equal(zero.status.terminatingReplicas, 0);
  const current = testRs({ replicas: 1, status: zero.status });
  assert.equal(replicaSetStatus(current, pods, NOW, { terminatingPods: [] }).changed, false);
  assert.equal(replicaSetStatus(current, pods, NOW).changed, true);
});

// ----- claimPods ----------------------------------------------------------------------------------

Deno.test("claimPods() keeps owned pods that match and leaves other owners' pods alone", () => {
  const rs = testRs();
  const claims = claimPods(rs, [testPod("mine"), testPod("theirs", { owner: "other" })]);
  assert.deepEqual(names(claims.active), ["mine"]);
  assert.deepEqual(claims.adopt, []);
  assert.deepEqual(claims.release, []);
});

Deno.test("claimPods() adopts matching orphans and counts them as replicas", () => {
  const rs = testRs();
  const orphan = testPod("orphan", { owner: "none" });
  const claims = claimPods(rs, [orphan, testPod("stranger", { owner: "none", labels: {} })]);
  assert.deepEqual(names(claims.active), ["orphan"]);
  assert.deepEqual(claims.adopt, [{
    namespace: "default",
    name: "orphan",
    uid: "uid-orphan",
    contentType: STRATEGIC_MERGE_PATCH,
    patch: {
      metadata: {
        ownerReferences: [controllerRef(rs)],
        uid: "uid-orphan",
        resourceVersion: "7",
      },
    },
  }]);
});

Deno.test("claimPods() releases owned pods whose labels no longer match", () => {
  const rs = testRs();
  const relabeled = testPod("relabeled", { labels: { app: "debug" } });
  const claims = claimPods(rs, [relabeled]);
  assert.deepEqual(claims.active, []);
  assert.deepEqual(claims.release, [{
    namespace: "default",
    name: "relabeled",
    uid: "uid-relabeled",
    contentType: STRATEGIC_MERGE_PATCH,
    patch: {
      metadata: { ownerReferences: [{ $patch: "delete", uid: "rs-uid" }], uid: "uid-relabeled" },
    },
  }]);
});

Deno.test("claimPods() neither adopts nor releases while the ReplicaSet is being deleted", () => {
  const rs = testRs({ deleting: true });
  const claims = claimPods(rs, [
    testPod("orphan", { owner: "none" }),
    testPod("relabeled", { owner: rs, labels: { app: "debug" } }),
    testPod("mine", { owner: rs }),
  ]);
  assert.deepEqual(names(claims.active), ["mine"]);
  assert.deepEqual(claims.adopt, []);
  assert.deepEqual(claims.release, []);
});

Deno.test("claimPods() ignores finished pods and orphans of other namespaces", () => {
  const claims = claimPods(testRs(), [
    testPod("done", { phase: "Succeeded" }),
    testPod("failed-orphan", { phase: "Failed", owner: "none" }),
    testPod("elsewhere", { owner: "none", namespace: "kube-system" }),
  ]);
  assert.deepEqual(claims, { active: [], terminating: [], adopt: [], release: [] });
});

Deno.test("claimPods() lists the ReplicaSet's terminating pods apart", () => {
  const claims = claimPods(testRs(), [
    testPod("going", { deleting: true }),
    testPod("going-orphan", { deleting: true, owner: "none" }),
    testPod("going-relabeled", { deleting: true, labels: { app: "debug" } }),
    testPod("staying"),
  ]);
  assert.deepEqual(names(claims.active), ["staying"]);
  assert.deepEqual(names(claims.terminating), ["going"]);
  assert.deepEqual(claims.adopt, []);
  assert.deepEqual(claims.release, []);
});

Deno.test("adoptPatch() and releasePatch() give and take the controller reference under strategic merge", () => {
  const rs = testRs();
  const orphan = testPod("orphan", { owner: "none" });
  const configMapRef = { apiVersion: "v1", kind: "ConfigMap", name: "c", uid: "cm" };
  orphan.metadata.ownerReferences = [configMapRef];
  const byUid = (refs: OwnerReference[] | undefined) =>
    [...(refs ?? [])].sort((a, b) => a.uid.localeCompare(b.uid));
  const adopted = applyPatch(
    STRATEGIC_MERGE_PATCH,
    orphan,
    adoptPatch(rs, orphan).patch,
    "v1",
    "Pod",
  );
  assert.deepEqual(
    byUid((adopted.metadata as KubeObject["metadata"]).ownerReferences),
    [configMapRef, controllerRef(rs)],
  );
  const released = applyPatch(
    STRATEGIC_MERGE_PATCH,
    adopted,
    releasePatch(rs, adopted as KubeObject).patch,
    "v1",
    "Pod",
  );
  assert.deepEqual((released.metadata as KubeObject["metadata"]).ownerReferences, [configMapRef]);
});
