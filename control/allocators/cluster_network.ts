/**
 * The cluster's network settings (service CIDR, node port range, cluster CIDR and the size of
 * each node's share), checked once at start, and the ConfigMap `kube-system/cluster-network`
 * the control plane publishes them in for the agents.
 *
 * @example
 * ```ts
 * const net = resolveClusterNetwork({ serviceCidr: "10.96.0.0/16" });
 * net.kubernetesServiceIP; // "10.96.0.1"
 * net.clusterDNS;          // "10.96.0.10"
 * clusterNetworkData(net).nodePortRange; // "30000-32767"
 * ```
 *
 * @module
 */

import { formatIPv4 } from "../../net/ipv4.ts";
import { type Cidr, parseCidr } from "./cidr.ts";

/** The service CIDR when none is given. */
export const DEFAULT_SERVICE_CIDR = "10.96.0.0/16";
/** The node port range when none is given. */
export const DEFAULT_NODE_PORT_RANGE = "30000-32767";
/** The cluster (pod) CIDR when none is given. */
export const DEFAULT_CLUSTER_CIDR = "10.244.0.0/16";
/** The prefix length of each node's pod CIDR when none is given. */
export const DEFAULT_NODE_CIDR_MASK_SIZE = 24;
/** The cluster's DNS domain. */
export const CLUSTER_DOMAIN = "cluster.local";
/** Where the settings are published: `kube-system/cluster-network`. */
export const CLUSTER_NETWORK_CONFIGMAP = { namespace: "kube-system", name: "cluster-network" };

/** A range of ports, `base … base + size - 1`. */
export interface PortRange {
  readonly base: number;
  readonly size: number;
  /** `A-B` */
  readonly text: string;
}

/** The settings as given (flags); every one is optional. */
export interface ClusterNetworkOptions {
  /** e.g. `10.96.0.0/16` */
  serviceCidr?: string;
  /** e.g. `30000-32767` */
  nodePortRange?: string;
  /** e.g. `10.244.0.0/16` */
  clusterCidr?: string;
  /** e.g. 24 */
  nodeCidrMaskSize?: number;
}

/** The checked settings. */
export interface ClusterNetwork {
  serviceCidr: Cidr;
  nodePorts: PortRange;
  clusterCidr: Cidr;
  nodeCidrMaskSize: number;
  /** the first usable service IP, `default/kubernetes`'s */
  kubernetesServiceIP: string;
  /** the tenth service IP, `kube-system/kube-dns`'s (as kubeadm picks it) */
  clusterDNS: string;
  clusterDomain: string;
}

/**
 * The port range `A-B`.
 * @throws {Error} naming the bad value unless `1 <= A <= B <= 65535`
 */
export function parsePortRange(text: string): PortRange {
  const m = /^([1-9][0-9]{0,4})-([1-9][0-9]{0,4})$/.exec(text);
  const base = Number(m?.[1]);
  const last = Number(m?.[2]);
  if (!m || base > last || last > 65535) {
    throw new Error(
      `invalid port range ${JSON.stringify(text)}: must be A-B with 1 <= A <= B <= 65535`,
    );
  }
  return { base, size: last - base + 1, text: `${base}-${last}` };
}

/**
 * Check the settings and fill in the defaults.
 * @throws {Error} naming the flag and the bad value: a malformed CIDR or range, a service CIDR
 * outside /12-/28, a node mask that does not fit the cluster CIDR (or cuts it into more than
 * 65536 parts), or service and cluster CIDRs that overlap
 */
export function resolveClusterNetwork(options: ClusterNetworkOptions = {}): ClusterNetwork {
  const serviceCidr = parseFlag("--service-cidr", options.serviceCidr ?? DEFAULT_SERVICE_CIDR);
  if (serviceCidr.prefix < 12 || serviceCidr.prefix > 28) {
    throw new Error(
      `--service-cidr ${serviceCidr.text}: the prefix length must be 12-28 (at most 2^20 ` +
        "addresses, and room for the kubernetes and DNS service IPs)",
    );
  }
  const nodePorts = (() => {
    try {
      return parsePortRange(options.nodePortRange ?? DEFAULT_NODE_PORT_RANGE);
    } catch (e) {
      throw new Error(`--service-node-port-range: ${(e as Error).message}`);
    }
  })();
  const clusterCidr = parseFlag("--cluster-cidr", options.clusterCidr ?? DEFAULT_CLUSTER_CIDR);
  const mask = options.nodeCidrMaskSize ?? DEFAULT_NODE_CIDR_MASK_SIZE;
  if (!Number.isInteger(mask) || mask < clusterCidr.prefix || mask > 30) {
    throw new Error(
      `--node-cidr-mask-size ${mask}: must be between the cluster CIDR's prefix length ` +
        `(${clusterCidr.text}) and 30`,
    );
  }
  if (mask - clusterCidr.prefix > 16) {
    throw new Error(
      `--node-cidr-mask-size ${mask}: cuts ${clusterCidr.text} into more than 65536 node CIDRs`,
    );
  }
  if (overlaps(serviceCidr, clusterCidr)) {
    throw new Error(
      `--service-cidr ${serviceCidr.text} overlaps --cluster-cidr ${clusterCidr.text}`,
    );
  }
  return {
    serviceCidr,
    nodePorts,
    clusterCidr,
    nodeCidrMaskSize: mask,
    kubernetesServiceIP: formatIPv4(serviceCidr.network + 1),
    clusterDNS: formatIPv4(serviceCidr.network + 10),
    clusterDomain: CLUSTER_DOMAIN,
  };
}

/** The data of ConfigMap `kube-system/cluster-network`. */
export function clusterNetworkData(net: ClusterNetwork): Record<string, string> {
  return {
    serviceCIDR: net.serviceCidr.text,
    clusterCIDR: net.clusterCidr.text,
    nodeCIDRMaskSize: String(net.nodeCidrMaskSize),
    nodePortRange: net.nodePorts.text,
    clusterDNS: net.clusterDNS,
    clusterDomain: net.clusterDomain,
  };
}

function parseFlag(flag: string, value: string): Cidr {
  try {
    return parseCidr(value);
  } catch (e) {
    throw new Error(`${flag}: ${(e as Error).message}`);
  }
}

function overlaps(a: Cidr, b: Cidr): boolean {
  return a.network < b.network + b.size && b.network < a.network + a.size;
}
