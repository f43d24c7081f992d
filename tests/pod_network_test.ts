/**
 * The pod network on real podman, inside network namespaces this test makes (`_netns.ts`):
 *
 * 1. the agent's runtime puts a sandbox on the node's pod network: its IP is in the podCIDR
 *    and its resolv.conf has the cluster DNS settings;
 * 2. two agents (`mod.ts agent` in two node namespaces): each makes its pod network on its
 *    Node's podCIDR and routes to the other's, a pod gets the service variables and the
 *    cluster DNS, and a pod on one node reaches a pod on the other by its pod IP.
 *
 * Every request starts inside a pod (podman exec in the node's namespace); nothing is sent
 * from the host's namespace. The first test runs its in-namespace half by starting this file
 * with `deno run` inside the node namespace (`Deno.test` is a no-op there).
 */
import assert from "node:assert/strict";
import { ensurePodNetwork, podNetworkName, podNetworkSpec } from "../net/pod_network.ts";
import { parseIPv4 } from "../net/ipv4.ts";
import { cidrHas, parseCidr } from "../net/routes.ts";
import { runCommand } from "../node/_podman_command.ts";
import { PodmanRuntime } from "../node/podman_runtime.ts";
import { podDnsConfig } from "../node/pod_dns.ts";
import { buildImage, haveTools, IMAGE, until } from "./_e2e.ts";
import { type MultiNode, nodesReady, runIn, startMultiNode } from "./_multinode.ts";
import { canCreateNamespaces, createFabric } from "./_netns.ts";
import { backendPod, clientPod, containerOf, shIn } from "./_services.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const skip = (await haveTools()) ?? (await canCreateNamespaces());

/** A /24 of 10.244.0.0/16 unlikely to be another test's at the same time. */
function randomPodCidr(offset = 0): string {
  const third = 100 + ((crypto.getRandomValues(new Uint8Array(1))[0]! + offset) % 150);
  return `10.244.${third}.0/24`;
}

function inCidr(ip: string, cidr: string): boolean {
  const n = parseIPv4(ip);
  return n !== undefined && cidrHas(parseCidr(cidr)!, n);
}

/**
 * The in-namespace half of the first test (`deno run tests/pod_network_test.ts inner NODE
 * CIDR DIR`): makes the pod network, a sandbox on it and a container; prints
 * `{ ip, resolv, bridge }` as JSON and removes the sandbox again.
 */
async function inner(node: string, cidr: string, dir: string): Promise<void> {
  const configPath = `${dir}/containers.conf`;
  await PodmanRuntime.writeContainersConf(configPath);
  const podman = (args: string[]) =>
    runCommand("podman", args, { timeoutMs: 60_000, env: { CONTAINERS_CONF: configPath } });
  const network = await ensurePodNetwork(podNetworkSpec(node, cidr), { podman });
  const runtime = new PodmanRuntime({ configPath });
  const uid = crypto.randomUUID();
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: "dns", namespace: "shop", uid },
    spec: { dnsPolicy: "ClusterFirst", containers: [] },
  };
  const { dns } = podDnsConfig(pod, {
    clusterDNS: "10.96.0.10",
    clusterDomain: "cluster.local",
    host: { nameservers: ["192.0.2.53"], searches: ["lan.example"], options: [] },
  });
  try {
    const sandbox = await runtime.createSandbox({
      podUid: uid,
      podName: "dns",
      podNamespace: "shop",
      node,
      hostname: "dns",
      hostNetwork: false,
      network: network.name,
      dns,
      portMappings: [],
      startNow: true,
    });
    const id = await runtime.runContainer({
      podUid: uid,
      name: "c",
      kind: "app",
      attempt: 0,
      specHash: "0",
      image: IMAGE,
      command: ["sleep", "60"],
      env: [],
      mounts: [],
      tty: false,
      stdin: false,
    });
    const resolv = await runtime.exec(id, ["cat", "/etc/resolv.conf"], 10_000);
    const links = await runCommand("ip", ["-j", "link", "show"], { timeoutMs: 10_000 });
    console.log(JSON.stringify({
      ip: sandbox.ip,
      resolv: resolv.message,
      bridges: (JSON.parse(links.stdout) as Array<{ ifname: string }>).map((l) => l.ifname),
    }));
  } finally {
    await runtime.removeSandbox(uid);
    await podman(["network", "rm", network.name]);
  }
}

