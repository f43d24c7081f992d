import assert from "node:assert/strict";
import { testNode, testPod } from "./_testing.ts";
import { podInfo } from "./pod_info.ts";
import {
  fitErrorMessage,
  NO_NODES_MESSAGE,
  numFeasibleNodesToFind,
  schedulePod,
} from "./schedule.ts";
import { imageLocalityScorer } from "./scores.ts";
import { Snapshot } from "./snapshot.ts";

Deno.test("schedulePod() aggregates mixed reasons as kube-scheduler's FitError does", () => {
  assert.deepEqual(
    schedulePod(testPod("p", { cpu: "2" }), Snapshot.of([testNode("n1", { cpu: "1" })])),
    {
      unschedulable: "0/1 nodes are available: 1 Insufficient cpu.",
    },
  );
  const three = Snapshot.of([
    testNode("n1", { cpu: "1", labels: { disk: "ssd" } }),
    testNode("n2"),
    testNode("n3"),
  ]);
  const selective = testPod("p", { cpu: "2", spec: { nodeSelector: { disk: "ssd" } } });
  assert.deepEqual(schedulePod(selective, three), {
    unschedulable: "0/3 nodes are available: 1 Insufficient cpu, " +
      "2 node(s) didn't match Pod's node affinity/selector.",
  });
  const four = Snapshot.of([
    testNode("n1", { cpu: "1", labels: { disk: "ssd" } }),
    testNode("n2"),
    testNode("n3", { unschedulable: true }),
    testNode("n4", { cpu: "1", memory: "1Gi", labels: { disk: "ssd" } }),
  ]);
  const wants = testPod("p", { cpu: "2", memory: "2Gi", spec: { nodeSelector: { disk: "ssd" } } });
  assert.deepEqual(schedulePod(wants, four), {
    unschedulable: "0/4 nodes are available: 1 Insufficient memory, 1 node(s) didn't match " +
      "Pod's node affinity/selector, 1 node(s) were unschedulable, 2 Insufficient cpu.",
  });
});

Deno.test("fitErrorMessage() sorts the `count reason` strings as strings", () => {
  const reasons = [
    ...Array.from({ length: 10 }, () => ["Insufficient memory"]),
    ["Insufficient cpu"],
    ["Insufficient cpu"],
  ];
  assert.equal(
    fitErrorMessage(12, reasons),
    "0/12 nodes are available: 10 Insufficient memory, 2 Insufficient cpu.",
  );
});

Deno.test("schedulePod() reports kube-scheduler's message when there are no nodes", () => {
  assert.deepEqual(schedulePod(testPod("p"), Snapshot.of([])), {
    unschedulable: NO_NODES_MESSAGE,
  });
  assert.equal(NO_NODES_MESSAGE, "no nodes available to schedule pods");
});

Deno.test("schedulePod() spreads 3 replicas of one ReplicaSet across 3 equal nodes", () => {
  const snapshot = Snapshot.of([testNode("n1"), testNode("n2"), testNode("n3")]);
  const placed: string[] = [];
  for (let i = 0; i < 3; i++) {
    const pod = testPod(`web-${i}`, { owner: "rs-1", labels: { app: "web" } });
    const result = schedulePod(pod, snapshot);
    assert.ok("node" in result, JSON.stringify(result));
    placed.push(result.node);
    snapshot.setPod({ ...pod, spec: { ...(pod.spec as object), nodeName: result.node } });
  }
  assert.deepEqual([...placed].sort(), ["n1", "n2", "n3"]);
});

Deno.test("schedulePod() prefers the least allocated node", () => {
  const snapshot = Snapshot.of(
    [testNode("busy"), testNode("idle")],
    [testPod("hog", { nodeName: "busy", cpu: "3", memory: "6Gi" })],
  );
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(schedulePod(testPod(`p${i}`, { cpu: "100m" }), snapshot), { node: "idle" });
  }
});

Deno.test("schedulePod() lets preferred node affinity break a tie", () => {
  const snapshot = Snapshot.of([
    testNode("a", { labels: { zone: "east" } }),
    testNode("b", { labels: { zone: "west" } }),
  ]);
  const prefer = (zone: string, i: number) =>
    testPod(`p${i}`, {
      spec: {
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [{
              weight: 10,
              preference: { matchExpressions: [{ key: "zone", operator: "In", values: [zone] }] },
            }],
          },
        },
      },
    });
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(schedulePod(prefer("west", i), snapshot), { node: "b" });
    assert.deepEqual(schedulePod(prefer("east", i), snapshot), { node: "a" });
  }
});

Deno.test("schedulePod() follows preferred pod anti-affinity away from a matching pod", () => {
  const snapshot = Snapshot.of(
    [testNode("n1"), testNode("n2")],
    [testPod("db-0", { nodeName: "n1", labels: { app: "db" } })],
  );
  const pod = testPod("db-1", {
    labels: { app: "db" },
    spec: {
      affinity: {
        podAntiAffinity: {
          preferredDuringSchedulingIgnoredDuringExecution: [{
            weight: 100,
            podAffinityTerm: {
              labelSelector: { matchLabels: { app: "db" } },
              topologyKey: "kubernetes.io/hostname",
            },
          }],
        },
      },
    },
  });
  assert.deepEqual(schedulePod(pod, snapshot), { node: "n2" });
});

Deno.test("schedulePod() breaks exact ties by the pod uid, spreading many pods", () => {
  const snapshot = Snapshot.of([testNode("n1"), testNode("n2"), testNode("n3")]);
  const counts = new Map<string, number>();
  for (let i = 0; i < 60; i++) {
    const result = schedulePod(testPod(`p${i}`), snapshot);
    assert.ok("node" in result);
    counts.set(result.node, (counts.get(result.node) ?? 0) + 1);
    assert.deepEqual(schedulePod(testPod(`p${i}`), snapshot), result);
  }
  assert.equal(counts.size, 3);
});

Deno.test("imageLocalityScorer scores a node holding the pod's image higher", () => {
  const size = 500 * 1024 * 1024;
  const snapshot = Snapshot.of([
    testNode("cold"),
    testNode("warm", { images: [{ names: ["docker.io/app:1", "app:1"], sizeBytes: size }] }),
  ]);
  const scores = imageLocalityScorer.score(
    podInfo(testPod("p", { image: "app:1" })),
    snapshot.nodes(),
    snapshot,
  );
  assert.equal(scores[0], 0);
  assert.ok((scores[1] ?? 0) > 0);
});

Deno.test("Snapshot counts a pod bound to a node that appears later", () => {
  const snapshot = Snapshot.of([], [testPod("early", { nodeName: "n1", cpu: "1" })]);
  snapshot.setNode(testNode("n1"));
  assert.equal(snapshot.node("n1")?.requested.milliCpu, 1000);
  snapshot.setNode(testNode("n1", { cpu: "8" }));
  assert.equal(snapshot.node("n1")?.requested.milliCpu, 1000);
  snapshot.deletePod("default/early");
  assert.equal(snapshot.node("n1")?.requested.milliCpu, 0);
  assert.equal(snapshot.node("n1")?.pods.size, 0);
});

Deno.test("numFeasibleNodesToFind() follows kube-scheduler's adaptive percentage", () => {
  assert.equal(numFeasibleNodesToFind(50), 50);
  assert.equal(numFeasibleNodesToFind(100), 100);
  assert.equal(numFeasibleNodesToFind(1000), 420);
  assert.equal(numFeasibleNodesToFind(5000), 500);
  assert.equal(numFeasibleNodesToFind(200), 100);
});
