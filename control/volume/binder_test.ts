import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  LOCAL_PATH_PROVISIONER,
  NO_PROVISIONER,
} from "../../storage/persistent_volumes.ts";
import { claim, node, storageClass, volume } from "./_testing.ts";
import {
  chooseProvisioningNode,
  claimBoundTo,
  type ClaimPlan,
  claimStatusWithoutVolume,
  externalProvisioningMessage,
  nodeSchedulable,
  nodeStorageChanged,
  planClaim,
  planVolume,
  topologyAllows,
  volumeBoundTo,
  volumeStatus,
  volumeUnbound,
} from "./binder.ts";

const NOW = "2026-11-22T10:00:00Z";

function specOf(obj: KubeObject): Record<string, unknown> {
  return obj.spec as Record<string, unknown>;
}
const REF = { namespace: "default", name: "data", uid: "uid-data" };

function world(
  f: {
    volumes?: KubeObject[];
    claims?: KubeObject[];
    nodes?: KubeObject[];
    classes?: KubeObject[];
  } = {},
) {
  const classes = f.classes ?? [];
  return {
    volumes: f.volumes ?? [],
    claims: f.claims ?? [],
    nodes: f.nodes ?? [],
    storageClass: (name: string) => classes.find((c) => c.metadata.name === name),
  };
}

/** The plan without the (large) volume object: its name instead. */
function summary(plan: ClaimPlan): Record<string, unknown> {
  return plan.action === "bind"
    ? { action: "bind", volume: plan.volume.metadata.name }
    : { ...plan };
}

const LOCAL_WFFC = storageClass("local-path", LOCAL_PATH_PROVISIONER, "WaitForFirstConsumer");
const LOCAL_NOW = storageClass("local-now", LOCAL_PATH_PROVISIONER, "Immediate");

Deno.test("planClaim() binds an unbound claim to the smallest fitting volume", () => {
  const plan = planClaim(
    claim("data", { storageClass: "manual" }),
    world({
      volumes: [
        volume("big", { storageClass: "manual", size: "5Gi" }),
        volume("fit", { storageClass: "manual", size: "1Gi" }),
      ],
    }),
  );
  assert.deepEqual(summary(plan), { action: "bind", volume: "fit" });
});

Deno.test("planClaim() without a fitting volume of a class-less claim: FailedBinding", () => {
  const plan = planClaim(claim("data", { size: "5Gi" }), world({ volumes: [volume("v")] }));
  assert.deepEqual(summary(plan), {
    action: "pending",
    event: {
      type: "Warning",
      reason: "FailedBinding",
      message: "no persistent volumes available for this claim and no storage class is set: " +
        "of 1 volume(s) of this class, 1 too small (largest 1Gi, 5Gi requested)",
    },
  });
});

Deno.test("planClaim() names a missing StorageClass in the FailedBinding message", () => {
  const plan = planClaim(claim("data", { storageClass: "fast" }), world());
  assert.equal(plan.action, "pending");
  assert.equal(
    plan.action === "pending" ? plan.event?.message : "",
    'no persistent volumes of storage class "fast" available for this claim: ' +
      'no volume has this class; storageclass.storage.k8s.io "fast" not found',
  );
  const bound = planClaim(
    claim("data", { storageClass: "fast" }),
    world({ volumes: [volume("v", { storageClass: "fast" })] }),
  );
  assert.deepEqual(summary(bound), { action: "bind", volume: "v" }, "static volumes need no class");
});

Deno.test("planClaim() of a class with another provisioner: FailedBinding", () => {
  const plan = planClaim(
    claim("data", { storageClass: "manual" }),
    world({ classes: [storageClass("manual", NO_PROVISIONER)] }),
  );
  assert.equal(plan.action === "pending" && plan.event?.reason, "FailedBinding");
});

