import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { validateObject } from "../validation.ts";
import { nodes } from "./node.ts";

Deno.test("nodes normalize defaults allocatable to capacity", () => {
  const { object } = validateObject(nodes, {
    metadata: { name: "edge-1" },
    status: { capacity: { cpu: "4", memory: "8Gi", pods: 110 } },
  }, { fieldValidation: "Strict" });
  assert.deepEqual((object.status as { allocatable: unknown }).allocatable, {
    cpu: "4",
    memory: "8Gi",
    pods: 110,
  });
});

Deno.test("nodes columns show status, roles, addresses and node info", () => {
  const node: KubeObject = {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: "edge-1",
      labels: { "node-role.kubernetes.io/control-plane": "", "kubernetes.io/role": "edge" },
    },
    spec: { unschedulable: true },
    status: {
      conditions: [{ type: "Ready", status: "False" }],
      addresses: [{ type: "InternalIP", address: "192.168.1.5" }],
      nodeInfo: { kubeletVersion: "v1.32.0", osImage: "Debian" },
    },
  };
  const cells = nodes.columns.map((c) => c.cell(node, new Date()));
  assert.deepEqual(cells, [
    "edge-1",
    "NotReady,SchedulingDisabled",
    "control-plane,edge",
    "<unknown>",
    "v1.32.0",
    "192.168.1.5",
    "<none>",
    "Debian",
    "<unknown>",
    "<unknown>",
  ]);
  const bare: KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "n" } };
  assert.equal(nodes.columns[1]?.cell(bare, new Date()), "Unknown");
});
