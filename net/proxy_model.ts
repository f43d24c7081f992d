/**
 * The service proxy's ruleset as data: a pure function of (Services, Endpoints, node) to a
 * {@linkcode ProxyState}, kube-proxy nftables-mode style, in one table of our own
 * (`ip edge-proxy`). `nft_render.ts` turns a state into an `nft -f` script, or two states
 * into the script that changes one into the other (`proxy_diff.ts` finds what changed).
 *
 * Packet paths:
 * - `nat-prerouting` / `nat-output` jump to `services`, which looks up
 *   `ip daddr . meta l4proto . th dport` in the `service-ips` verdict map (clusterIPs,
 *   externalIPs, LoadBalancer ingress IPs) and, for addresses of this node
 *   (`fib daddr type local`), `meta l4proto . th dport` in `service-nodeports`.
 * - A TCP service port with n ready endpoints goes to the chain `pick-tcp-<n>` (UDP and SCTP
 *   alike), shared by every TCP service port with n endpoints: it masquerades clusterIP
 *   traffic from outside the cluster CIDR, then DNATs through the map `tcp-endpoints-<n>`
 *   with `numgen random mod n` as the last part of the key: the elements
 *   `<address> . <port> . <i>` hold the i-th endpoint's `ip . port`, so each endpoint gets
 *   1/n. External traffic (externalIPs, LoadBalancer IPs) enters through
 *   `pick-tcp-external-<n>`, which marks for masquerade first; NodePorts through
 *   `pick-tcp-nodeport-<n>`, which marks and DNATs with `tcp-nodeport-endpoints-<n>`
 *   (`<nodePort> . <i>`).
 * - Service ports with `sessionAffinity: ClientIP` keep a chain of their own,
 *   `service-<hash>` (and `external-<hash>` for external traffic): per endpoint, a source
 *   found in the timed set `affinity-<hash>` goes back to that endpoint, then the endpoint is
 *   picked as `numgen random mod (n-i) == 0` for endpoint i of n (1/n each) and the source
 *   remembered with `update`.
 * - Why so few chains (measured with nft 1.0.6, 10,000 services × 5 endpoints): nft lists
 *   every chain of every table (any family) before each transaction, about 4 ms per 1,000
 *   chains and faster than linear, and the kernel re-validates every chain a new rule or
 *   verdict can reach; with a chain per service one change took 70 ms of `nft -f`, with
 *   map elements it takes 15-25 ms, most of which is starting nft and closing its netlink
 *   socket. A new rule that reads a map makes the kernel check every element of that map,
 *   hence one endpoint map per endpoint count. Anonymous verdict maps
 *   (`numgen … vmap { … }`) are avoided too: loading 10,000 of them is quadratic in the
 *   kernel; and a single interval map (`numgen random mod 2520` into ranges) refuses
 *   50,000 elements.
 * - Hairpin traffic (an endpoint reaching itself through its service) is found after DNAT,
 *   in the `hairpin-endpoints` set of `ip . ip` pairs: the endpoints in the node's
 *   `podCIDR` or at its addresses, or every endpoint when the node's `podCIDR` is not known.
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
 * A state is kept as one slice per Service (what that service contributes) plus persistent
 * indexes, so that with a {@linkcode ProxyModelCache} a build after a few changes costs in
 * proportion to the changes, and `proxy_diff.ts` compares only the slices that differ.
 *
 * @module
 */

import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import { isDns1123Label, isDns1123Subdomain } from "../storage/validation.ts";
import { ipv4AddressProblem, type Ipv4Cidr, isPort, parseIPv4Cidr } from "./_nft_ip.ts";
import { parseIPv4 } from "./ipv4.ts";
import { PMap, type PMapBuilder } from "./_pmap.ts";
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
  /**
   * this node's pod CIDR (`spec.podCIDR`, e.g. `10.244.1.0/24`). Only an endpoint on this
   * node can reach itself through a service here, so when it is set, `hairpin-endpoints`
   * holds only the endpoints inside it or at one of `nodeIPs` (a few hundred at most,
   * instead of every endpoint of the cluster).
   */
  podCIDR?: string;
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

/** A named map: element key (`10.96.0.10 . udp . 53`) to value (`goto …`, `10.244.1.5 . 53`). */
export interface ProxyMap {
  name: string;
  /**
   * the map type, `ipv4_addr . inet_proto . inet_service : verdict`, or with `typeof`, the
   * expressions the key and value are typed after
   * (`ip daddr . tcp dport . numgen random mod 1 : ip daddr . tcp dport`)
   */
  type: string;
  /** `type` lists expressions (`typeof …`), not type names */
  typeof?: boolean;
  comment?: string;
  elements: ReadonlyMap<string, string>;
}

/** The whole table, keyed by stable names (insertion order is render order). */
export interface ProxyState {
  readonly table: string;
  readonly comment: string;
  readonly chains: ReadonlyMap<string, ProxyChain>;
  readonly sets: ReadonlyMap<string, ProxySet>;
  readonly maps: ReadonlyMap<string, ProxyMap>;
  /** what was skipped and why (`Service default/web: …`); not part of the ruleset */
  readonly problems: readonly string[];
}

const SERVICES = "services";
const ENDPOINTS_CHECK = "endpoints-check";
const REJECT = "reject-chain";
const MARK_MASQ = "mark-for-masquerade";
const MASQUERADING = "masquerading";
/** The set of every service's clusterIP (the names below are exported for `proxy_diff.ts`). */
export const CLUSTER_IPS = "cluster-ips";
/** The set of `endpoint . endpoint` pairs whose traffic is masqueraded (hairpin). */
export const HAIRPIN = "hairpin-endpoints";
const IP_KEY = "ipv4_addr . inet_proto . inet_service : verdict";
const PORT_KEY = "inet_proto . inet_service : verdict";
const NOT_LOOPBACK = "ip daddr != 127.0.0.0/8";

