import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  desiredTaints,
  effectiveTolerations,
  evictionTime,
  lastProbe,
  podNotReadyConditions,
  reconcileTaints,
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  unknownConditions,
} from "./taints.ts";

const T0 = Date.parse("2026-11-22T10:00:00Z");

function node(conditions: Record<string, string> | undefined, extra: object = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: "n1", creationTimestamp: "2026-11-22T09:00:00Z" },
    spec: { ...extra },
    status: conditions
      ? {
        conditions: Object.entries(conditions).map(([type, status]) => ({
          type,
          status,
          lastHeartbeatTime: "2026-11-22T10:00:00Z",
          lastTransitionTime: "2026-11-22T09:00:00Z",
          reason: `Kubelet${type}`,
          message: `kubelet says ${type} is ${status}`,
        })),
      }
      : {},
  };
}

function lease(renewTime: string): KubeObject {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: { name: "n1", namespace: "kube-node-lease" },
    spec: { renewTime },
  };
}

function pod(spec: object = {}, ownerKind?: string): KubeObject {
  const owner = { apiVersion: "apps/v1", kind: ownerKind ?? "", name: "o", uid: "u" };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: "p",
      namespace: "default",
      ...(ownerKind ? { ownerReferences: [{ ...owner, controller: true }] } : {}),
    },
    spec: { containers: [], ...spec },
  };
}

const HEALTHY = {
  Ready: "True",
  MemoryPressure: "False",
  DiskPressure: "False",
  PIDPressure: "False",
};
const PROBE = { observedSince: 0, gracePeriodMs: 40_000, startupGracePeriodMs: 60_000 };

Deno.test("lastProbe() takes the later of the Lease's renewTime and the Ready heartbeat", () => {
  assert.deepEqual(
    lastProbe(node(HEALTHY), { ...PROBE, lease: lease("2026-11-22T10:00:25.500000Z") }),
    { probe: T0 + 25_500, graceMs: 40_000 },
  );
  assert.deepEqual(
    lastProbe(node(HEALTHY), { ...PROBE, lease: lease("2026-11-22T09:59:00.000000Z") }),
    { probe: T0, graceMs: 40_000 },
  );
  assert.deepEqual(lastProbe(node(HEALTHY), { ...PROBE, lease: undefined }), {
    probe: T0,
    graceMs: 40_000,
  });
});

Deno.test("lastProbe() never goes back before the controller started watching", () => {
  const observedSince = T0 + 90_000;
  assert.equal(
    lastProbe(node(HEALTHY), { ...PROBE, observedSince, lease: undefined }).probe,
    observedSince,
  );
});

Deno.test("lastProbe() gives a node that never posted Ready the startup grace from its creation", () => {
  assert.deepEqual(
    lastProbe(node(undefined), { ...PROBE, observedSince: T0 + 1e9, lease: undefined }),
    { probe: Date.parse("2026-11-22T09:00:00Z"), graceMs: 60_000 },
  );
});

Deno.test("unknownConditions() turns the kubelet's conditions Unknown in Kubernetes' words", () => {
  const n = node({ ...HEALTHY, NetworkUnavailable: "False" });
  const conditions = unknownConditions(n, "2026-11-22T10:00:40Z")!;
  const ready = conditions.find((c) => c.type === "Ready");
  assert.deepEqual(ready, {
    type: "Ready",
    status: "Unknown",
    lastHeartbeatTime: "2026-11-22T10:00:00Z",
    lastTransitionTime: "2026-11-22T10:00:40Z",
    reason: "NodeStatusUnknown",
    message: "Kubelet stopped posting node status.",
  });
  for (const type of ["MemoryPressure", "DiskPressure", "PIDPressure"]) {
    assert.equal(conditions.find((c) => c.type === type)?.status, "Unknown");
  }
  assert.equal(conditions.find((c) => c.type === "NetworkUnavailable")?.status, "False");
  assert.equal(unknownConditions({ ...n, status: { conditions } }, "later"), undefined);
});

Deno.test("unknownConditions() adds the conditions a kubelet never posted", () => {
  const conditions = unknownConditions(node(undefined), "2026-11-22T10:01:00Z")!;
  assert.deepEqual(conditions.map((c) => c.type), [
    "Ready",
    "MemoryPressure",
    "DiskPressure",
    "PIDPressure",
  ]);
  assert.deepEqual(conditions[0], {
    type: "Ready",
    status: "Unknown",
    lastHeartbeatTime: "2026-11-22T09:00:00Z",
    lastTransitionTime: "2026-11-22T10:01:00Z",
    reason: "NodeStatusNeverUpdated",
    message: "Kubelet never posted node status.",
  });
});

Deno.test("desiredTaints() maps conditions and unschedulable to taints", () => {
  assert.deepEqual(desiredTaints(node(HEALTHY)), []);
  assert.deepEqual(desiredTaints(node({ ...HEALTHY, Ready: "False" })), [
    { key: TAINT_NOT_READY, effect: "NoSchedule" },
    { key: TAINT_NOT_READY, effect: "NoExecute" },
  ]);
  assert.deepEqual(desiredTaints(node({ ...HEALTHY, Ready: "Unknown" })), [
    { key: TAINT_UNREACHABLE, effect: "NoSchedule" },
    { key: TAINT_UNREACHABLE, effect: "NoExecute" },
  ]);
  assert.deepEqual(
    desiredTaints(node({ ...HEALTHY, DiskPressure: "True" }, { unschedulable: true })),
    [
      { key: "node.kubernetes.io/disk-pressure", effect: "NoSchedule" },
      { key: "node.kubernetes.io/unschedulable", effect: "NoSchedule" },
    ],
  );
});

