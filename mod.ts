/**
 * Edge cluster runtime: Kubernetes' model for small Linux edge gateways.
 *
 * One program: `deno run -A mod.ts up | server | agent | ctl …`.
 *
 * @module
 */

export type { ControlPlane, ControlPlaneOptions } from "./control/server.ts";
export type { Store } from "./storage/store.ts";
export type { AgentOptions } from "./node/agent.ts";

// Each command loads only its own modules (dynamic `import()` below): a static import of the
// control plane would cost `mod.ts agent` some 10 MB of RSS for code it never runs. For the
// same reason this file re-exports no values; import them from their modules.
import type { Agent } from "./node/agent.ts";
import { parseListen } from "./control/listen.ts";
import { isDns1123Subdomain } from "./storage/validation.ts";

/**
 * The `deno run` flags to start an agent with (`deno task agent` uses the same). Each one saves
 * memory on an always-on box, measured on an idle agent (RSS 3 s after Ready):
 *
 * - `--no-npm`: no npm resolver (about 3 MB). It also proves the agent's code needs no npm package.
 * - `--no-config`, with `--unstable-kv` (the one setting the agent needs from deno.json): no
 *   deno.json, import map or lockfile of the whole project held in memory (about 1 MB).
 * - `--no-code-cache`: V8 compiles only the functions that run instead of loading every module's
 *   cached code, and the cache database is not mapped (about 1.5 MB; loading the agent's modules
 *   takes some 30 ms either way).
 * - `--v8-flags=--no-maglev`: no mid-tier compiler; hot code is still optimised by TurboFan, so
 *   the service proxy's ruleset builds as fast as with it (about 1.5 MB).
 */
export const AGENT_DENO_FLAGS: readonly string[] = [
  "--allow-all",
  "--no-npm",
  "--no-config",
  "--unstable-kv",
  "--no-code-cache",
  "--v8-flags=--no-maglev",
];

const USAGE = `Usage: mod.ts COMMAND [options]

Commands:
  up       control plane + a local node agent, embedded Deno KV store (one gateway)
  server   control plane only
  agent    node agent only, joining a control plane (--server, --token, --ca-file)
  ctl      the command-line client (kubectl-like): apply, get, describe, delete

Options of up and server:
  --data-dir DIR         state, admin token, CA and kubeconfig (default ./.edge)
  --listen HOST:PORT     address to serve the API on (default 127.0.0.1:6443; port 0 = any)
  --max-body-bytes N     largest request body accepted (default 3145728)
  --node-monitor-grace-period S   silence after which a node is Unknown (default 40s)
  --default-toleration-seconds S  how long pods stay on an unreachable or not-ready
                         node before eviction, unless they tolerate it (default 300)
  --service-cidr CIDR    where Services' cluster IPs come from (default 10.96.0.0/16)
  --service-node-port-range A-B   where node ports come from (default 30000-32767)
  --cluster-cidr CIDR    pod addresses; each node gets a part of it (default 10.244.0.0/16)
  --node-cidr-mask-size N  prefix length of each node's part (default 24)
  --advertise-address IP where other machines reach the API (default: the --listen host
                         when it is a specific address, else the first non-loopback IPv4)
  --cluster-dns-listen H:P  where cluster DNS answers (default ADVERTISE-ADDRESS:53;
                         "off" runs none)
  --cluster-dns-upstream IP:PORT  where names outside the cluster domain go (default:
                         refused)

Options of up and agent:
  --node-name NAME       the Node's name (default: this host's name)
  --node-ip IP           the Node's InternalIP (default: first non-loopback IPv4 address)
  --agent-listen H:P     the agent's log endpoint, HTTPS (default NODE-IP:10250; port 0 = any)
  --labels K=V,…         extra Node labels
  --cluster-dns IP       nameserver of ClusterFirst pods (default: from ConfigMap
                         kube-system/cluster-network, else 10.96.0.10)
  --cluster-domain D     the cluster's DNS domain (default: from that ConfigMap, else
                         cluster.local)
  --seccomp-default      run containers that name no seccomp profile with podman's default
                         profile (RuntimeDefault), as kubelet's flag does; without it they
                         run Unconfined, Kubernetes' default
  --allowed-unsafe-sysctls LIST  sysctls beyond the safe ones that pods may set, names or
                         prefixes ending in '*' (e.g. 'kernel.msg*,net.core.somaxconn'), as
                         kubelet's flag; others fail the pod (SysctlForbidden)
  --disable-service-proxy  program no service rules (nftables) on this node
  --cleanup              remove this node's service rules (nftables table ip edge-proxy)
                         and pod routes, then exit (pods keep running)

Options of agent:
  --server URL --token T --ca-file PEM   how to reach the control plane
  --data-dir DIR         the agent's cache and pod volumes (default ./.edge-agent)

Run agents as \`deno task agent …\`, that is \`deno run --allow-all --no-npm --no-config
--unstable-kv --no-code-cache --v8-flags=--no-maglev mod.ts agent …\`: the same agent in some
8 MB less memory (no npm resolver, no project config, no code cache, no mid-tier compiler).
`;

