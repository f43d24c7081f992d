import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import { NO_PROVISIONER } from "../../storage/persistent_volumes.ts";
import { testClaim, testClass, testNode, testPod, testVolume } from "./_testing.ts";
import { CycleState, FILTERS, runFilters, volumeBinding } from "./filters.ts";
import { podInfo } from "./pod_info.ts";
import { schedulePod } from "./schedule.ts";
import { Snapshot } from "./snapshot.ts";
import { claimsToSelect, isClaimBound, isDelayBinding, podVolumes } from "./volume_binding.ts";
import { VolumeView } from "./volumes.ts";

const NODE_CONFLICT = "node(s) had volume node affinity conflict";
const BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind";

/** Node `a` has far more room than node `b`. */
function twoNodes(): KubeObject[] {
  return [testNode("a", { cpu: "16", memory: "64Gi" }), testNode("b", { cpu: "2", memory: "2Gi" })];
}

/** VolumeBinding's verdict for `pod` on each node, by node name. */
function verdicts(pod: KubeObject, snapshot: Snapshot): Record<string, readonly string[] | "ok"> {
  const info = podInfo(pod);
  const state = new CycleState(info, snapshot);
  const out: Record<string, readonly string[] | "ok"> = {};
  for (const node of snapshot.nodes()) {
    out[node.name] = volumeBinding.filter(info, node, state) ?? "ok";
  }
  return out;
}

Deno.test("volumeBinding sits after NodeResourcesFit and before InterPodAffinity", () => {
  const names = FILTERS.map((f) => f.name);
  assert.equal(names.indexOf("VolumeBinding"), names.indexOf("NodeResourcesFit") + 1);
  assert.equal(names.indexOf("InterPodAffinity"), names.indexOf("VolumeBinding") + 1);
});

Deno.test("volumeBinding passes a pod without claims without looking at volumes", () => {
  const snapshot = Snapshot.of(twoNodes());
  assert.deepEqual(verdicts(testPod("p"), snapshot), { a: "ok", b: "ok" });
});

Deno.test("volumeBinding keeps a pod with a bound local volume on that volume's node", () => {
  const storage = [
    testClass("local-path"),
    testClaim("data", { volumeName: "pv-b", bound: true }),
    testVolume("pv-b", { node: "b", claim: { name: "data" } }),
  ];
  const snapshot = Snapshot.of(twoNodes(), [], [], storage);
  const pod = testPod("p", { cpu: "1", claims: ["data"] });
  assert.deepEqual(verdicts(pod, snapshot), { a: [NODE_CONFLICT], b: "ok" });
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(schedulePod(testPod(`p${i}`, { claims: ["data"] }), snapshot), { node: "b" });
  }
  const hostPath = Snapshot.of(twoNodes(), [], [], [
    testClaim("data", { volumeName: "pv", bound: true }),
    testVolume("pv", { claim: { name: "data" } }),
  ]);
  assert.deepEqual(verdicts(pod, hostPath), { a: "ok", b: "ok" });
});

Deno.test("volumeBinding reports a bound claim whose volume is missing on every node", () => {
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClaim("data", { volumeName: "gone", bound: true }),
  ]);
  assert.deepEqual(schedulePod(testPod("p", { claims: ["data"] }), snapshot), {
    unschedulable: "0/2 nodes are available: 2 node(s) unavailable due to one or more pvc(s) " +
      "bound to non-existent pv(s).",
  });
});

Deno.test("volumeBinding sends an unbound WaitForFirstConsumer claim to the node of a fitting static volume", () => {
  const claim = testClaim("data", { storageClassName: "manual" });
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClass("manual", { provisioner: NO_PROVISIONER }),
    claim,
    testVolume("small-a", { node: "a", storageClassName: "manual", storage: "512Mi" }),
    testVolume("pv-b", { node: "b", storageClassName: "manual", storage: "2Gi" }),
  ]);
  const pod = testPod("p", { claims: ["data"] });
  assert.deepEqual(verdicts(pod, snapshot), { a: [BIND_CONFLICT], b: "ok" });
  assert.deepEqual(schedulePod(pod, snapshot), { node: "b", waitForClaims: [claim] });
});

Deno.test("volumeBinding lets a claim of the local-path provisioner go to any node", () => {
  const claim = testClaim("data");
  const snapshot = Snapshot.of(twoNodes(), [], [], [testClass("local-path"), claim]);
  const pod = testPod("p", { claims: ["data"] });
  assert.deepEqual(verdicts(pod, snapshot), { a: "ok", b: "ok" });
  assert.deepEqual(schedulePod(pod, snapshot), { node: "a", waitForClaims: [claim] });
});