/** The transport protocols of service ports, by Kubernetes name. */
const PROTOCOLS: Record<string, string> = { TCP: "tcp", UDP: "udp", SCTP: "sctp" };
const PROTOCOL_ORDER = ["tcp", "udp", "sctp"];

/** A map's definition (everything but its elements). */
export type ProxyMapDefinition = Omit<ProxyMap, "elements">;

const SERVICE_IPS = "service-ips";
const SERVICE_NODEPORTS = "service-nodeports";
const NO_EP_SERVICES = "no-endpoint-services";
const NO_EP_NODEPORTS = "no-endpoint-nodeports";

/** The verdict maps every table has, in render order. */
const FIXED_MAPS: readonly ProxyMapDefinition[] = [
  { name: SERVICE_IPS, type: IP_KEY, comment: "clusterIP, externalIP and LoadBalancer IP traffic" },
  { name: SERVICE_NODEPORTS, type: PORT_KEY, comment: "NodePort traffic" },
  { name: NO_EP_SERVICES, type: IP_KEY, comment: "service ports without endpoints" },
  { name: NO_EP_NODEPORTS, type: PORT_KEY, comment: "NodePorts without endpoints" },
];

const ENDPOINT_MAP_RE = /^(tcp|udp|sctp)-(nodeport-)?endpoints-([0-9]+)$/;
const ENDPOINT_MAPS = new Map<string, ProxyMapDefinition>();

/**
 * The definition of an endpoint map: `tcp-endpoints-<n>` (`<address> . <port> . <i>` to the
 * i-th endpoint's `ip . port`, for the service ports with n TCP endpoints) or
 * `tcp-nodeport-endpoints-<n>` (`<nodePort> . <i>`); UDP and SCTP alike.
 *
 * One map per protocol and endpoint count: a rule that reads a map makes the kernel check
 * every element of it, so the chain a new endpoint count needs must not read a map with
 * every endpoint of the node in it. The maps are typed after `tcp dport` (and so on): nft
 * 1.0.6 cannot add a rule that refers to a map typed `… : ip daddr . th dport` once that map
 * is in the kernel ("conflicting protocols specified: ip vs. th"), and a protocol's own type
 * makes nft check the protocol in the rule, which the rule needs anyway.
 */
function endpointMap(name: string): ProxyMapDefinition {
  const known = ENDPOINT_MAPS.get(name);
  if (known) return known;
  const [, p, nodePort, n] = ENDPOINT_MAP_RE.exec(name)!;
  const of = `the endpoint, for services with ${n} ${p!.toUpperCase()} endpoint${
    n === "1" ? "" : "s"
  }`;
  const def: ProxyMapDefinition = nodePort
    ? {
      name,
      type: `${p} dport . numgen random mod 1 : ip daddr . ${p} dport`,
      typeof: true,
      comment: `NodePort . endpoint index: ${of}`,
    }
    : {
      name,
      type: `ip daddr . ${p} dport . numgen random mod 1 : ip daddr . ${p} dport`,
      typeof: true,
      comment: `address . port . endpoint index: ${of}`,
    };
  ENDPOINT_MAPS.set(name, def);
  return def;
}

/** ClientIP affinity: the chains and timed sets of one service port. */
interface StickyRules {
  serviceChain: ProxyChain;
  externalChain: ProxyChain;
  affinitySets: readonly ProxySet[];
}

/** What one service port contributes, before it is checked against the other services. */
interface PortFragment {
  at: string;
  /** `tcp`, `udp` or `sctp` */
  proto: string;
  port: number;
  clusterIP: string;
  external: readonly string[];
  nodePort: number | undefined;
  /** each ready endpoint's `ip . port`, in pick order; empty when the port rejects */
  targets: readonly string[];
  /** set for ports with endpoints and ClientIP affinity */
  sticky: StickyRules | undefined;
  /** the endpoints' addresses (`hairpin-endpoints` holds `ip . ip` for each) */
  hairpin: readonly string[];
}

/** What one Service contributes; a pure function of the Service, its Endpoints and the CIDR. */
interface ServiceFragment {
  clusterIP: string | undefined;
  ports: readonly PortFragment[];
  problems: readonly string[];
}

/** One element of a map. */
export interface SliceElement {
  /** the map's name */
  map: string;
  key: string;
  value: string;
}

/** The endpoints of one address and port in an endpoint map. */
export interface SliceTargets {
  map: string;
  /** `<address> . <port>` or `<nodePort>` */
  key: string;
  /** each endpoint's `ip . port`, by index */
  targets: readonly string[];
}

/** Calls `fn` with every map element of `slice`, verdict maps first, in order. */
export function eachElement(
  slice: ServiceSlice,
  fn: (map: string, key: string, value: string) => void,
): void {
  for (const e of slice.elements) fn(e.map, e.key, e.value);
  for (const { map, key, targets } of slice.targets) {
    for (let i = 0; i < targets.length; i++) fn(map, `${key} . ${i}`, targets[i]!);
  }
}

/**
 * What one Service (all objects with its namespace/name) adds to the table, once checked
 * against the services before it. Map elements, chains and sets are the slice's alone (so
 * two states differ in them only where their slices differ); clusterIPs, hairpin pairs and
 * `pick-*` chains (with their endpoint maps) may be shared and are counted.
 */
