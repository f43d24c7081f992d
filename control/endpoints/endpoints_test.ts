import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  endpointsEqual,
  endpointsFor,
  type EndpointSubset,
  findPort,
  HEADLESS_SERVICE_LABEL,
  podEndpointsChanged,
  repackSubsets,
  withDesired,
} from "./endpoints.ts";

interface PodOptions {
  ip?: string;
  ips?: string[];
  ready?: boolean;
  phase?: string;
  labels?: Record<string, string>;
  namespace?: string;
  node?: string;
  /** container ports: name → number (TCP) */
  ports?: Record<string, number>;
  deleting?: boolean;
  hostname?: string;
  subdomain?: string;
}

function pod(name: string, o: PodOptions = {}): KubeObject {
  const ips = o.ips ?? (o.ip === undefined ? [] : [o.ip]);
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: o.namespace ?? "default",
      uid: `uid-${name}`,
      labels: o.labels ?? { app: "web" },
      ...(o.deleting ? { deletionTimestamp: "2026-11-22T10:00:00Z" } : {}),
    },
    spec: {
      nodeName: o.node ?? "edge-1",
      ...(o.hostname ? { hostname: o.hostname } : {}),
      ...(o.subdomain ? { subdomain: o.subdomain } : {}),
      containers: [{
        name: "c",
        image: "localhost/edge-test:1",
        ports: Object.entries(o.ports ?? {}).map(([n, p]) => ({
          name: n,
          containerPort: p,
          protocol: "TCP",
        })),
      }],
    },
    status: {
      phase: o.phase ?? "Running",
      conditions: [{ type: "Ready", status: o.ready === false ? "False" : "True" }],
      ...(ips.length > 0 ? { podIP: ips[0], podIPs: ips.map((ip) => ({ ip })) } : {}),
    },
  };
}

interface ServiceOptions {
  ports?: Array<{ name?: string; port: number; targetPort?: number | string; protocol?: string }>;
  selector?: Record<string, string> | null;
  clusterIP?: string;
  type?: string;
  publishNotReadyAddresses?: boolean;
  labels?: Record<string, string>;
  ipFamilies?: string[];
}

function service(o: ServiceOptions = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default", ...(o.labels ? { labels: o.labels } : {}) },
    spec: {
      type: o.type ?? "ClusterIP",
      clusterIP: o.clusterIP ?? "10.96.0.20",
      ...(o.selector === null ? {} : { selector: o.selector ?? { app: "web" } }),
      ports: (o.ports ?? [{ port: 80, targetPort: 8080 }]).map((p) => ({
        protocol: "TCP",
        ...p,
        targetPort: p.targetPort ?? p.port,
      })),
      ...(o.publishNotReadyAddresses ? { publishNotReadyAddresses: true } : {}),
      ...(o.ipFamilies ? { ipFamilies: o.ipFamilies } : {}),
    },
  };
}

/** The expected address of `pod(name, { ip })` on node edge-1. */
function address(name: string, ip: string, node = "edge-1") {
  return {
    ip,
    nodeName: node,
    targetRef: { kind: "Pod", namespace: "default", name, uid: `uid-${name}` },
  };
}

function subsetsOf(ep: KubeObject | undefined): EndpointSubset[] {
  assert.ok(ep, "the service is managed");
  return (ep.subsets ?? []) as EndpointSubset[];
}

Deno.test("endpointsFor() puts ready pods in addresses and the others in notReadyAddresses", () => {
  const ep = endpointsFor(service(), [
    pod("b", { ip: "10.244.0.9", ready: false }),
    pod("a", { ip: "10.244.0.8" }),
    pod("c", { ip: "10.244.0.10" }),
  ]);
  assert.deepEqual(ep, {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "web", namespace: "default" },
    subsets: [{
      addresses: [address("c", "10.244.0.10"), address("a", "10.244.0.8")],
      notReadyAddresses: [address("b", "10.244.0.9")],
      ports: [{ port: 8080, protocol: "TCP" }],
    }],
  });
});