Deno.test("volumeBinding rejects every node when no volume fits and nothing provisions", () => {
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClass("manual", { provisioner: NO_PROVISIONER }),
    testClaim("data", { storageClassName: "manual", storage: "10Gi" }),
    testVolume("pv-b", { node: "b", storageClassName: "manual", storage: "2Gi" }),
  ]);
  assert.deepEqual(schedulePod(testPod("p", { claims: ["data"] }), snapshot), {
    unschedulable: `0/2 nodes are available: 2 ${BIND_CONFLICT}.`,
  });
});

Deno.test("volumeBinding provisions only where the class's allowedTopologies admit the node", () => {
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClass("local-path", {
      allowedTopologies: [{
        matchLabelExpressions: [{ key: "kubernetes.io/hostname", values: ["b"] }],
      }],
    }),
    testClaim("data"),
  ]);
  assert.deepEqual(verdicts(testPod("p", { claims: ["data"] }), snapshot), {
    a: [BIND_CONFLICT],
    b: "ok",
  });
});

Deno.test("volumeBinding honours the selected-node annotation of a claim while its node exists", () => {
  const claim = testClaim("data", { selectedNode: "b" });
  const snapshot = Snapshot.of(twoNodes(), [], [], [testClass("local-path"), claim]);
  const pod = testPod("p", { claims: ["data"] });
  assert.deepEqual(verdicts(pod, snapshot), { a: [BIND_CONFLICT], b: "ok" });
  assert.deepEqual(schedulePod(pod, snapshot), { node: "b", waitForClaims: [claim] });
  assert.deepEqual(claimsToSelect([claim], "b"), []);
  assert.deepEqual(claimsToSelect([claim], "a"), [claim]);
  const stale = testClaim("data", { selectedNode: "gone" });
  const gone = Snapshot.of(twoNodes(), [], [], [testClass("local-path"), stale]);
  assert.deepEqual(verdicts(pod, gone), { a: "ok", b: "ok" });
  assert.deepEqual(claimsToSelect([stale], "a"), [stale]);
});

Deno.test("volumeBinding never counts two claims of one pod on the same static volume", () => {
  const claims = [
    testClaim("one", { storageClassName: "manual" }),
    testClaim("two", { storageClassName: "manual" }),
  ];
  const storage = [
    testClass("manual", { provisioner: NO_PROVISIONER }),
    ...claims,
    testVolume("pv-a", { node: "a", storageClassName: "manual" }),
    testVolume("pv-b1", { node: "b", storageClassName: "manual" }),
  ];
  const pod = testPod("p", { claims: ["one", "two"] });
  assert.deepEqual(verdicts(pod, Snapshot.of(twoNodes(), [], [], storage)), {
    a: [BIND_CONFLICT],
    b: [BIND_CONFLICT],
  });
  const more = [...storage, testVolume("pv-b2", { node: "b", storageClassName: "manual" })];
  const snapshot = Snapshot.of(twoNodes(), [], [], more);
  assert.deepEqual(verdicts(pod, snapshot), { a: [BIND_CONFLICT], b: "ok" });
  assert.deepEqual(schedulePod(pod, snapshot), { node: "b", waitForClaims: claims });
});

Deno.test("volumeBinding gives both reasons when bound and unbound claims fail on a node", () => {
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClass("manual", { provisioner: NO_PROVISIONER }),
    testClaim("bound", { volumeName: "pv-a", bound: true }),
    testVolume("pv-a", { node: "a", claim: { name: "bound" } }),
    testClaim("late", { storageClassName: "manual" }),
    testVolume("pv-b", { node: "b", storageClassName: "manual" }),
  ]);
  assert.deepEqual(schedulePod(testPod("p", { claims: ["bound", "late"] }), snapshot), {
    unschedulable: `0/2 nodes are available: 1 ${BIND_CONFLICT}, 1 ${NODE_CONFLICT}.`,
  });
});

