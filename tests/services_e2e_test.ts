/**
 * S4 on one node, real podman and real nftables: Services in front of pods, reached from a
 * client pod by DNS name and by environment variable, multi-port, a chosen clusterIP,
 * ExternalName, scaling down, and a service without endpoints failing fast.
 *
 * The node runs `mod.ts up` (control plane, cluster DNS and the agent in one process) inside a
 * network namespace this test makes; every request starts inside a pod (podman exec), so
 * nothing is sent from the host's namespace.
 */
import assert from "node:assert/strict";
import { e2eOptions, until } from "./_e2e.ts";
import { type MultiNode, nodesReady, runIn, startMultiNode } from "./_multinode.ts";
import {
  answersByPod,
  backendContainer,
  clientPod,
  containerOf,
  fetchCmd,
  requestLoop,
  shIn,
} from "./_services.ts";

const DEPLOYMENT = JSON.stringify({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "web" },
  spec: {
    replicas: 2,
    selector: { matchLabels: { app: "web" } },
    template: {
      metadata: { labels: { app: "web" } },
      spec: { terminationGracePeriodSeconds: 1, containers: [backendContainer()] },
    },
  },
});

const SERVICES = `
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: http}]
---
apiVersion: v1
kind: Service
metadata: {name: web-multi}
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: http}
  - {name: alt, port: 81, targetPort: 8081}
---
apiVersion: v1
kind: Service
metadata: {name: web-fixed}
spec:
  clusterIP: 10.96.123.45
  selector: {app: web}
  ports: [{port: 8000, targetPort: 8080}]
---
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  type: ExternalName
  externalName: example.com
---
apiVersion: v1
kind: Service
metadata: {name: empty}
spec:
  selector: {app: nothing}
  ports: [{port: 80}]
`;

interface EndpointsView {
  subsets?: Array<{ addresses?: Array<{ ip: string }> }>;
}

async function readyAddresses(c: MultiNode, service: string): Promise<string[]> {
  const r = await c.kubectl(["get", "endpoints", service, "-o", "json"]);
  if (r.code !== 0) return [];
  const ep = JSON.parse(r.stdout) as EndpointsView;
  return (ep.subsets ?? []).flatMap((s) => (s.addresses ?? []).map((a) => a.ip));
}

Deno.test({
  name: "one node: Services reach ready pods by DNS name and env var over nftables",
  ...e2eOptions({ netns: true }),
  async fn(t) {
    const c = await startMultiNode(["a"], [], { embedded: true });
    try {
      await nodesReady(c, 1, until);
      let client = "";

      await t.step("two backends, five services, then a client pod", async () => {
        const d = await c.kubectl(["apply", "-f", "-"], DEPLOYMENT);
        assert.equal(d.code, 0, d.stderr);
        const s = await c.kubectl(["apply", "-f", "-"], SERVICES);
        assert.equal(s.code, 0, s.stderr);
        await until("2 ready endpoints of web", async () => {
          return (await readyAddresses(c, "web")).length === 2 ? true : undefined;
        }, 120_000);
        const p = await c.kubectl(["apply", "-f", "-"], clientPod("client"));
        assert.equal(p.code, 0, p.stderr);
        const w = await c.kubectl(["wait", "--for=condition=Ready", "pod/client", "--timeout=90s"]);
        assert.equal(w.code, 0, w.stderr);
        client = await containerOf(c, "a", "client", "c");
      });

      await t.step("by DNS name: 20 requests, both backends answer", async () => {
        const r = await shIn(c, "a", client, requestLoop("http://web/cgi-bin/who", 20));
        const answers = answersByPod(r.stdout);
        assert.equal(answers.get("FAIL"), undefined, r.stdout + r.stderr);
        assert.equal(answers.size, 2, r.stdout);
        const full = await shIn(
          c,
          "a",
          client,
          fetchCmd("http://web.default.svc.cluster.local/cgi-bin/who"),
        );
        assert.match(full.stdout, /^web-/, full.stderr);
      });

      await t.step("by environment variable: WEB_SERVICE_HOST:WEB_SERVICE_PORT", async () => {
        const env = await shIn(c, "a", client, "echo $WEB_SERVICE_HOST $WEB_SERVICE_PORT");
        const svc = JSON.parse((await c.kubectl(["get", "svc", "web", "-o", "json"])).stdout);
        assert.equal(env.stdout.trim(), `${svc.spec.clusterIP} 80`);
        const r = await shIn(
          c,
          "a",
          client,
          requestLoop("http://$WEB_SERVICE_HOST:$WEB_SERVICE_PORT/cgi-bin/who", 20),
        );
        const answers = answersByPod(r.stdout);
        assert.equal(answers.get("FAIL"), undefined, r.stdout + r.stderr);
        assert.equal(answers.size, 2, r.stdout);
      });

      await t.step("a multi-port service maps both ports", async () => {
        const r = await shIn(
          c,
          "a",
          client,
          `${fetchCmd("http://web-multi:80/cgi-bin/who")} && ${
            fetchCmd("http://web-multi:81/cgi-bin/who")
          }`,
        );
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stdout.trim().split("\n").length, 2, r.stdout);
      });

      await t.step("a user-chosen clusterIP works", async () => {
        const r = await shIn(c, "a", client, fetchCmd("http://10.96.123.45:8000/cgi-bin/who"));
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^web-/);
      });

      await t.step("ExternalName resolves as a CNAME", async () => {
        const r = await shIn(c, "a", client, "nslookup ext.default.svc.cluster.local || true");
        assert.match(r.stdout, /canonical name = example\.com/, r.stdout + r.stderr);
      });

      await t.step("a service with no endpoints fails fast (connection refused)", async () => {
        const r = await shIn(c, "a", client, fetchCmd("http://empty/", 20));
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /refused/i, r.stderr);
      });

      await t.step("scaled to one backend, every request succeeds", async () => {
        const before = await readyAddresses(c, "web");
        const s = await c.kubectl(["scale", "deployment/web", "--replicas=1"]);
        assert.equal(s.code, 0, s.stderr);
        const left = await until("1 ready endpoint of web", async () => {
          const now = await readyAddresses(c, "web");
          return now.length === 1 ? now[0] : undefined;
        }, 60_000);
        const gone = before.find((ip) => ip !== left)!;
        await until("the node's rules no longer name the removed backend", async () => {
          const r = await runIn(c.fabric, "a", "nft", ["list", "table", "ip", "edge-proxy"]);
          return r.code === 0 && !r.stdout.includes(`${gone} . `) ? true : undefined;
        }, 30_000);
        const r = await shIn(c, "a", client, requestLoop("http://web/cgi-bin/who", 20));
        const answers = answersByPod(r.stdout);
        assert.equal(answers.get("FAIL"), undefined, r.stdout + r.stderr);
        assert.equal(answers.size, 1, r.stdout);
      });
    } finally {
      await c.destroy();
    }
  },
});
