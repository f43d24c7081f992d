/**
 * The service proxy's ruleset as data: a pure function of (Services, Endpoints, node) to a
 * {@linkcode ProxyState}, kube-proxy nftables-mode style, in one table of our own
 * (`ip edge-proxy`). `nft_render.ts` turns a state into an `nft -f` script, or two states
 * into the script that changes one into the other.
 *
 * Packet paths:
 * - `nat-prerouting` / `nat-output` jump to `services`, which looks up
 *   `ip daddr . meta l4proto . th dport` in the `service-ips` verdict map (clusterIPs,
 *   externalIPs, LoadBalancer ingress IPs) and, for addresses of this node
 *   (`fib daddr type local`), `meta l4proto . th dport` in `service-nodeports`.
 * - A service port's chain `service-<hash>` masquerades clusterIP traffic from outside the
 *   cluster CIDR, honours session affinity (`ip saddr @affinity-<hash>` per endpoint, refreshed
 *   with `update`), then picks an endpoint and DNATs to it: endpoint i of n is taken by
 *   `numgen random mod (n-i) == 0`, so each gets 1/n. External traffic (NodePort,
 *   externalIPs, LoadBalancer IPs) enters through `external-<hash>`, which always marks for
 *   masquerade first.
 * - There is no chain per endpoint: nft (1.0.6) lists every chain of the kernel before each
 *   transaction, and that listing grows with the square of the chain count, so 50,000
 *   endpoint chains would make every change cost about a second. Anonymous verdict maps
 *   (`numgen … vmap { … }`) are avoided too: loading 10,000 of them in one transaction is
 *   quadratic in the kernel. Hairpin traffic (an endpoint reaching itself through its
 *   service) is found after DNAT instead, in the `hairpin-endpoints` set of `ip . ip` pairs.
 * - `nat-postrouting` (priority `srcnat - 1`) masquerades marked packets and hairpin traffic
 *   first, then keeps pod-to-pod traffic between pod CIDRs un-NATed with an identity SNAT,
 *   which pre-empts netavark's masquerade.
 * - Before DNAT, `filter-prerouting` / `filter-output` reject new connections to service
 *   ports without endpoints (`no-endpoint-services`, `no-endpoint-nodeports`) and any packet
 *   for a service-CIDR address that is no service's clusterIP. After DNAT, `filter-forward`
 *   / `filter-output-post-dnat` reject whatever is still addressed to the service CIDR (a
 *   clusterIP on a port the service does not have), so nothing for the service range leaves
 *   the node.
 *
 * Only ready addresses (`subsets[].addresses`) are used, matched to a service port by port
 * name and protocol. Every name, address and port is validated; what fails is skipped and
 * described in {@linkcode ProxyState.problems}, never written into the ruleset.
 * ExternalName and headless services produce no rules.
 *
 * @module
 */

import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { isDns1123Label, isDns1123Subdomain } from "../storage/validation.ts";
import { ipv4AddressProblem, isPort, parseIPv4, parseIPv4Cidr } from "./_nft_ip.ts";
import { shortHash } from "./_proxy_hash.ts";

/** The nftables table the proxy owns (family `ip`). */
export const PROXY_TABLE = "edge-proxy";

/** The packet mark bit that asks `nat-postrouting` to masquerade (kube-proxy's bit 14). */
export const MASQUERADE_MARK = "0x4000";

/** `sessionAffinityConfig.clientIP.timeoutSeconds` when a ClientIP service leaves it out. */
export const DEFAULT_AFFINITY_TIMEOUT_SECONDS = 10800;

/** What the proxy needs to know about the node it runs on. */
export interface ProxyNode {
  /** the Node's name (in the table comment) */
  name: string;
  /**
   * the node's addresses; NodePorts match any local address through `fib daddr type local`,
   * so the rules do not list them
   */
  nodeIPs: readonly string[];
  /** the cluster's pod CIDR, e.g. `10.244.0.0/16` */
  clusterCIDR: string;
  /** the service CIDR, e.g. `10.96.0.0/16` */
  serviceCIDR: string;
}

/** Where a base chain hooks into netfilter. */
export interface BaseChainHook {
  type: "filter" | "nat";
  hook: "prerouting" | "forward" | "output" | "postrouting";
  /** the priority as nft reads it (`dstnat - 10`, `-110`) */
  priority: string;
}

