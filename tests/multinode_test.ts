/**
 * Two agents as two nodes, each in its own network namespace, with the control plane in a
 * third: the scheduler honours nodeSelector and pod anti-affinity across real nodes, logs are
 * proxied to the right agent, and killing one agent's process leaves its pods running.
 * Every address used lives inside namespaces this test creates.
 */
import assert from "node:assert/strict";
import { e2eOptions, until } from "./_e2e.ts";
import {
  type MultiNode,
  nodesReady,
  runIn,
  spawnIn,
  startMultiNode,
  stopProc,
} from "./_multinode.ts";

const IMAGE = "localhost/edge-test:1";

const PODS = `
apiVersion: v1
kind: Pod
metadata: {name: pinned}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {zone: b}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sh", "-c", "echo on-zone-b; sleep 3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: flaky}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {zone: b}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sh", "-c", "sleep 2; exit 1"]}
---
apiVersion: v1
kind: Pod
metadata: {name: spread-1, labels: {app: spread}}
spec:
  terminationGracePeriodSeconds: 1
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {labelSelector: {matchLabels: {app: spread}}, topologyKey: kubernetes.io/hostname}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sleep", "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: spread-2, labels: {app: spread}}
spec:
  terminationGracePeriodSeconds: 1
  affinity:
    podAntiAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
      - {labelSelector: {matchLabels: {app: spread}}, topologyKey: kubernetes.io/hostname}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sleep", "3600"]}
`;

Deno.test({
  name: "two agents in two network namespaces: placement, logs, and pods outliving a killed agent",
  ...e2eOptions({ netns: true }),
  async fn(t) {
    const c: MultiNode = await startMultiNode(["a", "b"]);
    const { fabric, agents, nodeName } = c;
    const kubectl = c.kubectl;
    try {
      await t.step("both nodes register and become Ready", async () => {
        await nodesReady(c, 2, until);
      });

      await t.step("nodeSelector and pod anti-affinity place pods on the right nodes", async () => {
        const applied = await kubectl(["apply", "-f", "-"], PODS);
        assert.equal(applied.code, 0, applied.stderr);
        const placement = await until("four running pods", async () => {
          const r = await kubectl(["get", "pods", "-o", "json"]);
          const pods = JSON.parse(r.stdout).items as Array<
            { metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string } }
          >;
          if (pods.length !== 4 || pods.some((p) => p.status.phase !== "Running")) return undefined;
          return Object.fromEntries(pods.map((p) => [p.metadata.name, p.spec.nodeName]));
        });
        assert.equal(placement.pinned, nodeName("b"));
        assert.equal(placement.flaky, nodeName("b"));
        assert.notEqual(placement["spread-1"], placement["spread-2"]);
        const logs = await until("logs from node b", async () => {
          const r = await kubectl(["logs", "pinned"]);
          return r.stdout.includes("on-zone-b") ? r.stdout : undefined;
        });
        assert.match(logs, /on-zone-b/);
      });

      await t.step("killing agent a's process leaves its pods running", async () => {
        const before = await runIn(fabric, "a", "podman", [
          "ps",
          "--filter",
          `label=io.edge.node=${nodeName("a")}`,
          "--format",
          "{{.ID}} {{.Status}}",
        ]);
        const running = before.stdout.trim().split("\n").filter((l) => l.includes("Up"));
        assert.ok(running.length >= 1, `pods on node a: ${before.stdout}`);
        await stopProc(agents.a, "SIGKILL");
        agents.a = undefined;
        await new Promise((r) => setTimeout(r, 2000));
        const after = await runIn(fabric, "a", "podman", [
          "ps",
          "--filter",
          `label=io.edge.node=${nodeName("a")}`,
          "--format",
          "{{.ID}} {{.Status}}",
        ]);
        assert.deepEqual(
          after.stdout.trim().split("\n").filter((l) => l.includes("Up")).map((l) =>
            l.split(" ")[0]
          ),
          running.map((l) => l.split(" ")[0]),
        );
      });

      await t.step(
        "with the control plane down, a restarted agent keeps its pods and restarts crashed containers; it catches up on reconnect",
        async () => {
          const containersOnB = async () => {
            const r = await runIn(fabric, "b", "podman", [
              "ps",
              "-a",
              "--filter",
              `label=io.edge.node=${nodeName("b")}`,
              "--format",
              "json",
            ]);
            const list = JSON.parse(r.stdout || "[]") as Array<
              { Id: string; State: string; Labels: Record<string, string> | null; IsInfra: boolean }
            >;
            return list.filter((c) => !c.IsInfra && c.Labels?.["io.edge.container.name"]).map((
              c,
            ) => ({
              id: c.Id,
              state: c.State,
              pod: c.Labels?.["io.edge.pod.name"] ?? "",
              attempt: Number(c.Labels?.["io.edge.container.attempt"] ?? "0"),
            }));
          };
          const pinnedBefore = (await containersOnB()).find((c) =>
            c.pod === "pinned" && c.state === "running"
          );
          assert.ok(pinnedBefore, "pinned runs on node b");
          await stopProc(c.server);
          c.server = undefined;
          await stopProc(agents.b);
          agents.b = await spawnIn(fabric, "b", c.agentArgs("b"), "edge agent: running");
          const attemptsThen = Math.max(
            ...(await containersOnB()).filter((c) => c.pod === "flaky").map((c) => c.attempt),
          );
          const restarted = await until("a crash restarted without the control plane", async () => {
            const flaky = (await containersOnB()).filter((c) => c.pod === "flaky");
            const newest = Math.max(...flaky.map((c) => c.attempt));
            return newest > attemptsThen ? newest : undefined;
          }, 90_000);
          const pinnedAfter = (await containersOnB()).find((c) => c.id === pinnedBefore.id);
          assert.equal(pinnedAfter?.state, "running", "adopted, not recreated");

          c.server = await spawnIn(fabric, "cp", c.serverArgs, "ready at");
          await until("status caught up", async () => {
            const r = await kubectl(["get", "pod", "flaky", "-o", "json"]);
            const pod = JSON.parse(r.stdout);
            const count = pod.status.containerStatuses?.[0]?.restartCount ?? 0;
            return count >= restarted ? true : undefined;
          }, 90_000);
          const pinned = JSON.parse((await kubectl(["get", "pod", "pinned", "-o", "json"])).stdout);
          assert.equal(
            pinned.status.containerStatuses[0].containerID,
            `podman://${
              (await runIn(fabric, "b", "podman", [
                "inspect",
                "--format",
                "{{.Id}}",
                pinnedBefore.id,
              ])).stdout.trim()
            }`,
          );
        },
      );
    } finally {
      await c.destroy();
    }
  },
});
