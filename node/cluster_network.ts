/**
 * The cluster's network settings as the agent uses them: the control plane publishes them in
 * ConfigMap `kube-system/cluster-network` (data keys `serviceCIDR`, `clusterCIDR`,
 * `nodeCIDRMaskSize`, `nodePortRange`, `clusterDNS`, `clusterDomain`); the agent reads it at
 * start, keeps the last copy for a restart while the control plane is away, and falls back to
 * the defaults below when there is none. `--cluster-dns` and `--cluster-domain` override.
 *
 * @module
 */

import { parseIPv4 } from "../net/ipv4.ts";
import { parseCidr } from "../net/routes.ts";

/** Where the control plane publishes the settings. */
export const CLUSTER_NETWORK_CONFIGMAP = { namespace: "kube-system", name: "cluster-network" };

/** The cluster's network settings. */
export interface ClusterNetwork {
  /** Service ClusterIPs come from here, e.g. `10.96.0.0/16` */
  serviceCIDR: string;
  /** pod CIDRs of the nodes come from here, e.g. `10.244.0.0/16` */
  clusterCIDR: string;
  /** prefix length of one node's pod CIDR */
  nodeCIDRMaskSize: number;
  /** NodePorts are allocated from this range */
  nodePortRange: { min: number; max: number };
  /** the cluster DNS Service's IP: the nameserver of ClusterFirst pods */
  clusterDNS: string;
  /** e.g. `cluster.local` */
  clusterDomain: string;
}

/** The settings when the ConfigMap does not (yet) exist. */
export const DEFAULT_CLUSTER_NETWORK: Readonly<ClusterNetwork> = Object.freeze({
  serviceCIDR: "10.96.0.0/16",
  clusterCIDR: "10.244.0.0/16",
  nodeCIDRMaskSize: 24,
  nodePortRange: Object.freeze({ min: 30000, max: 32767 }),
  clusterDNS: "10.96.0.10",
  clusterDomain: "cluster.local",
});

/** What the agent's flags override. */
export interface ClusterNetworkOverrides {
  clusterDNS?: string;
  clusterDomain?: string;
}

const DOMAIN =
  /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

/** Whether `text` is a DNS domain usable as the cluster domain (lower-case labels, dots). */
export function isClusterDomain(text: string): boolean {
  return DOMAIN.test(text);
}

/**
 * The settings from the ConfigMap's `data` (undefined: no ConfigMap), over the defaults, with
 * the overrides on top. A key whose value is malformed keeps its default and is reported in
 * `warnings`; so is a malformed override.
 */
export function clusterNetworkFrom(
  data: Readonly<Record<string, unknown>> | undefined,
  overrides: ClusterNetworkOverrides = {},
): { network: ClusterNetwork; warnings: string[] } {
  const network: ClusterNetwork = {
    ...DEFAULT_CLUSTER_NETWORK,
    nodePortRange: { ...DEFAULT_CLUSTER_NETWORK.nodePortRange },
  };
  const warnings: string[] = [];
  const take = (
    key: string,
    value: unknown,
    valid: (v: string) => boolean,
    set: (v: string) => void,
  ) => {
    if (value === undefined) return;
    if (typeof value === "string" && valid(value)) set(value);
    else warnings.push(`${key} "${String(value)}" is not valid; using ${describe(network, key)}`);
  };
  const cidr = (v: string) => parseCidr(v) !== undefined;
  const ip = (v: string) => parseIPv4(v) !== undefined;
  for (const values of [data, overrides as Readonly<Record<string, unknown>>]) {
    if (!values) continue;
    take("serviceCIDR", values.serviceCIDR, cidr, (v) => network.serviceCIDR = v);
    take("clusterCIDR", values.clusterCIDR, cidr, (v) => network.clusterCIDR = v);
    take(
      "nodeCIDRMaskSize",
      values.nodeCIDRMaskSize,
      (v) => /^\d{1,2}$/.test(v) && Number(v) >= 8 && Number(v) <= 30,
      (v) => network.nodeCIDRMaskSize = Number(v),
    );
    take("nodePortRange", values.nodePortRange, (v) => portRange(v) !== undefined, (v) => {
      network.nodePortRange = portRange(v)!;
    });
    take("clusterDNS", values.clusterDNS, ip, (v) => network.clusterDNS = v);
    take("clusterDomain", values.clusterDomain, isClusterDomain, (v) => {
      network.clusterDomain = v;
    });
  }
  return { network, warnings };
}

function portRange(text: string): { min: number; max: number } | undefined {
  const m = /^(\d{1,5})-(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const min = Number(m[1]);
  const max = Number(m[2]);
  return min >= 1 && min <= max && max <= 65535 ? { min, max } : undefined;
}

function describe(network: ClusterNetwork, key: string): string {
  if (key === "nodePortRange") return `${network.nodePortRange.min}-${network.nodePortRange.max}`;
  return String(network[key as keyof ClusterNetwork]);
}
