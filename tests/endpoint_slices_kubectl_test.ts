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
import {
  assertOk,
  type Cluster,
  type CommandResult,
  kubectlSkipReason,
  sleep,
  withCluster,
} from "./_harness.ts";

const API_ONLY = { mode: "server" } as const;
const IGNORE = kubectlSkipReason !== undefined;

async function apply(cluster: Cluster, manifest: unknown): Promise<void> {
  assertOk(
    await cluster.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) }),
    "kubectl apply",
  );
}

/** A pod of the `web` Service, bound to edge-1, serving the named port `http` on `port`. */
function pod(name: string, port: number): unknown {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, labels: { app: "web" } },
    spec: {
      nodeName: "edge-1",
      containers: [{
        name: "httpd",
        image: "localhost/edge-test:1",
        ports: [{ name: "http", containerPort: port }],
      }],
    },
  };
}

/** Gives a pod its IP and readiness, as its agent would. */
async function setStatus(cluster: Cluster, name: string, ip: string, ready: boolean) {
  const status = {
    phase: "Running",
    podIP: ip,
    podIPs: [{ ip }],
    conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
  };
  assertOk(
    await cluster.kubectl([
      "patch",
      "pod",
      name,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]),
    `patch pod/${name} status`,
  );
}

/**
 * Runs `kubectl ARGS` until `ok(stdout)` holds (at most 30 s, polling each 200 ms) and returns
 * the last output; the assertion message shows it when the condition never held.
 */
async function kubectlUntil(
  cluster: Cluster,
  args: string[],
  ok: (stdout: string) => boolean,
  what: string,
): Promise<string> {
  let last: CommandResult | undefined;
  for (let i = 0; i < 150; i++) {
    last = await cluster.kubectl(args);
    if (last.code === 0 && ok(last.stdout)) return last.stdout;
    await sleep(200);
  }
  assert.fail(`${what}: never seen; last:\n${last?.stdout}\n${last?.stderr}`);
}

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
    await setStatus(cluster, "web-a", "10.244.0.8", true);
    await setStatus(cluster, "web-b", "10.244.0.9", true);
    await setStatus(cluster, "web-c", "10.244.0.10", false);

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

    await setStatus(cluster, "web-c", "10.244.0.10", true);
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
