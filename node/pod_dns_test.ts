import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import {
  needsOwnResolvConf,
  type NodeDns,
  parseResolvConf,
  podDnsConfig,
  resolvConfText,
} from "./pod_dns.ts";

const NODE: NodeDns = {
  clusterDNS: "10.96.0.10",
  clusterDomain: "cluster.local",
  host: { nameservers: ["192.168.1.1"], searches: ["lan"], options: ["edns0"] },
};

function pod(spec: Record<string, unknown>, namespace = "shop"): KubeObject {
  return { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace }, spec };
}

Deno.test("parseResolvConf() accumulates nameservers, the last search and options win", () => {
  const conf = parseResolvConf([
    "# generated",
    "nameserver 10.255.255.53",
    "search old.example",
    "nameserver 1.1.1.1",
    "search corp.example. lan",
    "; comment",
    "options ndots:2",
    "options timeout:1 rotate",
    "domain ignored.example",
    "nameserver",
  ].join("\n"));
  assert.deepEqual(conf, {
    nameservers: ["10.255.255.53", "1.1.1.1"],
    searches: ["corp.example", "lan"],
    options: ["timeout:1", "rotate"],
  });
});

Deno.test("podDnsConfig() of ClusterFirst: cluster DNS, namespace search path, ndots:5", () => {
  assert.deepEqual(podDnsConfig(pod({ dnsPolicy: "ClusterFirst" }), NODE), {
    dns: {
      nameservers: ["10.96.0.10"],
      searches: ["shop.svc.cluster.local", "svc.cluster.local", "cluster.local", "lan"],
      options: ["ndots:5"],
    },
    warnings: [],
  });
  // the default policy is ClusterFirst
  assert.deepEqual(podDnsConfig(pod({}), NODE).dns.nameservers, ["10.96.0.10"]);
});

Deno.test("podDnsConfig() gives a host-network ClusterFirst pod the node's resolver", () => {
  assert.deepEqual(podDnsConfig(pod({ hostNetwork: true }), NODE).dns, NODE.host);
  const withHostNet = podDnsConfig(
    pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }),
    NODE,
  );
  assert.deepEqual(withHostNet.dns.nameservers, ["10.96.0.10"]);
  assert.equal(withHostNet.dns.searches[0], "shop.svc.cluster.local");
});

Deno.test("podDnsConfig() of Default is the node's resolv.conf", () => {
  assert.deepEqual(podDnsConfig(pod({ dnsPolicy: "Default" }), NODE).dns, NODE.host);
});

Deno.test("podDnsConfig() of None is dnsConfig alone", () => {
  const { dns } = podDnsConfig(
    pod({
      dnsPolicy: "None",
      dnsConfig: {
        nameservers: ["1.2.3.4"],
        searches: ["ns1.svc.cluster-domain.example"],
        options: [{ name: "ndots", value: "2" }, { name: "edns0" }],
      },
    }),
    NODE,
  );
  assert.deepEqual(dns, {
    nameservers: ["1.2.3.4"],
    searches: ["ns1.svc.cluster-domain.example"],
    options: ["ndots:2", "edns0"],
  });
});

Deno.test("podDnsConfig() merges dnsConfig: no duplicates, the pod's option values win", () => {
  const { dns } = podDnsConfig(
    pod({
      dnsConfig: {
        nameservers: ["10.96.0.10", "8.8.8.8"],
        searches: ["svc.cluster.local", "extra.example"],
        options: [{ name: "ndots", value: "1" }, { name: "single-request-reopen" }],
      },
    }),
    NODE,
  );
  assert.deepEqual(dns, {
    nameservers: ["10.96.0.10", "8.8.8.8"],
    searches: [
      "shop.svc.cluster.local",
      "svc.cluster.local",
      "cluster.local",
      "lan",
      "extra.example",
    ],
    options: ["ndots:1", "single-request-reopen"],
  });
});

Deno.test("podDnsConfig() falls back to Default without a cluster DNS, with a warning", () => {
  const { dns, warnings } = podDnsConfig(pod({}), { ...NODE, clusterDNS: "" });
  assert.deepEqual(dns, NODE.host);
  assert.match(warnings[0]!, /does not have ClusterDNS IP configured/);
});

Deno.test("podDnsConfig() applies kubelet's limits and drops values unfit for podman", () => {
  const { dns, warnings } = podDnsConfig(
    pod({
      dnsPolicy: "None",
      dnsConfig: {
        nameservers: ["1.1.1.1", "--privileged", "2.2.2.2", "3.3.3.3", "4.4.4.4"],
        searches: [...Array.from({ length: 40 }, (_, i) => `d${i}.example`), "bad domain"],
        options: [{ name: "ndots", value: "2" }, { name: "evil;rm" }],
      },
    }),
    NODE,
  );
  assert.deepEqual(dns.nameservers, ["1.1.1.1", "2.2.2.2", "3.3.3.3"]);
  assert.equal(dns.searches.length, 32);
  assert.deepEqual(dns.options, ["ndots:2"]);
  assert.deepEqual(warnings.map((w) => w.split(" ").slice(0, 3).join(" ")), [
    "invalid DNS nameserver",
    "invalid DNS search",
    "invalid DNS option",
    "Nameserver limits were",
    "Search Line limits",
  ]);
});

Deno.test("needsOwnResolvConf() is for host-network pods that do not use the node's DNS", () => {
  assert.ok(needsOwnResolvConf(pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" })));
  assert.ok(needsOwnResolvConf(pod({ hostNetwork: true, dnsPolicy: "None" })));
  assert.ok(!needsOwnResolvConf(pod({ hostNetwork: true, dnsPolicy: "ClusterFirst" })));
  assert.ok(!needsOwnResolvConf(pod({ hostNetwork: true, dnsPolicy: "Default" })));
  assert.ok(!needsOwnResolvConf(pod({ dnsPolicy: "ClusterFirstWithHostNet" })));
});

Deno.test("resolvConfText() writes search, nameserver and options lines", () => {
  assert.equal(
    resolvConfText({
      nameservers: ["10.96.0.10", "1.1.1.1"],
      searches: ["shop.svc.cluster.local", "svc.cluster.local"],
      options: ["ndots:5"],
    }),
    "search shop.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\n" +
      "nameserver 1.1.1.1\noptions ndots:5\n",
  );
  assert.equal(
    resolvConfText({ nameservers: ["1.1.1.1"], searches: [], options: [] }),
    "nameserver 1.1.1.1\n",
  );
});