/** One chain and its rules, in order. */
export interface ProxyChain {
  name: string;
  comment?: string;
  /** set for base chains only */
  base?: BaseChainHook;
  rules: readonly string[];
}

/** A named set. */
export interface ProxySet {
  name: string;
  /** the element type, `ipv4_addr` */
  type: string;
  flags: readonly string[];
  timeoutSeconds?: number;
  comment?: string;
  elements: ReadonlySet<string>;
}

/** A named verdict map: element key (`10.96.0.10 . udp . 53`) to verdict (`goto …`). */
export interface ProxyMap {
  name: string;
  /** the map type, `ipv4_addr . inet_proto . inet_service : verdict` */
  type: string;
  comment?: string;
  elements: ReadonlyMap<string, string>;
}

/** The whole table, keyed by stable names (insertion order is render order). */
export interface ProxyState {
  table: string;
  comment: string;
  chains: ReadonlyMap<string, ProxyChain>;
  sets: ReadonlyMap<string, ProxySet>;
  maps: ReadonlyMap<string, ProxyMap>;
  /** what was skipped and why (`Service default/web: …`); not part of the ruleset */
  problems: readonly string[];
}

const SERVICES = "services";
const ENDPOINTS_CHECK = "endpoints-check";
const REJECT = "reject-chain";
const MARK_MASQ = "mark-for-masquerade";
const MASQUERADING = "masquerading";
const SERVICE_IPS = "service-ips";
const SERVICE_NODEPORTS = "service-nodeports";
const NO_EP_SERVICES = "no-endpoint-services";
const NO_EP_NODEPORTS = "no-endpoint-nodeports";
const CLUSTER_IPS = "cluster-ips";
const HAIRPIN = "hairpin-endpoints";
const IP_KEY = "ipv4_addr . inet_proto . inet_service : verdict";
const PORT_KEY = "inet_proto . inet_service : verdict";
const NOT_LOOPBACK = "ip daddr != 127.0.0.0/8";

const PROTOCOLS: Record<string, string> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };

interface Draft {
  chains: Map<string, ProxyChain>;
  sets: Map<string, ProxySet>;
  serviceIPs: Map<string, string>;
  serviceNodePorts: Map<string, string>;
  noEndpointServices: Map<string, string>;
  noEndpointNodePorts: Map<string, string>;
  clusterIPs: Set<string>;
  hairpin: Set<string>;
  problems: string[];
}

/** What one service port contributes, before it is checked against the other services. */
interface PortFragment {
  at: string;
  vipKey: string;
  externalKeys: readonly string[];
  nodePortKey: string | undefined;
  /** absent when the port has no ready endpoints (its keys then reject) */
  serviceChain?: ProxyChain;
  externalChain?: ProxyChain;
  affinitySets: readonly ProxySet[];
  hairpin: readonly string[];
}

/** What one Service contributes; a pure function of the Service, its Endpoints and the CIDR. */
interface ServiceFragment {
  clusterIP: string | undefined;
  ports: readonly PortFragment[];
  problems: readonly string[];
}

interface CacheEntry {
  endpoints: Endpoints | undefined;
  clusterCIDR: string;
  fragment: ServiceFragment;
}

/**
 * Remembers each Service's share of the ruleset by object identity (with its Endpoints object
 * and the cluster CIDR), so that a sync after one change recomputes only that service. Pass
 * the same cache to every {@linkcode buildProxyState} call; objects must be replaced, not
 * mutated, when they change (as watch caches do).
 */
export class ProxyModelCache {
  constructor() {
    CACHES.set(this, new WeakMap());
  }
}

const CACHES = new WeakMap<ProxyModelCache, WeakMap<Service, CacheEntry>>();

function cachedFragment(
  cache: ProxyModelCache,
  svc: Service,
  endpoints: Endpoints | undefined,
  clusterCIDR: string,
  compute: () => ServiceFragment,
): ServiceFragment {
  const entries = CACHES.get(cache)!;
  const hit = entries.get(svc);
  if (hit && hit.endpoints === endpoints && hit.clusterCIDR === clusterCIDR) return hit.fragment;
  const fragment = compute();
  entries.set(svc, { endpoints, clusterCIDR, fragment });
  return fragment;
}