Deno.test("reconcileTaints() adds with timeAdded, keeps others' taints and removes cleared ones", () => {
  const mine = { key: "dedicated", value: "edge", effect: "NoExecute" };
  const unreachable = { key: TAINT_UNREACHABLE, effect: "NoSchedule", timeAdded: "t1" };
  const desired = [{ key: TAINT_UNREACHABLE, effect: "NoSchedule" }, {
    key: TAINT_UNREACHABLE,
    effect: "NoExecute",
  }];
  assert.deepEqual(reconcileTaints([mine, unreachable], desired, "t2"), [
    mine,
    unreachable,
    { key: TAINT_UNREACHABLE, effect: "NoExecute", timeAdded: "t2" },
  ]);
  assert.equal(
    reconcileTaints(
      [mine, unreachable, { key: TAINT_UNREACHABLE, effect: "NoExecute", timeAdded: "t2" }],
      desired,
      "t3",
    ),
    undefined,
  );
  assert.deepEqual(reconcileTaints([unreachable, mine], [], "t3"), [mine]);
});

Deno.test("reconcileTaints() carries timeAdded over when not-ready and unreachable swap", () => {
  const current = [
    { key: TAINT_NOT_READY, effect: "NoSchedule", timeAdded: "t1" },
    { key: TAINT_NOT_READY, effect: "NoExecute", timeAdded: "t1" },
  ];
  assert.deepEqual(
    reconcileTaints(current, desiredTaints(node({ ...HEALTHY, Ready: "Unknown" })), "t5"),
    [
      { key: TAINT_UNREACHABLE, effect: "NoSchedule", timeAdded: "t5" },
      { key: TAINT_UNREACHABLE, effect: "NoExecute", timeAdded: "t1" },
    ],
  );
});

Deno.test("podNotReadyConditions() sets Ready False once per node transition", () => {
  const nodeReady = {
    type: "Ready",
    status: "Unknown",
    lastTransitionTime: "2026-11-22T10:00:40Z",
  };
  const p = pod();
  p.status = {
    conditions: [
      { type: "Initialized", status: "True", lastTransitionTime: "2026-11-22T09:00:00Z" },
      {
        type: "Ready",
        status: "True",
        lastTransitionTime: "2026-11-22T09:00:00Z",
        lastProbeTime: null,
      },
    ],
  };
  const conditions = podNotReadyConditions(p, nodeReady, "2026-11-22T10:00:41Z")!;
  assert.deepEqual(conditions, [
    { type: "Initialized", status: "True", lastTransitionTime: "2026-11-22T09:00:00Z" },
    {
      type: "Ready",
      status: "False",
      lastTransitionTime: "2026-11-22T10:00:41Z",
      lastProbeTime: null,
    },
  ]);
  assert.equal(podNotReadyConditions({ ...p, status: { conditions } }, nodeReady, "x"), undefined);
  const readyAgain = {
    conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-22T10:00:50Z" }],
  };
  assert.equal(podNotReadyConditions({ ...p, status: readyAgain }, nodeReady, "x"), undefined);
  assert.equal(podNotReadyConditions({ ...p, status: {} }, nodeReady, "x"), undefined);
});

Deno.test("effectiveTolerations() adds the API server's default tolerations unless covered", () => {
  assert.deepEqual(effectiveTolerations(pod(), 300), [
    { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
    { key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ]);
  const own = {
    key: TAINT_UNREACHABLE,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: 5,
  };
  assert.deepEqual(effectiveTolerations(pod({ tolerations: [own] }), 300), [
    own,
    { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
  ]);
  const everything = { operator: "Exists" };
  assert.deepEqual(effectiveTolerations(pod({ tolerations: [everything] }), 300), [everything]);
});

Deno.test("effectiveTolerations() lets a DaemonSet's pods tolerate not-ready and unreachable forever", () => {
  const own = {
    key: TAINT_UNREACHABLE,
    operator: "Exists",
    effect: "NoExecute",
    tolerationSeconds: 5,
  };
  assert.deepEqual(effectiveTolerations(pod({ tolerations: [own] }, "DaemonSet"), 300), [
    { key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" },
    { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute" },
  ]);
  assert.equal(effectiveTolerations(pod({}, "ReplicaSet"), 300)[0]?.tolerationSeconds, 300);
});

Deno.test("evictionTime() takes the earliest expiry over the NoExecute taints", () => {
  const since = () => T0;
  const unreachable = [{ key: TAINT_UNREACHABLE, effect: "NoExecute" }];
  assert.equal(evictionTime(unreachable, effectiveTolerations(pod(), 300), since), T0 + 300_000);
  assert.equal(
    evictionTime([{ key: TAINT_UNREACHABLE, effect: "NoSchedule" }], [], since),
    undefined,
  );
  assert.equal(
    evictionTime(unreachable, effectiveTolerations(pod({}, "DaemonSet"), 300), since),
    undefined,
  );
  const dedicated = { key: "dedicated", value: "gpu", effect: "NoExecute" };
  assert.equal(evictionTime([...unreachable, dedicated], [], since), T0, "untolerated: at once");
  const tolerations = [
    { key: "dedicated", operator: "Equal", value: "gpu", tolerationSeconds: 30 },
    { key: TAINT_UNREACHABLE, operator: "Exists" },
  ];
  assert.equal(evictionTime([...unreachable, dedicated], tolerations, since), T0 + 30_000);
  assert.equal(evictionTime(unreachable, tolerations, since), undefined, "tolerated forever");
  assert.equal(
    evictionTime(unreachable, [{ operator: "Exists", tolerationSeconds: -5 }], since),
    T0,
    "a negative tolerationSeconds counts as zero",
  );
});
