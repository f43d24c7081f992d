import assert from "node:assert/strict";
import { clusterNetworkData, parsePortRange, resolveClusterNetwork } from "./cluster_network.ts";

Deno.test("resolveClusterNetwork() fills in Kubernetes' defaults", () => {
  const net = resolveClusterNetwork();
  assert.equal(net.serviceCidr.text, "10.96.0.0/16");
  assert.equal(net.clusterCidr.text, "10.244.0.0/16");
  assert.equal(net.nodeCidrMaskSize, 24);
  assert.deepEqual(net.nodePorts, { base: 30000, size: 2768, text: "30000-32767" });
  assert.equal(net.kubernetesServiceIP, "10.96.0.1");
  assert.equal(net.clusterDNS, "10.96.0.10");
  assert.deepEqual(clusterNetworkData(net), {
    serviceCIDR: "10.96.0.0/16",
    clusterCIDR: "10.244.0.0/16",
    nodeCIDRMaskSize: "24",
    nodePortRange: "30000-32767",
    clusterDNS: "10.96.0.10",
    clusterDomain: "cluster.local",
  });
});

Deno.test("resolveClusterNetwork() derives the kubernetes and DNS IPs from another service CIDR", () => {
  const net = resolveClusterNetwork({ serviceCidr: "172.20.0.0/24", nodeCidrMaskSize: 26 });
  assert.equal(net.kubernetesServiceIP, "172.20.0.1");
  assert.equal(net.clusterDNS, "172.20.0.10");
  assert.equal(net.nodeCidrMaskSize, 26);
});

Deno.test("resolveClusterNetwork() names the flag and the bad value", () => {
  const cases: Array<[Parameters<typeof resolveClusterNetwork>[0], RegExp]> = [
    [{ serviceCidr: "10.96.0.0/33" }, /--service-cidr: invalid CIDR "10.96.0.0\/33"/],
    [{ serviceCidr: "10.0.0.0/8" }, /--service-cidr 10.0.0.0\/8: the prefix length must be 12-28/],
    [{ serviceCidr: "10.96.0.0/30" }, /prefix length must be 12-28/],
    [
      { nodePortRange: "32767-30000" },
      /--service-node-port-range: invalid port range "32767-30000"/,
    ],
    [{ clusterCidr: "10.244.0.1/16" }, /--cluster-cidr: invalid CIDR "10.244.0.1\/16": host bits/],
    [{ nodeCidrMaskSize: 8 }, /--node-cidr-mask-size 8: must be between/],
    [{ nodeCidrMaskSize: 31 }, /--node-cidr-mask-size 31/],
    [{ clusterCidr: "10.0.0.0/8", nodeCidrMaskSize: 28 }, /more than 65536 node CIDRs/],
    [
      { clusterCidr: "10.96.0.0/12" },
      /--service-cidr 10.96.0.0\/16 overlaps --cluster-cidr 10.96.0.0\/12/,
    ],
  ];
  for (const [options, message] of cases) {
    assert.throws(() => resolveClusterNetwork(options), message, JSON.stringify(options));
  }
});

Deno.test("parsePortRange() reads A-B", () => {
  assert.deepEqual(parsePortRange("30000-30000"), { base: 30000, size: 1, text: "30000-30000" });
  for (const bad of ["30000", "0-10", "1-65536", "a-b", "030000-32767", " 1-2"]) {
    assert.throws(() => parsePortRange(bad), /must be A-B with 1 <= A <= B <= 65535/, bad);
  }
});
