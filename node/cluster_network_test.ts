import assert from "node:assert/strict";
import { clusterNetworkFrom, DEFAULT_CLUSTER_NETWORK, isClusterDomain } from "./cluster_network.ts";

Deno.test("clusterNetworkFrom() without a ConfigMap is the defaults", () => {
  assert.deepEqual(clusterNetworkFrom(undefined), {
    network: {
      serviceCIDR: "10.96.0.0/16",
      clusterCIDR: "10.244.0.0/16",
      nodeCIDRMaskSize: 24,
      nodePortRange: { min: 30000, max: 32767 },
      clusterDNS: "10.96.0.10",
      clusterDomain: "cluster.local",
    },
    warnings: [],
  });
});

Deno.test("clusterNetworkFrom() reads every key of the ConfigMap", () => {
  const { network, warnings } = clusterNetworkFrom({
    serviceCIDR: "10.100.0.0/16",
    clusterCIDR: "10.180.0.0/16",
    nodeCIDRMaskSize: "26",
    nodePortRange: "31000-31999",
    clusterDNS: "10.100.0.10",
    clusterDomain: "edge.internal",
  });
  assert.deepEqual(network, {
    serviceCIDR: "10.100.0.0/16",
    clusterCIDR: "10.180.0.0/16",
    nodeCIDRMaskSize: 26,
    nodePortRange: { min: 31000, max: 31999 },
    clusterDNS: "10.100.0.10",
    clusterDomain: "edge.internal",
  });
  assert.deepEqual(warnings, []);
});

Deno.test("clusterNetworkFrom() keeps the default of a malformed key and says so", () => {
  const { network, warnings } = clusterNetworkFrom({
    clusterCIDR: "10.180.0.1/16",
    nodePortRange: "32000-31000",
    clusterDNS: "dns",
    clusterDomain: "Cluster.Local",
    nodeCIDRMaskSize: "4",
  });
  assert.deepEqual(network, {
    ...DEFAULT_CLUSTER_NETWORK,
    nodePortRange: { ...DEFAULT_CLUSTER_NETWORK.nodePortRange },
  });
  assert.equal(warnings.length, 5);
  assert.match(
    warnings[0]!,
    /clusterCIDR "10\.180\.0\.1\/16" is not valid; using 10\.244\.0\.0\/16/,
  );
});

Deno.test("clusterNetworkFrom() lets the flags override the ConfigMap", () => {
  const { network } = clusterNetworkFrom(
    { clusterDNS: "10.100.0.10", clusterDomain: "edge.internal" },
    { clusterDNS: "10.96.0.53" },
  );
  assert.equal(network.clusterDNS, "10.96.0.53");
  assert.equal(network.clusterDomain, "edge.internal");
});

Deno.test("isClusterDomain() accepts lower-case DNS names only", () => {
  assert.ok(isClusterDomain("cluster.local"));
  assert.ok(isClusterDomain("edge"));
  for (const bad of ["", "-a.local", "a..b", "A.local", "a_b.local", "a.local."]) {
    assert.ok(!isClusterDomain(bad), bad);
  }
});
