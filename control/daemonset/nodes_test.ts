import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  CONTROLLER_REVISION_HASH_LABEL,
  daemonPodTolerations,
  daemonSetStatus,
  maxUnavailable,
  nodeShouldRunDaemonPod,
  placements,
  planManage,
  podsByNode,
  rollingUpdateDeletions,
  targetNodeName,
} from "./nodes.ts";

const NOW = Date.parse("2026-11-22T10:00:00Z");

function node(name: string, labels: Record<string, string> = {}, taints: unknown[] = []) {
  return { apiVersion: "v1", kind: "Node", metadata: { name, labels }, spec: { taints } };
}

function ds(podSpec: Record<string, unknown> = {}, spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent", namespace: "default", uid: "u1", generation: 1 },
    spec: { template: { metadata: { labels: { app: "agent" } }, spec: podSpec }, ...spec },
  };
}

function pod(
  name: string,
  nodeName: string,
  opts: { hash?: string; ready?: boolean; phase?: string; deleting?: boolean; created?: string } =
    {},
): KubeObject {
  const metadata: KubeObject["metadata"] = {
    name,
    namespace: "default",
    labels: { [CONTROLLER_REVISION_HASH_LABEL]: opts.hash ?? "new" },
    creationTimestamp: opts.created ?? "2026-11-22T09:00:00Z",
  };
  if (opts.deleting) metadata.deletionTimestamp = "2026-11-22T09:59:00Z";
  const conditions = opts.ready
    ? [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-22T09:00:00Z" }]
    : [];
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata,
    spec: { nodeName },
    status: { phase: opts.phase ?? "Running", conditions },
  };
}

Deno.test("daemonPodTolerations() replaces a matching toleration and adds network-unavailable for hostNetwork", () => {
  const tolerations = daemonPodTolerations([
    {
      key: "node.kubernetes.io/not-ready",
      operator: "Exists",
      effect: "NoExecute",
      tolerationSeconds: 60,
    },
    { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" },
  ], true);
  assert.deepEqual(tolerations[0], {
    key: "node.kubernetes.io/not-ready",
    operator: "Exists",
    effect: "NoExecute",
  });
  assert.equal(tolerations[1]?.key, "dedicated");
  assert.equal(tolerations.length, 8);
  assert.deepEqual(tolerations.at(-1), {
    key: "node.kubernetes.io/network-unavailable",
    operator: "Exists",
    effect: "NoSchedule",
  });
  assert.equal(daemonPodTolerations([], false).length, 6);
});

Deno.test("nodeShouldRunDaemonPod() follows node affinity, the template's nodeName and taint effects", () => {
  const affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [
          { matchExpressions: [{ key: "cores", operator: "Gt", values: ["4"] }] },
          { matchFields: [{ key: "metadata.name", operator: "In", values: ["edge-9"] }] },
        ],
      },
    },
  };
  const both = { shouldRun: true, shouldContinueRunning: true };
  const none = { shouldRun: false, shouldContinueRunning: false };
  assert.deepEqual(nodeShouldRunDaemonPod(node("a", { cores: "8" }), ds({ affinity })), both);
  assert.deepEqual(nodeShouldRunDaemonPod(node("a", { cores: "2" }), ds({ affinity })), none);
  assert.deepEqual(nodeShouldRunDaemonPod(node("edge-9"), ds({ affinity })), both);
  assert.deepEqual(nodeShouldRunDaemonPod(node("a"), ds({ nodeName: "b" })), none);
  assert.deepEqual(
    nodeShouldRunDaemonPod(node("a", {}, [{ key: "x", effect: "NoSchedule" }]), ds()),
    { shouldRun: false, shouldContinueRunning: true },
  );
  assert.deepEqual(
    nodeShouldRunDaemonPod(node("a", {}, [{ key: "x", effect: "NoExecute" }]), ds()),
    none,
  );
  assert.deepEqual(
    nodeShouldRunDaemonPod(node("a", {}, [{ key: "x", effect: "PreferNoSchedule" }]), ds()),
    both,
  );
  const tolerant = ds({ tolerations: [{ operator: "Exists" }] });
  assert.deepEqual(
    nodeShouldRunDaemonPod(node("a", {}, [{ key: "x", effect: "NoExecute" }]), tolerant),
    both,
  );
});