interface Flags {
  dataDir?: string;
  listen: string;
  maxBodyBytes?: number;
  nodeMonitorGraceSeconds?: number;
  defaultTolerationSeconds?: number;
  serviceCidr?: string;
  serviceNodePortRange?: string;
  clusterCidr?: string;
  nodeCidrMaskSize?: number;
  advertiseAddress?: string;
  clusterDnsListen?: string;
  clusterDnsUpstream?: string;
  nodeName?: string;
  nodeIp?: string;
  agentListen?: string;
  labels: Record<string, string>;
  clusterDns?: string;
  clusterDomain?: string;
  disableServiceProxy?: boolean;
  cleanup?: boolean;
  seccompDefault?: boolean;
  allowedUnsafeSysctls?: string[];
  server?: string;
  token?: string;
  caFile?: string;
}

const FLAGS: Record<string, { key: keyof Flags; commands: string[] }> = {
  "--data-dir": { key: "dataDir", commands: ["up", "server", "agent"] },
  "--listen": { key: "listen", commands: ["up", "server"] },
  "--max-body-bytes": { key: "maxBodyBytes", commands: ["up", "server"] },
  "--node-monitor-grace-period": { key: "nodeMonitorGraceSeconds", commands: ["up", "server"] },
  "--default-toleration-seconds": { key: "defaultTolerationSeconds", commands: ["up", "server"] },
  "--service-cidr": { key: "serviceCidr", commands: ["up", "server"] },
  "--service-node-port-range": { key: "serviceNodePortRange", commands: ["up", "server"] },
  "--cluster-cidr": { key: "clusterCidr", commands: ["up", "server"] },
  "--node-cidr-mask-size": { key: "nodeCidrMaskSize", commands: ["up", "server"] },
  "--advertise-address": { key: "advertiseAddress", commands: ["up", "server"] },
  "--cluster-dns-listen": { key: "clusterDnsListen", commands: ["up", "server"] },
  "--cluster-dns-upstream": { key: "clusterDnsUpstream", commands: ["up", "server"] },
  "--node-name": { key: "nodeName", commands: ["up", "agent"] },
  "--node-ip": { key: "nodeIp", commands: ["up", "agent"] },
  "--agent-listen": { key: "agentListen", commands: ["up", "agent"] },
  "--labels": { key: "labels", commands: ["up", "agent"] },
  "--cluster-dns": { key: "clusterDns", commands: ["up", "agent"] },
  "--cluster-domain": { key: "clusterDomain", commands: ["up", "agent"] },
  "--disable-service-proxy": { key: "disableServiceProxy", commands: ["up", "agent"] },
  "--cleanup": { key: "cleanup", commands: ["up", "agent"] },
  "--seccomp-default": { key: "seccompDefault", commands: ["up", "agent"] },
  "--allowed-unsafe-sysctls": { key: "allowedUnsafeSysctls", commands: ["up", "agent"] },
  "--server": { key: "server", commands: ["agent"] },
  "--token": { key: "token", commands: ["agent"] },
  "--ca-file": { key: "caFile", commands: ["agent"] },
};

