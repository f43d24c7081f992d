/**
 * The `status.loadBalancer` a Service should have, edge style, as pure functions: there is no
 * cloud load balancer, a LoadBalancer Service is a NodePort Service reached at the nodes' own
 * addresses (as k3s' ServiceLB publishes them), so its ingress is one `{ ip }` per address of
 * every node that can take the traffic.
 *
 * - A node counts when its `Ready` condition is `True` and it does not carry the
 *   `node.kubernetes.io/exclude-from-external-load-balancers` label (as Kubernetes' service
 *   controller).
 * - Its `InternalIP` and `ExternalIP` addresses both count (the service proxy answers NodePorts
 *   on any local address), when they are of one of the Service's IP families (`spec.ipFamilies`,
 *   else the family of `spec.clusterIP`, else IPv4). Hostnames do not.
 * - The list is deduplicated and sorted (IPv4 numerically, then IPv6), so an unchanged world
 *   gives an unchanged status and no write.
 * - A Service that is not of type LoadBalancer has its ingress cleared; one with
 *   `spec.loadBalancerClass` belongs to another implementation and is left alone.
 *
 * @module
 */

import type { Node } from "../../storage/kinds/node.ts";
import type { Service } from "../../storage/kinds/service.ts";
import type { KubeObject } from "../../storage/object.ts";
import { sameJson } from "../api/objects.ts";

/** Nodes with this label are left out of every load balancer (`LabelNodeExcludeBalancers`). */
export const EXCLUDE_FROM_LOAD_BALANCERS_LABEL =
  "node.kubernetes.io/exclude-from-external-load-balancers";

/** The node address types published as ingress. */
const INGRESS_ADDRESS_TYPES = new Set(["InternalIP", "ExternalIP"]);

/** core/v1 LoadBalancerStatus */
export type LoadBalancerStatus = NonNullable<NonNullable<Service["status"]>["loadBalancer"]>;

function serviceOf(obj: KubeObject): Service {
  return obj as unknown as Service;
}

function nodeOf(obj: KubeObject): Node {
  return obj as unknown as Node;
}

function isIPv6(ip: string): boolean {
  return ip.includes(":");
}

const IPV4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** IPv4 addresses in numeric order, then everything else in string order. */
export function compareIPs(a: string, b: string): number {
  const ma = IPV4.exec(a);
  const mb = IPV4.exec(b);
  if (ma && mb) {
    for (let i = 1; i <= 4; i++) {
      const d = Number(ma[i]) - Number(mb[i]);
      if (d !== 0) return d;
    }
    return 0;
  }
  if (ma) return -1;
  if (mb) return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Whether the node takes load-balanced traffic: Ready and not excluded by label. */
export function nodeTakesLoadBalancerTraffic(node: KubeObject): boolean {
  if (node.metadata.labels?.[EXCLUDE_FROM_LOAD_BALANCERS_LABEL] !== undefined) return false;
  return (nodeOf(node).status?.conditions ?? []).some((c) =>
    c.type === "Ready" && c.status === "True"
  );
}

/** The IP families a Service's ingress may use. */
function serviceFamilies(service: Service): Set<string> {
  const families = service.spec.ipFamilies;
  if (families && families.length > 0) return new Set(families);
  const clusterIP = service.spec.clusterIP;
  if (clusterIP && clusterIP !== "None" && isIPv6(clusterIP)) return new Set(["IPv6"]);
  return new Set(["IPv4"]);
}

/**
 * The ingress addresses the nodes offer to a Service of `families` (default IPv4): every
 * InternalIP and ExternalIP of the nodes that take load-balanced traffic, deduplicated and
 * sorted.
 */
export function nodeIngressIPs(
  nodes: readonly KubeObject[],
  families: ReadonlySet<string> = new Set(["IPv4"]),
): string[] {
  const ips = new Set<string>();
  for (const node of nodes) {
    if (!nodeTakesLoadBalancerTraffic(node)) continue;
    for (const { type, address } of nodeOf(node).status?.addresses ?? []) {
      if (!INGRESS_ADDRESS_TYPES.has(type) || address === "") continue;
      if (families.has(isIPv6(address) ? "IPv6" : "IPv4")) ips.add(address);
    }
  }
  return [...ips].sort(compareIPs);
}

/**
 * The `status.loadBalancer` `service` should have given `nodes`, or undefined when it is not
 * this controller's to set (`spec.loadBalancerClass`). See the module documentation.
 *
 * @example
 * ```ts
 * desiredLoadBalancerStatus(lbService, nodes); // { ingress: [{ ip: "192.168.1.10" }] }
 * desiredLoadBalancerStatus(clusterIPService, nodes); // {}
 * ```
 */
export function desiredLoadBalancerStatus(
  service: KubeObject,
  nodes: readonly KubeObject[],
): LoadBalancerStatus | undefined {
  const svc = serviceOf(service);
  if (svc.spec.type !== "LoadBalancer") return {};
  if (svc.spec.loadBalancerClass) return undefined;
  const ips = nodeIngressIPs(nodes, serviceFamilies(svc));
  return ips.length > 0 ? { ingress: ips.map((ip) => ({ ip })) } : {};
}

/** Whether `service`'s stored `status.loadBalancer` already is `desired`. */
export function loadBalancerStatusEqual(service: KubeObject, desired: LoadBalancerStatus): boolean {
  const current = serviceOf(service).status?.loadBalancer?.ingress ?? [];
  return sameJson(current, desired.ingress ?? []);
}

/** Whether a node update can change any ingress: readiness, the exclusion label or addresses. */
export function nodeLoadBalancerChanged(old: KubeObject, node: KubeObject): boolean {
  const view = (n: KubeObject) => ({
    takes: nodeTakesLoadBalancerTraffic(n),
    addresses: nodeOf(n).status?.addresses ?? [],
  });
  return !sameJson(view(old), view(node));
}
