/**
 * The Endpoints a Service should have, as pure functions over plain objects (Kubernetes'
 * `pkg/controller/endpoint` `syncService`, `endpointslice/util.ShouldPodBeInEndpoints`,
 * `podutil.FindPort` and `api/v1/endpoints.RepackSubsets`).
 *
 * {@linkcode endpointsFor} builds the desired object from the Service and the pods:
 *
 * - Only Services with a non-empty `spec.selector` that are not `ExternalName` are managed;
 *   Endpoints of the others are written by users or bootstrap code and left alone. (An empty
 *   selector counts as none: Kubernetes stores Services as protobuf, where `{}` and a missing
 *   map are the same thing.)
 * - A selected pod takes part when it has an IP of the Service's family (the first of
 *   `spec.ipFamilies`, else the family of `spec.clusterIP`, else, headless, of the pod's IP)
 *   and is not Succeeded or Failed. A terminating pod (`deletionTimestamp`) takes part only
 *   when `spec.publishNotReadyAddresses` is set (it then tolerates every state), as in
 *   Kubernetes.
 * - The address of a Ready pod goes to `addresses`, of any other to `notReadyAddresses`; with
 *   `publishNotReadyAddresses` every address is ready. It names the pod (`targetRef`) and its
 *   node, and carries `hostname` when the pod sets `spec.hostname` and its `spec.subdomain` is
 *   the Service's name.
 * - Ports resolve per pod: a numeric `targetPort` as is; a named one in the pod's container
 *   ports (and restartable init containers' ports) by name and protocol. A pod whose container
 *   has no such port is left out of that port only. A headless Service without ports gets its
 *   addresses without ports.
 * - Subsets are repacked so that addresses offering the same ports share a subset (an address
 *   not ready on one port is not ready on all of the subset), then sorted: addresses by IP then
 *   pod uid (as Kubernetes), ports by name, number and protocol, subsets by their content
 *   (Kubernetes sorts the last two by a hash; any fixed order serves the purpose: the same
 *   world always gives the same object, so an unchanged world causes no write).
 * - Labels are the Service's, plus `service.kubernetes.io/headless` for a headless Service.
 *
 * Not done: the `endpoints.kubernetes.io/last-change-trigger-time` annotation and the
 * truncation of more than 1000 addresses (`endpoints.kubernetes.io/over-capacity`).
 *
 * @module
 */

import type { Endpoints } from "../../storage/kinds/endpoints.ts";
import type { Pod } from "../../storage/kinds/pod.ts";
import type { Service } from "../../storage/kinds/service.ts";
import type { KubeObject } from "../../storage/object.ts";
import { sameJson } from "../api/objects.ts";

/** The label the controller puts on the Endpoints of a headless Service (`v1.IsHeadlessService`). */
export const HEADLESS_SERVICE_LABEL = "service.kubernetes.io/headless";

/** core/v1 EndpointSubset */
export type EndpointSubset = NonNullable<Endpoints["subsets"]>[number];
/** core/v1 EndpointAddress */
export type EndpointAddress = NonNullable<EndpointSubset["addresses"]>[number];
/** core/v1 EndpointPort */
export type EndpointPort = NonNullable<EndpointSubset["ports"]>[number];

type ServicePort = NonNullable<Service["spec"]["ports"]>[number];

function serviceOf(obj: KubeObject): Service {
  return obj as unknown as Service;
}

function podOf(obj: KubeObject): Pod {
  return obj as unknown as Pod;
}

/** The Service's selector, or undefined when it has none (missing or empty). */
export function serviceSelector(service: KubeObject): Record<string, string> | undefined {
  const selector = serviceOf(service).spec?.selector;
  return selector && Object.keys(selector).length > 0 ? selector : undefined;
}

/** Whether the endpoints controller writes this Service's Endpoints (selector, not ExternalName). */
export function managesEndpoints(service: KubeObject): boolean {
  return serviceOf(service).spec?.type !== "ExternalName" && serviceSelector(service) !== undefined;
}

