/**
 * {@linkcode ServiceAllocator}: Services' cluster IPs (from the service CIDR) and node ports
 * (from the node port range), as kube-apiserver allocates them, crash-safe.
 *
 * Used as the Service {@linkcode Admission} (`registerAdmission`), so every create and update of
 * a Service, through the API or in process, goes through it:
 * - a Service gets `spec.clusterIP`/`clusterIPs` unless it is headless (`None`) or of type
 *   ExternalName; a chosen IP is honoured, or refused with 422 (`spec.clusterIPs: Invalid value:
 *   ["10.96.0.5"]: failed to allocate IP 10.96.0.5: provided IP is already allocated`, or `…
 *   the provided IP (10.97.0.5) is not in the valid range. The range of valid IPs is
 *   10.96.0.0/16`); a full range is a 500 as in Kubernetes (`Internal error occurred: failed to
 *   allocate a serviceIP: range is full`: the request is valid, the cluster is out of IPs);
 * - NodePort and LoadBalancer Services (unless `allocateLoadBalancerNodePorts: false`) get a
 *   `nodePort` per port; ports with the same port number share one (53/TCP and 53/UDP), chosen
 *   ones are honoured or refused (`spec.ports[0].nodePort: Invalid value: 30080: provided port is
 *   already allocated`);
 * - on update the cluster IP is immutable (`spec.clusterIP: … field is immutable`) except to
 *   and from ExternalName; values the client left out are kept (kube's `patchAllocatedValues`)
 *   and values the new type does not use are dropped (`dropTypeDependentFields`);
 * - dynamic picks are random, in the upper part of each range first (kube's
 *   `randomScanStrategyWithOffset`): the lower part stays free for chosen values such as
 *   `10.96.0.10`; `reservedIPs` keep addresses for one named Service each (`default/kubernetes`,
 *   `kube-system/kube-dns`).
 *
 * Crash safety is {@linkcode StoreClaims}'s: nothing is stored but the Services; the taken values
 * are those the Services in the store hold (listed at start, then followed by watch) plus the
 * reservations of writes in flight. A released value is free only once the watch shows it.
 *
 * One allocator per store: it knows the reservations of its own process only. Several
 * control-plane processes over one store (not possible today: one process locks a data dir)
 * would need the reservations in the store itself.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import { ApiError, invalidValue, type StatusCause } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { duplicateValue, forbidden } from "../../storage/validation.ts";
import { findKind } from "../../storage/registry.ts";
import { type Admission, type AdmissionDone, registerAdmission, sameJson } from "../api/objects.ts";
import { formatIPv4, parseIPv4 } from "../../net/ipv4.ts";
import type { Cidr } from "./cidr.ts";
import type { ClusterNetwork, PortRange } from "./cluster_network.ts";
import { AllocationError, RangeAllocator, rangeOffset } from "./range_allocator.ts";
import { type Reservation, type Slots, StoreClaims } from "./store_claims.ts";

const IP = "ip";
const NODE_PORT = "nodePort";
const SERVICE_REF = { group: "", resource: "services", kind: "Service" };

/** Options of {@linkcode ServiceAllocator}. */
export interface ServiceAllocatorOptions {
  store: Store;
  /** where cluster IPs come from (network and broadcast addresses are never handed out) */
  serviceCidr: Cidr;
  /** where node ports come from */
  nodePorts: PortRange;
  /** addresses only one Service may hold: IP → `namespace/name` */
  reservedIPs?: Record<string, string>;
  /** a number in [0, 1) for random picks (default `Math.random`) */
  random?: () => number;
  /** pause before listing again after the watch failed (default 1 s) */
  retryMs?: number;
  clock?: Clock;
}

interface ServicePortSpec {
  name?: string;
  protocol?: string;
  port?: number;
  nodePort?: number;
}

interface ServiceSpec {
  type?: string;
  clusterIP?: string;
  clusterIPs?: string[];
  ipFamilies?: string[];
  ipFamilyPolicy?: string;
  ports?: ServicePortSpec[];
  allocateLoadBalancerNodePorts?: boolean;
}

function specOf(svc: KubeObject): ServiceSpec {
  return isPlainObject(svc.spec) ? svc.spec as ServiceSpec : {};
}

function typeOf(spec: Record<string, unknown> | ServiceSpec): string {
  return typeof spec.type === "string" ? spec.type : "ClusterIP";
}

/** True for the types that get a cluster IP (all but ExternalName). */
function needsClusterIP(type: string): boolean {
  return type !== "ExternalName";
}

