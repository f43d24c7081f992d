import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import { testNode, testPod } from "./_testing.ts";
import {
  CycleState,
  type Filter,
  FilterResult,
  interPodAffinity,
  nodeAffinity,
  nodeName,
  nodePorts,
  nodeResourcesFit,
  nodeUnschedulable,
  runFilters,
  taintToleration,
  tolerates,
} from "./filters.ts";
import { podInfo } from "./pod_info.ts";
import { Snapshot } from "./snapshot.ts";

/** Run `filter` for `pod` on `node`, with `others` bound somewhere in `nodes`. */
function check(
  filter: Filter,
  pod: KubeObject,
  node: KubeObject,
  others: KubeObject[] = [],
  nodes: KubeObject[] = [node],
): FilterResult {
  const snapshot = Snapshot.of(nodes, others);
  const info = podInfo(pod);
  const target = snapshot.node(node.metadata.name ?? "");
  assert.ok(target);
  return filter.filter(info, target, new CycleState(info, snapshot));
}

Deno.test("nodeUnschedulable() rejects a cordoned node unless the pod tolerates it", () => {
  const cordoned = testNode("n1", { unschedulable: true });
  assert.equal(check(nodeUnschedulable, testPod("p"), testNode("n1")), undefined);
  assert.deepEqual(check(nodeUnschedulable, testPod("p"), cordoned), [
    "node(s) were unschedulable",
  ]);
  const tolerant = testPod("p", {
    spec: {
      tolerations: [{
        key: "node.kubernetes.io/unschedulable",
        operator: "Exists",
        effect: "NoSchedule",
      }],
    },
  });
  assert.equal(check(nodeUnschedulable, tolerant, cordoned), undefined);
});

Deno.test("nodeName() accepts only the node the pod names", () => {
  const pod = testPod("p", { nodeName: "n1" });
  assert.equal(check(nodeName, pod, testNode("n1")), undefined);
  assert.equal(check(nodeName, testPod("p"), testNode("n2")), undefined);
  assert.deepEqual(check(nodeName, pod, testNode("n2")), [
    "node(s) didn't match the requested node name",
  ]);
});

