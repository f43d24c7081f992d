import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  compareIPs,
  desiredLoadBalancerStatus,
  EXCLUDE_FROM_LOAD_BALANCERS_LABEL,
  loadBalancerStatusEqual,
  nodeIngressIPs,
  nodeLoadBalancerChanged,
} from "./ingress.ts";

function node(
  name: string,
  addresses: Array<[type: string, address: string]>,
  o: { ready?: string; labels?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, ...(o.labels ? { labels: o.labels } : {}) },
    spec: {},
    status: {
      conditions: [{ type: "Ready", status: o.ready ?? "True" }],
      addresses: addresses.map(([type, address]) => ({ type, address })),
    },
  };
}

function service(spec: Record<string, unknown>, status?: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: { type: "LoadBalancer", clusterIP: "10.96.0.20", ...spec },
    status: status ?? { loadBalancer: {} },
  };
}

const NODES = [
  node("b", [["InternalIP", "192.168.1.20"], ["Hostname", "b"]]),
  node("a", [["InternalIP", "192.168.1.9"], ["ExternalIP", "203.0.113.5"]]),
  node("c", [["InternalIP", "192.168.1.100"]]),
  node("down", [["InternalIP", "192.168.1.30"]], { ready: "Unknown" }),
  node("out", [["InternalIP", "192.168.1.31"]], {
    labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: "" },
  }),
  node("dual", [["InternalIP", "192.168.1.9"], ["InternalIP", "fd00::9"]]),
];

Deno.test("nodeIngressIPs() lists Internal and External IPs of Ready, included nodes, sorted and deduplicated", () => {
  assert.deepEqual(nodeIngressIPs(NODES), [
    "192.168.1.9",
    "192.168.1.20",
    "192.168.1.100",
    "203.0.113.5",
  ]);
  assert.deepEqual(nodeIngressIPs(NODES, new Set(["IPv6"])), ["fd00::9"]);
  assert.deepEqual(nodeIngressIPs([]), []);
});

Deno.test("desiredLoadBalancerStatus() publishes the node addresses for a LoadBalancer service", () => {
  assert.deepEqual(desiredLoadBalancerStatus(service({}), NODES), {
    ingress: [
      { ip: "192.168.1.9" },
      { ip: "192.168.1.20" },
      { ip: "192.168.1.100" },
      { ip: "203.0.113.5" },
    ],
  });
  assert.deepEqual(
    desiredLoadBalancerStatus(service({ ipFamilies: ["IPv6"], clusterIP: "fd00::20" }), NODES),
    { ingress: [{ ip: "fd00::9" }] },
  );
  assert.deepEqual(desiredLoadBalancerStatus(service({}), []), {}, "pending without nodes");
});

Deno.test("desiredLoadBalancerStatus() clears other types and leaves a loadBalancerClass alone", () => {
  assert.deepEqual(desiredLoadBalancerStatus(service({ type: "NodePort" }), NODES), {});
  assert.deepEqual(desiredLoadBalancerStatus(service({ type: "ClusterIP" }), NODES), {});
  assert.equal(
    desiredLoadBalancerStatus(service({ loadBalancerClass: "example.com/lb" }), NODES),
    undefined,
  );
});

Deno.test("loadBalancerStatusEqual() treats a missing and an empty ingress list alike", () => {
  assert.ok(loadBalancerStatusEqual(service({}, {}), {}));
  assert.ok(loadBalancerStatusEqual(service({}, { loadBalancer: { ingress: [] } }), {}));
  const set = service({}, { loadBalancer: { ingress: [{ ip: "192.168.1.9" }] } });
  assert.ok(loadBalancerStatusEqual(set, { ingress: [{ ip: "192.168.1.9" }] }));
  assert.equal(loadBalancerStatusEqual(set, {}), false);
  assert.equal(loadBalancerStatusEqual(set, { ingress: [{ ip: "192.168.1.10" }] }), false);
});

Deno.test("nodeLoadBalancerChanged() sees readiness, exclusion and addresses, nothing else", () => {
  const before = node("a", [["InternalIP", "192.168.1.9"]]);
  const heartbeat = structuredClone(before);
  heartbeat.metadata.resourceVersion = "42";
  (heartbeat.status as Record<string, unknown>).capacity = { cpu: "2" };
  assert.equal(nodeLoadBalancerChanged(before, heartbeat), false);
  assert.ok(
    nodeLoadBalancerChanged(before, node("a", [["InternalIP", "192.168.1.9"]], { ready: "False" })),
  );
  assert.ok(nodeLoadBalancerChanged(before, node("a", [["InternalIP", "192.168.1.10"]])));
  assert.ok(
    nodeLoadBalancerChanged(
      before,
      node("a", [["InternalIP", "192.168.1.9"]], {
        labels: { [EXCLUDE_FROM_LOAD_BALANCERS_LABEL]: "true" },
      }),
    ),
  );
});

Deno.test("compareIPs() orders IPv4 numerically before IPv6", () => {
  assert.deepEqual(
    ["fd00::1", "10.0.0.10", "10.0.0.9", "9.255.255.255"].sort(compareIPs),
    ["9.255.255.255", "10.0.0.9", "10.0.0.10", "fd00::1"],
  );
});
