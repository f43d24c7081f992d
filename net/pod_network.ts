/**
 * The node's pod network: one podman (netavark) bridge network on the node's `spec.podCIDR`,
 * gateway the CIDR's first address, named after the node ({@linkcode podNetworkName}), every
 * non-host-network pod sandbox attached to it. podman's own DNS (aardvark) is disabled: pods
 * resolve through the cluster DNS.
 *
 * podman keeps network definitions machine-wide (`/etc/containers/networks`) even when the
 * bridges live in different network namespaces, and refuses two networks whose subnets
 * overlap ("subnet … is already used on the host or by another config"). So the name is per
 * node, and the network carries the node's name as a label (`io.edge.node=<node>`) so a test
 * harness, or an operator, can find and remove what a node left behind.
 *
 * The argument builders and {@linkcode planPodNetwork} are pure; {@linkcode ensurePodNetwork}
 * runs podman through an injected runner.
 *
 * @example
 * ```ts
 * const spec = podNetworkSpec("edge-1", "10.244.3.0/24");
 * const network = await ensurePodNetwork(spec, { podman: (args) => run("podman", args) });
 * // podman pod create --network network.name …
 * ```
 *
 * @module
 */

import { formatIPv4, parseIPv4 } from "./ipv4.ts";
import { cidrOverlaps, type CommandOutput, formatCidr, parseCidr } from "./routes.ts";

/** The label a pod network carries: the name of the node it belongs to. */
export const POD_NETWORK_NODE_LABEL = "io.edge.node";

/** What the node's pod network must look like. */
export interface PodNetworkSpec {
  /** podman network name, see {@linkcode podNetworkName} */
  name: string;
  /** the node's pod CIDR, canonical, e.g. `10.244.3.0/24` */
  subnet: string;
  /** the bridge's address: the subnet's first address */
  gateway: string;
  /** labels put on the network */
  labels: Record<string, string>;
}

/** A podman network as `podman network ls/inspect --format json` describes it. */
export interface PodmanNetwork {
  name: string;
  /** the bridge interface netavark creates (`podman2`, …) */
  networkInterface: string;
  subnets: Array<{ subnet: string; gateway?: string }>;
  labels: Record<string, string>;
}

/** The pod network cannot be made as asked; the message says why and what to do. */
export class PodNetworkError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PodNetworkError";
  }
}

/** Network names podman accepts. */
const NETWORK_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/;
const LABEL_KEY = /^[a-zA-Z0-9][a-zA-Z0-9_./-]{0,252}$/;
const LABEL_VALUE = /^[a-zA-Z0-9._-]{0,253}$/;

