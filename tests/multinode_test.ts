/**
 * Two agents as two nodes, each in its own network namespace, with the control plane in a
 * third: the scheduler honours nodeSelector and pod anti-affinity across real nodes, logs are
 * proxied to the right agent, and killing one agent's process leaves its pods running.
 * Every address used lives inside namespaces this test creates.
 */
import { AGENT_DENO_FLAGS } from "../mod.ts";
import assert from "node:assert/strict";
import { until } from "./_e2e.ts";
import { canCreateNamespaces, createFabric, type Fabric } from "./_netns.ts";

const ROOT = new URL("..", import.meta.url).pathname;
const IMAGE = "localhost/edge-test:1";

interface Proc {
  child: Deno.ChildProcess;
  output: () => string;
}

/** Runs `mod.ts ARGS` in a member's namespace, an agent with the flags agents run with. */
function spawnIn(fabric: Fabric, member: string, args: string[], readyText: string): Promise<Proc> {
  const flags = args[0] === "agent" ? AGENT_DENO_FLAGS : ["--allow-all"];
  const child = new Deno.Command("nsenter", {
    args: [...fabric.enter(member), Deno.execPath(), "run", ...flags, "mod.ts", ...args],
    cwd: ROOT,
    env: { DENO_NO_UPDATE_CHECK: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let text = "";
  const decoder = new TextDecoder();
  const ready = Promise.withResolvers<void>();
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream) {
      text += decoder.decode(chunk, { stream: true });
      if (text.includes(readyText)) ready.resolve();
    }
  };
  pump(child.stdout);
  pump(child.stderr);
  const timer = setTimeout(
    () => ready.reject(new Error(`${args[0]} in ${member} not ready:\n${text}`)),
    60_000,
  );
  child.status.then(() => ready.reject(new Error(`${args[0]} in ${member} exited:\n${text}`)));
  return ready.promise.then(() => {
    clearTimeout(timer);
    return { child, output: () => text };
  }, (e) => {
    clearTimeout(timer);
    throw e;
  });
}

async function stopProc(p: Proc | undefined, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  if (!p) return;
  try {
    p.child.kill(signal);
  } catch {
    // already gone
  }
  await p.child.status;
}

async function runIn(
  fabric: Fabric,
  member: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
) {
  const child = new Deno.Command("nsenter", {
    args: [...fabric.enter(member), cmd, ...args],
    env,
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  return {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
}

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
  sanitizeResources: false,
  sanitizeOps: false,
  async fn(t) {
    const why = await canCreateNamespaces();
    if (why) {
      console.log(`skipped: ${why}`);
      return;
    }
    const id = crypto.randomUUID().slice(0, 4).replace(/[^a-z0-9]/g, "a");
    const subnet = 1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 250);
    const fabric = await createFabric(id, ["cp", "a", "b"], subnet);
    const root = await Deno.makeTempDir({ prefix: "edge-multinode-" });
    const cp = fabric.members.cp!;
    const kubeEnv = {
      KUBECONFIG: `${root}/cp/kubeconfig`,
      HOME: root,
      KUBECACHEDIR: `${root}/kcache`,
    };
    const kubectl = (args: string[], stdin?: string) =>
      runIn(fabric, "cp", "/usr/bin/kubectl", args, kubeEnv, stdin);
    let server: Proc | undefined;
    const agents: Record<string, Proc | undefined> = {};
    const nodeName = (m: string) => `node-${id}-${m}`;
    const serverArgs = ["server", "--data-dir", `${root}/cp`, "--listen", `${cp.ip}:6443`];
    let agentArgs: (m: string) => string[] = () => [];
    try {
      const build = await new Deno.Command("bash", {
        args: [`${ROOT}/scripts/build_test_image.sh`],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(build.success, new TextDecoder().decode(build.stderr));
      server = await spawnIn(fabric, "cp", serverArgs, "ready at");
      const token = (await Deno.readTextFile(`${root}/cp/admin.token`)).trim();
      agentArgs = (m: string) => {
        const ip = fabric.members[m]!.ip;
        return [
          "agent",
          "--server",
          `https://${cp.ip}:6443`,
          "--token",
          token,
          "--ca-file",
          `${root}/cp/pki/ca.crt`,
          "--node-name",
          nodeName(m),
          "--node-ip",
          ip,
          "--agent-listen",
          `${ip}:10250`,
          "--labels",
          `zone=${m}`,
          "--data-dir",
          `${root}/agent-${m}`,
        ];
      };
      for (const m of ["a", "b"]) {
        agents[m] = await spawnIn(fabric, m, agentArgs(m), "edge agent: running");
      }

      await t.step("both nodes register and become Ready", async () => {
        await until("two Ready nodes", async () => {
          const r = await kubectl(["get", "nodes", "-o", "json"]);
          const nodes = JSON.parse(r.stdout).items as Array<
            { status: { conditions: Array<{ type: string; status: string }> } }
          >;
          const ready = nodes.filter((n) =>
            n.status.conditions.some((c) => c.type === "Ready" && c.status === "True")
          );
          return ready.length === 2 ? true : undefined;
        });
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
          await stopProc(server);
          server = undefined;
          await stopProc(agents.b);
          agents.b = await spawnIn(fabric, "b", agentArgs("b"), "edge agent: running");
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

          server = await spawnIn(fabric, "cp", serverArgs, "ready at");
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
      for (const m of ["a", "b"]) await stopProc(agents[m]);
      await stopProc(server);
      for (const m of ["a", "b"]) {
        const ids = await runIn(fabric, m, "podman", [
          "pod",
          "ps",
          "-q",
          "--filter",
          `label=io.edge.node=${nodeName(m)}`,
        ]);
        for (const podId of ids.stdout.split("\n").filter((x) => x.trim())) {
          await runIn(fabric, m, "podman", ["pod", "rm", "-f", "-t", "0", podId.trim()]);
        }
      }
      await fabric.destroy();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    }
  },
});