/** Whether `service` selects `labels` (a pod of its namespace); false without a selector. */
export function selectsLabels(
  service: KubeObject,
  labels: Record<string, string> | undefined,
): boolean {
  const selector = serviceSelector(service);
  if (!selector) return false;
  return Object.entries(selector).every(([k, v]) => labels?.[k] === v);
}

/** True when the pod's `Ready` condition is `True` (`podutil.IsPodReady`). */
export function isPodReady(pod: KubeObject): boolean {
  return (podOf(pod).status?.conditions ?? []).some((c) =>
    c.type === "Ready" && c.status === "True"
  );
}

/** The pod's IPs: `status.podIPs`, or `status.podIP` when that list is empty. */
export function podIPs(pod: KubeObject): string[] {
  const status = podOf(pod).status;
  const listed = (status?.podIPs ?? []).map((p) => p.ip).filter((ip) => ip !== "");
  if (listed.length > 0) return listed;
  return status?.podIP ? [status.podIP] : [];
}

/**
 * Whether a pod belongs in Endpoints at all (`ShouldPodBeInEndpoints`): not Succeeded or
 * Failed, has an IP, and is not terminating unless `includeTerminating`.
 */
export function shouldPodBeInEndpoints(pod: KubeObject, includeTerminating: boolean): boolean {
  const phase = podOf(pod).status?.phase;
  if (phase === "Succeeded" || phase === "Failed") return false;
  if (podIPs(pod).length === 0) return false;
  return includeTerminating || pod.metadata.deletionTimestamp === undefined;
}

/**
 * The pod's port for a Service port (`podutil.FindPort`): a numeric `targetPort` as is, a named
 * one looked up by name and protocol in the containers' ports, then in the ports of restartable
 * (sidecar) init containers; undefined when the name is not found.
 */
export function findPort(pod: KubeObject, servicePort: ServicePort): number | undefined {
  const target = servicePort.targetPort ?? servicePort.port;
  if (typeof target === "number") return target;
  const spec = podOf(pod).spec;
  const sidecars = (spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always");
  for (const container of [...(spec?.containers ?? []), ...sidecars]) {
    for (const port of container.ports ?? []) {
      if (port.name === target && (port.protocol ?? "TCP") === servicePort.protocol) {
        return port.containerPort;
      }
    }
  }
  return undefined;
}

function isIPv6(ip: string): boolean {
  return ip.includes(":");
}

/**
 * The pod's address for the Service (`podToEndpointAddressForService`): its IP of the Service's
 * family, its node and a `targetRef`; undefined when it has no IP of that family.
 */
function podAddress(service: Service, pod: KubeObject): EndpointAddress | undefined {
  const ips = podIPs(pod);
  const spec = service.spec;
  const family = spec.ipFamilies?.[0] ??
    (spec.clusterIP && spec.clusterIP !== "None"
      ? (isIPv6(spec.clusterIP) ? "IPv6" : "IPv4")
      : (isIPv6(ips[0] ?? "") ? "IPv6" : "IPv4"));
  const ip = ips.find((candidate) => isIPv6(candidate) === (family === "IPv6"));
  if (ip === undefined) return undefined;
  const podSpec = podOf(pod).spec;
  const address: EndpointAddress = { ip };
  if (
    podSpec?.hostname && podSpec.subdomain === service.metadata.name &&
    pod.metadata.namespace === service.metadata.namespace
  ) {
    address.hostname = podSpec.hostname;
  }
  if (podSpec?.nodeName) address.nodeName = podSpec.nodeName;
  address.targetRef = {
    kind: "Pod",
    namespace: pod.metadata.namespace ?? "",
    name: pod.metadata.name ?? "",
    uid: pod.metadata.uid ?? "",
  };
  return address;
}

function endpointPort(servicePort: ServicePort, port: number): EndpointPort {
  return {
    ...(servicePort.name ? { name: servicePort.name } : {}),
    port,
    protocol: servicePort.protocol,
    ...(servicePort.appProtocol !== undefined ? { appProtocol: servicePort.appProtocol } : {}),
  };
}

/**
 * The Endpoints `service` should have given `pods` (any pods: those of other namespaces or not
 * selected are skipped), or undefined when the controller does not manage its Endpoints. See
 * the module documentation for the rules.
 *
 * @example
 * ```ts
 * const desired = endpointsFor(service, podsOfNamespace);
 * if (desired && !(current && endpointsEqual(current, desired))) await write(desired);
 * ```
 */
export function endpointsFor(
  service: KubeObject,
  pods: readonly KubeObject[],
): KubeObject | undefined {
  if (!managesEndpoints(service)) return undefined;
  const svc = serviceOf(service);
  const tolerateUnready = svc.spec.publishNotReadyAddresses === true;
  const ports = svc.spec.ports ?? [];
  const headless = !svc.spec.clusterIP || svc.spec.clusterIP === "None";
  const subsets: EndpointSubset[] = [];
  for (const pod of pods) {
    if (pod.metadata.namespace !== service.metadata.namespace) continue;
    if (!selectsLabels(service, pod.metadata.labels)) continue;
    if (!shouldPodBeInEndpoints(pod, tolerateUnready)) continue;
    const address = podAddress(svc, pod);
    if (!address) continue;
    const key = tolerateUnready || isPodReady(pod) ? "addresses" : "notReadyAddresses";
    if (ports.length === 0) {
      if (svc.spec.clusterIP === "None") subsets.push({ [key]: [address] });
      continue;
    }
    for (const servicePort of ports) {
      const port = findPort(pod, servicePort);
      if (port === undefined) continue;
      subsets.push({ [key]: [address], ports: [endpointPort(servicePort, port)] });
    }
  }
  const labels: Record<string, string> = { ...(service.metadata.labels ?? {}) };
  if (headless) labels[HEADLESS_SERVICE_LABEL] = "";
  const repacked = repackSubsets(subsets);
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: {
      name: service.metadata.name!,
      namespace: service.metadata.namespace!,
      ...(Object.keys(labels).length > 0 ? { labels } : {}),
    },
    ...(repacked.length > 0 ? { subsets: repacked } : {}),
  };
}