Deno.test("planClaim() of an Immediate local-path claim asks for a volume on a chosen node", () => {
  const plan = planClaim(
    claim("data", { storageClass: "local-now" }),
    world({
      classes: [LOCAL_NOW],
      nodes: [node("edge-1"), node("edge-2")],
      volumes: [volume("held", { node: "edge-1", storageClass: "x" })],
    }),
  );
  assert.deepEqual(plan, {
    action: "provision",
    annotations: {
      [ANN_SELECTED_NODE]: "edge-2",
      [ANN_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
      [ANN_BETA_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
    },
    event: {
      type: "Normal",
      reason: "ExternalProvisioning",
      message: "Waiting for a volume to be created either by the external provisioner " +
        "'edge.io/local-path' or manually by the system administrator. If volume creation is " +
        "delayed, please verify that the provisioner is running and correctly registered.",
    },
  });
  assert.equal(
    externalProvisioningMessage("x.io/p"),
    "Waiting for a volume to be created either by the external provisioner 'x.io/p' or " +
      "manually by the system administrator. If volume creation is delayed, please verify " +
      "that the provisioner is running and correctly registered.",
  );
});

Deno.test("planClaim() keeps the node already chosen for an Immediate claim", () => {
  const plan = planClaim(
    claim("data", { storageClass: "local-now", annotations: { [ANN_SELECTED_NODE]: "edge-1" } }),
    world({ classes: [LOCAL_NOW], nodes: [node("edge-1", { ready: "False" }), node("edge-2")] }),
  );
  assert.equal(plan.action === "provision" && plan.annotations[ANN_SELECTED_NODE], "edge-1");
});

Deno.test("planClaim() of an Immediate claim without a usable node says so", () => {
  const plan = planClaim(
    claim("data", { storageClass: "local-now" }),
    world({ classes: [LOCAL_NOW], nodes: [node("edge-1", { unschedulable: true })] }),
  );
  assert.equal(plan.action === "pending" && plan.event?.reason, "ProvisioningFailed");
});

Deno.test("planClaim() of a WaitForFirstConsumer claim waits for the scheduler", () => {
  const plan = planClaim(
    claim("data", { storageClass: "local-path" }),
    world({
      classes: [LOCAL_WFFC],
      volumes: [volume("free", { storageClass: "local-path", node: "edge-1" })],
    }),
  );
  assert.deepEqual(plan, {
    action: "pending",
    event: {
      type: "Normal",
      reason: "WaitForFirstConsumer",
      message: "waiting for first consumer to be created before binding",
    },
  });
});

Deno.test("planClaim() with a selected node binds a static volume there, else provisions", () => {
  const volumes = [
    volume("on-1", { storageClass: "local-path", node: "edge-1" }),
    volume("on-2", { storageClass: "local-path", node: "edge-2", size: "5Gi" }),
  ];
  const nodes = [node("edge-1"), node("edge-2"), node("edge-3")];
  const on = (n: string) =>
    planClaim(
      claim("data", { storageClass: "local-path", annotations: { [ANN_SELECTED_NODE]: n } }),
      world({ classes: [LOCAL_WFFC], volumes, nodes }),
    );
  assert.deepEqual(summary(on("edge-1")), { action: "bind", volume: "on-1" });
  assert.deepEqual(summary(on("edge-2")), { action: "bind", volume: "on-2" });
  const third = on("edge-3");
  assert.equal(third.action, "provision");
  assert.equal(third.action === "provision" && third.annotations[ANN_SELECTED_NODE], "edge-3");
});

Deno.test("planClaim() with a selected node of a class without our provisioner: FailedBinding", () => {
  const plan = planClaim(
    claim("data", { storageClass: "local", annotations: { [ANN_SELECTED_NODE]: "edge-2" } }),
    world({
      classes: [storageClass("local", NO_PROVISIONER, "WaitForFirstConsumer")],
      volumes: [volume("on-1", { storageClass: "local", node: "edge-1" })],
      nodes: [node("edge-1"), node("edge-2")],
    }),
  );
  assert.equal(
    plan.action === "pending" && plan.event?.message,
    'no persistent volumes of storage class "local" available for this claim: ' +
      'of 1 volume(s) of this class, 1 node affinity of node "edge-2"',
  );
});

Deno.test("planClaim() binds the volume the provisioner made for the claim", () => {
  const made = volume("pvc-uid-data", {
    storageClass: "local-path",
    node: "edge-1",
    phase: "Pending",
    claimRef: REF,
    annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
  });
  const plan = planClaim(
    claim("data", { storageClass: "local-path", annotations: { [ANN_SELECTED_NODE]: "edge-1" } }),
    world({ classes: [LOCAL_WFFC], volumes: [made], nodes: [] }),
  );
  assert.deepEqual(summary(plan), { action: "bind", volume: "pvc-uid-data" });
});

Deno.test("planClaim() of a claim pre-bound by volumeName binds only a fitting free volume", () => {
  const c = claim("data", { volumeName: "v", size: "2Gi" });
  assert.deepEqual(summary(planClaim(c, world())), { action: "pending" }, "no volume yet");
  assert.deepEqual(summary(planClaim(c, world({ volumes: [volume("v", { size: "2Gi" })] }))), {
    action: "bind",
    volume: "v",
  });
  assert.deepEqual(summary(planClaim(c, world({ volumes: [volume("v", { size: "1Gi" })] }))), {
    action: "pending",
    event: {
      type: "Warning",
      reason: "VolumeMismatch",
      message: 'Cannot bind to requested volume "v": requested PV is too small',
    },
  });
  const taken = volume("v", {
    size: "2Gi",
    claimRef: { namespace: "default", name: "other", uid: "x" },
  });
  assert.deepEqual(summary(planClaim(c, world({ volumes: [taken] }))), { action: "pending" });
  const reserved = volume("v", { size: "1Gi", claimRef: REF, phase: "Bound" });
  assert.deepEqual(summary(planClaim(c, world({ volumes: [reserved] }))), {
    action: "bind",
    volume: "v",
  }, "the volume names the claim: the binding is completed");
});

Deno.test("planClaim() of a bound claim keeps the binding, or finds it Lost", () => {
  const bound = claim("data", {
    volumeName: "v",
    phase: "Bound",
    annotations: { [ANN_BIND_COMPLETED]: "yes" },
  });
  const mine = volume("v", { claimRef: REF, phase: "Bound" });
  assert.deepEqual(summary(planClaim(bound, world({ volumes: [mine] }))), {
    action: "bind",
    volume: "v",
  });
  assert.deepEqual(summary(planClaim(bound, world({ volumes: [volume("v")] }))), {
    action: "bind",
    volume: "v",
  }, "the volume lost its claimRef: bind it again");
  assert.deepEqual(planClaim(bound, world()), {
    action: "lost",
    event: {
      type: "Warning",
      reason: "ClaimLost",
      message: "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
    },
  });
  const elsewhere = volume("v", { claimRef: { namespace: "default", name: "b", uid: "u-b" } });
  assert.equal(
    summary(planClaim(bound, world({ volumes: [elsewhere] }))).action,
    "lost",
  );
  const noName = claim("data", { annotations: { [ANN_BIND_COMPLETED]: "yes" } });
  const lost = planClaim(noName, world({ volumes: [mine] }));
  assert.equal(
    lost.action === "lost" && lost.event.message,
    "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
  );
});

Deno.test("planVolume() makes a volume without a claim Available", () => {
  assert.deepEqual(planVolume(volume("v", { phase: "Pending" }), undefined), {
    action: "phase",
    phase: "Available",
  });
  assert.deepEqual(
    planVolume(volume("v", { claimRef: { namespace: "default", name: "data" } }), undefined),
    { action: "phase", phase: "Available" },
    "reserved by name for a claim: still Available",
  );
});

Deno.test("planVolume() keeps a volume Bound while its claim names it", () => {
  const c = claim("data", { volumeName: "v" });
  assert.deepEqual(planVolume(volume("v", { claimRef: REF }), c), {
    action: "phase",
    phase: "Bound",
  });
  assert.deepEqual(planVolume(volume("v", { claimRef: REF }), claim("data")), {
    action: "syncClaim",
    namespace: "default",
    name: "data",
  });
});

Deno.test("planVolume() reclaims a volume whose claim is gone, per its policy", () => {
  const pv = (reclaimPolicy: string, annotations?: Record<string, string>) =>
    volume("v", {
      claimRef: REF,
      phase: "Bound",
      reclaimPolicy,
      ...(annotations ? { annotations } : {}),
    });
  assert.deepEqual(planVolume(pv("Retain"), undefined), { action: "phase", phase: "Released" });
  assert.deepEqual(
    planVolume(pv("Delete", { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER }), undefined),
    { action: "phase", phase: "Released" },
    "the agent deletes local-path volumes",
  );
  const message =
    'error getting deleter volume plugin for volume "v": no deletable volume plugin matched';
  assert.deepEqual(planVolume(pv("Delete"), undefined), {
    action: "phase",
    phase: "Failed",
    message,
    event: { type: "Warning", reason: "VolumeFailedDelete", message },
  });
  assert.deepEqual(planVolume(pv("Recycle"), undefined), {
    action: "phase",
    phase: "Failed",
    message: "No recycler plugin found for the volume!",
    event: {
      type: "Warning",
      reason: "VolumeFailedRecycle",
      message: "No recycler plugin found for the volume!",
    },
  });
  const recreated = claim("data", { uid: "another", volumeName: "v" });
  assert.deepEqual(
    planVolume(pv("Retain"), recreated),
    { action: "phase", phase: "Released" },
    "a claim of the same name but another uid is not the volume's claim",
  );
  const failed = volume("v", { claimRef: REF, phase: "Failed", reclaimPolicy: "Retain" });
  assert.deepEqual(planVolume(failed, undefined), { action: "phase", phase: "Failed" });
});

Deno.test("planVolume() frees a volume the controller reserved for a claim bound elsewhere", () => {
  const c = claim("data", { volumeName: "other" });
  const byController = volume("v", {
    claimRef: REF,
    phase: "Bound",
    annotations: { [ANN_BOUND_BY_CONTROLLER]: "yes" },
  });
  assert.deepEqual(planVolume(byController, c), { action: "unbind" });
  assert.deepEqual(planVolume(volume("v", { claimRef: REF, phase: "Bound" }), c), {
    action: "phase",
    phase: "Available",
  }, "made with its claimRef by the user: left reserved");
  const provisioned = volume("v", {
    claimRef: REF,
    reclaimPolicy: "Delete",
    annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
  });
  assert.deepEqual(planVolume(provisioned, c), { action: "phase", phase: "Released" });
});

Deno.test("volumeBoundTo() and claimBoundTo() write the binding both ways", () => {
  const c = claim("data", { resourceVersion: "7" });
  const v = volume("v", { size: "2Gi", accessModes: ["ReadWriteOnce", "ReadOnlyMany"] });
  const boundVolume = volumeBoundTo(v, c, NOW);
  assert.deepEqual(specOf(boundVolume).claimRef, {
    kind: "PersistentVolumeClaim",
    apiVersion: "v1",
    namespace: "default",
    name: "data",
    uid: "uid-data",
    resourceVersion: "7",
  });
  assert.deepEqual(boundVolume.metadata.annotations, { [ANN_BOUND_BY_CONTROLLER]: "yes" });
  assert.deepEqual(boundVolume.status, { phase: "Bound", lastPhaseTransitionTime: NOW });
  const boundClaim = claimBoundTo(c, boundVolume);
  assert.equal((boundClaim.spec as { volumeName: string }).volumeName, "v");
  assert.deepEqual(boundClaim.metadata.annotations, {
    [ANN_BOUND_BY_CONTROLLER]: "yes",
    [ANN_BIND_COMPLETED]: "yes",
  });
  assert.deepEqual(boundClaim.status, {
    phase: "Bound",
    accessModes: ["ReadWriteOnce", "ReadOnlyMany"],
    capacity: { storage: "2Gi" },
  });
  // done: nothing changes, even with a newer claim resourceVersion
  const newer = { ...boundClaim, metadata: { ...boundClaim.metadata, resourceVersion: "9" } };
  assert.deepEqual(volumeBoundTo(boundVolume, newer, "later"), boundVolume);
  assert.deepEqual(claimBoundTo(newer, boundVolume), newer);
});

Deno.test("volumeBoundTo() and claimBoundTo() do not mark a user's own choice as the controller's", () => {
  const c = claim("data", { volumeName: "v" });
  const v = volume("v", { claimRef: { namespace: "default", name: "data" } });
  const boundVolume = volumeBoundTo(v, c, NOW);
  assert.equal(boundVolume.metadata.annotations, undefined);
  assert.equal((specOf(boundVolume).claimRef as { uid: string }).uid, "uid-data", "uid filled in");
  assert.deepEqual(claimBoundTo(c, boundVolume).metadata.annotations, {
    [ANN_BIND_COMPLETED]: "yes",
  });
});

Deno.test("volumeUnbound() drops the claimRef and the controller's annotation", () => {
  const v = volume("v", {
    claimRef: REF,
    phase: "Bound",
    annotations: { [ANN_BOUND_BY_CONTROLLER]: "yes" },
  });
  const free = volumeUnbound(v, NOW);
  assert.equal(specOf(free).claimRef, undefined);
  assert.equal(free.metadata.annotations, undefined);
  assert.deepEqual(free.status, { phase: "Available", lastPhaseTransitionTime: NOW });
});

Deno.test("volumeStatus() and claimStatusWithoutVolume() keep only what the phase allows", () => {
  const v = volume("v", { phase: "Failed" });
  v.status = { phase: "Failed", message: "boom", reason: "X", lastPhaseTransitionTime: "t0" };
  assert.deepEqual(volumeStatus(v, "Failed", NOW, "boom"), {
    phase: "Failed",
    message: "boom",
    lastPhaseTransitionTime: "t0",
  });
  assert.deepEqual(volumeStatus(v, "Released", NOW), {
    phase: "Released",
    lastPhaseTransitionTime: NOW,
  });
  const c = claim("data");
  c.status = { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "1Gi" } };
  assert.deepEqual(claimStatusWithoutVolume(c, "Lost"), { phase: "Lost" });
});

Deno.test("chooseProvisioningNode() picks a Ready schedulable node with the fewest volumes", () => {
  const nodes = [
    node("edge-c"),
    node("edge-a"),
    node("edge-b"),
    node("edge-0", { ready: "False" }),
    node("edge-00", { unschedulable: true }),
  ];
  const volumes = [
    volume("v1", { node: "edge-a" }),
    volume("v2", { node: "edge-a" }),
    volume("v3", { node: "edge-c" }),
    volume("anywhere"),
  ];
  assert.equal(chooseProvisioningNode(nodes, volumes, []), "edge-b");
  const waiting = claim("w", {
    annotations: {
      [ANN_SELECTED_NODE]: "edge-b",
      [ANN_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
    },
  });
  assert.equal(
    chooseProvisioningNode(nodes, volumes, [waiting]),
    "edge-b",
    "tie with edge-c (one request each): the name first in order",
  );
  const waiting2 = claim("w2", {
    uid: "u2",
    annotations: {
      [ANN_SELECTED_NODE]: "edge-b",
      [ANN_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
    },
  });
  assert.equal(chooseProvisioningNode(nodes, volumes, [waiting, waiting2]), "edge-c");
  assert.equal(chooseProvisioningNode([node("edge-0", { ready: "False" })], [], []), undefined);
});

Deno.test("nodeSchedulable() and nodeStorageChanged() look at readiness, cordon and labels", () => {
  assert.ok(nodeSchedulable(node("n")));
  assert.ok(!nodeSchedulable(node("n", { ready: "Unknown" })));
  assert.ok(!nodeSchedulable(node("n", { unschedulable: true })));
  const n = node("n");
  const heartbeat = node("n");
  (heartbeat.status as { conditions: unknown[] }).conditions = [{
    type: "Ready",
    status: "True",
    lastHeartbeatTime: NOW,
  }];
  assert.ok(!nodeStorageChanged(n, heartbeat));
  assert.ok(nodeStorageChanged(n, node("n", { ready: "False" })));
  assert.ok(nodeStorageChanged(n, node("n", { labels: { zone: "a" } })));
});

Deno.test("topologyAllows() and chooseProvisioningNode() honour a class's allowedTopologies", () => {
  const zoned = storageClass("zoned", LOCAL_PATH_PROVISIONER);
  zoned.allowedTopologies = [{
    matchLabelExpressions: [{ key: "zone", values: ["b", "c"] }],
  }];
  const a = node("edge-a", { labels: { zone: "a" } });
  const c = node("edge-c", { labels: { zone: "c" } });
  assert.ok(!topologyAllows(zoned, a));
  assert.ok(topologyAllows(zoned, c));
  assert.ok(!topologyAllows(zoned, node("bare")));
  assert.ok(topologyAllows(LOCAL_NOW, a), "no allowedTopologies: every node");
  assert.equal(chooseProvisioningNode([a, c], [], [], zoned), "edge-c");
  assert.equal(chooseProvisioningNode([a], [], [], zoned), undefined);
});
