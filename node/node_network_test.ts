import assert from "node:assert/strict";
import type { CommandOutput } from "../net/routes.ts";
import { podNetworkName } from "../net/pod_network.ts";
import type { KubeObject } from "../storage/object.ts";
import type { CacheListener } from "./object_cache.ts";
import { NodeNetwork, nodeRouteInfo } from "./node_network.ts";

function node(name: string, ip: string, podCIDR?: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec: podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {},
    status: {
      addresses: [{ type: "InternalIP", address: ip }, { type: "Hostname", address: name }],
    },
  };
}

/** The Nodes cache, as NodeNetwork uses it. */
class FakeNodes {
  readonly #nodes = new Map<string, KubeObject>();
  readonly #listeners = new Set<CacheListener>();
  get(_ns: string, name: string) {
    return this.#nodes.get(name);
  }
  list() {
    return [...this.#nodes.values()];
  }
  subscribe(listener: CacheListener) {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(n: KubeObject) {
    this.#nodes.set(n.metadata.name!, n);
    for (const l of this.#listeners) l("MODIFIED", n);
  }
}

/** podman's networks and the kernel's routes, as commands see them. */
function fakeHost() {
  const networks: Array<{ name: string; subnets: Array<{ subnet: string; gateway: string }> }> = [];
  const routes = new Map<string, string>();
  const ok = (stdout = ""): CommandOutput => ({ code: 0, stdout, stderr: "" });
  const podman = (args: string[]): Promise<CommandOutput> => {
    if (args[0] === "ps") return Promise.resolve(ok());
    if (args[1] === "ls") return Promise.resolve(ok(JSON.stringify(networks)));
    if (args[1] === "create") {
      networks.push({
        name: args.at(-1)!,
        subnets: [{
          subnet: args[args.indexOf("--subnet") + 1]!,
          gateway: args[args.indexOf("--gateway") + 1]!,
        }],
      });
      return Promise.resolve(ok(args.at(-1)));
    }
    return Promise.resolve({ code: 125, stdout: "", stderr: `unexpected ${args.join(" ")}` });
  };
  const run = (_cmd: string, args: string[]): Promise<CommandOutput> => {
    if (args[0] === "-j") {
      const list = [...routes].map(([dst, gateway]) => ({ dst, gateway, protocol: "237" }));
      return Promise.resolve(ok(JSON.stringify(list)));
    }
    if (args[1] === "replace") routes.set(args[2]!, args[4]!);
    if (args[1] === "del") routes.delete(args[2]!);
    return Promise.resolve(ok());
  };
  return { podman, run, networks, routes };
}

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 400 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), "condition not reached within 2 s");
}

Deno.test("nodeRouteInfo() reads a Node's podCIDR and InternalIP", () => {
  assert.deepEqual(nodeRouteInfo(node("b", "192.168.1.11", "10.244.1.0/24")), {
    name: "b",
    podCIDR: "10.244.1.0/24",
    internalIP: "192.168.1.11",
  });
  assert.deepEqual(nodeRouteInfo(node("c", "192.168.1.12")), {
    name: "c",
    internalIP: "192.168.1.12",
  });
});

Deno.test("NodeNetwork makes the pod network on the podCIDR and routes to the other nodes", async () => {
  const nodes = new FakeNodes();
  const host = fakeHost();
  const lines: string[] = [];
  const network = new NodeNetwork({
    nodeName: "a",
    clusterCidr: () => "10.244.0.0/16",
    nodes,
    podman: host.podman,
    run: host.run,
    log: (l) => lines.push(l),
    retryMs: 20,
  });
  network.start();
  try {
    nodes.set(node("a", "192.168.1.10"));
    nodes.set(node("b", "192.168.1.11", "10.244.1.0/24"));
    assert.equal(await network.waitForPodNetwork(50), false);
    assert.equal(network.podNetwork, undefined);
    await until(() => host.routes.size === 1);

    nodes.set(node("a", "192.168.1.10", "10.244.0.0/24"));
    assert.equal(await network.waitForPodNetwork(2_000), true);
    assert.equal(network.podNetwork, podNetworkName("a"));
    assert.deepEqual(host.networks, [{
      name: podNetworkName("a"),
      subnets: [{ subnet: "10.244.0.0/24", gateway: "10.244.0.1" }],
    }]);

    nodes.set(node("c", "192.168.1.12", "10.244.2.0/24"));
    await until(() => host.routes.size === 2);
    nodes.set(node("b", "192.168.1.21", "10.244.1.0/24"));
    await until(() => host.routes.get("10.244.1.0/24") === "192.168.1.21");
    assert.deepEqual(Object.fromEntries(host.routes), {
      "10.244.1.0/24": "192.168.1.21",
      "10.244.2.0/24": "192.168.1.12",
    });
    assert.ok(
      lines.some((l) => /pod network edge-[0-9a-f]+ on 10\.244\.0\.0\/24 .* created/.test(l)),
    );
  } finally {
    await network.stop();
  }
});

Deno.test("NodeNetwork.adoptExisting() uses the pod network a previous run left", async () => {
  const host = fakeHost();
  host.networks.push({
    name: podNetworkName("a"),
    subnets: [{ subnet: "10.244.0.0/24", gateway: "10.244.0.1" }],
  });
  const network = new NodeNetwork({
    nodeName: "a",
    clusterCidr: () => "10.244.0.0/16",
    nodes: new FakeNodes(),
    podman: host.podman,
    run: host.run,
    log: () => {},
  });
  await network.adoptExisting();
  assert.equal(network.podNetwork, podNetworkName("a"));
});