interface Backend {
  ip: string;
  port: number;
  sortKey: number;
}

/**
 * The ruleset for `services` and `endpoints` on `node`. Throws when the node's CIDRs or name
 * are invalid (nothing sensible can be built then); anything wrong in a Service or Endpoints
 * object only skips that part and adds a line to `problems`. With a `cache`, services whose
 * objects did not change since the last call are not recomputed.
 *
 * @example
 * ```ts
 * const state = buildProxyState(services, endpoints, {
 *   name: "edge-1", nodeIPs: ["192.168.1.10"],
 *   clusterCIDR: "10.244.0.0/16", serviceCIDR: "10.96.0.0/16",
 * });
 * ```
 */
export function buildProxyState(
  services: readonly Service[],
  endpoints: readonly Endpoints[],
  node: ProxyNode,
  cache: ProxyModelCache = new ProxyModelCache(),
): ProxyState {
  if (!isDns1123Subdomain(node.name)) {
    throw new Error(`Cannot build proxy rules: invalid node name '${node.name}'`);
  }
  const clusterCIDR = parseIPv4Cidr(node.clusterCIDR);
  if (!clusterCIDR) {
    throw new Error(`Cannot build proxy rules: invalid cluster CIDR '${node.clusterCIDR}'`);
  }
  const serviceCIDR = parseIPv4Cidr(node.serviceCIDR);
  if (!serviceCIDR) {
    throw new Error(`Cannot build proxy rules: invalid service CIDR '${node.serviceCIDR}'`);
  }
  const draft: Draft = {
    chains: new Map(),
    sets: new Map(),
    serviceIPs: new Map(),
    serviceNodePorts: new Map(),
    noEndpointServices: new Map(),
    noEndpointNodePorts: new Map(),
    clusterIPs: new Set(),
    hairpin: new Set(),
    problems: [],
  };
  for (const chain of fixedChains(clusterCIDR.text, serviceCIDR.text)) {
    draft.chains.set(chain.name, chain);
  }

  const endpointsByKey = new Map<string, Endpoints>();
  for (const ep of endpoints) endpointsByKey.set(objectKey(ep), ep);
  const sorted = services
    .map((svc) => ({ key: objectKey(svc), svc }))
    .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { key, svc } of sorted) {
    const eps = endpointsByKey.get(key);
    const fragment = cachedFragment(
      cache,
      svc,
      eps,
      clusterCIDR.text,
      () => serviceFragment(key, svc, eps, clusterCIDR.text),
    );
    draft.problems.push(...fragment.problems);
    if (fragment.clusterIP !== undefined) draft.clusterIPs.add(fragment.clusterIP);
    for (const port of fragment.ports) mergePort(draft, port);
  }

  const sets = new Map<string, ProxySet>();
  sets.set(CLUSTER_IPS, {
    name: CLUSTER_IPS,
    type: "ipv4_addr",
    flags: [],
    comment: "clusterIPs of all services",
    elements: draft.clusterIPs,
  });
  sets.set(HAIRPIN, {
    name: HAIRPIN,
    type: "ipv4_addr . ipv4_addr",
    flags: [],
    comment: "endpoint . endpoint: a DNATed packet from an endpoint to itself",
    elements: draft.hairpin,
  });
  for (const [name, set] of draft.sets) sets.set(name, set);
  const maps = new Map<string, ProxyMap>();
  const addMap = (name: string, type: string, comment: string, elements: Map<string, string>) =>
    maps.set(name, { name, type, comment, elements });
  addMap(
    SERVICE_IPS,
    IP_KEY,
    "clusterIP, externalIP and LoadBalancer IP traffic",
    draft.serviceIPs,
  );
  addMap(SERVICE_NODEPORTS, PORT_KEY, "NodePort traffic", draft.serviceNodePorts);
  addMap(NO_EP_SERVICES, IP_KEY, "service ports without endpoints", draft.noEndpointServices);
  addMap(NO_EP_NODEPORTS, PORT_KEY, "NodePorts without endpoints", draft.noEndpointNodePorts);
  return {
    table: PROXY_TABLE,
    comment: `service proxy of node ${node.name}`,
    chains: draft.chains,
    sets,
    maps,
    problems: draft.problems,
  };
}

