/**
 * A multi-node cluster for end-to-end tests: `mod.ts server` in a `cp` network namespace and a
 * `mod.ts agent` in each node namespace (see `_netns.ts`), every process started through
 * `nsenter`, every address inside the namespaces the test made.
 *
 * @module
 */

import { AGENT_DENO_FLAGS } from "../mod.ts";
import { buildImage } from "./_e2e.ts";
import { createFabric, type Fabric, randomClusterCidr } from "./_netns.ts";

const ROOT = new URL("..", import.meta.url).pathname;

/** A process started in a namespace, with what it printed so far. */
export interface Proc {
  child: Deno.ChildProcess;
  output: () => string;
}

/** Result of a command run in a namespace. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * Runs `mod.ts ARGS` in a member's namespace (an agent with the flags agents run with) and
 * resolves once it printed `readyText`; rejects if it exits first or after 60 s.
 */
export function spawnIn(
  fabric: Fabric,
  member: string,
  args: string[],
  readyText: string,
): Promise<Proc> {
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

/** Signals a process (SIGTERM by default) and waits for it to exit. */
export async function stopProc(
  p: Proc | undefined,
  signal: Deno.Signal = "SIGTERM",
): Promise<void> {
  if (!p) return;
  try {
    p.child.kill(signal);
  } catch {
    // already gone
  }
  await p.child.status;
}

/** Runs `cmd ARGS` in a member's namespace. */
export async function runIn(
  fabric: Fabric,
  member: string,
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
  stdin?: string,
): Promise<RunResult> {
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

/** A running control plane (`cp`, or `up` on the first node) and one agent per other node. */
export interface MultiNode {
  fabric: Fabric;
  /** scratch directory: `cp/` (server data), `agent-<m>/` */
  root: string;
  /** the cluster-unique id in names */
  id: string;
  server: Proc | undefined;
  agents: Record<string, Proc | undefined>;
  /** the Node name of member `m` */
  nodeName(m: string): string;
  /** the `mod.ts agent` arguments of member `m` */
  agentArgs(m: string): string[];
  /** stock kubectl in the cp namespace, against this cluster */
  kubectl(args: string[], stdin?: string): Promise<RunResult>;
  /** the `mod.ts server` arguments */
  serverArgs: string[];
  /** stops every process, removes the pods the agents left, the namespaces and `root` */
  destroy(): Promise<void>;
}

/**
 * Builds the fabric (`cp`, `nodes` and `options.clients`, plain hosts without an agent), starts
 * the server with `serverFlags` (plus a random `--cluster-cidr` unless given) and one agent per
 * node (labelled `zone=<member>`). With `options.embedded` there is no `cp`: the first node runs
 * `mod.ts up` (control plane and that node's agent) and kubectl runs there. On failure
 * everything started is torn down again.
 */
export async function startMultiNode(
  nodes: string[],
  serverFlags: string[] = [],
  options: { clients?: string[]; embedded?: boolean } = {},
): Promise<MultiNode> {
  const id = crypto.randomUUID().slice(0, 4).replace(/[^a-z0-9]/g, "a");
  const subnet = 1 + (crypto.getRandomValues(new Uint8Array(1))[0]! % 250);
  // embedded: the first node runs `mod.ts up` (control plane and its agent in one process)
  const host = options.embedded ? nodes[0]! : "cp";
  const members = [...(options.embedded ? [] : ["cp"]), ...nodes, ...(options.clients ?? [])];
  const fabric = await createFabric(id, members, subnet);
  // podman refuses a subnet another network on this machine holds, even in another namespace
  if (!serverFlags.includes("--cluster-cidr")) {
    serverFlags = [...serverFlags, "--cluster-cidr", randomClusterCidr()];
  }
  const root = await Deno.makeTempDir({ prefix: "edge-multinode-" });
  const cp = fabric.members[host]!;
  const kubeEnv = { KUBECONFIG: `${root}/cp/kubeconfig`, HOME: root, KUBECACHEDIR: `${root}/kc` };
  const nodeName = (m: string) => `node-${id}-${m}`;
  const nodeFlags = (m: string) => {
    const ip = fabric.members[m]!.ip;
    return [
      "--node-name",
      nodeName(m),
      "--node-ip",
      ip,
      "--agent-listen",
      `${ip}:10250`,
      "--labels",
      `zone=${m}`,
    ];
  };
  let token = "";
  const cluster: MultiNode = {
    fabric,
    root,
    id,
    server: undefined,
    agents: {},
    nodeName,
    serverArgs: [
      options.embedded ? "up" : "server",
      "--data-dir",
      `${root}/cp`,
      "--listen",
      `${cp.ip}:6443`,
      ...(options.embedded ? nodeFlags(host) : []),
      ...serverFlags,
    ],
    agentArgs(m) {
      return [
        "agent",
        "--server",
        `https://${cp.ip}:6443`,
        "--token",
        token,
        "--ca-file",
        `${root}/cp/pki/ca.crt`,
        ...nodeFlags(m),
        "--data-dir",
        `${root}/agent-${m}`,
      ];
    },
    kubectl: (args, stdin) => runIn(fabric, host, "/usr/bin/kubectl", args, kubeEnv, stdin),
    async destroy() {
      for (const m of nodes) await stopProc(cluster.agents[m]);
      await stopProc(cluster.server);
      for (const m of nodes) {
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
        await removeNodeNetworks(fabric, m, nodeName(m));
      }
      await fabric.destroy();
      await Deno.remove(root, { recursive: true }).catch(() => {});
    },
  };
  try {
    await buildImage();
    cluster.server = await spawnIn(fabric, host, cluster.serverArgs, "ready at");
    token = (await Deno.readTextFile(`${root}/cp/admin.token`)).trim();
    for (const m of nodes) {
      if (m === host) continue;
      cluster.agents[m] = await spawnIn(fabric, m, cluster.agentArgs(m), "edge agent: running");
    }
    return cluster;
  } catch (e) {
    await cluster.destroy();
    throw e;
  }
}

/**
 * Removes the podman networks the agent of node `nodeName` made (its pod network carries the
 * node's name as a label). podman keeps network definitions machine-wide, so one left behind
 * would hold its subnet against the next cluster.
 */
export async function removeNodeNetworks(
  fabric: Fabric,
  member: string,
  nodeName: string,
): Promise<void> {
  const nets = await runIn(fabric, member, "podman", [
    "network",
    "ls",
    "--quiet",
    "--filter",
    `label=io.edge.node=${nodeName}`,
  ]);
  for (const net of nets.stdout.split("\n").map((x) => x.trim()).filter((x) => x)) {
    await runIn(fabric, member, "podman", ["network", "rm", "--force", net]);
  }
}

/** Waits until `count` Nodes report Ready=True. */
export async function nodesReady(
  cluster: MultiNode,
  count: number,
  until: <T>(what: string, check: () => Promise<T | undefined>) => Promise<T>,
): Promise<void> {
  await until(`${count} Ready nodes`, async () => {
    const r = await cluster.kubectl(["get", "nodes", "-o", "json"]);
    const items = JSON.parse(r.stdout).items as Array<
      { status: { conditions: Array<{ type: string; status: string }> } }
    >;
    const ready = items.filter((n) =>
      n.status.conditions.some((c) => c.type === "Ready" && c.status === "True")
    );
    return ready.length === count ? true : undefined;
  });
}
