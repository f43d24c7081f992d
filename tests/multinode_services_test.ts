/**
 * S4 on three nodes (three network namespaces on one bridge, a control plane in a fourth and a
 * plain "client" host in a fifth): pod-to-pod traffic across nodes keeps the client's pod IP,
 * a ClusterIP service spreads requests over backends on two nodes, a NodePort answers on every
 * node's address from the client host, and removing a backend reaches every node's rules.
 * Every address used lives inside the namespaces this test creates.
 */
import assert from "node:assert/strict";
import { e2eOptions, until } from "./_e2e.ts";
import { AGENT_DENO_FLAGS } from "../mod.ts";
import { type MultiNode, nodesReady, runIn, startMultiNode, stopProc } from "./_multinode.ts";
import {
  answersByPod,
  backendPod,
  clientPod,
  containerOf,
  fetchCmd,
  requestLoop,
  shIn,
} from "./_services.ts";

const SERVICE = `
apiVersion: v1
kind: Service
metadata: {name: who}
spec:
  type: NodePort
  selector: {app: who}
  ports: [{port: 80, targetPort: http}]
`;

interface PodView {
  status: { podIP?: string; conditions?: Array<{ type: string; status: string }> };
}

async function podIP(c: MultiNode, name: string): Promise<string> {
  const r = await c.kubectl(["get", "pod", name, "-o", "json"]);
  const pod = JSON.parse(r.stdout) as PodView;
  if (!pod.status.podIP) throw new Error(`pod ${name} has no IP yet`);
  return pod.status.podIP;
}

Deno.test({
  name: "three nodes: pod IPs route across nodes without NAT; ClusterIP and NodePort spread",
  ...e2eOptions({ netns: true }),
  async fn(t) {
    const c = await startMultiNode(["a", "b", "c"], [], {
      clients: ["client"],
    });
    try {
      await nodesReady(c, 3, until);
      let clientOnC = "";
      let backendA = "";

      await t.step("backends on nodes a and b, a client pod on node c", async () => {
        for (const [name, zone] of [["who-a", "a"], ["who-b", "b"]] as const) {
          const r = await c.kubectl(
            ["apply", "-f", "-"],
            backendPod(name, { app: "who" }, { zone }),
          );
          assert.equal(r.code, 0, r.stderr);
        }
        const r = await c.kubectl(["apply", "-f", "-"], clientPod("client", { zone: "c" }));
        assert.equal(r.code, 0, r.stderr);
        const s = await c.kubectl(["apply", "-f", "-"], SERVICE);
        assert.equal(s.code, 0, s.stderr);
        for (const pod of ["who-a", "who-b", "client"]) {
          const w = await c.kubectl([
            "wait",
            "--for=condition=Ready",
            `pod/${pod}`,
            "--timeout=120s",
          ]);
          assert.equal(w.code, 0, w.stderr);
        }
        clientOnC = await containerOf(c, "c", "client", "c");
        backendA = await containerOf(c, "a", "who-a", "httpd");
      });

      await t.step(
        "a pod on node a reaches a pod on node b by IP, seen with its own IP",
        async () => {
          const [ipA, ipB] = [await podIP(c, "who-a"), await podIP(c, "who-b")];
          const r = await shIn(c, "a", backendA, fetchCmd(`http://${ipB}:8080/cgi-bin/who`));
          assert.equal(r.code, 0, r.stderr);
          // busybox httpd listens on IPv6 too and shows IPv4 clients as [::ffff:a.b.c.d]
          const seen = r.stdout.trim().replace(/\[::ffff:([0-9.]+)\]/, "$1");
          assert.equal(seen, `who-b ${ipA}`);
        },
      );

      await t.step(
        "a ClusterIP service spreads 20 requests over both nodes' backends",
        async () => {
          const r = await shIn(c, "c", clientOnC, requestLoop("http://who/cgi-bin/who", 20));
          const answers = answersByPod(r.stdout);
          assert.equal(answers.get("FAIL"), undefined, r.stdout + r.stderr);
          assert.deepEqual([...answers.keys()].sort(), ["who-a", "who-b"], r.stdout);
        },
      );

      await t.step(
        "the NodePort answers on every node's address from the client host",
        async () => {
          const svc = JSON.parse((await c.kubectl(["get", "svc", "who", "-o", "json"])).stdout);
          const nodePort = svc.spec.ports[0].nodePort as number;
          assert.ok(nodePort >= 30000 && nodePort <= 32767, String(nodePort));
          for (const m of ["a", "b", "c"]) {
            const ip = c.fabric.members[m]!.ip;
            const r = await runIn(c.fabric, "client", "busybox", [
              "timeout",
              "5",
              "busybox",
              "wget",
              "-qO-",
              `http://${ip}:${nodePort}/cgi-bin/who`,
            ]);
            assert.equal(r.code, 0, `node ${m}: ${r.stderr}`);
            assert.match(r.stdout, /^who-[ab] /);
          }
        },
      );

      await t.step("removing a backend updates every node's rules", async () => {
        const ipB = await podIP(c, "who-b");
        const started = Date.now();
        const d = await c.kubectl(["delete", "pod", "who-b", "--wait=false"]);
        assert.equal(d.code, 0, d.stderr);
        for (const m of ["a", "b", "c"]) {
          await until(`node ${m}'s rules drop ${ipB}`, async () => {
            const r = await runIn(c.fabric, m, "nft", ["list", "table", "ip", "edge-proxy"]);
            return r.code === 0 && !r.stdout.includes(`${ipB} . `) ? true : undefined;
          }, 30_000);
        }
        console.log(`  backend removal reached 3 nodes' rules in ${Date.now() - started} ms`);
        const r = await shIn(c, "c", clientOnC, requestLoop("http://who/cgi-bin/who", 10));
        const answers = answersByPod(r.stdout);
        assert.deepEqual([...answers.keys()], ["who-a"], r.stdout + r.stderr);
      });

      await t.step("agent --cleanup removes node c's rules and routes", async () => {
        await stopProc(c.agents.c);
        c.agents.c = undefined;
        const before = await runIn(c.fabric, "c", "ip", ["route", "show", "proto", "237"]);
        assert.equal(before.stdout.trim().split("\n").length, 2, before.stdout);
        const mod = new URL("../mod.ts", import.meta.url).pathname;
        const r = await runIn(c.fabric, "c", Deno.execPath(), [
          "run",
          ...AGENT_DENO_FLAGS,
          mod,
          "agent",
          "--cleanup",
        ]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /removed nftables table ip edge-proxy/);
        const table = await runIn(c.fabric, "c", "nft", ["list", "table", "ip", "edge-proxy"]);
        assert.notEqual(table.code, 0);
        const after = await runIn(c.fabric, "c", "ip", ["route", "show", "proto", "237"]);
        assert.equal(after.stdout.trim(), "");
      });
    } finally {
      await c.destroy();
    }
  },
});
