import assert from "node:assert/strict";
import {
  applyRoutes,
  cidrContains,
  type CommandOutput,
  desiredRoutes,
  formatCidr,
  type InstalledRoute,
  parseCidr,
  parseRouteList,
  planRoutes,
  routeDelArgs,
  routeReplaceArgs,
} from "./routes.ts";
import { parseIPv4 } from "./ipv4.ts";

const CLUSTER = "10.244.0.0/16";

Deno.test("parseIPv4() and parseCidr() accept canonical IPv4 only", () => {
  assert.equal(parseIPv4("10.244.1.2"), 0x0af40102);
  assert.equal(parseIPv4("255.255.255.255"), 0xffffffff);
  for (const bad of ["10.244.1", "10.244.1.256", "01.2.3.4", "a.b.c.d", "1.2.3.4 ", ""]) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
  assert.deepEqual(parseCidr("10.244.1.0/24"), { base: 0x0af40100, prefix: 24 });
  assert.deepEqual(parseCidr("10.1.2.3"), { base: 0x0a010203, prefix: 32 });
  assert.deepEqual(parseCidr("0.0.0.0/0"), { base: 0, prefix: 0 });
  for (const bad of ["10.244.1.5/24", "10.244.0.0/33", "10.244.0.0/", "10.244.0.0/8/1"]) {
    assert.equal(parseCidr(bad), undefined, bad);
  }
  assert.equal(formatCidr(parseCidr("192.168.128.0/17")!), "192.168.128.0/17");
});

Deno.test("cidrContains() tells a subnet from a neighbour", () => {
  const cluster = parseCidr(CLUSTER)!;
  assert.ok(cidrContains(cluster, parseCidr("10.244.7.0/24")!));
  assert.ok(cidrContains(cluster, cluster));
  assert.ok(!cidrContains(cluster, parseCidr("10.245.0.0/24")!));
  assert.ok(!cidrContains(cluster, parseCidr("10.0.0.0/8")!));
  assert.ok(cidrContains(parseCidr("0.0.0.0/0")!, cluster));
});

Deno.test("desiredRoutes() routes every other node's podCIDR via its InternalIP", () => {
  const { routes, skipped } = desiredRoutes(
    [
      { name: "c", podCIDR: "10.244.2.0/24", internalIP: "192.168.1.12" },
      { name: "a", podCIDR: "10.244.0.0/24", internalIP: "192.168.1.10" },
      { name: "b", podCIDR: "10.244.1.0/24", internalIP: "192.168.1.11" },
      { name: "new", internalIP: "192.168.1.13" },
    ],
    "a",
    CLUSTER,
    "10.244.0.0/24",
  );
  assert.deepEqual(routes, [
    { dst: "10.244.1.0/24", via: "192.168.1.11" },
    { dst: "10.244.2.0/24", via: "192.168.1.12" },
  ]);
  assert.deepEqual(skipped, []);
});

