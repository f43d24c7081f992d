/**
 * Acceptance tests: Services get their cluster IPs and node ports from the control plane, as
 * stock kubectl sees them (`mod.ts server`, default service CIDR 10.96.0.0/16 and node port
 * range 30000-32767).
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertOk, type CommandResult, kubectlSkipReason, run, withCluster } from "./_harness.ts";

const IGNORE = kubectlSkipReason !== undefined;
if (IGNORE) console.log(`skipping the kubectl service allocation tests: ${kubectlSkipReason}`);

/** True when `ip` is a usable address of 10.96.0.0/16 other than the kubernetes Service's. */
function inServiceRange(ip: string): boolean {
  const m = /^10\.96\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return false;
  const offset = Number(m[1]) * 256 + Number(m[2]);
  return offset > 1 && offset < 65535;
}

interface ServiceJson {
  spec: {
    clusterIP: string;
    clusterIPs: string[];
    type: string;
    ports: Array<{ port: number; targetPort: number; nodePort?: number; protocol: string }>;
  };
}

Deno.test({
  name: "kubectl create service gets a cluster IP and a node port in range",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    let ip = "";
    let nodePort = 0;
    await t.step("kubectl create service nodeport", async () => {
      const created = await cluster.kubectl([
        "create",
        "service",
        "nodeport",
        "x",
        "--tcp=80:8080",
      ]);
      assert.equal(assertOk(created, "create service").trim(), "service/x created");
      const svc = JSON.parse(
        assertOk(await cluster.kubectl(["get", "svc", "x", "-o", "json"]), "get svc x"),
      ) as ServiceJson;
      ip = svc.spec.clusterIP;
      assert.ok(inServiceRange(ip), `cluster IP ${ip} in 10.96.0.0/16`);
      assert.deepEqual(svc.spec.clusterIPs, [ip]);
      const port = svc.spec.ports[0]!;
      assert.equal(port.targetPort, 8080);
      nodePort = port.nodePort!;
      assert.ok(nodePort >= 30000 && nodePort <= 32767, `node port ${nodePort} in range`);
    });

    await t.step("kubectl get svc shows them, and the kubernetes Service", async () => {
      const table = assertOk(await cluster.kubectl(["get", "svc"]), "get svc");
      assert.match(table, /^NAME\s+TYPE\s+CLUSTER-IP\s+EXTERNAL-IP\s+PORT\(S\)\s+AGE$/m);
      assert.match(
        table,
        new RegExp(
          `^x\\s+NodePort\\s+${ip.replaceAll(".", "\\.")}\\s+<none>\\s+80:${nodePort}/TCP\\s`,
          "m",
        ),
      );
      assert.match(table, /^kubernetes\s+ClusterIP\s+10\.96\.0\.1\s+<none>\s+443\/TCP\s/m);
    });

    await t.step("a taken cluster IP is refused with the field and the reason", async () => {
      const refused = await cluster.kubectl([
        "create",
        "service",
        "clusterip",
        "y",
        "--tcp=80",
        `--clusterip=${ip}`,
      ]);
      assert.notEqual(refused.code, 0);
      assert.match(
        refused.stderr,
        new RegExp(
          `failed to create ClusterIP service: Service "y" is invalid: spec\\.clusterIPs: Invalid value: \\["${
            ip.replaceAll(".", "\\.")
          }"\\]: failed to allocate IP ${
            ip.replaceAll(".", "\\.")
          }: provided IP is already allocated`,
        ),
      );
    });

    await t.step("kubectl apply honours a chosen node port and keeps it on re-apply", async () => {
      const manifest = `apiVersion: v1
kind: Service
metadata:
  name: chosen
spec:
  type: NodePort
  selector:
    app: chosen
  ports:
  - name: http
    port: 80
    targetPort: 8080
    nodePort: 30080
`;
      const created = await cluster.kubectl(["apply", "-f", "-"], { stdin: manifest });
      assert.equal(assertOk(created, "apply").trim(), "service/chosen created");
      const again = await cluster.kubectl(["apply", "-f", "-"], { stdin: manifest });
      assert.equal(assertOk(again, "apply again").trim(), "service/chosen unchanged");
      const svc = JSON.parse(
        assertOk(await cluster.kubectl(["get", "svc", "chosen", "-o", "json"]), "get"),
      ) as ServiceJson;
      assert.equal(svc.spec.ports[0]!.nodePort, 30080);
      const dup = await cluster.kubectl(["apply", "-f", "-"], {
        stdin: manifest.replace("name: chosen", "name: chosen2"),
      });
      assert.notEqual(dup.code, 0);
      assert.match(
        dup.stderr,
        /spec\.ports\[0\]\.nodePort: Invalid value: 30080: provided port is already allocated/,
      );

      const clusterIP = manifest.replace("type: NodePort", "type: ClusterIP")
        .replace("    nodePort: 30080\n", "");
      const switched = await cluster.kubectl(["apply", "-f", "-"], { stdin: clusterIP });
      assert.equal(assertOk(switched, "apply ClusterIP").trim(), "service/chosen configured");
      const after = JSON.parse(
        assertOk(await cluster.kubectl(["get", "svc", "chosen", "-o", "json"]), "get"),
      ) as ServiceJson;
      assert.equal(after.spec.ports[0]!.nodePort, undefined, "ClusterIP drops the node port");
      assert.equal(after.spec.clusterIP, svc.spec.clusterIP, "and keeps its cluster IP");
      // the port is free once the control plane has seen the change: poll, bounded
      let taken: CommandResult | undefined;
      for (let i = 0; i < 50; i++) {
        taken = await cluster.kubectl(["apply", "-f", "-"], {
          stdin: manifest.replace("name: chosen", "name: chosen2"),
        });
        if (taken.code === 0) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(assertOk(taken!, "apply chosen2").trim(), "service/chosen2 created");
    });

    await t.step("kubectl expose gets a cluster IP", async () => {
      const deployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 1
  selector:
    matchLabels:
      app: web
  template:
    metadata:
      labels:
        app: web
    spec:
      containers:
      - name: web
        image: busybox:1.36
`;
      assertOk(await cluster.kubectl(["apply", "-f", "-"], { stdin: deployment }), "apply deploy");
      const exposed = await cluster.kubectl(["expose", "deployment", "web", "--port=80"]);
      assert.equal(assertOk(exposed, "expose").trim(), "service/web exposed");
      const svc = JSON.parse(
        assertOk(await cluster.kubectl(["get", "svc", "web", "-o", "json"]), "get svc web"),
      ) as ServiceJson;
      assert.ok(inServiceRange(svc.spec.clusterIP), svc.spec.clusterIP);
      assert.notEqual(svc.spec.clusterIP, ip);
    });

    await t.step("the cluster network settings are published", async () => {
      const cm = JSON.parse(assertOk(
        await cluster.kubectl([
          "get",
          "configmap",
          "cluster-network",
          "-n",
          "kube-system",
          "-o",
          "json",
        ]),
        "get cm",
      )) as { data: Record<string, string> };
      assert.deepEqual(cm.data, {
        serviceCIDR: "10.96.0.0/16",
        clusterCIDR: "10.244.0.0/16",
        nodeCIDRMaskSize: "24",
        nodePortRange: "30000-32767",
        clusterDNS: "10.96.0.10",
        clusterDomain: "cluster.local",
      });
      const ep = assertOk(await cluster.kubectl(["get", "endpoints", "kubernetes"]), "get ep");
      const port = new URL(cluster.url).port;
      assert.match(ep, new RegExp(`^kubernetes\\s+\\d+\\.\\d+\\.\\d+\\.\\d+:${port}\\s`, "m"));
    });

    await t.step("a registered Node gets a /24 of the cluster CIDR", async () => {
      const node = "apiVersion: v1\nkind: Node\nmetadata:\n  name: edge-x\n";
      assertOk(await cluster.kubectl(["apply", "-f", "-"], { stdin: node }), "apply node");
      let podCIDR = "";
      for (let i = 0; i < 100 && podCIDR === ""; i++) {
        const got = await cluster.kubectl([
          "get",
          "node",
          "edge-x",
          "-o",
          "jsonpath={.spec.podCIDR} {.spec.podCIDRs[0]}",
        ]);
        const [single, first] = assertOk(got, "get node").trim().split(" ");
        if (single) {
          assert.equal(first, single);
          podCIDR = single;
        } else {
          await new Promise((resolve) => setTimeout(resolve, 100));
        }
      }
      assert.match(podCIDR, /^10\.244\.\d{1,3}\.0\/24$/);
    });
  }, { mode: "server" }),
});

Deno.test("mod.ts server refuses a bad network flag, naming it", async () => {
  const out = await run(Deno.execPath(), [
    "run",
    "--allow-all",
    "mod.ts",
    "server",
    "--data-dir",
    "/nonexistent/edge-flag-test",
    "--service-cidr",
    "10.0.0.0/8",
  ]);
  assert.equal(out.code, 1);
  assert.match(out.stderr, /--service-cidr 10\.0\.0\.0\/8: the prefix length must be 12-28/);
  const mask = await run(Deno.execPath(), [
    "run",
    "--allow-all",
    "mod.ts",
    "server",
    "--data-dir",
    "/nonexistent/edge-flag-test",
    "--node-cidr-mask-size",
    "x",
  ]);
  assert.equal(mask.code, 1);
  assert.match(mask.stderr, /--node-cidr-mask-size takes a prefix length/);
});