function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n;
  for (const byte of new TextEncoder().encode(text)) {
    hash = ((hash ^ BigInt(byte)) * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return hash.toString(16).padStart(16, "0");
}

/**
 * The podman network name of a node's pod network: `edge-` and 12 hex digits of a hash of the
 * node name (short and stable, whatever the node name's length).
 */
export function podNetworkName(nodeName: string): string {
  return `edge-${fnv1a64(nodeName).slice(0, 12)}`;
}

/**
 * The pod network of node `nodeName` on `podCidr`: gateway the first address, labelled with
 * the node's name.
 *
 * @throws {PodNetworkError} when `podCidr` is not a canonical IPv4 CIDR of /8 to /30
 */
export function podNetworkSpec(nodeName: string, podCidr: string): PodNetworkSpec {
  const cidr = parseCidr(podCidr);
  if (!cidr || formatCidr(cidr) !== podCidr || cidr.prefix < 8 || cidr.prefix > 30) {
    throw new PodNetworkError(
      `Cannot make the pod network of node ${nodeName}: podCIDR "${podCidr}" is not an ` +
        `IPv4 network between /8 and /30`,
    );
  }
  return {
    name: podNetworkName(nodeName),
    subnet: podCidr,
    gateway: formatIPv4(cidr.base + 1),
    labels: { [POD_NETWORK_NODE_LABEL]: nodeName },
  };
}

function checkSpec(spec: PodNetworkSpec): void {
  const cidr = parseCidr(spec.subnet);
  const ok = NETWORK_NAME.test(spec.name) && cidr !== undefined &&
    parseIPv4(spec.gateway) === cidr.base + 1 &&
    Object.entries(spec.labels).every(([k, v]) => LABEL_KEY.test(k) && LABEL_VALUE.test(v));
  if (!ok) {
    throw new PodNetworkError(
      `invalid pod network: ${spec.name} ${spec.subnet} gateway ${spec.gateway}`,
    );
  }
}

/** `podman network create` for `spec` (bridge, no podman DNS, labelled). */
export function networkCreateArgs(spec: PodNetworkSpec): string[] {
  checkSpec(spec);
  const labels = Object.keys(spec.labels).sort().flatMap((k) => [
    "--label",
    `${k}=${spec.labels[k]}`,
  ]);
  return [
    "network",
    "create",
    "--driver",
    "bridge",
    "--subnet",
    spec.subnet,
    "--gateway",
    spec.gateway,
    "--disable-dns",
    ...labels,
    spec.name,
  ];
}

function checkName(name: string): string {
  if (!NETWORK_NAME.test(name)) throw new PodNetworkError(`invalid network name "${name}"`);
  return name;
}

/** `podman network ls` as JSON (every network with its subnets and labels). */
export function networkListArgs(): string[] {
  return ["network", "ls", "--format", "json"];
}

/** `podman network rm NAME` (without --force: podman refuses while a container uses it). */
export function networkRemoveArgs(name: string): string[] {
  return ["network", "rm", checkName(name)];
}

/** `podman ps` of every container (pod infra containers included) attached to network `name`. */
export function networkUsersArgs(name: string): string[] {
  return ["ps", "--all", "--filter", `network=${checkName(name)}`, "--format", "{{.ID}}"];
}

/** Parses `podman network ls --format json` (or `network inspect`). */
export function parseNetworks(json: string): PodmanNetwork[] {
  const text = json.trim();
  if (text === "" || text === "null") return [];
  const list = JSON.parse(text) as Array<{
    name?: string;
    network_interface?: string;
    subnets?: Array<{ subnet?: string; gateway?: string }> | null;
    labels?: Record<string, string> | null;
  }>;
  return list.map((n) => ({
    name: n.name ?? "",
    networkInterface: n.network_interface ?? "",
    subnets: (n.subnets ?? []).flatMap((s) =>
      s.subnet ? [{ subnet: s.subnet, ...(s.gateway ? { gateway: s.gateway } : {}) }] : []
    ),
    labels: n.labels ?? {},
  }));
}

/** What to do about the pod network, see {@linkcode planPodNetwork}. */
export type PodNetworkPlan =
  | { action: "create" }
  | { action: "keep" }
  | { action: "recreate"; reason: string }
  | { action: "blocked"; reason: string };

function describe(network: PodmanNetwork): string {
  const subnets = network.subnets.map((s) => `${s.subnet} gateway ${s.gateway ?? "none"}`);
  return subnets.length > 0 ? subnets.join(", ") : "no subnet";
}

/**
 * Compares the network podman has under the spec's name (if any) with the spec: keep it when
 * it matches, create it when missing, recreate it when its subnet is another (the node's
 * podCIDR changed) and no container uses it (`users`), else blocked.
 */
export function planPodNetwork(
  existing: PodmanNetwork | undefined,
  spec: PodNetworkSpec,
  users: number,
): PodNetworkPlan {
  if (!existing) return { action: "create" };
  const [only, ...more] = existing.subnets;
  if (more.length === 0 && only?.subnet === spec.subnet && only.gateway === spec.gateway) {
    return { action: "keep" };
  }
  const change = `podman network ${spec.name} has ${describe(existing)}, but this node's ` +
    `podCIDR is now ${spec.subnet}`;
  if (users > 0) {
    return {
      action: "blocked",
      reason: `${change}; ${users} container(s) still use it, so it is kept until they are ` +
        `gone (new pods get addresses outside the podCIDR meanwhile)`,
    };
  }
  return { action: "recreate", reason: `${change}; no container uses it, recreating it` };
}

/** Runs `podman ARGS` (with whatever configuration the caller's podman needs). */
export type PodmanRunner = (args: string[]) => Promise<CommandOutput>;

/** What {@linkcode ensurePodNetwork} found or did. */
export interface EnsuredPodNetwork {
  name: string;
  subnet: string;
  gateway: string;
  action: "kept" | "created" | "recreated";
}

function podmanError(out: CommandOutput): string {
  const text = out.stderr.split("\n").map((l) => l.trim().replace(/^Error: /, ""))
    .filter((l) => l !== "").join("; ");
  return text === "" ? `exit code ${out.code}` : text;
}

async function listNetworks(podman: PodmanRunner): Promise<PodmanNetwork[]> {
  const out = await podman(networkListArgs());
  if (out.code !== 0) throw new PodNetworkError(`Cannot list podman networks: ${podmanError(out)}`);
  return parseNetworks(out.stdout);
}

async function countUsers(podman: PodmanRunner, name: string): Promise<number> {
  const out = await podman(networkUsersArgs(name));
  if (out.code !== 0) {
    throw new PodNetworkError(`Cannot list the containers of network ${name}: ${podmanError(out)}`);
  }
  return out.stdout.split("\n").filter((l) => l.trim() !== "").length;
}

/**
 * Another node's pod network left behind on this machine, holding `subnet` and used by no
 * container: the one network {@linkcode ensurePodNetwork} removes to free the subnet.
 */
async function leftoverHolder(
  podman: PodmanRunner,
  networks: readonly PodmanNetwork[],
  spec: PodNetworkSpec,
): Promise<{ holder?: PodmanNetwork; removable: boolean }> {
  const wanted = parseCidr(spec.subnet)!;
  const holder = networks.find((n) =>
    n.name !== spec.name && n.subnets.some((s) => {
      const cidr = parseCidr(s.subnet);
      return cidr !== undefined && cidrOverlaps(cidr, wanted);
    })
  );
  if (!holder) return { removable: false };
  const ours = holder.name === podNetworkName(holder.labels[POD_NETWORK_NODE_LABEL] ?? "");
  return { holder, removable: ours && await countUsers(podman, holder.name) === 0 };
}

/**
 * Makes sure podman has the pod network `spec`: creates it when missing, keeps it when it
 * matches, recreates it when its subnet changed and no container uses it. When podman refuses
 * the subnet because another node's pod network on this machine holds it and nothing uses
 * that network (a node renamed or a test cluster gone), that network is removed first; any
 * other holder is reported.
 *
 * @throws {PodNetworkError} with what is wrong and what would fix it
 */
export async function ensurePodNetwork(
  spec: PodNetworkSpec,
  options: { podman: PodmanRunner; log?: (line: string) => void },
): Promise<EnsuredPodNetwork> {
  checkSpec(spec);
  const { podman } = options;
  const log = options.log ?? (() => {});
  const result = (action: EnsuredPodNetwork["action"]): EnsuredPodNetwork => ({
    name: spec.name,
    subnet: spec.subnet,
    gateway: spec.gateway,
    action,
  });
  const networks = await listNetworks(podman);
  const existing = networks.find((n) => n.name === spec.name);
  const users = existing ? await countUsers(podman, spec.name) : 0;
  const plan = planPodNetwork(existing, spec, users);
  if (plan.action === "keep") return result("kept");
  if (plan.action === "blocked") throw new PodNetworkError(plan.reason);
  if (plan.action === "recreate") {
    log(plan.reason);
    const removed = await podman(networkRemoveArgs(spec.name));
    if (removed.code !== 0) {
      throw new PodNetworkError(
        `Cannot remove podman network ${spec.name} to recreate it on ${spec.subnet}: ` +
          podmanError(removed),
      );
    }
  }
  let created = await podman(networkCreateArgs(spec));
  if (created.code !== 0 && /already used/.test(created.stderr)) {
    const { holder, removable } = await leftoverHolder(podman, networks, spec);
    if (holder && removable) {
      log(
        `podman network ${holder.name} of node ${holder.labels[POD_NETWORK_NODE_LABEL]} ` +
          `holds ${describe(holder)} and no container uses it: removing it`,
      );
      const removed = await podman(networkRemoveArgs(holder.name));
      if (removed.code === 0) created = await podman(networkCreateArgs(spec));
    } else if (holder) {
      throw new PodNetworkError(
        `Cannot create podman network ${spec.name} on ${spec.subnet}: podman network ` +
          `${holder.name} (${describe(holder)}) holds that range and is in use or not a pod ` +
          `network; remove it, or give the cluster another cluster CIDR`,
      );
    }
  }
  if (created.code !== 0) {
    throw new PodNetworkError(
      `Cannot create podman network ${spec.name} on ${spec.subnet}: ${podmanError(created)}`,
    );
  }
  return result(plan.action === "recreate" ? "recreated" : "created");
}