if (import.meta.main && Deno.args[0] === "inner") {
  await inner(Deno.args[1]!, Deno.args[2]!, Deno.args[3]!);
}

Deno.test({
  name: "PodmanRuntime puts a sandbox on the pod network, with the cluster DNS in resolv.conf",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    await buildImage();
    const id = crypto.randomUUID().slice(0, 4).replace(/[^a-z0-9]/g, "b");
    const fabric = await createFabric(
      id,
      ["n1"],
      1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 250),
    );
    const dir = await Deno.makeTempDir({ prefix: "edge-podnet-" });
    const node = `podnet-${id}`;
    const cidr = randomPodCidr();
    try {
      const out = await runIn(fabric, "n1", Deno.execPath(), [
        "run",
        "--allow-all",
        `${ROOT}/tests/pod_network_test.ts`,
        "inner",
        node,
        cidr,
        dir,
      ], { DENO_NO_UPDATE_CHECK: "1", PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin" });
      assert.equal(out.code, 0, out.stderr);
      const result = JSON.parse(out.stdout.trim().split("\n").at(-1)!) as {
        ip: string;
        resolv: string;
        bridges: string[];
      };
      assert.ok(inCidr(result.ip, cidr), `pod IP ${result.ip} is not in ${cidr}`);
      assert.notEqual(result.ip, cidr.replace(/0\/24$/, "1"), "the gateway is not the pod's");
      const lines = result.resolv.split("\n").map((l) => l.trim()).filter((l) => l);
      assert.deepEqual(lines.filter((l) => l.startsWith("nameserver")), ["nameserver 10.96.0.10"]);
      assert.ok(
        lines.includes("search shop.svc.cluster.local svc.cluster.local cluster.local lan.example"),
        result.resolv,
      );
      assert.ok(lines.some((l) => /^options\b.*\bndots:5\b/.test(l)), result.resolv);
      // the bridge lives in the node's namespace
      assert.ok(result.bridges.some((b) => b.startsWith("podman")), result.bridges.join(" "));
    } finally {
      await runIn(fabric, "n1", "podman", ["network", "rm", "--force", podNetworkName(node)]);
      await fabric.destroy();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    }
  },
});

interface NodeView {
  metadata: { name: string };
  spec: { podCIDR?: string };
}

interface PodView {
  status: { phase?: string; podIP?: string };
}

