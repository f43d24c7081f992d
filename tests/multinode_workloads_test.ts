/**
 * S3 on two nodes (two network namespaces, a control plane in a third): when one agent dies,
 * its node goes Unknown after the grace period, its pods are evicted after the toleration
 * period (both set short here), and the Deployment's pods run on the other node; when the
 * agent returns, its node is Ready again and the evicted pods' containers are gone.
 * Every address used lives inside namespaces this test creates.
 */
import assert from "node:assert/strict";
import { e2eOptions, IMAGE, until } from "./_e2e.ts";
import {
  type MultiNode,
  nodesReady,
  runIn,
  spawnIn,
  startMultiNode,
  stopProc,
} from "./_multinode.ts";

// more than the agents' 10 s Lease renewal, as kube's 40 s default is
const GRACE_SECONDS = 15;
const TOLERATION_SECONDS = 3;

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: spread}
spec:
  replicas: 2
  selector: {matchLabels: {app: spread}}
  template:
    metadata: {labels: {app: spread}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}
`;

const DAEMONSET = `
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agentd}
spec:
  selector: {matchLabels: {app: agentd}}
  template:
    metadata: {labels: {app: agentd}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}
`;

interface PodView {
  metadata: { name: string; deletionTimestamp?: string };
  spec: { nodeName?: string };
  status: { phase?: string; conditions?: Array<{ type: string; status: string }> };
}

async function pods(c: MultiNode, selector: string): Promise<PodView[]> {
  const r = await c.kubectl(["get", "pods", "-l", selector, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout).items;
}

function readyOn(pod: PodView, node: string): boolean {
  return pod.spec.nodeName === node && !pod.metadata.deletionTimestamp &&
    pod.status.conditions?.some((x) => x.type === "Ready" && x.status === "True") === true;
}

/** Names of the podman pods (sandboxes) the agent of `member` runs. */
async function sandboxesOf(c: MultiNode, member: string): Promise<string[]> {
  const out = await runIn(c.fabric, member, "podman", [
    "pod",
    "ps",
    "--format",
    "{{.Name}}",
    "--filter",
    `label=io.edge.node=${c.nodeName(member)}`,
  ]);
  return out.stdout.split("\n").filter((line) => line.trim() !== "");
}

Deno.test({
  name: "two nodes: a dead node's Deployment pods are evicted and run on the other node",
  ...e2eOptions({ netns: true }),
  async fn(t) {
    const c = await startMultiNode(["a", "b"], [
      "--node-monitor-grace-period",
      `${GRACE_SECONDS}s`,
      "--default-toleration-seconds",
      String(TOLERATION_SECONDS),
    ]);
    const [a, b] = [c.nodeName("a"), c.nodeName("b")];
    try {
      await nodesReady(c, 2, until);

      await t.step("a Deployment of 2 runs on node a (node b cordoned meanwhile)", async () => {
        assert.equal((await c.kubectl(["cordon", b])).code, 0);
        const applied = await c.kubectl(["apply", "-f", "-"], DEPLOYMENT);
        assert.equal(applied.code, 0, applied.stderr);
        await until("two ready pods on node a", async () => {
          const onA = (await pods(c, "app=spread")).filter((p) => readyOn(p, a));
          return onA.length === 2 ? true : undefined;
        }, 90_000);
        assert.equal((await c.kubectl(["uncordon", b])).code, 0);
      });

      await t.step("a DaemonSet runs one pod on each node", async () => {
        const applied = await c.kubectl(["apply", "-f", "-"], DAEMONSET);
        assert.equal(applied.code, 0, applied.stderr);
        await until("a ready daemon pod on each node", async () => {
          const all = await pods(c, "app=agentd");
          const one = all.length === 2 && all.some((p) => readyOn(p, a)) &&
            all.some((p) => readyOn(p, b));
          return one ? true : undefined;
        }, 90_000);
        const rollout = await c.kubectl(["rollout", "status", "ds/agentd", "--timeout=60s"]);
        assert.equal(rollout.code, 0, rollout.stdout + rollout.stderr);
      });

      await t.step("killing agent a: node a goes Unknown and is tainted", async () => {
        await stopProc(c.agents.a, "SIGKILL");
        c.agents.a = undefined;
        await until("node a Unknown with the unreachable taint", async () => {
          const r = await c.kubectl(["get", "node", a, "-o", "json"]);
          const node = JSON.parse(r.stdout);
          const ready = node.status.conditions.find((x: { type: string }) => x.type === "Ready");
          const taints = (node.spec.taints ?? []) as Array<{ key: string; effect: string }>;
          const tainted = taints.some((x) =>
            x.key === "node.kubernetes.io/unreachable" && x.effect === "NoExecute"
          );
          return ready?.status === "Unknown" && tainted ? true : undefined;
        }, 60_000);
      });

      await t.step("after the toleration period both pods run on node b", async () => {
        await until("two ready pods on node b", async () => {
          const onB = (await pods(c, "app=spread")).filter((p) => readyOn(p, b));
          return onB.length === 2 ? true : undefined;
        }, 90_000);
        const events = await c.kubectl([
          "get",
          "events",
          "--field-selector",
          "reason=TaintManagerEviction",
          "-o",
          "name",
        ]);
        assert.notEqual(events.stdout.trim(), "", "the eviction was recorded");
        const daemons = await pods(c, "app=agentd");
        const onA = daemons.find((p) => p.spec.nodeName === a);
        assert.ok(onA && !onA.metadata.deletionTimestamp, "the daemon pod on node a is kept");
      });

      await t.step(
        "agent a returns: node a is Ready again and the evicted pods are gone",
        async () => {
          c.agents.a = await spawnIn(c.fabric, "a", c.agentArgs("a"), "edge agent: running");
          await nodesReady(c, 2, until);
          await until("node a untainted", async () => {
            const r = await c.kubectl(["get", "node", a, "-o", "json"]);
            return (JSON.parse(r.stdout).spec.taints ?? []).length === 0 ? true : undefined;
          }, 60_000);
          await until("no spread pods left on node a", async () => {
            const left = (await pods(c, "app=spread")).filter((p) => p.spec.nodeName === a);
            const sandboxes = (await sandboxesOf(c, "a")).filter((n) => n.includes("_spread-"));
            return left.length === 0 && sandboxes.length === 0 ? true : undefined;
          }, 60_000);
        },
      );
    } finally {
      await c.destroy();
    }
  },
});