function parseFlags(command: string, args: string[]): Flags {
  const flags: Flags = { listen: "127.0.0.1:6443", labels: {} };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    const [name, inline] = arg.includes("=") ? arg.split(/=(.*)/s, 2) : [arg, undefined];
    const spec = FLAGS[name!];
    if (!spec || !spec.commands.includes(command)) {
      throw new Error(`unknown option "${arg}" for ${command}\n\n${USAGE}`);
    }
    if (
      spec.key === "disableServiceProxy" || spec.key === "cleanup" || spec.key === "seccompDefault"
    ) {
      flags[spec.key] = inline === undefined || inline === "true";
      continue;
    }
    const value = inline ?? args[++i];
    if (value === undefined || value === "") throw new Error(`${name} needs a value`);
    if (spec.key === "maxBodyBytes") {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1024) {
        throw new Error("--max-body-bytes must be an integer of at least 1024");
      }
      flags.maxBodyBytes = n;
    } else if (spec.key === "nodeMonitorGraceSeconds" || spec.key === "defaultTolerationSeconds") {
      const m = /^(\d{1,6})s?$/.exec(value);
      if (!m) throw new Error(`${name} takes seconds (e.g. 40 or 40s), got "${value}"`);
      flags[spec.key] = Number(m[1]);
    } else if (spec.key === "nodeCidrMaskSize") {
      if (!/^\d{1,2}$/.test(value)) {
        throw new Error(`--node-cidr-mask-size takes a prefix length (e.g. 24), got "${value}"`);
      }
      flags.nodeCidrMaskSize = Number(value);
    } else if (spec.key === "allowedUnsafeSysctls") {
      flags.allowedUnsafeSysctls = value.split(",").map((p) => p.trim()).filter((p) => p !== "");
    } else if (spec.key === "labels") {
      for (const pair of value.split(",")) {
        const [k, v] = pair.split("=", 2);
        if (!k || v === undefined) throw new Error(`--labels takes K=V,…, got "${value}"`);
        flags.labels[k] = v;
      }
    } else {
      (flags as unknown as Record<string, string>)[spec.key] = value;
    }
  }
  return flags;
}

/** This host's name as a valid Node name. */
function defaultNodeName(): string {
  const name = Deno.hostname().toLowerCase().replace(/[^a-z0-9.-]/g, "-").replace(
    /^[-.]+|[-.]+$/g,
    "",
  );
  return name || "edge";
}

async function waitForSignal(): Promise<void> {
  const stopped = Promise.withResolvers<void>();
  const onSignal = () => stopped.resolve();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  await stopped.promise;
  Deno.removeSignalListener("SIGINT", onSignal);
  Deno.removeSignalListener("SIGTERM", onSignal);
}

/**
 * Gives back to the kernel the memory `process` no longer uses (node/memory_trim.ts: the pages of
 * the deno executable it touched and does not touch again, the free malloc heap) and says so.
 */
async function trimAndSay(process: string, when: string): Promise<void> {
  const { trimMemory } = await import("./node/memory_trim.ts");
  const result = trimMemory();
  const mib = (kib: number) => (kib / 1024).toFixed(1);
  console.log(
    result.trimmed
      ? `edge ${process}: memory trimmed ${when} (RSS ${mib(result.rssBeforeKiB)} → ${
        mib(result.rssAfterKiB)
      } MiB)`
      : `edge ${process}: memory not trimmed: ${result.reason}`,
  );
}

/**
 * Trims once start-up is over (2 s after ready: the first lists, relist and ruleset are done by
 * then): an idle agent keeps some 26 MiB of the executable's pages instead of 40.
 */
function trimAfterStartUp(process: string): void {
  Deno.unrefTimer(setTimeout(() => trimAndSay(process, "after start-up"), 2_000));
}

async function startAgent(
  process: "up" | "agent",
  flags: Flags,
  access: { server: string; token: string; caCert?: string },
  dataDir: string,
): Promise<Agent> {
  const nodeName = flags.nodeName ?? defaultNodeName();
  if (!isDns1123Subdomain(nodeName)) {
    throw new Error(`--node-name must be a DNS-1123 subdomain, got "${nodeName}"`);
  }
  const listen = parseListen(flags.agentListen ?? `${flags.nodeIp ?? "0.0.0.0"}:10250`);
  const { Agent } = await import("./node/agent.ts");
  const agent = new Agent({
    ...access,
    nodeName,
    dataDir,
    listen,
    labels: flags.labels,
    ...(flags.nodeIp ? { nodeIp: flags.nodeIp } : {}),
    ...(flags.disableServiceProxy ? { serviceProxy: false } : {}),
    ...(flags.seccompDefault ? { seccompDefault: true } : {}),
    ...(flags.allowedUnsafeSysctls ? { allowedUnsafeSysctls: flags.allowedUnsafeSysctls } : {}),
    clusterNetwork: {
      ...(flags.clusterDns ? { clusterDNS: flags.clusterDns } : {}),
      ...(flags.clusterDomain ? { clusterDomain: flags.clusterDomain } : {}),
    },
    // what starting and stopping pods touched goes back once they have been quiet for a minute
    whenPodsQuiet: { call: () => trimAndSay(process, "after a minute without pod changes") },
  });
  await agent.start();
  return agent;
}