/** Gives every node a podCIDR unless the control plane's IPAM controller has done it. */
async function podCidrs(c: MultiNode, members: string[]): Promise<Record<string, string>> {
  const deadline = Date.now() + 5_000;
  let nodes: NodeView[] = [];
  while (Date.now() < deadline) {
    const r = await c.kubectl(["get", "nodes", "-o", "json"]);
    nodes = (JSON.parse(r.stdout) as { items: NodeView[] }).items;
    if (nodes.length === members.length && nodes.every((n) => n.spec.podCIDR)) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  const cidrs: Record<string, string> = {};
  const used = new Set<string>();
  for (const [i, m] of members.entries()) {
    const n = nodes.find((x) => x.metadata.name === c.nodeName(m));
    let cidr = n?.spec.podCIDR;
    if (!cidr) {
      do cidr = randomPodCidr(i); while (used.has(cidr));
      const patch = JSON.stringify({ spec: { podCIDR: cidr, podCIDRs: [cidr] } });
      const r = await c.kubectl(["patch", "node", c.nodeName(m), "--type", "merge", "-p", patch]);
      assert.equal(r.code, 0, r.stderr);
    }
    used.add(cidr);
    cidrs[m] = cidr;
  }
  return cidrs;
}

async function podOf(c: MultiNode, name: string): Promise<PodView> {
  const r = await c.kubectl(["get", "pod", name, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

Deno.test({
  name: "Agents make pod networks on their podCIDRs and route pod IPs between nodes",
  ignore: skip !== undefined,
  sanitizeResources: false,
  sanitizeOps: false,
  async fn() {
    const c = await startMultiNode(["a", "b"]);
    try {
      await nodesReady(c, 2, until);
      const cidrs = await podCidrs(c, ["a", "b"]);
      const service = `10.96.${100 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 100)}.7`;
      const svc = JSON.stringify({
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "web-links" },
        spec: {
          clusterIP: service,
          selector: { app: "nobody" },
          ports: [{ name: "http", port: 80 }],
        },
      });
      const applied = await c.kubectl(["apply", "-f", "-"], svc);
      assert.equal(applied.code, 0, applied.stderr);
      for (
        const manifest of [
          backendPod("srv", { app: "srv" }, { zone: "b" }),
          clientPod("cli", { zone: "a" }),
        ]
      ) {
        const r = await c.kubectl(["apply", "-f", "-"], manifest);
        assert.equal(r.code, 0, r.stderr);
      }
      const ips: Record<string, string> = {};
      for (const name of ["srv", "cli"]) {
        ips[name] = await until(`${name} running with an IP`, async () => {
          const p = await podOf(c, name);
          return p.status.phase === "Running" && p.status.podIP ? p.status.podIP : undefined;
        }, 120_000);
      }
      assert.ok(inCidr(ips.srv!, cidrs.b!), `srv ${ips.srv} not in node b's ${cidrs.b}`);
      assert.ok(inCidr(ips.cli!, cidrs.a!), `cli ${ips.cli} not in node a's ${cidrs.a}`);

      const routes = await until("node a's route to node b's pods", async () => {
        const r = await runIn(c.fabric, "a", "ip", ["route", "show", "proto", "237"]);
        return r.stdout.includes(`${cidrs.b} via ${c.fabric.members.b!.ip}`) ? r.stdout : undefined;
      });
      assert.ok(!routes.includes(cidrs.a!), routes);

      const cli = await containerOf(c, "a", "cli", "c");
      const resolv = await shIn(c, "a", cli, "cat /etc/resolv.conf");
      assert.match(resolv.stdout, /^nameserver 10\.96\.0\.10$/m);
      assert.match(
        resolv.stdout,
        /^search default\.svc\.cluster\.local svc\.cluster\.local cluster\.local\b/m,
      );
      assert.match(resolv.stdout, /^options .*ndots:5/m);
      const env = await shIn(c, "a", cli, "env");
      assert.match(
        env.stdout,
        new RegExp(`^WEB_LINKS_SERVICE_HOST=${service.replaceAll(".", "\\.")}$`, "m"),
      );
      assert.match(env.stdout, /^WEB_LINKS_SERVICE_PORT_HTTP=80$/m);
      assert.match(
        env.stdout,
        new RegExp(`^WEB_LINKS_PORT=tcp://${service.replaceAll(".", "\\.")}:80$`, "m"),
      );

      // a pod on node a reaches a pod on node b by its pod IP
      const answer = await until("an answer from srv on node b", async () => {
        const r = await shIn(c, "a", cli, `wget -qO- http://${ips.srv}:8080/cgi-bin/who`);
        return r.code === 0 && r.stdout.startsWith("srv ") ? r.stdout.trim() : undefined;
      }, 30_000);
      // busybox httpd writes the client as `[::ffff:10.244.1.2]`
      const source = /(\d+\.\d+\.\d+\.\d+)/.exec(answer.split(" ")[1] ?? "")?.[1];
      const proxy = await runIn(c.fabric, "a", "nft", ["list", "table", "ip", "edge-proxy"]);
      // without the proxy's identity SNAT (net/), netavark masquerades to the node's address
      const expected = proxy.code === 0 ? ips.cli : c.fabric.members.a!.ip;
      assert.equal(source, expected, `srv saw ${answer}`);
    } finally {
      await c.destroy();
    }
  },
});