function objectKey(obj: Service | Endpoints): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

function fixedChains(clusterCIDR: string, serviceCIDR: string): ProxyChain[] {
  const rejectUnallocated = `ip daddr ${serviceCIDR} ip daddr != @${CLUSTER_IPS} goto ${REJECT}`;
  const rejectLeftover = `ip daddr ${serviceCIDR} goto ${REJECT}`;
  const preDnat = [`ct state new jump ${ENDPOINTS_CHECK}`, rejectUnallocated];
  return [
    {
      name: "filter-prerouting",
      base: { type: "filter", hook: "prerouting", priority: "dstnat - 10" },
      rules: preDnat,
    },
    {
      name: "filter-output",
      base: { type: "filter", hook: "output", priority: "-110" },
      rules: preDnat,
    },
    {
      name: "filter-forward",
      base: { type: "filter", hook: "forward", priority: "filter" },
      rules: [rejectLeftover],
    },
    {
      name: "filter-output-post-dnat",
      base: { type: "filter", hook: "output", priority: "-90" },
      rules: [rejectLeftover],
    },
    {
      name: "nat-prerouting",
      base: { type: "nat", hook: "prerouting", priority: "dstnat" },
      rules: [`jump ${SERVICES}`],
    },
    {
      name: "nat-output",
      base: { type: "nat", hook: "output", priority: "-100" },
      rules: [`jump ${SERVICES}`],
    },
    {
      name: "nat-postrouting",
      base: { type: "nat", hook: "postrouting", priority: "srcnat - 1" },
      rules: [
        `jump ${MASQUERADING}`,
        `ct status dnat ip saddr . ip daddr @${HAIRPIN} masquerade fully-random`,
        `ip saddr ${clusterCIDR} ip daddr ${clusterCIDR} snat to ip saddr comment "pod to pod keeps its source"`,
      ],
    },
    {
      name: ENDPOINTS_CHECK,
      rules: [
        `ip daddr . meta l4proto . th dport vmap @${NO_EP_SERVICES}`,
        `fib daddr type local ${NOT_LOOPBACK} meta l4proto . th dport vmap @${NO_EP_NODEPORTS}`,
      ],
    },
    { name: REJECT, rules: ["meta l4proto tcp reject with tcp reset", "reject"] },
    {
      name: SERVICES,
      rules: [
        `ip daddr . meta l4proto . th dport vmap @${SERVICE_IPS}`,
        `fib daddr type local ${NOT_LOOPBACK} meta l4proto . th dport vmap @${SERVICE_NODEPORTS}`,
      ],
    },
    { name: MARK_MASQ, rules: [`meta mark set meta mark | ${MASQUERADE_MARK}`] },
    {
      name: MASQUERADING,
      rules: [
        `meta mark & ${MASQUERADE_MARK} == 0 return`,
        `meta mark set meta mark ^ ${MASQUERADE_MARK}`,
        "masquerade fully-random",
      ],
    },
  ];
}