/** True for the types whose ports have node ports. */
function needsNodePorts(type: string): boolean {
  return type === "NodePort" || type === "LoadBalancer";
}

function invalid(svc: KubeObject, cause: StatusCause): ApiError {
  return ApiError.invalid(SERVICE_REF, svc.metadata.name ?? "", [cause]);
}

/** The node ports a (raw or validated) spec's ports name. */
function nodePortsIn(spec: Record<string, unknown> | ServiceSpec): Set<number> {
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  const out = new Set<number>();
  for (const p of ports) {
    if (isPlainObject(p) && typeof p.nodePort === "number" && p.nodePort !== 0) out.add(p.nodePort);
  }
  return out;
}

function emptyIP(v: unknown): boolean {
  return v === undefined || v === null || v === "";
}

/**
 * What kube's service strategy does to an update's body before validation
 * (`dropTypeDependentFields`, `patchAllocatedValues`, `normalizeClusterIPs`): a switch to a type
 * that does not use the cluster IP or node ports drops them (unless the client changed them
 * too); values the client left out of a body that still needs them are taken from `old`.
 * Pure: changes `input` in place.
 */
export function prepareServiceUpdate(old: KubeObject, input: Record<string, unknown>): void {
  const spec = input.spec;
  if (!isPlainObject(spec)) return;
  const oldSpec: Record<string, unknown> = isPlainObject(old.spec) ? old.spec : {};
  const oldType = typeOf(oldSpec);
  const newType = typeOf(spec);
  const same = (field: string) => sameJson(spec[field], oldSpec[field]);

  if (needsClusterIP(oldType) && !needsClusterIP(newType)) {
    if (same("clusterIP") && same("clusterIPs")) {
      delete spec.clusterIP;
      delete spec.clusterIPs;
    }
    for (const field of ["ipFamilies", "ipFamilyPolicy", "internalTrafficPolicy"]) {
      if (same(field)) delete spec[field];
    }
  }
  if (needsNodePorts(oldType) && !needsNodePorts(newType)) {
    const before = nodePortsIn(oldSpec);
    if ([...nodePortsIn(spec)].every((p) => before.has(p)) && Array.isArray(spec.ports)) {
      for (const p of spec.ports) if (isPlainObject(p)) delete p.nodePort;
    }
    if (same("externalTrafficPolicy")) delete spec.externalTrafficPolicy;
  }
  if (oldType === "LoadBalancer" && newType !== "LoadBalancer") {
    if (same("allocateLoadBalancerNodePorts")) delete spec.allocateLoadBalancerNodePorts;
  }

  if (needsClusterIP(oldType) && needsClusterIP(newType)) {
    if (emptyIP(spec.clusterIP) && !emptyIP(oldSpec.clusterIP)) spec.clusterIP = oldSpec.clusterIP;
    const ips = spec.clusterIPs;
    if ((!Array.isArray(ips) || ips.length === 0) && Array.isArray(oldSpec.clusterIPs)) {
      spec.clusterIPs = cloneJson(oldSpec.clusterIPs);
    }
    // a client that changed only the singular field: make the plural follow (validation then
    // reports the change)
    if (!same("clusterIP") && same("clusterIPs") && typeof spec.clusterIP === "string") {
      spec.clusterIPs = [spec.clusterIP];
    }
  }
  if (needsNodePorts(oldType) && needsNodePorts(newType) && Array.isArray(spec.ports)) {
    const oldPorts = Array.isArray(oldSpec.ports) ? oldSpec.ports.filter(isPlainObject) : [];
    const before = nodePortsIn(oldSpec);
    const kept = new Set([...nodePortsIn(spec)].filter((p) => before.has(p)));
    const byName = new Map(oldPorts.map((p) => [p.name ?? "", p.nodePort]));
    for (const p of spec.ports) {
      if (!isPlainObject(p) || (p.nodePort !== undefined && p.nodePort !== 0)) continue;
      const previous = byName.get(typeof p.name === "string" ? p.name : "");
      if (typeof previous === "number" && previous !== 0 && !kept.has(previous)) {
        p.nodePort = previous;
      }
    }
  }
}

/** Allocates Services' cluster IPs and node ports; see the module documentation. */
export class ServiceAllocator {
  readonly #cidr: Cidr;
  readonly #nodePorts: PortRange;
  /** IP slot → the `namespace/name` it is kept for */
  readonly #reserved = new Map<number, string>();
  readonly #claims: StoreClaims;
  #starting: Promise<void> | undefined;