export interface ServiceSlice {
  readonly key: string;
  readonly fragments: readonly ServiceFragment[];
  readonly problems: readonly string[];
  readonly clusterIPs: readonly string[];
  /** its elements of the verdict maps */
  readonly elements: readonly SliceElement[];
  /** its elements of the endpoint maps, `<key> . <i> : <targets[i]>` for each i */
  readonly targets: readonly SliceTargets[];
  /** endpoint addresses, each `ip . ip` in `hairpin-endpoints` */
  readonly hairpin: readonly string[];
  /** names of the shared `pick-*` chains the slice jumps to */
  readonly picks: readonly string[];
  readonly chains: readonly ProxyChain[];
  readonly sets: readonly ProxySet[];
  /** how many of its addresses, ports or names another service already had */
  readonly conflicts: number;
}

/**
 * The inside of a state built by {@linkcode buildProxyState} (for `proxy_diff.ts`): the
 * slices in service-key order and persistent indexes over them.
 */
export interface ProxyParts {
  /** unique per built state */
  readonly id: number;
  /** the state this one was derived from, and the service keys whose slices may differ */
  readonly base?: { readonly id: number; readonly changed: readonly string[] };
  readonly nodeSignature: string;
  /** whether an endpoint address is on this node (undefined: any may be) */
  readonly local: ((ip: string) => boolean) | undefined;
  readonly clusterCIDR: string;
  readonly fixedChains: readonly ProxyChain[];
  /** sorted service keys, and their slices at the same index */
  readonly keys: readonly string[];
  readonly slices: readonly ServiceSlice[];
  /**
   * per map whose keys services claim (the four verdict maps): element key to value; an
   * endpoint map's keys follow from the claimed ones
   */
  readonly maps: ReadonlyMap<string, PMap<string>>;
  /**
   * clusterIP, hairpin address and `pick-*` chain name to how many slices use it (a `pick-*`
   * chain comes with its endpoint map)
   */
  readonly clusterIPs: PMap<number>;
  readonly hairpin: PMap<number>;
  readonly picks: PMap<number>;
  /** the slices' own chains and sets by name */
  readonly chains: PMap<ProxyChain>;
  readonly sets: PMap<ProxySet>;
  /** conflicts (and duplicate objects) in all slices */
  readonly conflicts: number;
}

const PARTS = new WeakMap<ProxyState, ProxyParts>();

/** The slices and indexes of a state {@linkcode buildProxyState} made (undefined for others). */
export function proxyParts(state: ProxyState): ProxyParts | undefined {
  return PARTS.get(state);
}

/** The slice of service `key` in `parts`, if it has one. */
export function sliceOf(parts: ProxyParts, key: string): ServiceSlice | undefined {
  const i = indexOf(parts.keys, key);
  return parts.keys[i] === key ? parts.slices[i] : undefined;
}

