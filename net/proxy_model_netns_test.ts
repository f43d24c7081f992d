/**
 * The ruleset's behaviour with real packets, inside a network namespace this test creates
 * (a veth pair with both ends in that namespace carries the "pod" addresses; the namespace
 * has no route out).
 */

import assert from "node:assert/strict";
import { enter, nftSkipReason, run, withNetns } from "./_nft_netns.ts";
import { eps, NODE, svc } from "./_proxy_fixtures.ts";
import { renderFull } from "./nft_render.ts";
import { buildProxyState } from "./proxy_model.ts";

const SKIP = await nftSkipReason();

/** Runs in the namespace: two backends, then bounded connects; prints a JSON report. */
const PROBE = `
const backends = ["10.244.1.5", "10.244.2.7"];
const listeners = backends.map((hostname) => Deno.listen({ hostname, port: 8080 }));
for (const [i, l] of listeners.entries()) {
  (async () => {
    for await (const conn of l) {
      const reply = backends[i] + " " + conn.remoteAddr.hostname;
      await conn.write(new TextEncoder().encode(reply)).catch(() => {});
      conn.close();
    }
  })();
}
const udp = Deno.listenDatagram({ transport: "udp", hostname: "10.244.1.5", port: 5353 });
(async () => {
  for await (const [data, from] of udp) {
    await udp.send(new TextEncoder().encode("10.244.1.5 " + from.hostname), from).catch(() => {});
  }
})();
async function askUdp(hostname, port) {
  const socket = Deno.listenDatagram({ transport: "udp", hostname: "10.244.9.9", port: 0 });
  let timer;
  try {
    await socket.send(new TextEncoder().encode("?"), { transport: "udp", hostname, port });
    const timeout = new Promise((r) => { timer = setTimeout(() => r(["timeout"]), 3000); });
    const [data] = await Promise.race([socket.receive(), timeout]);
    return typeof data === "string" ? data : new TextDecoder().decode(data);
  } catch (e) {
    return "error: " + e;
  } finally {
    clearTimeout(timer);
    socket.close();
  }
}
async function ask(hostname, port) {
  let timer;
  const timeout = new Promise((r) => { timer = setTimeout(() => r("timeout"), 3000); });
  const attempt = (async () => {
    try {
      const conn = await Deno.connect({ hostname, port });
      const buf = new Uint8Array(64);
      const n = await conn.read(buf);
      conn.close();
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    } catch (e) {
      return e instanceof Deno.errors.ConnectionRefused ? "refused" : "error: " + e;
    }
  })();
  try { return await Promise.race([attempt, timeout]); } finally { clearTimeout(timer); }
}
const many = async (host, port, n) => {
  const r = [];
  for (let i = 0; i < n; i++) r.push((await ask(host, port)).split(" ")[0]);
  return r;
};
console.log(JSON.stringify({
  clusterIP: await many("10.96.0.20", 80, 20),
  sticky: await many("10.96.0.60", 80, 10),
  nodePort: (await ask("10.244.9.9", 30080)).split(" ")[0],
  external: (await ask("192.168.60.5", 80)).split(" ")[0],
  udp: (await askUdp("10.96.0.90", 53)).split(" ")[0],
  hairpin: await ask("10.96.0.80", 80),
  direct: await ask("10.96.0.20", 80),
  noEndpoints: await ask("10.96.0.70", 80),
  unallocated: await ask("10.96.5.5", 80),
  undefinedPort: await ask("10.96.0.20", 81),
}));
Deno.exit(0);
`;