Deno.test("endpointsFor() resolves a named targetPort per pod: different numbers make two subsets", () => {
  const svc = service({ ports: [{ name: "http", port: 80, targetPort: "http" }] });
  const subsets = subsetsOf(endpointsFor(svc, [
    pod("a", { ip: "10.244.0.8", ports: { http: 8080 } }),
    pod("b", { ip: "10.244.1.8", ports: { http: 9090 } }),
    pod("c", { ip: "10.244.2.8", ports: { http: 8080 } }),
  ]));
  assert.deepEqual(subsets, [
    {
      addresses: [address("a", "10.244.0.8"), address("c", "10.244.2.8")],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    },
    {
      addresses: [address("b", "10.244.1.8")],
      ports: [{ name: "http", port: 9090, protocol: "TCP" }],
    },
  ]);
});

Deno.test("endpointsFor() leaves a pod out of a port whose name it does not have, and only of that port", () => {
  const svc = service({
    ports: [
      { name: "http", port: 80, targetPort: "http" },
      { name: "metrics", port: 9100, targetPort: 9100 },
    ],
  });
  const subsets = subsetsOf(endpointsFor(svc, [
    pod("a", { ip: "10.244.0.8", ports: { http: 8080 } }),
    pod("b", { ip: "10.244.0.9", ports: { web: 8080 } }),
  ]));
  // Kubernetes' layout: each port with the addresses that offer it
  assert.deepEqual(subsets, [
    {
      addresses: [address("a", "10.244.0.8"), address("b", "10.244.0.9")],
      ports: [{ name: "metrics", port: 9100, protocol: "TCP" }],
    },
    {
      addresses: [address("a", "10.244.0.8")],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    },
  ]);
});

Deno.test("endpointsFor() gives a multi-port service one subset with every port, sorted", () => {
  const svc = service({
    ports: [
      { name: "web", port: 80, targetPort: 8080 },
      { name: "dns", port: 53, targetPort: 5353, protocol: "UDP" },
      { name: "admin", port: 81, targetPort: "admin" },
    ],
  });
  const subsets = subsetsOf(endpointsFor(svc, [
    pod("a", { ip: "10.244.0.8", ports: { admin: 9000 } }),
    pod("b", { ip: "10.244.0.9", ports: { admin: 9000 } }),
  ]));
  assert.deepEqual(subsets, [{
    addresses: [address("a", "10.244.0.8"), address("b", "10.244.0.9")],
    ports: [
      { name: "admin", port: 9000, protocol: "TCP" },
      { name: "dns", port: 5353, protocol: "UDP" },
      { name: "web", port: 8080, protocol: "TCP" },
    ],
  }]);
});

Deno.test("endpointsFor() matches a named port's protocol too", () => {
  const svc = service({ ports: [{ name: "dns", port: 53, targetPort: "dns", protocol: "UDP" }] });
  // the pod's port `dns` is TCP only
  const ep = endpointsFor(svc, [pod("a", { ip: "10.244.0.8", ports: { dns: 5353 } })]);
  assert.deepEqual(subsetsOf(ep), []);
  assert.equal(ep?.subsets, undefined, "no subsets field, as Kubernetes writes it");
});

Deno.test("endpointsFor() with publishNotReadyAddresses lists every pod as ready, terminating ones too", () => {
  const svc = service({ publishNotReadyAddresses: true });
  const subsets = subsetsOf(endpointsFor(svc, [
    pod("a", { ip: "10.244.0.8", ready: false }),
    pod("b", { ip: "10.244.0.9", deleting: true }),
    pod("c", { ip: "10.244.0.7", phase: "Failed" }),
  ]));
  assert.deepEqual(subsets, [{
    addresses: [address("a", "10.244.0.8"), address("b", "10.244.0.9")],
    ports: [{ port: 8080, protocol: "TCP" }],
  }]);
});

