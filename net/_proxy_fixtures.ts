/**
 * Service and Endpoints objects for the proxy's tests and benchmark, shaped as the API
 * stores them (defaults applied).
 *
 * @module
 */

import type { Endpoints } from "../storage/kinds/endpoints.ts";
import type { Service } from "../storage/kinds/service.ts";
import type { ProxyNode } from "./proxy_model.ts";

/** The node every golden file is rendered for. */
export const NODE: ProxyNode = {
  name: "edge-1",
  nodeIPs: ["192.168.50.10"],
  clusterCIDR: "10.244.0.0/16",
  serviceCIDR: "10.96.0.0/16",
};

/** One port of {@linkcode svc}. */
export interface PortSpec {
  name?: string;
  port: number;
  protocol?: "TCP" | "UDP" | "SCTP";
  nodePort?: number;
}

/** A Service `namespace/name` with the given spec fields (type ClusterIP unless said). */
export function svc(
  key: string,
  spec: Omit<Partial<Service["spec"]>, "ports"> & { ports?: PortSpec[] },
  status?: Service["status"],
): Service {
  const [namespace, name] = key.split("/");
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name },
    spec: {
      type: "ClusterIP",
      sessionAffinity: "None",
      ...spec,
      ports: spec.ports?.map((p) => ({ protocol: "TCP" as const, targetPort: p.port, ...p })),
    },
    ...(status ? { status } : {}),
  };
}

/** One subset of {@linkcode eps}: ready IPs, not-ready IPs and named ports. */
export interface SubsetSpec {
  ready?: string[];
  notReady?: string[];
  ports: PortSpec[];
}

/** Endpoints `namespace/name` with the given subsets. */
export function eps(key: string, subsets: SubsetSpec[]): Endpoints {
  const [namespace, name] = key.split("/");
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { namespace, name },
    subsets: subsets.map((s) => ({
      ...(s.ready ? { addresses: s.ready.map((ip) => ({ ip })) } : {}),
      ...(s.notReady ? { notReadyAddresses: s.notReady.map((ip) => ({ ip })) } : {}),
      ports: s.ports.map((p) => ({ protocol: "TCP" as const, ...p })),
    })),
  };
}

/**
 * `count` ClusterIP services (`bench/svc-N`, clusterIP from 10.96.0.0/16 upwards of
 * 10.96.1.0) with one TCP port 80 each, and Endpoints with `perService` ready pod IPs.
 */
export function manyServices(
  count: number,
  perService: number,
): { services: Service[]; endpoints: Endpoints[] } {
  const services: Service[] = [];
  const endpoints: Endpoints[] = [];
  for (let i = 0; i < count; i++) {
    const n = 256 + i;
    const key = `bench/svc-${i}`;
    services.push(svc(key, { clusterIP: `10.96.${n >> 8}.${n & 255}`, ports: [{ port: 80 }] }));
    const ready: string[] = [];
    for (let j = 0; j < perService; j++) {
      const p = i * perService + j;
      ready.push(`10.244.${Math.floor(p / 250) % 256}.${(p % 250) + 1}`);
    }
    endpoints.push(eps(key, [{ ready, ports: [{ port: 8080 }] }]));
  }
  return { services, endpoints };
}