Deno.test("desiredRoutes() leaves out nodes it cannot route, with the reason", () => {
  const { routes, skipped } = desiredRoutes(
    [
      { name: "outside", podCIDR: "10.99.0.0/24", internalIP: "192.168.1.2" },
      { name: "mine", podCIDR: "10.244.0.0/24", internalIP: "192.168.1.3" },
      { name: "no-ip", podCIDR: "10.244.4.0/24" },
      { name: "loop", podCIDR: "10.244.5.0/24", internalIP: "127.0.0.1" },
      { name: "v6", podCIDR: "10.244.6.0/24", internalIP: "fd00::1" },
      { name: "junk", podCIDR: "10.244.7.1/24", internalIP: "192.168.1.4" },
      { name: "twin-a", podCIDR: "10.244.8.0/24", internalIP: "192.168.1.5" },
      { name: "twin-b", podCIDR: "10.244.8.0/24", internalIP: "192.168.1.6" },
    ],
    "self",
    CLUSTER,
    "10.244.0.0/24",
  );
  assert.deepEqual(routes, [{ dst: "10.244.8.0/24", via: "192.168.1.5" }]);
  assert.deepEqual(skipped.map((s) => s.node), [
    "junk",
    "loop",
    "mine",
    "no-ip",
    "outside",
    "twin-b",
    "v6",
  ]);
  assert.match(skipped.find((s) => s.node === "outside")!.reason, /outside the cluster CIDR/);
  assert.match(skipped.find((s) => s.node === "mine")!.reason, /overlaps this node's own/);
  assert.throws(() => desiredRoutes([], "a", "10.244.0.1/16"), /cluster CIDR must be/);
});

Deno.test("parseRouteList() reads `ip -j route show`, protocol boot when unnamed", () => {
  const json = JSON.stringify([
    { dst: "default", gateway: "10.0.0.1", dev: "eth0", flags: [] },
    { dst: "10.1.2.3", gateway: "10.231.9.4", dev: "d0", flags: [] },
    { dst: "10.244.0.0/24", dev: "podman2", protocol: "kernel", scope: "link", flags: [] },
    { dst: "10.244.5.0/24", gateway: "10.231.9.3", dev: "eth0", protocol: "237", flags: [] },
  ]);
  assert.deepEqual(parseRouteList(json), [
    { dst: "10.1.2.3/32", via: "10.231.9.4", protocol: "boot" },
    { dst: "10.244.0.0/24", protocol: "kernel" },
    { dst: "10.244.5.0/24", via: "10.231.9.3", protocol: "237" },
  ]);
  assert.deepEqual(parseRouteList("\n"), []);
});

Deno.test("planRoutes() changes only our routes inside the cluster CIDR", () => {
  const installed: InstalledRoute[] = [
    { dst: "10.244.0.0/24", protocol: "kernel" }, // our own bridge
    { dst: "10.244.1.0/24", via: "192.168.1.11", protocol: "237" }, // unchanged
    { dst: "10.244.2.0/24", via: "192.168.1.99", protocol: "237" }, // node moved
    { dst: "10.244.3.0/24", via: "192.168.1.13", protocol: "237" }, // node gone
    { dst: "10.244.4.0/24", via: "192.168.1.50", protocol: "static" }, // an admin's
    { dst: "10.50.0.0/24", via: "192.168.1.13", protocol: "237" }, // outside: not ours to judge
  ];
  const plan = planRoutes(installed, [
    { dst: "10.244.1.0/24", via: "192.168.1.11" },
    { dst: "10.244.2.0/24", via: "192.168.1.12" },
    { dst: "10.244.4.0/24", via: "192.168.1.14" },
    { dst: "10.244.9.0/24", via: "192.168.1.19" },
  ], CLUSTER);
  assert.deepEqual(plan.replace, [
    { dst: "10.244.2.0/24", via: "192.168.1.12" },
    { dst: "10.244.9.0/24", via: "192.168.1.19" },
  ]);
  assert.deepEqual(plan.remove, [{ dst: "10.244.3.0/24", via: "192.168.1.13" }]);
  assert.deepEqual(plan.conflicts.map((c) => c.existing.protocol), ["static"]);
});

Deno.test("planRoutes() of the installed state changes nothing", () => {
  const plan = planRoutes(
    [{ dst: "10.244.1.0/24", via: "192.168.1.11", protocol: "237" }],
    [{ dst: "10.244.1.0/24", via: "192.168.1.11" }],
    CLUSTER,
  );
  assert.deepEqual(plan, { replace: [], remove: [], conflicts: [] });
});

Deno.test("routeReplaceArgs() and routeDelArgs() mark the route as ours and validate it", () => {
  const route = { dst: "10.244.1.0/24", via: "192.168.1.11" };
  assert.deepEqual(routeReplaceArgs(route), [
    ...["route", "replace", "10.244.1.0/24", "via", "192.168.1.11", "proto", "237"],
  ]);
  assert.deepEqual(routeDelArgs(route), [
    ...["route", "del", "10.244.1.0/24", "via", "192.168.1.11", "proto", "237"],
  ]);
  assert.throws(() => routeReplaceArgs({ dst: "10.244.1.0/24; reboot", via: "1.2.3.4" }));
  assert.throws(() => routeDelArgs({ dst: "10.244.1.0/24", via: "-h" }));
});

Deno.test("applyRoutes() runs only the commands the plan needs and reports failures", async () => {
  const calls: string[][] = [];
  const run = (cmd: string, args: string[]): Promise<CommandOutput> => {
    calls.push([cmd, ...args]);
    if (args[0] === "-j") {
      return Promise.resolve({
        code: 0,
        stdout: JSON.stringify([
          { dst: "10.244.3.0/24", gateway: "192.168.1.13", protocol: "237" },
        ]),
        stderr: "",
      });
    }
    const failing = args.includes("10.244.2.0/24");
    return Promise.resolve({
      code: failing ? 2 : 0,
      stdout: "",
      stderr: failing ? "Error: Nexthop has invalid gateway.\n" : "",
    });
  };
  const result = await applyRoutes([
    { dst: "10.244.1.0/24", via: "192.168.1.11" },
    { dst: "10.244.2.0/24", via: "10.9.9.9" },
  ], { clusterCidr: CLUSTER, run });
  assert.deepEqual(calls.map((c) => c.slice(1, 4).join(" ")), [
    "-j -4 route",
    "route del 10.244.3.0/24",
    "route replace 10.244.1.0/24",
    "route replace 10.244.2.0/24",
  ]);
  assert.deepEqual(result.replaced, [{ dst: "10.244.1.0/24", via: "192.168.1.11" }]);
  assert.deepEqual(result.removed, [{ dst: "10.244.3.0/24", via: "192.168.1.13" }]);
  assert.deepEqual(result.errors, [
    "Cannot route 10.244.2.0/24 via 10.9.9.9: Error: Nexthop has invalid gateway.",
  ]);
});

async function ip(args: string[]): Promise<CommandOutput> {
  const out = await new Deno.Command("ip", { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder();
  return { code: out.code, stdout: text.decode(out.stdout), stderr: text.decode(out.stderr) };
}

async function cannotUseNamespaces(): Promise<boolean> {
  if (Deno.build.os !== "linux" || Deno.uid() !== 0) return true;
  try {
    await Deno.stat("/usr/bin/nsenter");
    return (await ip(["-V"])).code !== 0;
  } catch {
    return true;
  }
}

Deno.test({
  name: "applyRoutes() converges a real routing table and leaves other routes alone",
  ignore: await cannotUseNamespaces(),
  async fn() {
    const ns = `edge-rt-${crypto.randomUUID().slice(0, 8)}`;
    const inNs = (args: string[]) => ip(["-n", ns, ...args]);
    // every `ip` call of applyRoutes runs inside the namespace
    const run = (_cmd: string, args: string[]) => ip(["-n", ns, ...args]);
    const routes = async () =>
      (await inNs(["route", "show"])).stdout.split("\n").map((l) => l.trim()).filter((l) => l)
        .sort();
    assert.equal((await ip(["netns", "add", ns])).code, 0);
    try {
      for (
        const args of [
          ["link", "add", "e0", "type", "veth", "peer", "name", "e1"],
          ["link", "set", "e0", "up"],
          ["link", "set", "e1", "up"],
          ["addr", "add", "192.168.77.2/24", "dev", "e0"],
          ["addr", "add", "10.244.0.1/24", "dev", "e1"], // the node's own pod bridge
          ["route", "add", "10.244.9.0/24", "via", "192.168.77.9"], // an administrator's
        ]
      ) {
        const out = await inNs(args);
        assert.equal(out.code, 0, `${args.join(" ")}: ${out.stderr}`);
      }
      const before = await routes();
      const first = await applyRoutes([
        { dst: "10.244.1.0/24", via: "192.168.77.3" },
        { dst: "10.244.2.0/24", via: "192.168.77.4" },
        { dst: "10.244.9.0/24", via: "192.168.77.5" },
      ], { clusterCidr: CLUSTER, run });
      assert.equal(first.replaced.length, 2);
      assert.equal(first.errors.length, 1);
      assert.match(first.errors[0]!, /10\.244\.9\.0\/24 .*not ours/);
      assert.deepEqual(
        await routes(),
        [
          ...before,
          "10.244.1.0/24 via 192.168.77.3 dev e0 proto 237",
          "10.244.2.0/24 via 192.168.77.4 dev e0 proto 237",
        ].sort(),
      );

      const again = await applyRoutes([
        { dst: "10.244.1.0/24", via: "192.168.77.3" },
        { dst: "10.244.2.0/24", via: "192.168.77.4" },
      ], { clusterCidr: CLUSTER, run });
      assert.deepEqual([again.replaced, again.removed, again.errors], [[], [], []]);

      const moved = await applyRoutes([{ dst: "10.244.2.0/24", via: "192.168.77.6" }], {
        clusterCidr: CLUSTER,
        run,
      });
      assert.deepEqual(moved.removed, [{ dst: "10.244.1.0/24", via: "192.168.77.3" }]);
      assert.deepEqual(
        await routes(),
        [
          ...before,
          "10.244.2.0/24 via 192.168.77.6 dev e0 proto 237",
        ].sort(),
      );

      await applyRoutes([], { clusterCidr: CLUSTER, run });
      assert.deepEqual(await routes(), before);
    } finally {
      await ip(["netns", "del", ns]);
    }
  },
});
