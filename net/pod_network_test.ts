import assert from "node:assert/strict";
import {
  ensurePodNetwork,
  networkCreateArgs,
  networkUsersArgs,
  parseNetworks,
  planPodNetwork,
  type PodmanNetwork,
  PodNetworkError,
  podNetworkName,
  podNetworkSpec,
} from "./pod_network.ts";
import type { CommandOutput } from "./routes.ts";

Deno.test("podNetworkName() is short, stable and differs per node", () => {
  const a = podNetworkName("edge-1");
  assert.match(a, /^edge-[0-9a-f]{12}$/);
  assert.equal(podNetworkName("edge-1"), a);
  assert.notEqual(podNetworkName("edge-2"), a);
  assert.match(podNetworkName("x".repeat(253)), /^edge-[0-9a-f]{12}$/);
});

Deno.test("podNetworkSpec() takes the first address as gateway and labels the node", () => {
  assert.deepEqual(podNetworkSpec("edge-1", "10.244.3.0/24"), {
    name: podNetworkName("edge-1"),
    subnet: "10.244.3.0/24",
    gateway: "10.244.3.1",
    labels: { "io.edge.node": "edge-1" },
  });
  for (const bad of ["10.244.3.7/24", "10.244.3.0/31", "fd00::/64", "10.244.3.0"]) {
    assert.throws(() => podNetworkSpec("edge-1", bad), PodNetworkError, bad);
  }
});

Deno.test("networkCreateArgs() makes a labelled bridge without podman's DNS", () => {
  assert.deepEqual(networkCreateArgs(podNetworkSpec("edge-1", "10.244.3.0/24")), [
    ...["network", "create", "--driver", "bridge", "--subnet", "10.244.3.0/24"],
    ...["--gateway", "10.244.3.1", "--disable-dns", "--label", "io.edge.node=edge-1"],
    podNetworkName("edge-1"),
  ]);
  assert.throws(() =>
    networkCreateArgs({ ...podNetworkSpec("a", "10.244.3.0/24"), gateway: "10.244.3.9" })
  );
  assert.throws(() => networkCreateArgs({ ...podNetworkSpec("a", "10.244.3.0/24"), name: "-x" }));
  assert.throws(() => networkUsersArgs("x,y"));
});

Deno.test("parseNetworks() reads podman's JSON", () => {
  const json = JSON.stringify([{
    name: "edge-0123456789ab",
    id: "e84220cf",
    driver: "bridge",
    network_interface: "podman2",
    subnets: [{ subnet: "10.244.1.0/24", gateway: "10.244.1.1" }],
    labels: { "io.edge.node": "edge-1" },
    dns_enabled: false,
  }, { name: "podman", network_interface: "podman0", subnets: null }]);
  assert.deepEqual(parseNetworks(json), [{
    name: "edge-0123456789ab",
    networkInterface: "podman2",
    subnets: [{ subnet: "10.244.1.0/24", gateway: "10.244.1.1" }],
    labels: { "io.edge.node": "edge-1" },
  }, { name: "podman", networkInterface: "podman0", subnets: [], labels: {} }]);
  assert.deepEqual(parseNetworks("null"), []);
});

Deno.test("planPodNetwork() keeps, creates, recreates when unused, blocks when used", () => {
  const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
  const existing = (subnet: string, gateway: string): PodmanNetwork => ({
    name: spec.name,
    networkInterface: "podman2",
    subnets: [{ subnet, gateway }],
    labels: spec.labels,
  });
  assert.deepEqual(planPodNetwork(undefined, spec, 0), { action: "create" });
  assert.deepEqual(planPodNetwork(existing("10.244.3.0/24", "10.244.3.1"), spec, 5), {
    action: "keep",
  });
  const moved = existing("10.244.7.0/24", "10.244.7.1");
  const recreate = planPodNetwork(moved, spec, 0);
  assert.equal(recreate.action, "recreate");
  const blocked = planPodNetwork(moved, spec, 2);
  assert.equal(blocked.action, "blocked");
  assert.match(
    "reason" in blocked ? blocked.reason : "",
    /has 10\.244\.7\.0\/24 gateway 10\.244\.7\.1, but this node's podCIDR is now 10\.244\.3\.0\/24; 2 container/,
  );
});

