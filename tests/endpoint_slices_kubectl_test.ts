/**
 * Acceptance test: the EndpointSlices mirrored from Endpoints, seen with stock kubectl against
 * `mod.ts server` (API only: no agent, no networking). kubectl 1.32's `describe service` reads
 * a Service's endpoints from its EndpointSlices, not from its Endpoints object. Pods are bound
 * by hand to a Node object and given their IP and readiness through the status subresource, as
 * an agent would.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertOk, kubectlSkipReason, withCluster } from "./_harness.ts";
import { apply, kubectlUntil, patchStatus, pod, podStatus } from "./_endpoints_fixture.ts";

const API_ONLY = { mode: "server" } as const;
const IGNORE = kubectlSkipReason !== undefined;

Deno.test({
  name: "kubectl sees the EndpointSlices mirrored from Endpoints, in get and in describe service",
  ignore: IGNORE,
  fn: withCluster(async (cluster) => {
    const resources = assertOk(
      await cluster.kubectl(["api-resources", "--api-group=discovery.k8s.io"]),
      "api-resources",
    );
    assert.match(resources, /^endpointslices\s+discovery\.k8s\.io\/v1\s+true\s+EndpointSlice$/m);
    await apply(cluster, { apiVersion: "v1", kind: "Node", metadata: { name: "edge-1" } });
    await apply(cluster, {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web" },
      spec: { selector: { app: "web" }, ports: [{ name: "http", port: 80, targetPort: "http" }] },
    });
    await apply(cluster, pod("web-a", 8080));
    await apply(cluster, pod("web-b", 8080));
    await apply(cluster, pod("web-c", 8080));
    await patchStatus(cluster, "pod", "web-a", podStatus("10.244.0.8", true));
    await patchStatus(cluster, "pod", "web-b", podStatus("10.244.0.9", true));
    await patchStatus(cluster, "pod", "web-c", podStatus("10.244.0.10", false));

    const list = ["get", "endpointslices", "-l", "kubernetes.io/service-name=web"];
    const table = await kubectlUntil(
      cluster,
      list,
      (out) => out.includes("10.244.0.10"),
      "a slice with the three addresses",
    );
    const lines = table.trimEnd().split("\n");
    assert.match(lines[0]!, /^NAME\s+ADDRESSTYPE\s+PORTS\s+ENDPOINTS\s+AGE$/);
    assert.equal(lines.length, 2, table);
    assert.match(
      lines[1]!,
      /^web-[a-z0-9]{5}\s+IPv4\s+8080\s+10\.244\.0\.8,10\.244\.0\.9,10\.244\.0\.10\s+\S+$/,
    );
    const sliceName = lines[1]!.split(/\s+/)[0]!;

    const slice = JSON.parse(
      assertOk(await cluster.kubectl(["get", "endpointslice", sliceName, "-o", "json"]), "get"),
    ) as {
      metadata: { labels: Record<string, string>; ownerReferences: Array<{ kind: string }> };
      endpoints: Array<{ addresses: string[]; conditions: { ready: boolean } }>;
      ports: unknown[];
    };
    assert.equal(
      slice.metadata.labels["endpointslice.kubernetes.io/managed-by"],
      "endpointslice-mirror.edge",
    );
    assert.equal(slice.metadata.ownerReferences[0]?.kind, "Service");
    assert.deepEqual(
      slice.endpoints.map((e) => `${e.addresses[0]} ${e.conditions.ready}`),
      ["10.244.0.8 true", "10.244.0.9 true", "10.244.0.10 false"],
    );
    assert.deepEqual(slice.ports, [{ name: "http", port: 8080, protocol: "TCP" }]);

    const described = assertOk(
      await cluster.kubectl(["describe", "endpointslice", sliceName]),
      "describe endpointslice",
    );
    assert.match(described, /^AddressType:\s+IPv4$/m);
    assert.match(described, /^\s+- Addresses:\s+10\.244\.0\.8$/m);
    assert.match(described, /^\s+TargetRef:\s+Pod\/web-a$/m);

    // describe shows the ready endpoints of the Service's port
    const describe = assertOk(await cluster.kubectl(["describe", "service", "web"]), "describe");
    assert.match(describe, /^Endpoints:\s+10\.244\.0\.8:8080,10\.244\.0\.9:8080$/m);

    await patchStatus(cluster, "pod", "web-c", podStatus("10.244.0.10", true));
    await kubectlUntil(
      cluster,
      ["describe", "service", "web"],
      (out) =>
        /^Endpoints:\s+10\.244\.0\.10:8080,10\.244\.0\.8:8080,10\.244\.0\.9:8080$/m.test(out),
      "describe shows web-c once ready",
    );

    // so is the kubernetes Service's, unless the API advertises a loopback address (which the
    // EndpointSlice API refuses)
    const apiAddress = assertOk(
      await cluster.kubectl([
        "get",
        "endpoints",
        "kubernetes",
        "-o",
        "jsonpath={.subsets[0].addresses[0].ip}",
      ]),
      "get endpoints kubernetes",
    );
    if (!apiAddress.startsWith("127.")) {
      await kubectlUntil(
        cluster,
        ["get", "endpointslices", "-l", "kubernetes.io/service-name=kubernetes"],
        (out) => out.includes(apiAddress),
        "the kubernetes Service's slice",
      );
    }

    // a slice of another manager, applied twice (kubectl's patch over OpenAPI replaces the
    // atomic endpoints list), adds to what describe shows (4 endpoints, in the order of the
    // slices' names) and is left alone
    const byHand = (ip: string) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name: "web-by-hand",
        labels: {
          "kubernetes.io/service-name": "web",
          "endpointslice.kubernetes.io/managed-by": "by-hand.example.com",
        },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: [ip] }],
      ports: [{ name: "http", port: 8080 }],
    });
    await apply(cluster, byHand("10.244.1.5"));
    await apply(cluster, byHand("10.244.1.6"));
    assert.equal(
      assertOk(
        await cluster.kubectl([
          "get",
          "endpointslice",
          "web-by-hand",
          "-o",
          "jsonpath={.endpoints[*].addresses[*]}",
        ]),
        "get web-by-hand",
      ),
      "10.244.1.6",
    );
    assert.match(
      assertOk(await cluster.kubectl(["describe", "service", "web"]), "describe"),
      /^Endpoints:\s+(\d+\.\d+\.\d+\.\d+:8080,){2}\d+\.\d+\.\d+\.\d+:8080 \+ 1 more\.\.\.$/m,
    );

    assertOk(await cluster.kubectl(["delete", "svc", "web"]), "delete service");
    await kubectlUntil(
      cluster,
      [...list, "-o", "name"],
      (out) => out.trim() === "endpointslice.discovery.k8s.io/web-by-hand",
      "the mirrored slice deleted with the service, the other kept",
    );
  }, API_ONLY),
});