/**
 * Whether `current` already is what `desired` asks for: the same subsets and labels (Kubernetes
 * compares nothing else; annotations and the rest of `current` are kept by an update).
 */
export function endpointsEqual(current: KubeObject, desired: KubeObject): boolean {
  return sameJson(current.subsets ?? [], desired.subsets ?? []) &&
    sameJson(current.metadata.labels ?? {}, desired.metadata.labels ?? {});
}

/** `current` with the subsets and labels of `desired`, for an update. */
export function withDesired(current: KubeObject, desired: KubeObject): KubeObject {
  const { labels: _labels, ...meta } = current.metadata;
  const { subsets: _subsets, ...rest } = current;
  return {
    ...rest,
    metadata: {
      ...meta,
      ...(desired.metadata.labels ? { labels: desired.metadata.labels } : {}),
    },
    ...(desired.subsets !== undefined ? { subsets: desired.subsets } : {}),
  };
}

/**
 * Whether a pod update can change any Endpoints (`podEndpointsChanged`): its labels, hostname or
 * subdomain, deletionTimestamp, readiness, phase, IPs or node.
 */
export function podEndpointsChanged(old: KubeObject, pod: KubeObject): boolean {
  return !sameJson(endpointsView(old), endpointsView(pod));
}

function endpointsView(pod: KubeObject): unknown {
  const { spec, status } = podOf(pod);
  return {
    labels: pod.metadata.labels ?? {},
    deletionTimestamp: pod.metadata.deletionTimestamp ?? "",
    hostname: spec?.hostname ?? "",
    subdomain: spec?.subdomain ?? "",
    nodeName: spec?.nodeName ?? "",
    ready: isPodReady(pod),
    phase: status?.phase ?? "",
    ips: podIPs(pod),
  };
}

// ----- RepackSubsets --------------------------------------------------------------------------

/** Addresses are told apart by IP and pod uid (RepackSubsets' `addressKey`). */
function addressKey(address: EndpointAddress): string {
  return `${address.ip}/${address.targetRef?.uid ?? ""}`;
}