/** A podman that knows some networks and the containers on each. */
function fakePodman(networks: PodmanNetwork[], users: Record<string, number> = {}) {
  const calls: string[] = [];
  const ok = (stdout = ""): CommandOutput => ({ code: 0, stdout, stderr: "" });
  const fail = (stderr: string): CommandOutput => ({ code: 125, stdout: "", stderr });
  const podman = (args: string[]): Promise<CommandOutput> => {
    calls.push(args.slice(0, 2).join(" ") + (args[0] === "network" ? ` ${args.at(-1)}` : ""));
    if (args[0] === "ps") {
      const name = args[3]!.slice("network=".length);
      return Promise.resolve(ok("abc\n".repeat(users[name] ?? 0)));
    }
    if (args[1] === "ls") {
      return Promise.resolve(ok(JSON.stringify(networks.map((n) => ({
        name: n.name,
        network_interface: n.networkInterface,
        subnets: n.subnets,
        labels: n.labels,
      })))));
    }
    if (args[1] === "rm") {
      const name = args[2]!;
      if ((users[name] ?? 0) > 0) return Promise.resolve(fail(`Error: ${name} is being used`));
      networks = networks.filter((n) => n.name !== name);
      return Promise.resolve(ok(name));
    }
    if (args[1] === "create") {
      const subnet = args[args.indexOf("--subnet") + 1]!;
      if (networks.some((n) => n.subnets.some((s) => s.subnet === subnet))) {
        return Promise.resolve(
          fail(`Error: subnet ${subnet} is already used on the host or by another config`),
        );
      }
      const label = args[args.indexOf("--label") + 1]!.split("=");
      networks.push({
        name: args.at(-1)!,
        networkInterface: "podman9",
        subnets: [{ subnet, gateway: args[args.indexOf("--gateway") + 1]! }],
        labels: { [label[0]!]: label[1]! },
      });
      return Promise.resolve(ok(args.at(-1)));
    }
    return Promise.resolve(fail(`unexpected podman ${args.join(" ")}`));
  };
  return { podman, calls, networks: () => networks };
}

function network(node: string, subnet: string): PodmanNetwork {
  const spec = podNetworkSpec(node, subnet);
  return {
    name: spec.name,
    networkInterface: "podman2",
    subnets: [{ subnet, gateway: spec.gateway }],
    labels: spec.labels,
  };
}

Deno.test("ensurePodNetwork() creates a missing network and keeps a matching one", async () => {
  const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
  const fake = fakePodman([]);
  assert.equal((await ensurePodNetwork(spec, fake)).action, "created");
  assert.deepEqual(fake.calls, ["network ls json", `network create ${spec.name}`]);
  fake.calls.length = 0;
  const kept = await ensurePodNetwork(spec, fake);
  assert.deepEqual(kept, {
    name: spec.name,
    subnet: "10.244.3.0/24",
    gateway: "10.244.3.1",
    action: "kept",
  });
  assert.deepEqual(fake.calls, ["network ls json", "ps --all"]);
});

Deno.test("ensurePodNetwork() recreates a network whose subnet changed only when unused", async () => {
  const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
  const lines: string[] = [];
  const used = fakePodman([network("edge-1", "10.244.7.0/24")], { [spec.name]: 1 });
  await assert.rejects(
    () => ensurePodNetwork(spec, { ...used, log: (l) => lines.push(l) }),
    (e: Error) => e instanceof PodNetworkError && /1 container\(s\) still use it/.test(e.message),
  );
  assert.equal(used.networks()[0]!.subnets[0]!.subnet, "10.244.7.0/24");

  const unused = fakePodman([network("edge-1", "10.244.7.0/24")]);
  const result = await ensurePodNetwork(spec, { ...unused, log: (l) => lines.push(l) });
  assert.equal(result.action, "recreated");
  assert.equal(unused.networks()[0]!.subnets[0]!.subnet, "10.244.3.0/24");
  assert.match(lines.join("\n"), /podCIDR is now 10\.244\.3\.0\/24; no container uses it/);
});

Deno.test("ensurePodNetwork() frees a subnet held by an unused leftover pod network", async () => {
  const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
  const lines: string[] = [];
  const fake = fakePodman([network("old-node", "10.244.3.0/24")]);
  const result = await ensurePodNetwork(spec, { ...fake, log: (l) => lines.push(l) });
  assert.equal(result.action, "created");
  assert.deepEqual(fake.networks().map((n) => n.name), [spec.name]);
  assert.match(lines[0]!, /of node old-node holds 10\.244\.3\.0\/24 .* removing it/);
});

Deno.test("ensurePodNetwork() reports a subnet held by a network in use or not ours", async () => {
  const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
  const busy = network("other", "10.244.3.0/24");
  const foreign: PodmanNetwork = { ...busy, name: "lab", labels: {} };
  for (const [holder, users] of [[busy, 1], [foreign, 0]] as const) {
    const fake = fakePodman([holder], { [holder.name]: users });
    await assert.rejects(
      () => ensurePodNetwork(spec, fake),
      new RegExp(`podman network ${holder.name} \\(10\\.244\\.3\\.0/24 .*\\) holds that range`),
    );
    assert.equal(fake.networks().length, 1);
  }
});