Deno.test({
  name:
    "buildProxyState() rules balance, stick, hairpin, expose NodePorts and external IPs, carry UDP and reject in a netns",
  ignore: SKIP !== undefined,
  async fn() {
    const backends = [{ ready: ["10.244.1.5", "10.244.2.7"], ports: [{ port: 8080 }] }];
    const state = buildProxyState(
      [
        svc("default/web", {
          clusterIP: "10.96.0.20",
          externalIPs: ["192.168.60.5"],
          ports: [{ port: 80 }],
        }),
        svc("default/dns", {
          clusterIP: "10.96.0.90",
          ports: [{ name: "dns", port: 53, protocol: "UDP" }],
        }),
        svc("default/sticky", {
          clusterIP: "10.96.0.60",
          sessionAffinity: "ClientIP",
          ports: [{ port: 80 }],
        }),
        svc("default/np", {
          type: "NodePort",
          clusterIP: "10.96.0.40",
          ports: [{ port: 80, nodePort: 30080 }],
        }),
        svc("default/empty", { clusterIP: "10.96.0.70", ports: [{ port: 80 }] }),
        svc("default/self", { clusterIP: "10.96.0.80", ports: [{ port: 80 }] }),
      ],
      [
        eps("default/web", backends),
        eps("default/sticky", backends),
        eps("default/np", [{ ready: ["10.244.2.7"], ports: [{ port: 8080 }] }]),
        eps("default/self", [{ ready: ["10.244.1.5"], ports: [{ port: 8080 }] }]),
        eps("default/dns", [{
          ready: ["10.244.1.5"],
          ports: [{ name: "dns", port: 5353, protocol: "UDP" }],
        }]),
      ],
      NODE,
    );
    assert.deepEqual(state.problems, []);
    await withNetns(async (ns) => {
      const ip = (args: string[]) => run("ip", ["-n", ns, ...args]);
      await ip(["link", "add", "pods", "type", "veth", "peer", "name", "pods-peer"]);
      await ip(["link", "set", "pods", "up"]);
      await ip(["link", "set", "pods-peer", "up"]);
      for (const a of ["10.244.9.9", "10.244.1.5", "10.244.2.7"]) {
        await ip(["addr", "add", `${a}/32`, "dev", "pods"]);
      }
      await ip(["route", "add", "10.96.0.0/16", "dev", "pods", "src", "10.244.9.9"]);
      await ip(["route", "add", "192.168.60.5/32", "dev", "pods", "src", "10.244.9.9"]);
      // the hairpin client: traffic to default/self leaves from its only endpoint's address
      await ip(["route", "add", "10.96.0.80/32", "dev", "pods", "src", "10.244.1.5"]);
      await run("nsenter", [...enter(ns), "nft", "-f", "-"], renderFull(state));

      const probe = await Deno.makeTempFile({ suffix: ".js" });
      try {
        await Deno.writeTextFile(probe, PROBE);
        const out = await run("nsenter", [
          ...enter(ns),
          Deno.execPath(),
          "run",
          "--quiet",
          "--allow-net",
          "--unstable-net",
          "--no-config",
          probe,
        ]);
        const report = JSON.parse(out);
        const seen = new Set(report.clusterIP);
        assert.deepEqual([...seen].sort(), ["10.244.1.5", "10.244.2.7"], out);
        assert.equal(new Set(report.sticky).size, 1, out);
        assert.ok(["10.244.1.5", "10.244.2.7"].includes(report.sticky[0]), out);
        assert.equal(report.nodePort, "10.244.2.7", out);
        assert.ok(["10.244.1.5", "10.244.2.7"].includes(report.external), out);
        assert.equal(report.udp, "10.244.1.5", `a UDP service answers: ${out}`);
        assert.equal(
          report.direct.split(" ")[1],
          "10.244.9.9",
          `a pod client keeps its IP: ${out}`,
        );
        const [hairpinBackend, hairpinSource] = report.hairpin.split(" ");
        assert.equal(hairpinBackend, "10.244.1.5", out);
        assert.notEqual(hairpinSource, "10.244.1.5", `hairpin traffic is masqueraded: ${out}`);
        assert.equal(report.noEndpoints, "refused", out);
        assert.equal(report.unallocated, "refused", out);
        assert.equal(report.undefinedPort, "refused", out);
      } finally {
        await Deno.remove(probe);
      }
    });
  },
});