function serviceFragment(
  key: string,
  svc: Service,
  eps: Endpoints | undefined,
  clusterCIDR: string,
): ServiceFragment {
  const problems: string[] = [];
  const none: ServiceFragment = { clusterIP: undefined, ports: [], problems };
  const spec = svc.spec ?? {};
  const type = spec.type ?? "ClusterIP";
  if (type === "ExternalName" || spec.clusterIP === "None") return none;
  const where = `Service ${key}`;
  const ns = svc.metadata.namespace ?? "";
  const name = svc.metadata.name ?? "";
  if (!isDns1123Label(ns) || !isDns1123Label(name)) {
    problems.push(`${where}: invalid namespace or name`);
    return none;
  }
  const clusterIP = spec.clusterIP ?? "";
  if (clusterIP === "") {
    problems.push(`${where}: no clusterIP allocated yet`);
    return none;
  }
  const ipProblem = ipv4AddressProblem(clusterIP);
  if (ipProblem) {
    problems.push(`${where}: clusterIP '${clusterIP}' ${ipProblem}`);
    return none;
  }

  let affinitySeconds: number | undefined;
  if (spec.sessionAffinity === "ClientIP") {
    const t = spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ??
      DEFAULT_AFFINITY_TIMEOUT_SECONDS;
    if (Number.isInteger(t) && t >= 1 && t <= 86400) affinitySeconds = t;
    else problems.push(`${where}: affinity timeout ${t} is not in 1..86400, ignored`);
  }

  const external: string[] = [];
  const candidates = [
    ...(spec.externalIPs ?? []),
    ...(type === "LoadBalancer"
      ? (svc.status?.loadBalancer?.ingress ?? []).flatMap((i) => (i.ip ? [i.ip] : []))
      : []),
  ];
  for (const ip of candidates) {
    const problem = ipv4AddressProblem(ip);
    if (problem) problems.push(`${where}: external address '${ip}' ${problem}`);
    else if (!external.includes(ip)) external.push(ip);
  }

  const ports: PortFragment[] = [];
  for (const [i, port] of (spec.ports ?? []).entries()) {
    const portName = port.name ?? "";
    const proto = PROTOCOLS[port.protocol ?? "TCP"];
    const at = `${where} port ${portName || i}`;
    if (portName !== "" && !isDns1123Label(portName)) {
      problems.push(`${at}: invalid port name`);
      continue;
    }
    if (!proto) {
      problems.push(`${at}: unsupported protocol '${port.protocol}'`);
      continue;
    }
    if (!isPort(port.port)) {
      problems.push(`${at}: invalid port ${port.port}`);
      continue;
    }
    let nodePort: number | undefined;
    if ((type === "NodePort" || type === "LoadBalancer") && port.nodePort) {
      if (isPort(port.nodePort)) nodePort = port.nodePort;
      else problems.push(`${at}: invalid nodePort ${port.nodePort}, ignored`);
    }
    const backends = backendsFor(problems, at, eps, portName, port.protocol ?? "TCP");
    ports.push(portFragment({
      at,
      identity: `${ns}/${name}/${proto}/${portName}`,
      clusterIP,
      clusterCIDR,
      proto,
      port: port.port,
      nodePort,
      external,
      affinitySeconds,
      backends,
    }));
  }
  return { clusterIP, ports, problems };
}

function backendsFor(
  problems: string[],
  at: string,
  eps: Endpoints | undefined,
  portName: string,
  protocol: string,
): Backend[] {
  const seen = new Set<string>();
  const out: Backend[] = [];
  for (const subset of eps?.subsets ?? []) {
    const port = (subset.ports ?? []).find((p) =>
      (p.name ?? "") === portName && (p.protocol ?? "TCP") === protocol
    );
    if (!port) continue;
    if (!isPort(port.port)) {
      problems.push(`${at}: endpoint port ${port.port} is invalid, skipped`);
      continue;
    }
    for (const address of subset.addresses ?? []) {
      const problem = ipv4AddressProblem(address.ip);
      if (problem) {
        problems.push(`${at}: endpoint '${address.ip}' ${problem}, skipped`);
        continue;
      }
      const id = `${address.ip}:${port.port}`;
      if (seen.has(id)) continue;
      seen.add(id);
      out.push({
        ip: address.ip,
        port: port.port,
        sortKey: parseIPv4(address.ip)! * 65536 + port.port,
      });
    }
  }
  return out.sort((a, b) => a.sortKey - b.sortKey);
}

interface ServicePortPlan {
  at: string;
  identity: string;
  clusterIP: string;
  clusterCIDR: string;
  proto: string;
  port: number;
  nodePort: number | undefined;
  external: readonly string[];
  affinitySeconds: number | undefined;
  backends: readonly Backend[];
}