Deno.test("endpointsFor() leaves out pods without an IP, terminating, Succeeded or Failed", () => {
  const subsets = subsetsOf(endpointsFor(service(), [
    pod("no-ip"),
    pod("deleting", { ip: "10.244.0.2", deleting: true }),
    pod("done", { ip: "10.244.0.3", phase: "Succeeded" }),
    pod("failed", { ip: "10.244.0.4", phase: "Failed", ready: false }),
    pod("pending", { ip: "10.244.0.5", phase: "Pending", ready: false }),
  ]));
  assert.deepEqual(subsets, [{
    notReadyAddresses: [address("pending", "10.244.0.5")],
    ports: [{ port: 8080, protocol: "TCP" }],
  }]);
});

Deno.test("endpointsFor() takes only selected pods of the service's namespace", () => {
  const subsets = subsetsOf(endpointsFor(service(), [
    pod("a", { ip: "10.244.0.8", labels: { app: "web", tier: "x" } }),
    pod("other-app", { ip: "10.244.0.9", labels: { app: "db" } }),
    pod("other-ns", { ip: "10.244.0.10", namespace: "prod" }),
  ]));
  assert.deepEqual(subsets.flatMap((s) => s.addresses ?? []).map((a) => a.ip), ["10.244.0.8"]);
});

Deno.test("endpointsFor() manages no Endpoints without a selector, with an empty one or for ExternalName", () => {
  const pods = [pod("a", { ip: "10.244.0.8" })];
  assert.equal(endpointsFor(service({ selector: null }), pods), undefined);
  assert.equal(endpointsFor(service({ selector: {} }), pods), undefined);
  assert.equal(endpointsFor(service({ type: "ExternalName" }), pods), undefined);
});

Deno.test("endpointsFor() gives a headless service without ports its addresses and the headless label", () => {
  const svc = service({ clusterIP: "None", ports: [], labels: { team: "a" } });
  (svc.spec as Record<string, unknown>).ports = [];
  const ep = endpointsFor(svc, [pod("a", { ip: "10.244.0.8" }), pod("b", { ip: "10.244.0.9" })]);
  assert.deepEqual(ep?.metadata.labels, { team: "a", [HEADLESS_SERVICE_LABEL]: "" });
  assert.deepEqual(subsetsOf(ep), [{
    addresses: [address("a", "10.244.0.8"), address("b", "10.244.0.9")],
  }]);
});

Deno.test("endpointsFor() copies the service's labels and sets hostname for pods of its subdomain", () => {
  const svc = service({ labels: { app: "web" } });
  const ep = endpointsFor(svc, [
    pod("a", { ip: "10.244.0.8", hostname: "a-host", subdomain: "web" }),
    pod("b", { ip: "10.244.0.9", hostname: "b-host", subdomain: "other" }),
  ]);
  assert.deepEqual(ep?.metadata.labels, { app: "web" });
  const addresses = subsetsOf(ep)[0]?.addresses ?? [];
  assert.equal(addresses[0]?.hostname, "a-host");
  assert.equal(addresses[1]?.hostname, undefined);
});

Deno.test("endpointsFor() picks the pod IP of the service's family", () => {
  const pods = [pod("a", { ips: ["10.244.0.8", "fd00::8"] }), pod("b", { ips: ["10.244.0.9"] })];
  const v6 = subsetsOf(
    endpointsFor(service({ ipFamilies: ["IPv6"], clusterIP: "fd00::20" }), pods),
  );
  assert.deepEqual(v6.flatMap((s) => s.addresses ?? []).map((a) => a.ip), ["fd00::8"]);
  const v4 = subsetsOf(endpointsFor(service(), pods));
  assert.deepEqual(v4.flatMap((s) => s.addresses ?? []).map((a) => a.ip), [
    "10.244.0.8",
    "10.244.0.9",
  ]);
});