Deno.test("taintToleration() names the first untolerated NoSchedule/NoExecute taint", () => {
  const node = testNode("n1", {
    taints: [
      { key: "soft", effect: "PreferNoSchedule" },
      { key: "dedicated", value: "gpu", effect: "NoSchedule" },
      { key: "evict", effect: "NoExecute" },
    ],
  });
  assert.deepEqual(check(taintToleration, testPod("p"), node), [
    "node(s) had untolerated taint {dedicated: gpu}",
  ]);
  const equal = testPod("p", {
    spec: {
      tolerations: [
        { key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule" },
        { key: "evict", operator: "Exists" },
      ],
    },
  });
  assert.equal(check(taintToleration, equal, node), undefined);
  const wrongValue = testPod("p", {
    spec: {
      tolerations: [{ key: "dedicated", value: "cpu" }, { key: "evict", operator: "Exists" }],
    },
  });
  assert.deepEqual(check(taintToleration, wrongValue, node), [
    "node(s) had untolerated taint {dedicated: gpu}",
  ]);
  const all = testPod("p", { spec: { tolerations: [{ operator: "Exists" }] } });
  assert.equal(check(taintToleration, all, node), undefined);
});

Deno.test("taintToleration() rejects a node that is not Ready with the not-ready taint", () => {
  const expected = ["node(s) had untolerated taint {node.kubernetes.io/not-ready: }"];
  assert.deepEqual(
    check(taintToleration, testPod("p"), testNode("n", { ready: "False" })),
    expected,
  );
  assert.deepEqual(
    check(taintToleration, testPod("p"), testNode("n", { ready: undefined })),
    expected,
  );
  assert.deepEqual(check(taintToleration, testPod("p"), testNode("n", { ready: "Unknown" })), [
    "node(s) had untolerated taint {node.kubernetes.io/unreachable: }",
  ]);
  const daemon = testPod("p", {
    spec: { tolerations: [{ key: "node.kubernetes.io/not-ready", operator: "Exists" }] },
  });
  assert.equal(check(taintToleration, daemon, testNode("n", { ready: "False" })), undefined);
});

Deno.test("tolerates() matches effect, key and operator as Kubernetes does", () => {
  const taint = { key: "k", value: "v", effect: "NoSchedule" };
  assert.equal(tolerates({ key: "k", operator: "Equal", value: "v" }, taint), true);
  assert.equal(tolerates({ key: "k", value: "v", effect: "NoExecute" }, taint), false);
  assert.equal(tolerates({ key: "other", operator: "Exists" }, taint), false);
  assert.equal(tolerates({ operator: "Exists", effect: "NoSchedule" }, taint), true);
  assert.equal(tolerates({ key: "k" }, taint), false);
});

Deno.test("nodeAffinity() applies nodeSelector and required node affinity", () => {
  const reason = ["node(s) didn't match Pod's node affinity/selector"];
  const node = testNode("n1", { labels: { disk: "ssd", gen: "5" } });
  const selected = testPod("p", { spec: { nodeSelector: { disk: "ssd" } } });
  assert.equal(check(nodeAffinity, selected, node), undefined);
  assert.deepEqual(
    check(nodeAffinity, testPod("p", { spec: { nodeSelector: { disk: "hdd" } } }), node),
    reason,
  );
  const affinity = (...matchExpressions: unknown[]) =>
    testPod("p", {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions }],
            },
          },
        },
      },
    });
  const accepted = [
    { key: "disk", operator: "In", values: ["ssd", "nvme"] },
    { key: "disk", operator: "NotIn", values: ["hdd"] },
    { key: "zone", operator: "NotIn", values: ["a"] },
    { key: "disk", operator: "Exists" },
    { key: "zone", operator: "DoesNotExist" },
    { key: "gen", operator: "Gt", values: ["4"] },
    { key: "gen", operator: "Lt", values: ["6"] },
  ];
  for (const expr of accepted) {
    assert.equal(check(nodeAffinity, affinity(expr), node), undefined, JSON.stringify(expr));
  }
  const rejected = [
    { key: "disk", operator: "In", values: ["hdd"] },
    { key: "disk", operator: "NotIn", values: ["ssd"] },
    { key: "zone", operator: "Exists" },
    { key: "disk", operator: "DoesNotExist" },
    { key: "gen", operator: "Gt", values: ["5"] },
    { key: "gen", operator: "Lt", values: ["5"] },
    { key: "disk", operator: "Gt", values: ["1"] },
  ];
  for (const expr of rejected) {
    assert.deepEqual(check(nodeAffinity, affinity(expr), node), reason, JSON.stringify(expr));
  }
  const byName = (name: string) =>
    testPod("p", {
      spec: {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "zone", operator: "Exists" }] },
                { matchFields: [{ key: "metadata.name", operator: "In", values: [name] }] },
              ],
            },
          },
        },
      },
    });
  assert.equal(check(nodeAffinity, byName("n1"), node), undefined);
  assert.deepEqual(check(nodeAffinity, byName("n2"), node), reason);
});

Deno.test("nodePorts() rejects a host port already taken on the node", () => {
  const node = testNode("n1");
  const taken = testPod("web-0", { nodeName: "n1", hostPort: 8080 });
  assert.equal(check(nodePorts, testPod("p", { hostPort: 9090 }), node, [taken]), undefined);
  assert.deepEqual(check(nodePorts, testPod("p", { hostPort: 8080 }), node, [taken]), [
    "node(s) didn't have free ports for the requested pod ports",
  ]);
  const ended = testPod("old", { nodeName: "n1", hostPort: 8080, phase: "Succeeded" });
  assert.equal(check(nodePorts, testPod("p", { hostPort: 8080 }), node, [ended]), undefined);
});

