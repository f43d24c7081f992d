/**
 * Routes to the other nodes' pod CIDRs, so a pod on one node reaches a pod on another by its
 * own IP (no NAT): on every node, `<other node's podCIDR> via <other node's InternalIP>`.
 *
 * The plan is pure ({@linkcode desiredRoutes}, {@linkcode planRoutes}); {@linkcode applyRoutes}
 * runs `ip route replace`/`ip route del` with argument arrays. Our routes carry their own
 * protocol number ({@linkcode ROUTE_PROTOCOL}), and only routes that carry it *and* whose
 * destination lies inside the cluster CIDR are ever replaced or removed: the kernel's route of
 * the node's own pod bridge, a default route or an administrator's static route are never
 * touched (a desired route whose destination already has a route of someone else's is
 * reported, not forced).
 *
 * Also here: the small CIDR helpers the agent's network code validates with (addresses: `ipv4.ts`).
 *
 * @example
 * ```ts
 * const routes = desiredRoutes(nodes, "edge-1", "10.244.0.0/16").routes;
 * const result = await applyRoutes(routes, { clusterCidr: "10.244.0.0/16" });
 * for (const e of result.errors) console.error(e);
 * ```
 *
 * @module
 */

import { formatIPv4, parseIPv4 } from "./ipv4.ts";

/** The protocol number our routes carry (`ip route … proto 237`), so we know them again. */
export const ROUTE_PROTOCOL = 237;

/** A route to another node's pod CIDR. */
export interface Route {
  /** destination network, canonical CIDR, e.g. `10.244.1.0/24` */
  dst: string;
  /** the other node's address (next hop) */
  via: string;
}

/** What routing needs to know of a Node. */
export interface NodeRouteInfo {
  name: string;
  /** `spec.podCIDR` */
  podCIDR?: string;
  /** the node's InternalIP address */
  internalIP?: string;
}

/** An IPv4 network: its first address as an unsigned 32-bit number, and the prefix length. */
export interface Cidr {
  base: number;
  prefix: number;
}