function portFragment(p: ServicePortPlan): PortFragment {
  const fragment: PortFragment = {
    at: p.at,
    vipKey: `${p.clusterIP} . ${p.proto} . ${p.port}`,
    externalKeys: p.external.map((ip) => `${ip} . ${p.proto} . ${p.port}`),
    nodePortKey: p.nodePort === undefined ? undefined : `${p.proto} . ${p.nodePort}`,
    affinitySets: [],
    hairpin: p.backends.map((b) => `${b.ip} . ${b.ip}`),
  };
  if (p.backends.length === 0) return fragment;

  const hash = shortHash(p.identity);
  const serviceChain = `service-${hash}`;
  const affinitySets: ProxySet[] = [];
  const rules = [`ip daddr ${p.clusterIP} ip saddr != ${p.clusterCIDR} jump ${MARK_MASQ}`];
  // Per endpoint: `update @affinity-… { ip saddr }` (ClientIP only), then the DNAT.
  const dnat = p.backends.map((b) => {
    const dnatTo = `dnat to ${b.ip}:${b.port}`;
    if (p.affinitySeconds === undefined) return { dnatTo, match: "" };
    const set = `affinity-${shortHash(`${p.identity}__${b.ip}/${b.port}`)}`;
    affinitySets.push({
      name: set,
      type: "ipv4_addr",
      flags: ["dynamic", "timeout"],
      timeoutSeconds: p.affinitySeconds,
      elements: new Set(),
    });
    return { dnatTo: `update @${set} { ip saddr } ${dnatTo}`, match: `ip saddr @${set} ` };
  });
  const l4 = `meta l4proto ${p.proto}`;
  if (p.affinitySeconds !== undefined) {
    for (const { dnatTo, match } of dnat) rules.push(`${l4} ${match}${dnatTo}`);
  }
  // Endpoint i of n is taken with probability 1/(n-i) once 0..i-1 were passed over: 1/n each.
  for (const [i, { dnatTo }] of dnat.entries()) {
    const left = dnat.length - i;
    rules.push(left > 1 ? `${l4} numgen random mod ${left} == 0 ${dnatTo}` : `${l4} ${dnatTo}`);
  }
  fragment.serviceChain = { name: serviceChain, comment: p.identity, rules };
  fragment.externalChain = {
    name: `external-${hash}`,
    comment: `${p.identity} external`,
    rules: [`jump ${MARK_MASQ}`, `goto ${serviceChain}`],
  };
  fragment.affinitySets = affinitySets;
  return fragment;
}

/** Claims `key` in `target` unless one of `maps` already has it. */
function claim(
  draft: Draft,
  at: string,
  maps: Map<string, string>[],
  target: Map<string, string>,
  key: string,
  verdict: string,
): boolean {
  if (maps.some((m) => m.has(key))) {
    draft.problems.push(`${at}: '${key}' is already used by another service, skipped`);
    return false;
  }
  target.set(key, verdict);
  return true;
}

/** Adds one port's fragment to the table, unless its address or chain name is taken. */
function mergePort(draft: Draft, p: PortFragment): void {
  const ipMaps = [draft.serviceIPs, draft.noEndpointServices];
  const portMaps = [draft.serviceNodePorts, draft.noEndpointNodePorts];
  const { serviceChain, externalChain } = p;
  if (!serviceChain || !externalChain) {
    const reject = `goto ${REJECT}`;
    if (!claim(draft, p.at, ipMaps, draft.noEndpointServices, p.vipKey, reject)) return;
    for (const k of p.externalKeys) {
      claim(draft, p.at, ipMaps, draft.noEndpointServices, k, reject);
    }
    if (p.nodePortKey) {
      claim(draft, p.at, portMaps, draft.noEndpointNodePorts, p.nodePortKey, reject);
    }
    return;
  }
  const taken = draft.chains.get(serviceChain.name);
  if (taken) {
    draft.problems.push(`${p.at}: chain name ${serviceChain.name} collides with ${taken.comment}`);
    return;
  }
  const toService = `goto ${serviceChain.name}`;
  if (!claim(draft, p.at, ipMaps, draft.serviceIPs, p.vipKey, toService)) return;
  draft.chains.set(serviceChain.name, serviceChain);
  const toExternal = `goto ${externalChain.name}`;
  let usesExternal = false;
  for (const k of p.externalKeys) {
    if (claim(draft, p.at, ipMaps, draft.serviceIPs, k, toExternal)) usesExternal = true;
  }
  if (
    p.nodePortKey &&
    claim(draft, p.at, portMaps, draft.serviceNodePorts, p.nodePortKey, toExternal)
  ) {
    usesExternal = true;
  }
  if (usesExternal) draft.chains.set(externalChain.name, externalChain);
  for (const set of p.affinitySets) draft.sets.set(set.name, set);
  for (const pair of p.hairpin) draft.hairpin.add(pair);
}