Deno.test("nodeResourcesFit() reports every resource that is short", () => {
  const node = testNode("n1", { cpu: "2", memory: "1Gi", pods: "2" });
  const running = testPod("a", { nodeName: "n1", cpu: "1500m", memory: "512Mi" });
  assert.equal(
    check(nodeResourcesFit, testPod("p", { cpu: "500m", memory: "512Mi" }), node, [running]),
    undefined,
  );
  assert.deepEqual(check(nodeResourcesFit, testPod("p", { cpu: "501m" }), node, [running]), [
    "Insufficient cpu",
  ]);
  assert.deepEqual(
    check(nodeResourcesFit, testPod("p", { cpu: "1", memory: "1Gi" }), node, [running]),
    ["Insufficient cpu", "Insufficient memory"],
  );
  const second = testPod("b", { nodeName: "n1" });
  assert.deepEqual(check(nodeResourcesFit, testPod("p"), node, [running, second]), [
    "Too many pods",
  ]);
});

Deno.test("nodeResourcesFit() counts init containers by their maximum, not their sum", () => {
  const node = testNode("n1", { cpu: "1" });
  const pod = testPod("p", { cpu: "200m" });
  (pod.spec as { initContainers: unknown[] }).initContainers = [
    { name: "a", image: "busybox", resources: { requests: { cpu: "800m" } } },
    { name: "b", image: "busybox", resources: { requests: { cpu: "900m" } } },
  ];
  assert.equal(check(nodeResourcesFit, pod, node), undefined);
  assert.equal(podInfo(pod).requests.milliCpu, 900);
});

const hostname = "kubernetes.io/hostname";

function podAffinity(kind: "podAffinity" | "podAntiAffinity", app: string, key = hostname) {
  return {
    affinity: {
      [kind]: {
        requiredDuringSchedulingIgnoredDuringExecution: [{
          labelSelector: { matchLabels: { app } },
          topologyKey: key,
        }],
      },
    },
  };
}

Deno.test("interPodAffinity() requires a matching pod in the node's topology domain", () => {
  const nodes = [
    testNode("n1", { labels: { zone: "a" } }),
    testNode("n2", { labels: { zone: "a" } }),
    testNode("n3", { labels: { zone: "b" } }),
  ];
  const [n1, n2, n3] = nodes as [KubeObject, KubeObject, KubeObject];
  const db = testPod("db", { nodeName: "n1", labels: { app: "db" } });
  const web = testPod("web", { spec: podAffinity("podAffinity", "db", "zone") });
  assert.equal(check(interPodAffinity, web, n2, [db], nodes), undefined);
  assert.deepEqual(check(interPodAffinity, web, n3, [db], nodes), [
    "node(s) didn't match pod affinity rules",
  ]);
  const first = testPod("db-0", { labels: { app: "db" }, spec: podAffinity("podAffinity", "db") });
  assert.equal(check(interPodAffinity, first, n1, [], nodes), undefined);
});

Deno.test("interPodAffinity() keeps anti-affine pods out of each other's domain", () => {
  const nodes = [testNode("n1"), testNode("n2")];
  const [n1, n2] = nodes as [KubeObject, KubeObject];
  const cache = testPod("cache-0", { nodeName: "n1", labels: { app: "cache" } });
  const next = testPod("cache-1", {
    labels: { app: "cache" },
    spec: podAffinity("podAntiAffinity", "cache"),
  });
  assert.equal(check(interPodAffinity, next, n2, [cache], nodes), undefined);
  assert.deepEqual(check(interPodAffinity, next, n1, [cache], nodes), [
    "node(s) didn't match pod anti-affinity rules",
  ]);
  const guard = testPod("guard", {
    nodeName: "n1",
    labels: { app: "guard" },
    spec: podAffinity("podAntiAffinity", "noisy"),
  });
  const noisy = testPod("noisy", { labels: { app: "noisy" } });
  assert.equal(check(interPodAffinity, noisy, n2, [guard], nodes), undefined);
  assert.deepEqual(check(interPodAffinity, noisy, n1, [guard], nodes), [
    "node(s) didn't satisfy existing pods anti-affinity rules",
  ]);
});

Deno.test("runFilters() stops at the first filter that rejects", () => {
  const snapshot = Snapshot.of([testNode("n1", { unschedulable: true, cpu: "1" })]);
  const info = podInfo(testPod("p", { cpu: "2" }));
  const node = snapshot.node("n1");
  assert.ok(node);
  assert.deepEqual(runFilters(info, node, new CycleState(info, snapshot)), [
    "node(s) were unschedulable",
  ]);
});