Deno.test("schedulePod() fails the whole pod in the pre-filter's words", () => {
  const nodes = twoNodes();
  const cases: [KubeObject[], string][] = [
    [[], `persistentvolumeclaim "data" not found`],
    [
      [testClass("local-path"), testClaim("data", { deleting: true })],
      `persistentvolumeclaim "data" is being deleted`,
    ],
    [
      [
        testClass("fast", { volumeBindingMode: "Immediate" }),
        testClaim("data", {
          storageClassName: "fast",
        }),
      ],
      "pod has unbound immediate PersistentVolumeClaims",
    ],
    [[testClaim("data")], "pod has unbound immediate PersistentVolumeClaims"],
    [
      [testClaim("data", { storageClassName: null }), testVolume("pv")],
      "pod has unbound immediate PersistentVolumeClaims",
    ],
    [
      [testClass("local-path"), testClaim("data", { volumeName: "pv" }), testVolume("pv")],
      "pod has unbound immediate PersistentVolumeClaims",
    ],
  ];
  for (const [storage, message] of cases) {
    const snapshot = Snapshot.of(nodes, [], [], storage);
    assert.deepEqual(
      schedulePod(testPod("p", { claims: ["data"] }), snapshot),
      { unschedulable: `0/2 nodes are available: ${message}.` },
      message,
    );
  }
  const ok = Snapshot.of(nodes, [], [], [testClass("local-path"), testClaim("data")]);
  assert.deepEqual(
    schedulePod(testPod("p", { namespace: "other", claims: ["data"] }), ok),
    { unschedulable: `0/2 nodes are available: persistentvolumeclaim "data" not found.` },
  );
});

Deno.test("runFilters() reports NodeResourcesFit before VolumeBinding", () => {
  const snapshot = Snapshot.of([testNode("a", { cpu: "1" })], [], [], [
    testClaim("data", { volumeName: "pv-b", bound: true }),
    testVolume("pv-b", { node: "b", claim: { name: "data" } }),
  ]);
  const info = podInfo(testPod("p", { cpu: "2", claims: ["data"] }));
  const node = snapshot.node("a");
  assert.ok(node);
  assert.deepEqual(runFilters(info, node, new CycleState(info, snapshot)), ["Insufficient cpu"]);
  const fits = podInfo(testPod("q", { claims: ["data"] }));
  assert.deepEqual(runFilters(fits, node, new CycleState(fits, snapshot)), [NODE_CONFLICT]);
});

Deno.test("podVolumes() sorts claims into bound and waiting-for-consumer ones", () => {
  const bound = testClaim("bound", { volumeName: "pv", bound: true });
  const late = testClaim("late");
  const snapshot = Snapshot.of(twoNodes(), [], [], [
    testClass("local-path"),
    bound,
    late,
    testVolume("pv", { claim: { name: "bound" } }),
    testVolume("free", { node: "b" }),
  ]);
  const volumes = podVolumes(podInfo(testPod("p", { claims: ["bound", "late"] })), snapshot);
  assert.equal(volumes.unschedulable, undefined);
  assert.deepEqual(volumes.bound.map((b) => b.volume?.metadata.name), ["pv"]);
  assert.deepEqual(volumes.delayed.map((d) => d.claim), [late]);
  assert.deepEqual(volumes.delayed[0]?.candidates.map((v) => v.metadata.name), ["free"]);
});

Deno.test("isClaimBound() and isDelayBinding() read the claim and its class", () => {
  assert.equal(isClaimBound(testClaim("c", { volumeName: "pv", bound: true })), true);
  assert.equal(isClaimBound(testClaim("c", { volumeName: "pv" })), false);
  const phaseOnly = testClaim("c", { volumeName: "pv" });
  phaseOnly.status = { phase: "Bound" };
  assert.equal(isClaimBound(phaseOnly), true);
  const claim = testClaim("c");
  assert.equal(isDelayBinding(claim, testClass("local-path")), true);
  assert.equal(
    isDelayBinding(claim, testClass("local-path", { volumeBindingMode: "Immediate" })),
    false,
  );
  assert.equal(isDelayBinding(claim, undefined), false);
  assert.equal(isDelayBinding(testClaim("c", { storageClassName: "" }), testClass("")), false);
});

Deno.test("VolumeView keeps the newer of two versions of an object", () => {
  const view = new VolumeView();
  assert.equal(view.set(testClaim("c", { resourceVersion: "5", selectedNode: "a" })), true);
  assert.equal(view.set(testClaim("c", { resourceVersion: "4" })), false);
  assert.equal(
    view.claim("default", "c")?.metadata.annotations?.["volume.kubernetes.io/selected-node"],
    "a",
  );
  assert.equal(view.set(testClaim("c", { resourceVersion: "6" })), true);
  view.deleteClaim("default/c");
  assert.equal(view.claim("default", "c"), undefined);
  assert.throws(() => view.set(testNode("n")), /kind 'Node'/);
});