Deno.test("endpointsFor() gives the same object whatever the order of the pods", () => {
  const svc = service({
    ports: [
      { name: "http", port: 80, targetPort: "http" },
      { name: "alt", port: 81, targetPort: 8081 },
    ],
  });
  const pods = [
    pod("a", { ip: "10.244.0.8", ports: { http: 8080 } }),
    pod("b", { ip: "10.244.1.8", ports: { http: 9090 }, ready: false }),
    pod("c", { ip: "10.244.2.8", ports: { http: 8080 } }),
    pod("d", { ip: "10.244.3.8", ports: { web: 8080 } }),
  ];
  const first = endpointsFor(svc, pods)!;
  for (const order of [[3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]]) {
    const again = endpointsFor(svc, order.map((i) => pods[i]!))!;
    assert.equal(JSON.stringify(again), JSON.stringify(first));
    assert.ok(endpointsEqual(first, again));
  }
  assert.equal(subsetsOf(first).length, 3, "http 8080, http 9090, alt 8081");
});

Deno.test("endpointsEqual() compares subsets and labels only; withDesired() keeps the rest", () => {
  const desired = endpointsFor(service(), [pod("a", { ip: "10.244.0.8" })])!;
  const current: KubeObject = {
    ...structuredClone(desired),
    metadata: {
      ...desired.metadata,
      resourceVersion: "7",
      uid: "u",
      annotations: { note: "kept" },
      labels: { stale: "yes" },
    },
  };
  assert.equal(endpointsEqual(current, desired), false, "labels differ");
  const next = withDesired(current, desired);
  assert.ok(endpointsEqual(next, desired));
  assert.deepEqual(next.metadata, {
    name: "web",
    namespace: "default",
    resourceVersion: "7",
    uid: "u",
    annotations: { note: "kept" },
  });
  const emptied = withDesired(next, endpointsFor(service(), [])!);
  assert.equal("subsets" in emptied, false);
});

Deno.test("repackSubsets() merges ports offered by the same addresses and lets not-ready win", () => {
  const a = { ip: "10.0.0.1" };
  const b = { ip: "10.0.0.2" };
  const p1 = { name: "p1", port: 1, protocol: "TCP" as const };
  const p2 = { name: "p2", port: 2, protocol: "TCP" as const };
  assert.deepEqual(
    repackSubsets([
      { addresses: [a], ports: [p2] },
      { addresses: [b], ports: [p1, p2] },
      { addresses: [a], ports: [p1] },
      { notReadyAddresses: [a], ports: [p1] },
    ]),
    [
      { addresses: [a, b], ports: [p2] },
      { addresses: [b], notReadyAddresses: [a], ports: [p1] },
    ],
  );
  assert.deepEqual(repackSubsets([]), []);
});

Deno.test("findPort() looks in restartable init containers after the containers", () => {
  const p = pod("a", { ip: "10.0.0.1", ports: { http: 8080 } });
  (p.spec as Record<string, unknown>).initContainers = [
    {
      name: "side",
      image: "x",
      restartPolicy: "Always",
      ports: [{ name: "side", containerPort: 7000, protocol: "TCP" }],
    },
    { name: "init", image: "x", ports: [{ name: "init", containerPort: 7001, protocol: "TCP" }] },
  ];
  const port = (targetPort: string | number) =>
    findPort(p, { port: 80, protocol: "TCP", targetPort });
  assert.equal(port("http"), 8080);
  assert.equal(port("side"), 7000);
  assert.equal(port("init"), undefined);
  assert.equal(port(9999), 9999);
});

Deno.test("podEndpointsChanged() ignores changes Endpoints do not show", () => {
  const before = pod("a", { ip: "10.244.0.8" });
  const annotated = structuredClone(before);
  annotated.metadata.annotations = { x: "y" };
  annotated.metadata.resourceVersion = "99";
  assert.equal(podEndpointsChanged(before, annotated), false);
  assert.ok(podEndpointsChanged(before, pod("a", { ip: "10.244.0.8", ready: false })));
  assert.ok(podEndpointsChanged(before, pod("a", { ip: "10.244.0.9" })));
  assert.ok(podEndpointsChanged(before, pod("a", { ip: "10.244.0.8", labels: { app: "x" } })));
  assert.ok(podEndpointsChanged(before, pod("a", { ip: "10.244.0.8", deleting: true })));
  assert.ok(podEndpointsChanged(before, pod("a", { ip: "10.244.0.8", phase: "Failed" })));
});