  constructor(options: ServiceAllocatorOptions) {
    const cidr = options.serviceCidr;
    if (cidr.size < 4) {
      throw new Error(`service CIDR ${cidr.text} is too small: it holds no usable address`);
    }
    this.#cidr = cidr;
    this.#nodePorts = options.nodePorts;
    const random = options.random ?? Math.random;
    const ipSlots = cidr.size - 2;
    for (const [ip, owner] of Object.entries(options.reservedIPs ?? {})) {
      const slot = this.#ipSlot(parseIPv4(ip));
      if (slot === undefined) {
        throw new Error(`reserved IP ${ip} (for ${owner}) is not a usable address of ${cidr.text}`);
      }
      this.#reserved.set(slot, owner);
    }
    const size = options.nodePorts.size;
    this.#claims = new StoreClaims({
      store: options.store,
      prefix: "/core/services/",
      name: "service allocator",
      pools: {
        [IP]: new RangeAllocator(ipSlots, { offset: rangeOffset(ipSlots, 16, 256), random }),
        [NODE_PORT]: new RangeAllocator(size, { offset: rangeOffset(size, 32, 128), random }),
      },
      fixed: { [IP]: [...this.#reserved.keys()] },
      slotsOf: (svc) => this.#heldBy(svc),
      retryMs: options.retryMs ?? 1000,
      clock: options.clock ?? systemClock,
    });
  }

  /** Lists the Services and follows their changes; admissions wait for the list. */
  start(): Promise<void> {
    this.#starting ??= this.#claims.start();
    return this.#starting;
  }

  /** Stops following the store; admissions then fail with 503 ServiceUnavailable. */
  async stop(): Promise<void> {
    await this.#claims.stop();
  }

  /** How many cluster IPs are taken (reserved addresses included). */
  get usedIPs(): number {
    return this.#claims.used(IP);
  }

  /** How many node ports are taken. */
  get usedNodePorts(): number {
    return this.#claims.used(NODE_PORT);
  }

  /** True when `ip` is taken (held by a Service, reserved, or promised to a write in flight). */
  hasIP(ip: string): boolean {
    const slot = this.#ipSlot(parseIPv4(ip));
    return slot !== undefined && this.#claims.has(IP, slot);
  }

  /** True when node port `port` is taken. */
  hasNodePort(port: number): boolean {
    const slot = port - this.#nodePorts.base;
    return slot >= 0 && slot < this.#nodePorts.size && this.#claims.has(NODE_PORT, slot);
  }

  /** Resolves once the allocator has seen the store up to `revision`. */
  observed(revision: number): Promise<void> {
    return this.#claims.observed(revision);
  }

  /** The hooks to register for Services (`registerAdmission(store, services, …)`). */
  admission(): Admission {
    return {
      prepareUpdate: prepareServiceUpdate,
      beforeCreate: (svc, dryRun) => this.#admit(undefined, svc, dryRun),
      beforeUpdate: (old, next, dryRun) => this.#admit(old, next, dryRun),
    };
  }