Deno.test("targetNodeName() reads spec.nodeName, else the metadata.name node affinity", () => {
  assert.equal(targetNodeName(pod("p", "edge-1")), "edge-1");
  const unbound: KubeObject = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "p" },
    spec: {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [{
              matchFields: [{ key: "metadata.name", operator: "In", values: ["edge-2"] }],
            }],
          },
        },
      },
    },
  };
  assert.equal(targetNodeName(unbound), "edge-2");
  assert.equal(
    targetNodeName({ apiVersion: "v1", kind: "Pod", metadata: {}, spec: {} }),
    undefined,
  );
});

Deno.test("maxUnavailable() rounds percentages up and never stalls at 0", () => {
  const strategy = (maxUnavailable: number | string) =>
    ds({}, { updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable } } });
  assert.equal(maxUnavailable(strategy("25%"), 10), 3);
  assert.equal(maxUnavailable(strategy(2), 10), 2);
  assert.equal(maxUnavailable(strategy("0%"), 10), 1);
  assert.equal(maxUnavailable(strategy("0%"), 0), 0);
});

Deno.test("planManage() waits for a terminating pod, and force-deletes pods of nodes that are gone", () => {
  const nodes = placements(ds(), [node("a"), node("b"), node("c")]);
  const byNode = podsByNode([
    pod("a-old", "a", { deleting: true }),
    pod("b-2", "b", { created: "2026-11-22T09:30:00Z" }),
    pod("b-1", "b"),
    pod("b-f", "b", { phase: "Failed" }),
    pod("gone-1", "gone"),
    pod("ended", "c", { phase: "Succeeded", deleting: true }),
  ]);
  const plan = planManage(nodes, byNode);
  assert.deepEqual(plan.createOn, ["c"], "not on a, whose old pod is still terminating");
  assert.deepEqual(plan.delete.map((p) => p.metadata.name), ["b-2"], "the older stays");
  assert.deepEqual(plan.failed.map((f) => f.pod.metadata.name), ["b-f"]);
  assert.deepEqual(plan.forceDelete.map((p) => p.metadata.name), ["gone-1"]);
});

Deno.test("rollingUpdateDeletions() replaces unavailable old pods at once and available ones within maxUnavailable", () => {
  const set = ds({}, {
    updateStrategy: { type: "RollingUpdate", rollingUpdate: { maxUnavailable: 2 } },
  });
  const nodes = placements(set, ["a", "b", "c", "d", "e"].map((n) => node(n)));
  const byNode = podsByNode([
    pod("a", "a", { hash: "new" }), // new, not ready: counts as unavailable
    pod("b", "b", { hash: "old" }), // old, not ready: replaced regardless
    pod("c", "c", { hash: "old", ready: true }),
    pod("d", "d", { hash: "old", ready: true }),
    pod("e", "e", { hash: "new", ready: true }),
  ]);
  const names = rollingUpdateDeletions(set, nodes, byNode, "new", NOW).map((p) => p.metadata.name);
  assert.deepEqual(names, ["b", "c"]);
});

Deno.test("daemonSetStatus() counts per node and keeps observedGeneration while not observing", () => {
  const set = ds({ nodeSelector: { role: "gw" } });
  set.status = { observedGeneration: 0 };
  const nodes = placements(set, [node("a", { role: "gw" }), node("b", { role: "gw" }), node("c")]);
  const byNode = podsByNode([pod("a", "a", { ready: true }), pod("c", "c", { hash: "old" })]);
  const { status, changed } = daemonSetStatus(set, nodes, byNode, "new", NOW, false);
  assert.deepEqual(status, {
    currentNumberScheduled: 1,
    numberMisscheduled: 1,
    desiredNumberScheduled: 2,
    numberReady: 1,
    updatedNumberScheduled: 1,
    numberAvailable: 1,
    numberUnavailable: 1,
  });
  assert.equal(changed, true);
  set.status = status;
  assert.equal(daemonSetStatus(set, nodes, byNode, "new", NOW, false).changed, false);
  const observed = daemonSetStatus(set, nodes, byNode, "new", NOW, true);
  assert.equal(observed.changed, true);
  assert.equal(observed.status.observedGeneration, 1);
});
