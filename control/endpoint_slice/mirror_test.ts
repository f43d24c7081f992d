import assert from "node:assert/strict";
import { endpointSlices } from "../../storage/kinds/endpoint_slice.ts";
import type { KubeObject } from "../../storage/object.ts";
import { validateObject } from "../../storage/validation.ts";
import {
  hashSuffix,
  isMirrored,
  MANAGED_BY_LABEL,
  MIRROR_MANAGER,
  mirrorKey,
  SERVICE_NAME_LABEL,
  sliceEqual,
  sliceName,
  slicesFor,
  withDesired,
} from "./mirror.ts";

const SERVICE: KubeObject = {
  apiVersion: "v1",
  kind: "Service",
  metadata: { name: "web", namespace: "default", uid: "svc-uid-1" },
};

function endpoints(subsets: unknown[], labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { name: "web", namespace: "default", ...(labels ? { labels } : {}) },
    subsets,
  };
}

const HTTP = [{ name: "http", port: 8080, protocol: "TCP" }];
const POD_A = { kind: "Pod", namespace: "default", name: "a", uid: "pod-a" };

Deno.test("slicesFor() mirrors a subset into one IPv4 slice owned by the Service", () => {
  const slices = slicesFor(
    endpoints([{
      addresses: [{ ip: "10.244.0.8", nodeName: "edge-1", targetRef: POD_A, hostname: "a" }],
      notReadyAddresses: [{ ip: "10.244.0.9", nodeName: "edge-1" }],
      ports: [{ port: 8080, protocol: "TCP" }],
    }], { team: "a", [MANAGED_BY_LABEL]: "someone" }),
    SERVICE,
  );
  assert.equal(slices.length, 1);
  const [slice] = slices;
  assert.match(slice!.metadata.name!, /^web-[bcdfghjklmnpqrstvwxz2456789]{5}$/);
  assert.deepEqual({ ...slice, metadata: { ...slice!.metadata, name: "web-?" } }, {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: "web-?",
      namespace: "default",
      labels: { team: "a", [SERVICE_NAME_LABEL]: "web", [MANAGED_BY_LABEL]: MIRROR_MANAGER },
      ownerReferences: [{
        apiVersion: "v1",
        kind: "Service",
        name: "web",
        uid: "svc-uid-1",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    addressType: "IPv4",
    endpoints: [
      {
        addresses: ["10.244.0.8"],
        conditions: { ready: true, serving: true, terminating: false },
        hostname: "a",
        nodeName: "edge-1",
        targetRef: POD_A,
      },
      {
        addresses: ["10.244.0.9"],
        conditions: { ready: false, serving: false, terminating: false },
        nodeName: "edge-1",
      },
    ],
    ports: [{ name: "", protocol: "TCP", port: 8080 }],
  });
  // what the API would store is what was desired, so an unchanged world writes nothing
  const stored = validateObject(endpointSlices, slice, { fieldValidation: "Strict" }).object;
  assert.ok(sliceEqual(stored, slice!));
  assert.ok(isMirrored(stored));
  assert.equal(mirrorKey(stored), "default/web");
});

Deno.test("slicesFor() gives each port set and address family its own slice and merges subsets with the same ports", () => {
  const ep = endpoints([
    { addresses: [{ ip: "10.244.0.8" }], ports: HTTP },
    { addresses: [{ ip: "10.244.0.10" }], ports: [{ name: "http", port: 9090, protocol: "TCP" }] },
    {
      addresses: [{ ip: "10.244.0.8" }, { ip: "fd00::8" }],
      notReadyAddresses: [{ ip: "10.244.0.11" }],
      ports: HTTP,
    },
  ]);
  const slices = slicesFor(ep, SERVICE);
  const summary = slices.map((s) => ({
    type: s.addressType,
    ports: (s.ports as Array<{ port: number }>).map((p) => p.port),
    ips: (s.endpoints as Array<{ addresses: string[] }>).flatMap((e) => e.addresses),
  }));
  assert.deepEqual(
    summary.sort((a, b) => JSON.stringify(a) < JSON.stringify(b) ? -1 : 1),
    [
      { type: "IPv4", ports: [8080], ips: ["10.244.0.8", "10.244.0.11"] },
      { type: "IPv4", ports: [9090], ips: ["10.244.0.10"] },
      { type: "IPv6", ports: [8080], ips: ["fd00::8"] },
    ],
  );
  assert.equal(new Set(slices.map((s) => s.metadata.name)).size, 3);
  // names depend on the port set, not on where the subset sits
  const again = slicesFor(endpoints([...(ep.subsets as unknown[])].reverse()), SERVICE);
  assert.deepEqual(
    again.map((s) => s.metadata.name).sort(),
    slices.map((s) => s.metadata.name).sort(),
  );
});

Deno.test("slicesFor() leaves out addresses the API would refuse and caps a slice at 1000 endpoints", () => {
  assert.deepEqual(
    slicesFor(
      endpoints([{ addresses: [{ ip: "127.0.0.1" }, { ip: "web" }], ports: HTTP }]),
      SERVICE,
    ),
    [],
  );
  const many = Array.from({ length: 1200 }, (_, i) => ({ ip: `10.244.${i >> 8}.${i & 255}` }))
    .filter((a) => !a.ip.endsWith(".0"));
  const [slice] = slicesFor(endpoints([{ addresses: many, ports: HTTP }]), SERVICE);
  assert.equal((slice?.endpoints as unknown[]).length, 1000);
  validateObject(endpointSlices, slice, { fieldValidation: "Strict" });
});

Deno.test("slicesFor() mirrors nothing for Endpoints labelled skip-mirror or without subsets", () => {
  const subsets = [{ addresses: [{ ip: "10.244.0.8" }], ports: HTTP }];
  assert.deepEqual(
    slicesFor(endpoints(subsets, { "endpointslice.kubernetes.io/skip-mirror": "true" }), SERVICE),
    [],
  );
  assert.equal(
    slicesFor(endpoints(subsets, { "endpointslice.kubernetes.io/skip-mirror": "false" }), SERVICE)
      .length,
    1,
  );
  assert.deepEqual(slicesFor(endpoints([]), SERVICE), []);
});

Deno.test("sliceName() cuts the base to fit 253 characters and hashSuffix() is deterministic", () => {
  assert.equal(sliceName("web", "bcdfg"), "web-bcdfg");
  const long = sliceName(`${"a".repeat(246)}.bbbbbbb`, "bcdfg");
  assert.equal(long.length, 252);
  assert.equal(long, `${"a".repeat(246)}-bcdfg`);
  assert.equal(sliceName("x".repeat(300), "bcdfg").length, 253);
  assert.equal(hashSuffix("IPv4/[]"), hashSuffix("IPv4/[]"));
  assert.notEqual(hashSuffix("IPv4/[]"), hashSuffix("IPv6/[]"));
  assert.match(hashSuffix("anything"), /^[bcdfghjklmnpqrstvwxz2456789]{5}$/);
});

Deno.test("withDesired() keeps what the controller does not own and sliceEqual() sees the change", () => {
  const [desired] = slicesFor(
    endpoints([{ addresses: [{ ip: "10.244.0.8" }], ports: HTTP }]),
    SERVICE,
  );
  const current: KubeObject = {
    ...desired!,
    metadata: {
      ...desired!.metadata,
      resourceVersion: "7",
      annotations: { note: "kept" },
      labels: { stray: "x" },
    },
    endpoints: [],
  };
  assert.ok(!sliceEqual(current, desired!));
  const next = withDesired(current, desired!);
  assert.ok(sliceEqual(next, desired!));
  assert.equal(next.metadata.resourceVersion, "7");
  assert.deepEqual(next.metadata.annotations, { note: "kept" });
  assert.deepEqual(next.metadata.labels, desired!.metadata.labels);
});