  async #admit(
    old: KubeObject | undefined,
    svc: KubeObject,
    dryRun: boolean,
  ): Promise<AdmissionDone> {
    if (!this.#starting) {
      throw new ApiError("ServiceUnavailable", "the service IP allocator is not running");
    }
    await this.#starting;
    if (!this.#claims.running) {
      throw new ApiError("ServiceUnavailable", "the service IP allocator is not running");
    }
    // From here to the return nothing awaits: picking and taking values is one step, so two
    // writes never get the same value.
    const reservation = this.#claims.reserve();
    try {
      this.#clusterIP(old, svc, reservation);
      this.#ports(old, svc, reservation);
    } catch (e) {
      reservation.abort();
      throw e;
    }
    return (stored) => {
      if (stored && !dryRun) reservation.commit(Number(stored.metadata.resourceVersion));
      else reservation.abort();
    };
  }

  /** The slot of address `ip` (undefined: outside the usable addresses). */
  #ipSlot(ip: number | undefined): number | undefined {
    if (ip === undefined) return undefined;
    const slot = ip - this.#cidr.network - 1;
    return slot >= 0 && slot < this.#cidr.size - 2 ? slot : undefined;
  }

  /** The slots a stored Service holds. */
  #heldBy(svc: KubeObject): Slots {
    const spec = specOf(svc);
    const type = typeOf(spec);
    const ips: number[] = [];
    if (needsClusterIP(type)) {
      const list = Array.isArray(spec.clusterIPs) ? spec.clusterIPs : [spec.clusterIP];
      for (const ip of list) {
        const slot = typeof ip === "string" ? this.#ipSlot(parseIPv4(ip)) : undefined;
        if (slot !== undefined) ips.push(slot);
      }
    }
    const ports: number[] = [];
    if (needsNodePorts(type)) {
      for (const port of nodePortsIn(spec)) {
        const slot = port - this.#nodePorts.base;
        if (slot >= 0 && slot < this.#nodePorts.size) ports.push(slot);
      }
    }
    return { [IP]: ips, [NODE_PORT]: ports };
  }

  #clusterIP(old: KubeObject | undefined, svc: KubeObject, reservation: Reservation): void {
    const spec = specOf(svc);
    const type = typeOf(spec);
    if (!needsClusterIP(type)) {
      if (!emptyIP(spec.clusterIP) || (spec.clusterIPs ?? []).length > 0) {
        throw invalid(
          svc,
          forbidden("spec.clusterIPs", "may not be set for ExternalName services"),
        );
      }
      return;
    }
    const ips = spec.clusterIPs ?? [];
    if (emptyIP(spec.clusterIP) && ips.length > 0) spec.clusterIP = ips[0];
    if (ips.length > 0 && ips[0] !== spec.clusterIP) {
      throw invalid(svc, invalidValue("spec.clusterIPs[0]", ips[0], "must match `clusterIP`"));
    }
    if (ips.length > 1) {
      throw invalid(
        svc,
        invalidValue("spec.clusterIPs", ips, "may hold one address: this cluster is IPv4 only"),
      );
    }
    this.#families(svc, spec);
    const ip = spec.clusterIP ?? "";
    const oldSpec = old ? specOf(old) : undefined;
    if (oldSpec && needsClusterIP(typeOf(oldSpec)) && !emptyIP(oldSpec.clusterIP)) {
      if (spec.clusterIP !== oldSpec.clusterIP) {
        throw invalid(svc, invalidValue("spec.clusterIP", ip, "field is immutable"));
      }
      if (!sameJson(spec.clusterIPs ?? [], oldSpec.clusterIPs ?? [])) {
        throw invalid(
          svc,
          invalidValue("spec.clusterIPs[0]", spec.clusterIPs, "may not change once set"),
        );
      }
      return;
    }
    if (ip === "None") {
      if (type !== "ClusterIP") {
        throw invalid(
          svc,
          invalidValue("spec.clusterIPs[0]", ip, `may not be set to 'None' for ${type} services`),
        );
      }
      spec.clusterIPs = ["None"];
      return;
    }
    if (ip !== "") {
      this.#takeIP(svc, ip, reservation);
      spec.clusterIPs = [ip];
      return;
    }
    let slot: number;
    try {
      slot = reservation.takeNext(IP);
    } catch (e) {
      if (e instanceof AllocationError && e.code === "Full") {
        throw new ApiError(
          "InternalError",
          "Internal error occurred: failed to allocate a serviceIP: range is full",
        );
      }
      throw e;
    }
    spec.clusterIP = formatIPv4(this.#cidr.network + 1 + slot);
    spec.clusterIPs = [spec.clusterIP];
  }

  /** Defaults and checks `ipFamilies`/`ipFamilyPolicy` (this cluster is single-stack IPv4). */
  #families(svc: KubeObject, spec: ServiceSpec): void {
    spec.ipFamilies ??= ["IPv4"];
    for (const [i, family] of spec.ipFamilies.entries()) {
      if (family !== "IPv4") {
        throw invalid(
          svc,
          invalidValue(`spec.ipFamilies[${i}]`, family, "not configured on this cluster"),
        );
      }
    }
    spec.ipFamilyPolicy ??= "SingleStack";
    if (spec.ipFamilyPolicy === "RequireDualStack") {
      throw invalid(
        svc,
        invalidValue(
          "spec.ipFamilyPolicy",
          spec.ipFamilyPolicy,
          "this cluster is not configured for dual-stack services",
        ),
      );
    }
  }

  #takeIP(svc: KubeObject, ip: string, reservation: Reservation): void {
    const fail = (why: string) =>
      invalid(svc, invalidValue("spec.clusterIPs", [ip], `failed to allocate IP ${ip}: ${why}`));
    const n = parseIPv4(ip);
    if (n === undefined) {
      throw invalid(
        svc,
        invalidValue(
          "spec.clusterIPs[0]",
          ip,
          ip.includes(":")
            ? "IPv6 is not configured on this cluster"
            : "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        ),
      );
    }
    const slot = this.#ipSlot(n);
    if (slot === undefined) {
      throw fail(
        `the provided IP (${ip}) is not in the valid range. The range of valid IPs is ${this.#cidr.text}`,
      );
    }
    const owner = this.#reserved.get(slot);
    if (owner !== undefined) {
      // always taken; the one Service it is kept for may hold it
      if (owner !== `${svc.metadata.namespace}/${svc.metadata.name}`) {
        throw fail("provided IP is already allocated");
      }
      return;
    }
    try {
      reservation.take(IP, slot);
    } catch (e) {
      if (e instanceof AllocationError && e.code === "Allocated") {
        throw fail("provided IP is already allocated");
      }
      throw e;
    }
  }

  #ports(old: KubeObject | undefined, svc: KubeObject, reservation: Reservation): void {
    const spec = specOf(svc);
    const type = typeOf(spec);
    if (!needsNodePorts(type)) return;
    const allocate = type === "NodePort" || spec.allocateLoadBalancerNodePorts !== false;
    const oldSpec = old ? specOf(old) : undefined;
    const held = oldSpec && needsNodePorts(typeOf(oldSpec))
      ? nodePortsIn(oldSpec)
      : new Set<number>();
    const ports = spec.ports ?? [];
    /** node ports this write holds: the old object's and those taken below */
    const mine = new Set(held);
    /** `protocol/nodePort` pairs in use, for duplicates */
    const pairs = new Set<string>();
    for (const [i, p] of ports.entries()) {
      const field = `spec.ports[${i}].nodePort`;
      const protocol = p.protocol ?? "TCP";
      if (p.nodePort === undefined || p.nodePort === 0) {
        if (!allocate) continue;
        // as kube's initNodePorts: ports with the same number share a node port (53/TCP and
        // 53/UDP); one the client chose for a sibling is used
        const sibling = ports.find((q) =>
          q !== p && q.port === p.port && q.nodePort !== undefined && q.nodePort !== 0 &&
          !pairs.has(`${protocol}/${q.nodePort}`)
        );
        if (sibling) p.nodePort = sibling.nodePort!;
        else p.nodePort = this.#nextNodePort(reservation, mine);
      }
      const nodePort = p.nodePort;
      if (!mine.has(nodePort)) {
        this.#takeNodePort(svc, field, nodePort, reservation);
        mine.add(nodePort);
      }
      const pair = `${protocol}/${nodePort}`;
      if (pairs.has(pair)) throw invalid(svc, duplicateValue(field, nodePort));
      pairs.add(pair);
    }
  }

  #nextNodePort(reservation: Reservation, mine: Set<number>): number {
    try {
      const port = this.#nodePorts.base + reservation.takeNext(NODE_PORT);
      mine.add(port);
      return port;
    } catch (e) {
      if (e instanceof AllocationError && e.code === "Full") {
        throw new ApiError(
          "InternalError",
          "Internal error occurred: failed to allocate a nodePort: range is full",
        );
      }
      throw e;
    }
  }

  #takeNodePort(svc: KubeObject, field: string, port: number, reservation: Reservation): void {
    const slot = port - this.#nodePorts.base;
    if (slot < 0 || slot >= this.#nodePorts.size) {
      throw invalid(
        svc,
        invalidValue(
          field,
          port,
          `provided port is not in the valid range. The range of valid ports is ${this.#nodePorts.text}`,
        ),
      );
    }
    try {
      reservation.take(NODE_PORT, slot);
    } catch (e) {
      if (e instanceof AllocationError && e.code === "Allocated") {
        throw invalid(svc, invalidValue(field, port, "provided port is already allocated"));
      }
      throw e;
    }
  }
}

/** A started {@linkcode ServiceAllocator} registered as the Service admission of a store. */
export interface RunningServiceAllocator {
  allocator: ServiceAllocator;
  /** unregister and stop */
  stop(): Promise<void>;
}

/**
 * Start the allocator of cluster network `net` over `store` and register it, so every
 * `Objects` over `store` (the API server's included) allocates through it. The first service
 * IP is kept for `default/kubernetes`, the cluster DNS address for `kube-system/kube-dns`.
 */
export async function startServiceAllocator(
  store: Store,
  net: ClusterNetwork,
): Promise<RunningServiceAllocator> {
  const allocator = new ServiceAllocator({
    store,
    serviceCidr: net.serviceCidr,
    nodePorts: net.nodePorts,
    reservedIPs: {
      [net.kubernetesServiceIP]: "default/kubernetes",
      [net.clusterDNS]: "kube-system/kube-dns",
    },
  });
  await allocator.start();
  const unregister = registerAdmission(store, findKind("v1", "Service")!, allocator.admission());
  return {
    allocator,
    async stop() {
      unregister();
      await allocator.stop();
    },
  };
}
