/**
 * Acceptance tests: the endpoints and LoadBalancer status controllers, seen with stock kubectl
 * against `mod.ts server` (API only: no agent, no networking). Pods are bound by hand to a Node
 * object and given their IP and readiness through the status subresource, as an agent would.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertOk, kubectlSkipReason, withCluster } from "./_harness.ts";
import { apply, kubectlUntil, patchStatus, pod, podStatus } from "./_endpoints_fixture.ts";

const API_ONLY = { mode: "server" } as const;
const IGNORE = kubectlSkipReason !== undefined;

interface Subset {
  addresses?: Array<{ ip: string; targetRef?: { name?: string } }>;
  notReadyAddresses?: Array<{ ip: string }>;
  ports?: Array<{ name?: string; port: number; protocol: string }>;
}

function subsetsOf(stdout: string): Subset[] {
  return (JSON.parse(stdout) as { subsets?: Subset[] }).subsets ?? [];
}

function ipsOf(subsets: Subset[], field: "addresses" | "notReadyAddresses"): string[] {
  return subsets.flatMap((s) => s[field] ?? []).map((a) => a.ip).sort();
}

Deno.test({
  name: "kubectl get endpoints shows ready and not-ready pod addresses as they change",
  ignore: IGNORE,
  fn: withCluster(async (cluster) => {
    await apply(cluster, { apiVersion: "v1", kind: "Node", metadata: { name: "edge-1" } });
    await apply(cluster, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    await apply(cluster, pod("web-a", 8080));
    await apply(cluster, pod("web-b", 8080));
    await apply(cluster, pod("web-c", 9090));
    await patchStatus(cluster, "pod", "web-a", podStatus("10.244.0.8", true));
    await patchStatus(cluster, "pod", "web-b", podStatus("10.244.0.9", false));
    await patchStatus(cluster, "pod", "web-c", podStatus("10.244.0.10", true));

    const get = ["get", "endpoints", "web", "-o", "json"];
    let subsets = subsetsOf(
      await kubectlUntil(cluster, get, (out) => {
        const s = subsetsOf(out);
        return ipsOf(s, "addresses").length === 2 && ipsOf(s, "notReadyAddresses").length === 1;
      }, "two ready addresses and one not ready"),
    );
    assert.deepEqual(ipsOf(subsets, "addresses"), ["10.244.0.10", "10.244.0.8"]);
    assert.deepEqual(ipsOf(subsets, "notReadyAddresses"), ["10.244.0.9"]);
    // the named port resolves per pod: web-c serves it on 9090
    const portOf = (ip: string) =>
      subsets.find((s) =>
        [...(s.addresses ?? []), ...(s.notReadyAddresses ?? [])].some((a) => a.ip === ip)
      )
        ?.ports;
    assert.deepEqual(portOf("10.244.0.8"), [{ name: "http", port: 8080, protocol: "TCP" }]);
    assert.deepEqual(portOf("10.244.0.10"), [{ name: "http", port: 9090, protocol: "TCP" }]);

    const table = assertOk(await cluster.kubectl(["get", "endpoints", "web"]), "get endpoints");
    assert.match(table, /^web\s+10\.244\.0\.10:9090,10\.244\.0\.8:8080\s+\S+\s*$/m);

    await patchStatus(cluster, "pod", "web-a", podStatus("10.244.0.8", false));
    subsets = subsetsOf(
      await kubectlUntil(
        cluster,
        get,
        (out) => ipsOf(subsetsOf(out), "notReadyAddresses").length === 2,
        "web-a not ready",
      ),
    );
    assert.deepEqual(ipsOf(subsets, "addresses"), ["10.244.0.10"]);
    assert.deepEqual(ipsOf(subsets, "notReadyAddresses"), ["10.244.0.8", "10.244.0.9"]);

    assertOk(
      await cluster.kubectl(["delete", "pod", "web-c", "--grace-period=0", "--force"]),
      "delete web-c",
    );
    await kubectlUntil(
      cluster,
      get,
      (out) => ipsOf(subsetsOf(out), "addresses").length === 0,
      "web-c gone",
    );

    assertOk(await cluster.kubectl(["delete", "service", "web"]), "delete service");
    await kubectlUntil(
      cluster,
      ["get", "endpoints", "--ignore-not-found", "-o", "name"],
      (out) => !out.includes("endpoints/web"),
      "Endpoints deleted with the service",
    );
  }, API_ONLY),
});

Deno.test({
  name: "kubectl get service shows the Ready nodes' addresses as a LoadBalancer's external IPs",
  ignore: IGNORE,
  fn: withCluster(async (cluster) => {
    await apply(cluster, { apiVersion: "v1", kind: "Node", metadata: { name: "edge-1" } });
    await patchStatus(cluster, "node", "edge-1", {
      conditions: [{ type: "Ready", status: "True" }],
      addresses: [{ type: "InternalIP", address: "192.168.1.9" }, {
        type: "Hostname",
        address: "edge-1",
      }],
    });
    await apply(cluster, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "lb" },
      spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ port: 80 }] },
    });
    await kubectlUntil(
      cluster,
      ["get", "service", "lb", "-o", "jsonpath={.status.loadBalancer.ingress[*].ip}"],
      (out) => out.trim() === "192.168.1.9",
      "ingress 192.168.1.9",
    );
    assertOk(
      await cluster.kubectl([
        "patch",
        "service",
        "lb",
        "--type=merge",
        "-p",
        '{"spec":{"type":"NodePort"}}',
      ]),
      "patch type",
    );
    await kubectlUntil(
      cluster,
      ["get", "service", "lb", "-o", "jsonpath={.status.loadBalancer}"],
      (out) => !out.includes("192.168.1.9"),
      "ingress cleared",
    );
  }, API_ONLY),
});
