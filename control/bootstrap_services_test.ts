import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import type { Store } from "../storage/store.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { type ClusterNetwork, resolveClusterNetwork } from "./allocators/cluster_network.ts";
import { startServiceAllocator } from "./allocators/service_allocator.ts";
import { Objects } from "./api/objects.ts";
import {
  bootstrapServices,
  pickAdvertiseAddress,
  publishClusterNetwork,
} from "./bootstrap_services.ts";

function nic(name: string, address: string, family: "IPv4" | "IPv6" = "IPv4") {
  return { name, address, family, netmask: "", scopeid: null, cidr: "", mac: "" };
}

Deno.test("pickAdvertiseAddress() prefers the flag, then a specific listen host, then a NIC", () => {
  const nics = [
    nic("lo", "127.0.0.1"),
    nic("podman0", "10.88.0.1"),
    nic("eth0", "fe80::1", "IPv6"),
    nic("eth0", "192.168.1.20"),
  ];
  assert.equal(pickAdvertiseAddress("10.0.0.5", "127.0.0.1", nics), "10.0.0.5");
  assert.equal(pickAdvertiseAddress(undefined, "192.168.1.30", nics), "192.168.1.30");
  assert.equal(pickAdvertiseAddress(undefined, "0.0.0.0", nics), "192.168.1.20");
  assert.equal(pickAdvertiseAddress(undefined, "127.0.0.1", nics), "192.168.1.20");
  assert.equal(pickAdvertiseAddress(undefined, "localhost", [nic("lo", "127.0.0.1")]), "127.0.0.1");
  for (const bad of ["0.0.0.0", "::1", "eth0", "224.0.0.1", "10.0.0.256"]) {
    assert.throws(
      () => pickAdvertiseAddress(bad, "127.0.0.1", nics),
      /--advertise-address must be a specific IPv4 address/,
    );
  }
});

async function withAllocator(
  network: ClusterNetwork,
  store: Store,
  fn: () => Promise<void>,
): Promise<void> {
  const running = await startServiceAllocator(store, network);
  try {
    await fn();
  } finally {
    await running.stop();
  }
}

async function get(store: Store, key: string): Promise<KubeObject> {
  const obj = await store.get(key);
  assert.ok(obj, `${key} exists`);
  return obj;
}

Deno.test("publishClusterNetwork() and bootstrapServices() make the ConfigMap and the kubernetes Service and Endpoints", async () => {
  const store = await storeWithNamespaces();
  try {
    const network = resolveClusterNetwork();
    const objects = new Objects(store);
    await withAllocator(network, store, async () => {
      await publishClusterNetwork(objects, network);
      await bootstrapServices({
        objects,
        network,
        advertiseAddress: "192.168.1.20",
        apiPort: 6443,
      });
      const cm = await get(store, "/core/configmaps/kube-system/cluster-network");
      assert.deepEqual(cm.data, {
        serviceCIDR: "10.96.0.0/16",
        clusterCIDR: "10.244.0.0/16",
        nodeCIDRMaskSize: "24",
        nodePortRange: "30000-32767",
        clusterDNS: "10.96.0.10",
        clusterDomain: "cluster.local",
      });
      const svc = await get(store, "/core/services/default/kubernetes");
      const spec = svc.spec as Record<string, unknown>;
      assert.equal(spec.clusterIP, "10.96.0.1");
      assert.equal(spec.type, "ClusterIP");
      assert.equal(spec.selector, undefined);
      assert.deepEqual(spec.ports, [{
        name: "https",
        port: 443,
        protocol: "TCP",
        targetPort: 6443,
      }]);
      const ep = await get(store, "/core/endpoints/default/kubernetes");
      assert.deepEqual(ep.subsets, [{
        addresses: [{ ip: "192.168.1.20" }],
        ports: [{ name: "https", port: 6443, protocol: "TCP" }],
      }]);

      const revision = store.revision();
      await publishClusterNetwork(objects, network);
      await bootstrapServices({
        objects,
        network,
        advertiseAddress: "192.168.1.20",
        apiPort: 6443,
      });
      assert.equal(
        store.revision(),
        revision,
        "a second start with the same settings writes nothing",
      );

      await bootstrapServices({
        objects,
        network,
        advertiseAddress: "192.168.1.21",
        apiPort: 7443,
      });
      const moved = await get(store, "/core/services/default/kubernetes");
      assert.equal(
        (moved.spec as { ports: Array<{ targetPort: number }> }).ports[0]!.targetPort,
        7443,
      );
      const ep2 = await get(store, "/core/endpoints/default/kubernetes");
      assert.match(JSON.stringify(ep2.subsets), /192\.168\.1\.21.*7443/);
    });

    const other = resolveClusterNetwork({
      serviceCidr: "10.100.0.0/16",
      nodePortRange: "31000-31999",
    });
    const errors: unknown[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => errors.push(args);
    try {
      await withAllocator(other, store, async () => {
        await publishClusterNetwork(objects, other);
        await bootstrapServices({
          objects,
          network: other,
          advertiseAddress: "192.168.1.21",
          apiPort: 7443,
        });
      });
    } finally {
      console.error = error;
    }
    const svc = await get(store, "/core/services/default/kubernetes");
    assert.equal((svc.spec as Record<string, unknown>).clusterIP, "10.100.0.1");
    assert.equal(errors.length, 1, "the re-creation is logged");
    const cm = await get(store, "/core/configmaps/kube-system/cluster-network");
    const data = cm.data as Record<string, string>;
    assert.equal(data.serviceCIDR, "10.100.0.0/16");
    assert.equal(data.nodePortRange, "31000-31999");
    assert.equal(data.clusterDNS, "10.100.0.10");
  } finally {
    await store.close();
  }
});

Deno.test("bootstrapServices() gives Services stored without addresses their IP and node ports", async () => {
  const store = await storeWithNamespaces();
  try {
    const objects = new Objects(store);
    const services = findKind("v1", "Service")!;
    // written before an allocator existed (an older data dir)
    await objects.create(services, "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "old" },
      spec: { type: "NodePort", ports: [{ port: 80 }] },
    }, { fieldValidation: "Strict", dryRun: false });
    const network = resolveClusterNetwork();
    await withAllocator(network, store, async () => {
      await bootstrapServices({
        objects,
        network,
        advertiseAddress: "192.168.1.20",
        apiPort: 6443,
      });
    });
    const svc = await get(store, "/core/services/default/old");
    const spec = svc.spec as { clusterIP?: string; ports: Array<{ nodePort?: number }> };
    assert.match(spec.clusterIP ?? "", /^10\.96\./);
    assert.ok(spec.ports[0]!.nodePort! >= 30000);
  } finally {
    await store.close();
  }
});