/** The first index whose key is not below `key` (binary search). */
function indexOf(keys: readonly string[], key: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keys[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

const PICK_RE = /^pick-(tcp|udp|sctp)-(external-|nodeport-)?([0-9]+)$/;
const PICK_KINDS = [undefined, "external-", "nodeport-"];
const PICK_CHAINS = new Map<string, ProxyChain>();

/** The names of the `pick-*` chains of `parts`, in render order (by count, protocol, kind). */
function pickNames(parts: ProxyParts): string[] {
  const names: { order: number[]; name: string }[] = [];
  for (const [name] of parts.picks.entries()) {
    const m = PICK_RE.exec(name)!;
    const order = [Number(m[3]), PROTOCOL_ORDER.indexOf(m[1]!), PICK_KINDS.indexOf(m[2])];
    names.push({ order, name });
  }
  names.sort((a, b) =>
    a.order[0]! - b.order[0]! || a.order[1]! - b.order[1]! || a.order[2]! - b.order[2]!
  );
  return names.map(({ name }) => name);
}

/** The `pick-*` chains of `parts`, in render order. */
export function pickChains(parts: ProxyParts): ProxyChain[] {
  return pickNames(parts).map((name) => pickChain(name, parts.clusterCIDR));
}

/** The definitions of every map of `parts`, in render order. */
export function mapDefinitions(parts: ProxyParts): ProxyMapDefinition[] {
  const defs = [...FIXED_MAPS];
  for (const name of pickNames(parts)) {
    const map = pickMap(name);
    if (map) defs.push(endpointMap(map));
  }
  return defs;
}

/** The endpoint map the `pick-*` chain `name` reads, if it reads one. */
function pickMap(name: string): string | undefined {
  const [, p, kind, n] = PICK_RE.exec(name)!;
  if (kind === "external-") return undefined;
  return `${p}-${kind ?? ""}endpoints-${n}`;
}

/** The name of a shared chain that picks one of `n` endpoints of protocol `proto`. */
function pickName(proto: string, kind: "" | "external-" | "nodeport-", n: number): string {
  return `pick-${proto}-${kind}${n}`;
}

/** The shared chain `name` (`pick-tcp-3`, `pick-tcp-external-3`, `pick-tcp-nodeport-3`). */
function pickChain(name: string, clusterCIDR: string): ProxyChain {
  const id = `${name} ${clusterCIDR}`;
  const known = PICK_CHAINS.get(id);
  if (known) return known;
  const [, p, kind, n] = PICK_RE.exec(name)!;
  const to = `${p!.toUpperCase()} traffic to ${
    n === "1" ? "the endpoint" : `one of ${n} endpoints`
  }`;
  let chain: ProxyChain;
  if (kind === "external-") {
    chain = {
      name,
      comment: `external ${to}`,
      rules: [`jump ${MARK_MASQ}`, `goto ${pickName(p!, "", Number(n))}`],
    };
  } else if (kind === "nodeport-") {
    const map = pickMap(name);
    chain = {
      name,
      comment: `NodePort ${to}`,
      rules: [`jump ${MARK_MASQ}`, `dnat to ${p} dport . numgen random mod ${n} map @${map}`],
    };
  } else {
    const map = pickMap(name);
    chain = {
      name,
      comment: to,
      rules: [
        `ip daddr @${CLUSTER_IPS} ip saddr != ${clusterCIDR} jump ${MARK_MASQ}`,
        `dnat to ip daddr . ${p} dport . numgen random mod ${n} map @${map}`,
      ],
    };
  }
  PICK_CHAINS.set(id, chain);
  return chain;
}

interface Seen<T> {
  obj: T;
  gen: number;
}

/** What the cache remembers of the last build, to find what changed since. */
interface LastBuild {
  parts: ProxyParts;
  comment: string;
  problems: readonly string[];
  gen: number;
  services: Map<string, Seen<Service>>;
  endpoints: Map<string, Seen<Endpoints>>;
  /** an input held two objects with one key: the next build starts from scratch */
  duplicates: boolean;
}

interface CacheEntry {
  endpoints: Endpoints | undefined;
  clusterCIDR: string;
  fragment: ServiceFragment;
}

interface CacheData {
  fragments: WeakMap<Service, CacheEntry>;
  last?: LastBuild;
}

/**
 * Remembers each Service's share of the ruleset by object identity (with its Endpoints object
 * and the cluster CIDR), and the last state built, so that a build after a few changes
 * recomputes and re-merges only the services whose objects changed. Pass the same cache to
 * every {@linkcode buildProxyState} call; objects must be replaced, not mutated, when they
 * change (as watch caches do). The states built do not depend on the cache.
 */
export class ProxyModelCache {
  constructor() {
    CACHES.set(this, { fragments: new WeakMap() });
  }
}

const CACHES = new WeakMap<ProxyModelCache, CacheData>();

function cachedFragment(
  cache: CacheData,
  key: string,
  svc: Service,
  endpoints: Endpoints | undefined,
  clusterCIDR: string,
): ServiceFragment {
  const hit = cache.fragments.get(svc);
  if (hit && hit.endpoints === endpoints && hit.clusterCIDR === clusterCIDR) return hit.fragment;
  const fragment = serviceFragment(key, svc, endpoints, clusterCIDR);
  cache.fragments.set(svc, { endpoints, clusterCIDR, fragment });
  return fragment;
}

const KEYS = new WeakMap<Service | Endpoints, string>();

function objectKey(obj: Service | Endpoints): string {
  let key = KEYS.get(obj);
  if (key === undefined) {
    key = `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
    KEYS.set(obj, key);
  }
  return key;
}

let nextStateId = 1;

/**
 * The ruleset for `services` and `endpoints` on `node`. Throws when the node's CIDRs or name
 * are invalid (nothing sensible can be built then); anything wrong in a Service or Endpoints
 * object only skips that part and adds a line to `problems`. With a `cache`, only the
 * services whose objects changed since the last call are recomputed.
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
  const data = CACHES.get(cache)!;
  let podCIDR: Ipv4Cidr | undefined;
  if (node.podCIDR !== undefined) {
    podCIDR = parseIPv4Cidr(node.podCIDR);
    if (!podCIDR) throw new Error(`Cannot build proxy rules: invalid pod CIDR '${node.podCIDR}'`);
  }
  const local = podCIDR ? isLocal(podCIDR, node.nodeIPs) : undefined;
  const signature = [node.name, clusterCIDR.text, serviceCIDR.text, podCIDR?.text ?? "-"]
    .concat(podCIDR ? node.nodeIPs : []).join(" ");
  const last = data.last;
  const parts = last && !last.duplicates && last.parts.conflicts === 0 &&
      last.parts.nodeSignature === signature
    ? buildChanges(data, last, services, endpoints)
    : undefined;
  if (parts) return newState(last!);
  return buildAll(data, services, endpoints, signature, node.name, local, {
    cluster: clusterCIDR.text,
    service: serviceCIDR.text,
  });
}

function problemsOf(parts: ProxyParts): string[] {
  const problems: string[] = [];
  for (const slice of parts.slices) {
    if (slice.problems.length > 0) problems.push(...slice.problems);
  }
  return problems;
}

/** Whether an (already validated) endpoint address is in `podCIDR` or one of `nodeIPs`. */
function isLocal(podCIDR: Ipv4Cidr, nodeIPs: readonly string[]): (ip: string) => boolean {
  const size = 2 ** (32 - podCIDR.bits);
  const own = new Set(nodeIPs);
  return (ip) => {
    const n = parseIPv4(ip);
    return own.has(ip) || (n !== undefined && n >= podCIDR.base && n < podCIDR.base + size);
  };
}

function newState(last: LastBuild): ProxyState {
  const state = new BuiltState(last.parts, last.comment, last.problems);
  PARTS.set(state, last.parts);
  return state;
}

/** Builds every slice anew (first build, node change, or after conflicts or duplicates). */
function buildAll(
  data: CacheData,
  services: readonly Service[],
  endpoints: readonly Endpoints[],
  signature: string,
  nodeName: string,
  local: ((ip: string) => boolean) | undefined,
  cidrs: { cluster: string; service: string },
): ProxyState {
  const last: LastBuild = {
    parts: undefined!,
    comment: `service proxy of node ${nodeName}`,
    problems: [],
    gen: 1,
    services: new Map(),
    endpoints: new Map(),
    duplicates: false,
  };
  for (const ep of endpoints) {
    const key = objectKey(ep);
    if (last.endpoints.has(key)) last.duplicates = true;
    last.endpoints.set(key, { obj: ep, gen: 1 });
  }
  const byKey = new Map<string, Service[]>();
  for (const svc of services) {
    const key = objectKey(svc);
    const same = byKey.get(key);
    if (same) {
      same.push(svc);
      last.duplicates = true;
    } else {
      byKey.set(key, [svc]);
      last.services.set(key, { obj: svc, gen: 1 });
    }
  }
  const keys = [...byKey.keys()].sort();
  const indexes = new Indexes(undefined, local);
  const slices = keys.map((key) => {
    const eps = last.endpoints.get(key)?.obj;
    const fragments = byKey.get(key)!.map((svc) =>
      cachedFragment(data, key, svc, eps, cidrs.cluster)
    );
    return mergeSlice(indexes, key, fragments);
  });
  last.parts = indexes.finish({
    id: nextStateId++,
    nodeSignature: signature,
    local,
    clusterCIDR: cidrs.cluster,
    fixedChains: fixedChains(cidrs.cluster, cidrs.service),
    keys,
    slices,
    conflicts: slices.reduce((n, s) => n + s.conflicts, 0) + (last.duplicates ? 1 : 0),
  });
  last.problems = problemsOf(last.parts);
  data.last = last;
  return newState(last);
}

/**
 * Re-merges only the services whose Service or Endpoints object changed since `last`, or
 * returns undefined when that cannot give what {@linkcode buildAll} would (duplicate keys,
 * or a changed service claiming what another one has).
 */
function buildChanges(
  data: CacheData,
  last: LastBuild,
  services: readonly Service[],
  endpoints: readonly Endpoints[],
): ProxyParts | undefined {
  const gen = ++last.gen;
  const changed = new Set<string>();
  const scan = <T extends Service | Endpoints>(objs: readonly T[], seen: Map<string, Seen<T>>) => {
    for (const obj of objs) {
      const key = objectKey(obj);
      const entry = seen.get(key);
      if (!entry) {
        seen.set(key, { obj, gen });
        changed.add(key);
      } else if (entry.gen === gen) {
        return false;
      } else {
        if (entry.obj !== obj) {
          entry.obj = obj;
          changed.add(key);
        }
        entry.gen = gen;
      }
    }
    if (seen.size !== objs.length) {
      for (const [key, entry] of seen) {
        if (entry.gen !== gen) {
          seen.delete(key);
          changed.add(key);
        }
      }
    }
    return true;
  };
  if (!scan(services, last.services) || !scan(endpoints, last.endpoints)) {
    last.duplicates = true;
    return undefined;
  }
  const base = last.parts;
  const candidates = [...changed].sort();
  const indexes = new Indexes(base, base.local);
  const before: (ServiceSlice | undefined)[] = candidates.map((key) => sliceOf(base, key));
  for (const slice of before) if (slice) indexes.remove(slice);
  const after: (ServiceSlice | undefined)[] = [];
  for (const key of candidates) {
    const svc = last.services.get(key)?.obj;
    if (!svc) {
      after.push(undefined);
      continue;
    }
    const eps = last.endpoints.get(key)?.obj;
    const slice = mergeSlice(indexes, key, [
      cachedFragment(data, key, svc, eps, base.clusterCIDR),
    ]);
    if (slice.conflicts > 0) return undefined;
    after.push(slice);
  }
  const touched: string[] = [];
  let keys = base.keys;
  let slices = base.slices;
  let resized = false;
  for (const [i, key] of candidates.entries()) {
    if (before[i] === undefined && after[i] === undefined) continue;
    touched.push(key);
    if ((before[i] === undefined) !== (after[i] === undefined)) resized = true;
  }
  if (resized) {
    // merge the sorted base keys with the sorted candidates, dropping removed services
    const k: string[] = [];
    const s: ServiceSlice[] = [];
    const take = (key: string, slice: ServiceSlice | undefined) => {
      if (slice) {
        k.push(key);
        s.push(slice);
      }
    };
    let i = 0;
    let j = 0;
    while (i < base.keys.length || j < candidates.length) {
      const a = base.keys[i];
      const c = candidates[j];
      if (c === undefined || (a !== undefined && a < c)) take(a!, base.slices[i++]);
      else {
        if (a === c) i++;
        take(c, after[j++]);
      }
    }
    keys = k;
    slices = s;
  } else if (touched.length > 0) {
    const s = [...base.slices];
    for (const [i, key] of candidates.entries()) {
      if (after[i]) s[indexOf(keys, key)] = after[i]!;
    }
    slices = s;
  }
  last.parts = indexes.finish({
    id: nextStateId++,
    base: { id: base.id, changed: touched },
    nodeSignature: base.nodeSignature,
    local: base.local,
    clusterCIDR: base.clusterCIDR,
    fixedChains: base.fixedChains,
    keys,
    slices,
    conflicts: 0,
  });
  // the problems change only where slices with problems came or went
  if ([...before, ...after].some((slice) => slice && slice.problems.length > 0)) {
    last.problems = problemsOf(last.parts);
  }
  return last.parts;
}

/** The indexes of a state being built, copied on write from the base state's. */
class Indexes {
  readonly #baseMaps: ReadonlyMap<string, PMap<string>>;
  readonly #maps = new Map<string, PMapBuilder<string>>();
  readonly clusterIPs: PMapBuilder<number>;
  readonly hairpin: PMapBuilder<number>;
  readonly picks: PMapBuilder<number>;
  readonly chains: PMapBuilder<ProxyChain>;
  readonly sets: PMapBuilder<ProxySet>;

  readonly local: ((ip: string) => boolean) | undefined;

  constructor(base: ProxyParts | undefined, local: ((ip: string) => boolean) | undefined) {
    this.local = local;
    this.#baseMaps = base?.maps ?? new Map();
    this.clusterIPs = (base?.clusterIPs ?? PMap.empty<number>()).edit();
    this.hairpin = (base?.hairpin ?? PMap.empty<number>()).edit();
    this.picks = (base?.picks ?? PMap.empty<number>()).edit();
    this.chains = (base?.chains ?? PMap.empty<ProxyChain>()).edit();
    this.sets = (base?.sets ?? PMap.empty<ProxySet>()).edit();
  }

  /** The elements of map `name` (none yet for a new map). */
  map(name: string): PMapBuilder<string> {
    let map = this.#maps.get(name);
    if (!map) {
      map = (this.#baseMaps.get(name) ?? PMap.empty<string>()).edit();
      this.#maps.set(name, map);
    }
    return map;
  }

  /** Takes everything `slice` added out again. */
  remove(slice: ServiceSlice): void {
    for (const ip of slice.clusterIPs) release(this.clusterIPs, ip);
    for (const e of slice.elements) this.map(e.map).delete(e.key);
    for (const ip of slice.hairpin) release(this.hairpin, ip);
    for (const name of slice.picks) release(this.picks, name);
    for (const chain of slice.chains) this.chains.delete(chain.name);
    for (const set of slice.sets) this.sets.delete(set.name);
  }

  finish(
    rest: Omit<ProxyParts, "maps" | "clusterIPs" | "hairpin" | "picks" | "chains" | "sets">,
  ): ProxyParts {
    const maps = new Map(this.#baseMaps);
    for (const [name, map] of this.#maps) maps.set(name, map.finish());
    return {
      ...rest,
      maps,
      clusterIPs: this.clusterIPs.finish(),
      hairpin: this.hairpin.finish(),
      picks: this.picks.finish(),
      chains: this.chains.finish(),
      sets: this.sets.finish(),
    };
  }
}

function hold(counts: PMapBuilder<number>, key: string): void {
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

function release(counts: PMapBuilder<number>, key: string): void {
  const n = counts.get(key) ?? 0;
  if (n <= 1) counts.delete(key);
  else counts.set(key, n - 1);
}

/** A slice under construction. */
interface SliceDraft {
  problems: string[];
  elements: SliceElement[];
  targets: SliceTargets[];
  hairpin: string[];
  picks: string[];
  chains: ProxyChain[];
  sets: ProxySet[];
  conflicts: number;
}

/** Merges the fragments of the objects with service key `key` into `indexes`. */
function mergeSlice(
  indexes: Indexes,
  key: string,
  fragments: readonly ServiceFragment[],
): ServiceSlice {
  const draft: SliceDraft = {
    problems: [],
    elements: [],
    targets: [],
    hairpin: [],
    picks: [],
    chains: [],
    sets: [],
    conflicts: fragments.length - 1,
  };
  const clusterIPs: string[] = [];
  for (const fragment of fragments) {
    draft.problems.push(...fragment.problems);
    if (fragment.clusterIP !== undefined) {
      clusterIPs.push(fragment.clusterIP);
      hold(indexes.clusterIPs, fragment.clusterIP);
    }
    for (const port of fragment.ports) mergePort(indexes, draft, port);
  }
  return { key, fragments, clusterIPs, ...draft };
}

/** Claims `key` for map `target` unless one of `maps` already has it. */
function claim(
  indexes: Indexes,
  draft: SliceDraft,
  at: string,
  maps: readonly string[],
  target: string,
  key: string,
  value: string,
): boolean {
  if (maps.some((m) => indexes.map(m).has(key))) {
    draft.problems.push(`${at}: '${key}' is already used by another service, skipped`);
    draft.conflicts++;
    return false;
  }
  indexes.map(target).set(key, value);
  draft.elements.push({ map: target, key, value });
  return true;
}

function usePick(indexes: Indexes, draft: SliceDraft, name: string): void {
  hold(indexes.picks, name);
  draft.picks.push(name);
}

/** Adds the endpoint map elements of `key`: the endpoints' `ip . port` by index. */
function putTargets(draft: SliceDraft, map: string, key: string, targets: readonly string[]) {
  draft.targets.push({ map, key, targets });
}

/** Adds one port's fragment to the table, unless its address or chain name is taken. */
function mergePort(indexes: Indexes, draft: SliceDraft, p: PortFragment): void {
  const ipMaps = [SERVICE_IPS, NO_EP_SERVICES];
  const portMaps = [SERVICE_NODEPORTS, NO_EP_NODEPORTS];
  const vipKey = `${p.clusterIP} . ${p.proto} . ${p.port}`;
  const nodePortKey = p.nodePort === undefined ? undefined : `${p.proto} . ${p.nodePort}`;
  const n = p.targets.length;
  if (n === 0) {
    const reject = `goto ${REJECT}`;
    if (!claim(indexes, draft, p.at, ipMaps, NO_EP_SERVICES, vipKey, reject)) return;
    for (const ip of p.external) {
      claim(indexes, draft, p.at, ipMaps, NO_EP_SERVICES, `${ip} . ${p.proto} . ${p.port}`, reject);
    }
    if (nodePortKey) {
      claim(indexes, draft, p.at, portMaps, NO_EP_NODEPORTS, nodePortKey, reject);
    }
    return;
  }
  if (p.sticky) {
    const { serviceChain, externalChain, affinitySets } = p.sticky;
    const taken = indexes.chains.get(serviceChain.name);
    if (taken) {
      draft.problems.push(
        `${p.at}: chain name ${serviceChain.name} collides with ${taken.comment}`,
      );
      draft.conflicts++;
      return;
    }
    const setTaken = affinitySets.find((s) => indexes.sets.has(s.name));
    if (setTaken) {
      draft.problems.push(`${p.at}: set name ${setTaken.name} is taken, skipped`);
      draft.conflicts++;
      return;
    }
    const toService = `goto ${serviceChain.name}`;
    if (!claim(indexes, draft, p.at, ipMaps, SERVICE_IPS, vipKey, toService)) return;
    indexes.chains.set(serviceChain.name, serviceChain);
    draft.chains.push(serviceChain);
    const toExternal = `goto ${externalChain.name}`;
    let usesExternal = false;
    for (const ip of p.external) {
      const key = `${ip} . ${p.proto} . ${p.port}`;
      if (claim(indexes, draft, p.at, ipMaps, SERVICE_IPS, key, toExternal)) usesExternal = true;
    }
    if (
      nodePortKey &&
      claim(indexes, draft, p.at, portMaps, SERVICE_NODEPORTS, nodePortKey, toExternal)
    ) {
      usesExternal = true;
    }
    if (usesExternal) {
      indexes.chains.set(externalChain.name, externalChain);
      draft.chains.push(externalChain);
    }
    for (const set of affinitySets) {
      indexes.sets.set(set.name, set);
      draft.sets.push(set);
    }
  } else {
    const pick = pickName(p.proto, "", n);
    if (!claim(indexes, draft, p.at, ipMaps, SERVICE_IPS, vipKey, `goto ${pick}`)) return;
    usePick(indexes, draft, pick);
    const endpoints = pickMap(pick)!;
    putTargets(draft, endpoints, `${p.clusterIP} . ${p.port}`, p.targets);
    const external = pickName(p.proto, "external-", n);
    let usesExternal = false;
    for (const ip of p.external) {
      const key = `${ip} . ${p.proto} . ${p.port}`;
      if (claim(indexes, draft, p.at, ipMaps, SERVICE_IPS, key, `goto ${external}`)) {
        putTargets(draft, endpoints, `${ip} . ${p.port}`, p.targets);
        usesExternal = true;
      }
    }
    if (usesExternal) usePick(indexes, draft, external);
    const nodePort = pickName(p.proto, "nodeport-", n);
    if (
      nodePortKey &&
      claim(indexes, draft, p.at, portMaps, SERVICE_NODEPORTS, nodePortKey, `goto ${nodePort}`)
    ) {
      usePick(indexes, draft, nodePort);
      putTargets(draft, pickMap(nodePort)!, `${p.nodePort}`, p.targets);
    }
  }
  for (const ip of p.hairpin) {
    if (indexes.local && !indexes.local(ip)) continue;
    hold(indexes.hairpin, ip);
    draft.hairpin.push(ip);
  }
}

const CLUSTER_IPS_SET: Omit<ProxySet, "elements"> = {
  name: CLUSTER_IPS,
  type: "ipv4_addr",
  flags: [],
  comment: "clusterIPs of all services",
};

const HAIRPIN_SET: Omit<ProxySet, "elements"> = {
  name: HAIRPIN,
  type: "ipv4_addr . ipv4_addr",
  flags: [],
  comment: "endpoint . endpoint: a DNATed packet from an endpoint to itself",
};

/** The `hairpin-endpoints` element of endpoint address `ip`. */
export function hairpinPair(ip: string): string {
  return `${ip} . ${ip}`;
}

/** The table as lists in render order, elements as nft writes them (`key : value` in maps). */
export interface ProxyTableLists {
  sets: { set: Omit<ProxySet, "elements">; elements: readonly string[] }[];
  maps: { map: ProxyMapDefinition; elements: readonly string[] }[];
  chains: readonly ProxyChain[];
}

/** What `renderFull` writes for `state`; for a built state, straight from its slices. */
export function tableLists(state: ProxyState): ProxyTableLists {
  const parts = PARTS.get(state);
  if (!parts) {
    return {
      sets: [...state.sets.values()].map((set) => ({ set, elements: [...set.elements] })),
      maps: [...state.maps.values()].map((map) => ({
        map,
        elements: [...map.elements].map(([k, v]) => `${k} : ${v}`),
      })),
      chains: [...state.chains.values()],
    };
  }
  const chains = [...parts.fixedChains, ...pickChains(parts)];
  const clusterIPs = new Set<string>();
  const hairpin = new Set<string>();
  const affinity: ProxySet[] = [];
  const defs = mapDefinitions(parts);
  const lines = new Map(defs.map((def) => [def.name, [] as string[]]));
  for (const slice of parts.slices) {
    for (const ip of slice.clusterIPs) clusterIPs.add(ip);
    for (const e of slice.elements) lines.get(e.map)!.push(`${e.key} : ${e.value}`);
    for (const { map, key, targets } of slice.targets) {
      const out = lines.get(map)!;
      for (let i = 0; i < targets.length; i++) out.push(`${key} . ${i} : ${targets[i]}`);
    }
    for (const ip of slice.hairpin) hairpin.add(ip);
    chains.push(...slice.chains);
    affinity.push(...slice.sets);
  }
  return {
    sets: [
      { set: CLUSTER_IPS_SET, elements: [...clusterIPs] },
      { set: HAIRPIN_SET, elements: [...hairpin].map(hairpinPair) },
      ...affinity.map((set) => ({ set, elements: [...set.elements] })),
    ],
    maps: defs.map((map) => ({ map, elements: lines.get(map.name)! })),
    chains,
  };
}

interface Views {
  chains: ReadonlyMap<string, ProxyChain>;
  sets: ReadonlyMap<string, ProxySet>;
  maps: ReadonlyMap<string, ProxyMap>;
}

/** A built state; its chains, sets and maps are assembled from the slices when first read. */
class BuiltState implements ProxyState {
  readonly table = PROXY_TABLE;
  readonly comment: string;
  readonly problems: readonly string[];
  readonly #parts: ProxyParts;
  #views: Views | undefined;

  constructor(parts: ProxyParts, comment: string, problems: readonly string[]) {
    this.#parts = parts;
    this.comment = comment;
    this.problems = problems;
  }

  get chains(): ReadonlyMap<string, ProxyChain> {
    return this.#view().chains;
  }

  get sets(): ReadonlyMap<string, ProxySet> {
    return this.#view().sets;
  }

  get maps(): ReadonlyMap<string, ProxyMap> {
    return this.#view().maps;
  }

  #view(): Views {
    if (this.#views) return this.#views;
    const parts = this.#parts;
    const chains = new Map<string, ProxyChain>();
    for (const chain of parts.fixedChains) chains.set(chain.name, chain);
    for (const chain of pickChains(parts)) chains.set(chain.name, chain);
    const clusterIPs = new Set<string>();
    const hairpin = new Set<string>();
    const affinity: ProxySet[] = [];
    const defs = mapDefinitions(parts);
    const elements = new Map(defs.map((def) => [def.name, new Map<string, string>()]));
    for (const slice of parts.slices) {
      for (const ip of slice.clusterIPs) clusterIPs.add(ip);
      eachElement(slice, (map, key, value) => elements.get(map)!.set(key, value));
      for (const ip of slice.hairpin) hairpin.add(hairpinPair(ip));
      for (const chain of slice.chains) chains.set(chain.name, chain);
      affinity.push(...slice.sets);
    }
    const sets = new Map<string, ProxySet>();
    sets.set(CLUSTER_IPS, { ...CLUSTER_IPS_SET, elements: clusterIPs });
    sets.set(HAIRPIN, { ...HAIRPIN_SET, elements: hairpin });
    for (const set of affinity) sets.set(set.name, set);
    const maps = new Map<string, ProxyMap>();
    for (const def of defs) maps.set(def.name, { ...def, elements: elements.get(def.name)! });
    this.#views = { chains, sets, maps };
    return this.#views;
  }
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

interface Backend {
  ip: string;
  port: number;
  sortKey: number;
}

function backendsFor(
  problems: string[],
  at: string,
  eps: Endpoints | undefined,
  portName: string,
  protocol: string,
): Backend[] {
  const seen = new Set<number>();
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
      const sortKey = parseIPv4(address.ip)! * 65536 + port.port;
      if (seen.has(sortKey)) continue;
      seen.add(sortKey);
      out.push({ ip: address.ip, port: port.port, sortKey });
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
  return {
    at: p.at,
    proto: p.proto,
    port: p.port,
    clusterIP: p.clusterIP,
    external: p.external,
    nodePort: p.nodePort,
    targets: p.backends.map((b) => `${b.ip} . ${b.port}`),
    sticky: p.affinitySeconds !== undefined && p.backends.length > 0
      ? stickyRules(p, p.affinitySeconds)
      : undefined,
    hairpin: p.backends.map((b) => b.ip),
  };
}

/** The chains and sets of a ClientIP service port with endpoints. */
function stickyRules(p: ServicePortPlan, seconds: number): StickyRules {
  const hash = shortHash(p.identity);
  const serviceChain = `service-${hash}`;
  const affinitySets: ProxySet[] = [];
  const l4 = `meta l4proto ${p.proto}`;
  const dnat = p.backends.map((b) => {
    const set = `affinity-${shortHash(`${p.identity}__${b.ip}/${b.port}`)}`;
    affinitySets.push({
      name: set,
      type: "ipv4_addr",
      flags: ["dynamic", "timeout"],
      timeoutSeconds: seconds,
      elements: new Set(),
    });
    return { dnatTo: `update @${set} { ip saddr } dnat to ${b.ip}:${b.port}`, set };
  });
  const rules = [`ip daddr ${p.clusterIP} ip saddr != ${p.clusterCIDR} jump ${MARK_MASQ}`];
  // A known client goes back to its endpoint; the others pick one: endpoint i of n is taken
  // with probability 1/(n-i) once 0..i-1 were passed over, so 1/n each.
  for (const { dnatTo, set } of dnat) rules.push(`${l4} ip saddr @${set} ${dnatTo}`);
  for (const [i, { dnatTo }] of dnat.entries()) {
    const left = dnat.length - i;
    rules.push(left > 1 ? `${l4} numgen random mod ${left} == 0 ${dnatTo}` : `${l4} ${dnatTo}`);
  }
  return {
    serviceChain: { name: serviceChain, comment: p.identity, rules },
    externalChain: {
      name: `external-${hash}`,
      comment: `${p.identity} external`,
      rules: [`jump ${MARK_MASQ}`, `goto ${serviceChain}`],
    },
    affinitySets,
  };
}