function mask(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

/**
 * An IPv4 CIDR (`10.244.1.0/24`; a bare address is a /32), or undefined if it is not one or
 * has host bits set (`10.244.1.5/24` is refused: a network must be written canonically).
 */
export function parseCidr(text: string): Cidr | undefined {
  const [address, length, extra] = text.split("/");
  if (extra !== undefined || address === undefined) return undefined;
  const base = parseIPv4(address);
  if (base === undefined) return undefined;
  const prefix = length === undefined
    ? 32
    : /^(3[0-2]|[12]?\d)$/.test(length)
    ? Number(length)
    : -1;
  if (prefix < 0) return undefined;
  if (((base & mask(prefix)) >>> 0) !== base) return undefined;
  return { base, prefix };
}

/** `10.244.1.0/24` form of a {@linkcode Cidr}. */
export function formatCidr(cidr: Cidr): string {
  return `${formatIPv4(cidr.base)}/${cidr.prefix}`;
}

/** Whether `inner` lies entirely inside `outer`. */
export function cidrContains(outer: Cidr, inner: Cidr): boolean {
  return inner.prefix >= outer.prefix &&
    ((inner.base & mask(outer.prefix)) >>> 0) === outer.base;
}

/** Whether the address `ip` lies inside `cidr`. */
export function cidrHas(cidr: Cidr, ip: number): boolean {
  return ((ip & mask(cidr.prefix)) >>> 0) === cidr.base;
}

/** Whether two networks share any address. */
export function cidrOverlaps(a: Cidr, b: Cidr): boolean {
  return cidrContains(a, b) || cidrContains(b, a);
}

function requireCidr(text: string, what: string): Cidr {
  const cidr = parseCidr(text);
  if (!cidr) throw new Error(`${what} must be an IPv4 CIDR such as 10.244.0.0/16, got "${text}"`);
  return cidr;
}

/**
 * The routes this node (`self`) wants: for every other node with a pod CIDR inside the
 * cluster CIDR and a usable InternalIP, `podCIDR via InternalIP`. Nodes left out are listed
 * with the reason (no podCIDR yet is ordinary and not listed).
 *
 * @throws {Error} when `clusterCidr` (or `ownPodCidr`) is not an IPv4 CIDR
 */
export function desiredRoutes(
  nodes: readonly NodeRouteInfo[],
  self: string,
  clusterCidr: string,
  ownPodCidr?: string,
): { routes: Route[]; skipped: Array<{ node: string; reason: string }> } {
  const cluster = requireCidr(clusterCidr, "the cluster CIDR");
  const own = ownPodCidr ? requireCidr(ownPodCidr, "the node's pod CIDR") : undefined;
  const routes: Route[] = [];
  const skipped: Array<{ node: string; reason: string }> = [];
  const taken = new Map<string, string>();
  for (const node of [...nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    if (node.name === self || !node.podCIDR) continue;
    const skip = (reason: string) => skipped.push({ node: node.name, reason });
    const dst = parseCidr(node.podCIDR);
    if (!dst) {
      skip(`podCIDR "${node.podCIDR}" is not an IPv4 CIDR`);
      continue;
    }
    if (!cidrContains(cluster, dst)) {
      skip(`podCIDR ${node.podCIDR} is outside the cluster CIDR ${clusterCidr}`);
      continue;
    }
    if (own && cidrOverlaps(own, dst)) {
      skip(`podCIDR ${node.podCIDR} overlaps this node's own ${ownPodCidr}`);
      continue;
    }
    const via = node.internalIP === undefined ? undefined : parseIPv4(node.internalIP);
    if (via === undefined || node.internalIP === undefined) {
      skip("no IPv4 InternalIP address");
      continue;
    }
    if (via >>> 24 === 127 || via === 0 || cidrHas(cluster, via)) {
      skip(`InternalIP ${node.internalIP} cannot be a next hop`);
      continue;
    }
    const key = formatCidr(dst);
    const holder = taken.get(key);
    if (holder !== undefined) {
      skip(`podCIDR ${key} is also node ${holder}'s`);
      continue;
    }
    taken.set(key, node.name);
    routes.push({ dst: key, via: node.internalIP });
  }
  return { routes, skipped };
}

/** A route of the main table as `ip -j route show` reports it. */
export interface InstalledRoute {
  dst: string;
  /** next hop, when the route has one */
  via?: string;
  /** `kernel`, `boot`, `static`, `237`, … (`boot` when ip prints none) */
  protocol: string;
}

/** Parses `ip -j -4 route show table main`; entries without a CIDR (`default`) are left out. */
export function parseRouteList(json: string): InstalledRoute[] {
  const text = json.trim();
  if (text === "") return [];
  const list = JSON.parse(text) as Array<{ dst?: string; gateway?: string; protocol?: string }>;
  return list.flatMap((r) => {
    const dst = r.dst === undefined ? undefined : parseCidr(r.dst);
    if (!dst) return [];
    return [{
      dst: formatCidr(dst),
      ...(r.gateway ? { via: r.gateway } : {}),
      protocol: r.protocol ?? "boot",
    }];
  });
}

/** What {@linkcode planRoutes} decided. */
export interface RoutePlan {
  /** routes to add or change (`ip route replace`) */
  replace: Route[];
  /** our routes no longer wanted (`ip route del`) */
  remove: Route[];
  /** desired routes not installed because someone else's route has that destination */
  conflicts: Array<{ route: Route; existing: InstalledRoute }>;
}

/**
 * The changes that turn `installed` into `desired`, touching only routes with our protocol
 * inside the cluster CIDR. Unchanged routes produce no change.
 */
export function planRoutes(
  installed: readonly InstalledRoute[],
  desired: readonly Route[],
  clusterCidr: string,
): RoutePlan {
  const cluster = requireCidr(clusterCidr, "the cluster CIDR");
  const ours = String(ROUTE_PROTOCOL);
  const inCluster = (dst: string) => {
    const cidr = parseCidr(dst);
    return cidr !== undefined && cidrContains(cluster, cidr);
  };
  const mine = new Map<string, InstalledRoute>();
  const foreign = new Map<string, InstalledRoute>();
  for (const r of installed) {
    if (r.protocol === ours && inCluster(r.dst)) mine.set(r.dst, r);
    else foreign.set(r.dst, r);
  }
  const plan: RoutePlan = { replace: [], remove: [], conflicts: [] };
  const wanted = new Set<string>();
  for (const route of desired) {
    if (!inCluster(route.dst)) continue;
    wanted.add(route.dst);
    const existing = foreign.get(route.dst);
    if (existing) {
      plan.conflicts.push({ route, existing });
      continue;
    }
    if (mine.get(route.dst)?.via !== route.via) plan.replace.push(route);
  }
  for (const [dst, r] of mine) {
    if (!wanted.has(dst) && r.via !== undefined) plan.remove.push({ dst, via: r.via });
  }
  return plan;
}

/** `ip` arguments that list the main table's IPv4 routes as JSON. */
export function routeListArgs(): string[] {
  return ["-j", "-4", "route", "show", "table", "main"];
}

function checkedRoute(route: Route): Route {
  const dst = parseCidr(route.dst);
  if (!dst || formatCidr(dst) !== route.dst || parseIPv4(route.via) === undefined) {
    throw new Error(`not a valid route: ${route.dst} via ${route.via}`);
  }
  return route;
}

/** `ip route replace DST via VIA proto 237`. */
export function routeReplaceArgs(route: Route): string[] {
  const r = checkedRoute(route);
  return ["route", "replace", r.dst, "via", r.via, "proto", String(ROUTE_PROTOCOL)];
}

/** `ip route del DST via VIA proto 237` (the kernel deletes it only if all three match). */
export function routeDelArgs(route: Route): string[] {
  const r = checkedRoute(route);
  return ["route", "del", r.dst, "via", r.via, "proto", String(ROUTE_PROTOCOL)];
}

/** What a finished command printed. */
export interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `cmd args…` (an argument array, no shell) and reports how it ended. */
export type CommandRunner = (cmd: string, args: string[]) => Promise<CommandOutput>;

/** {@linkcode CommandRunner} on `Deno.Command`, each command bounded to 30 s. */
export const runCommand: CommandRunner = async (cmd, args) => {
  const output = await new Deno.Command(cmd, {
    args,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
};

/** What {@linkcode applyRoutes} did. */
export interface ApplyRoutesResult {
  replaced: Route[];
  removed: Route[];
  /** one line per route that could not be installed or removed */
  errors: string[];
}

/**
 * Makes this network namespace's main table hold exactly `desired` among our routes inside
 * `clusterCidr`: lists the table, then `ip route replace`/`ip route del` only what differs.
 * A failing route (an unreachable next hop) is reported in `errors`; the others still apply.
 *
 * @throws {Error} when the routing table cannot be read
 */
export async function applyRoutes(
  desired: readonly Route[],
  options: { clusterCidr: string; run?: CommandRunner; ipPath?: string },
): Promise<ApplyRoutesResult> {
  const run = options.run ?? runCommand;
  const ip = options.ipPath ?? "ip";
  const listed = await run(ip, routeListArgs());
  if (listed.code !== 0) throw new Error(`Cannot list routes: ${listed.stderr.trim()}`);
  const plan = planRoutes(parseRouteList(listed.stdout), desired, options.clusterCidr);
  const result: ApplyRoutesResult = { replaced: [], removed: [], errors: [] };
  for (const { route, existing } of plan.conflicts) {
    result.errors.push(
      `route to ${route.dst} via ${route.via} not installed: a route to ${route.dst} ` +
        `(protocol ${existing.protocol}${existing.via ? `, via ${existing.via}` : ""}) is not ours`,
    );
  }
  for (const route of plan.remove) {
    const out = await run(ip, routeDelArgs(route));
    if (out.code === 0) result.removed.push(route);
    else result.errors.push(`Cannot remove route to ${route.dst}: ${out.stderr.trim()}`);
  }
  for (const route of plan.replace) {
    const out = await run(ip, routeReplaceArgs(route));
    if (out.code === 0) result.replaced.push(route);
    else {
      result.errors.push(`Cannot route ${route.dst} via ${route.via}: ${out.stderr.trim()}`);
    }
  }
  return result;
}