async function serve(mode: "up" | "server", args: string[]): Promise<number> {
  const flags = parseFlags(mode, args);
  if (flags.cleanup) return await cleanup();
  const dataDir = flags.dataDir ?? "./.edge";
  const { startControlPlane } = await import("./control/server.ts");
  const cp = await startControlPlane({
    dataDir,
    listen: flags.listen,
    ...(flags.maxBodyBytes ? { maxBodyBytes: flags.maxBodyBytes } : {}),
    ...(flags.nodeMonitorGraceSeconds !== undefined
      ? { nodeMonitorGracePeriodMs: flags.nodeMonitorGraceSeconds * 1000 }
      : {}),
    ...(flags.defaultTolerationSeconds !== undefined
      ? { defaultTolerationSeconds: flags.defaultTolerationSeconds }
      : {}),
    ...(flags.serviceCidr ? { serviceCidr: flags.serviceCidr } : {}),
    ...(flags.serviceNodePortRange ? { serviceNodePortRange: flags.serviceNodePortRange } : {}),
    ...(flags.clusterCidr ? { clusterCidr: flags.clusterCidr } : {}),
    ...(flags.nodeCidrMaskSize !== undefined ? { nodeCidrMaskSize: flags.nodeCidrMaskSize } : {}),
    ...(flags.advertiseAddress ? { advertiseAddress: flags.advertiseAddress } : {}),
    ...(flags.clusterDnsListen === "off" ? {} : {
      clusterDns: {
        ...(flags.clusterDnsListen ? { listen: flags.clusterDnsListen } : {}),
        ...(flags.clusterDnsUpstream ? { upstream: flags.clusterDnsUpstream } : {}),
      },
    }),
  });
  let agent: Agent | undefined;
  try {
    if (mode === "up") {
      agent = await startAgent(
        "up",
        flags,
        { server: cp.url, token: cp.token, caCert: cp.caCert },
        `${dataDir}/agent`,
      );
    }
  } catch (e) {
    await cp.stop();
    throw e;
  }
  console.log(`edge ${mode}: ready at ${cp.url} (kubeconfig ${cp.kubeconfigPath})`);
  trimAfterStartUp(mode);
  await waitForSignal();
  await agent?.stop();
  await cp.stop();
  console.log(`edge ${mode}: stopped (pods keep running)`);
  return 0;
}

/** `--cleanup`: undo what an agent programmed into this network namespace. */
async function cleanup(): Promise<number> {
  const { cleanupNode } = await import("./node/cleanup.ts");
  const result = await cleanupNode();
  console.log(`removed nftables table ${result.table}`);
  for (const route of result.routes) console.log(`removed route ${route}`);
  for (const error of result.errors) console.error(`error: ${error}`);
  return result.errors.length === 0 ? 0 : 1;
}

async function agentCommand(args: string[]): Promise<number> {
  const flags = parseFlags("agent", args);
  if (flags.cleanup) return await cleanup();
  if (!flags.server || !flags.token) throw new Error("agent needs --server URL and --token T");
  const caCert = flags.caFile ? await Deno.readTextFile(flags.caFile) : undefined;
  const agent = await startAgent(
    "agent",
    flags,
    { server: flags.server, token: flags.token, ...(caCert ? { caCert } : {}) },
    flags.dataDir ?? "./.edge-agent",
  );
  console.log(`edge agent: running, logs endpoint on port ${agent.address.port}`);
  trimAfterStartUp("agent");
  await waitForSignal();
  await agent.stop();
  console.log("edge agent: stopped (pods keep running)");
  return 0;
}

async function main(args: string[]): Promise<number> {
  const [command, ...rest] = args;
  try {
    switch (command) {
      case "up":
      case "server":
        return await serve(command, rest);
      case "agent":
        return await agentCommand(rest);
      case "ctl":
        return await (await import("./control/ctl/mod.ts")).runCtl(rest);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        console.log(USAGE);
        return command === undefined ? 1 : 0;
      default:
        console.error(`unknown command "${command}"\n\n${USAGE}`);
        return 1;
    }
  } catch (e) {
    console.error(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