function portKey(port: EndpointPort | undefined): string {
  return port === undefined
    ? ""
    : JSON.stringify([port.name ?? "", port.port, port.protocol, port.appProtocol ?? null]);
}

/** Kubernetes' `LessEndpointAddress`: by IP, then by pod uid (an address without one first). */
function compareAddresses(a: EndpointAddress, b: EndpointAddress): number {
  if (a.ip !== b.ip) return a.ip < b.ip ? -1 : 1;
  const ua = a.targetRef?.uid;
  const ub = b.targetRef?.uid;
  if (ua === ub) return 0;
  if (ua === undefined) return -1;
  if (ub === undefined) return 1;
  return ua < ub ? -1 : 1;
}

function comparePorts(a: EndpointPort, b: EndpointPort): number {
  const na = a.name ?? "";
  const nb = b.name ?? "";
  if (na !== nb) return na < nb ? -1 : 1;
  if (a.port !== b.port) return a.port - b.port;
  if (a.protocol !== b.protocol) return a.protocol < b.protocol ? -1 : 1;
  const pa = a.appProtocol ?? "";
  const pb = b.appProtocol ?? "";
  return pa === pb ? 0 : pa < pb ? -1 : 1;
}

/**
 * Subsets in their canonical layout (`endpoints.RepackSubsets`): each distinct port maps to the
 * addresses offering it (an address not ready in any subset for that port is not ready for
 * it), ports with the same addresses and readiness share a subset, and everything is sorted.
 * Addresses from subsets without ports keep a subset without ports unless the same addresses
 * also offer ports.
 */
export function repackSubsets(subsets: readonly EndpointSubset[]): EndpointSubset[] {
  const addresses = new Map<string, EndpointAddress>();
  /** port key → the port (undefined: the no-ports sentinel) and address key → ready */
  const byPort = new Map<string, { port?: EndpointPort; ready: Map<string, boolean> }>();
  const note = (address: EndpointAddress, port: EndpointPort | undefined, ready: boolean) => {
    const key = addressKey(address);
    if (!addresses.has(key)) addresses.set(key, address);
    const pk = portKey(port);
    let entry = byPort.get(pk);
    if (!entry) byPort.set(pk, entry = { ...(port ? { port } : {}), ready: new Map() });
    // not ready trumps ready
    if (entry.ready.get(key) !== false) entry.ready.set(key, ready);
  };
  for (const subset of subsets) {
    const ports = subset.ports ?? [];
    for (const port of ports.length > 0 ? ports : [undefined]) {
      for (const address of subset.addresses ?? []) note(address, port, true);
      for (const address of subset.notReadyAddresses ?? []) note(address, port, false);
    }
  }
  /** address set key → its ready map and the ports offered by exactly those addresses */
  const groups = new Map<string, { ready: Map<string, boolean>; ports: EndpointPort[] }>();
  for (const { port, ready } of byPort.values()) {
    const key = [...ready].map(([a, r]) => `${a}=${r}`).sort().join(",");
    let group = groups.get(key);
    if (!group) groups.set(key, group = { ready, ports: [] });
    if (port) group.ports.push(port);
  }
  const out: EndpointSubset[] = [];
  for (const { ready, ports } of groups.values()) {
    const readyAddresses: EndpointAddress[] = [];
    const notReady: EndpointAddress[] = [];
    for (const [key, isReady] of ready) {
      (isReady ? readyAddresses : notReady).push(addresses.get(key)!);
    }
    readyAddresses.sort(compareAddresses);
    notReady.sort(compareAddresses);
    ports.sort(comparePorts);
    out.push({
      ...(readyAddresses.length > 0 ? { addresses: readyAddresses } : {}),
      ...(notReady.length > 0 ? { notReadyAddresses: notReady } : {}),
      ...(ports.length > 0 ? { ports } : {}),
    });
  }
  const keyed = out.map((subset) => ({ subset, key: JSON.stringify(subset) }));
  keyed.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : 0);
  return keyed.map((k) => k.subset);
}
