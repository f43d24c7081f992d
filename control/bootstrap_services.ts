/**
 * What the control plane makes sure of at every start, as kube-apiserver's bootstrap
 * controller: ConfigMap `kube-system/cluster-network` (the network settings agents read), the
 * Service `default/kubernetes` (the first service IP, port `https` 443/TCP → the API's port, no
 * selector) and its Endpoints (this API server's advertised address and port). Each is created
 * when missing and updated when it differs from the settings, so a restart with other flags
 * brings them up to date. Services stored before there was an allocator get their IP and node
 * ports.
 *
 * The object builders and the choice of the advertised address are pure; the writes go through
 * `Objects`, so the Service is allocated its IP like any other.
 *
 * @module
 */

import { cloneJson, isPlainObject, type KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import { parseIPv4 } from "../net/ipv4.ts";
import {
  CLUSTER_NETWORK_CONFIGMAP,
  type ClusterNetwork,
  clusterNetworkData,
} from "./allocators/cluster_network.ts";
import { type Objects, sameJson } from "./api/objects.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MAX_ATTEMPTS = 5;

/** Namespace and name of the API server's own Service and Endpoints. */
export const KUBERNETES_SERVICE = { namespace: "default", name: "kubernetes" } as const;

/** What {@linkcode bootstrapServices} needs. */
export interface BootstrapOptions {
  /** writes go through here (with the Service allocator registered on its store) */
  objects: Objects;
  network: ClusterNetwork;
  /** the IPv4 address other machines reach this API server at */
  advertiseAddress: string;
  /** the port the API server listens on */
  apiPort: number;
}

/**
 * The address to advertise: `flag` when given (a specific IPv4 address), else the listen host
 * when it is a specific non-loopback IPv4 address, else the first non-loopback IPv4 address of
 * `interfaces` (pod bridges and veths aside), else 127.0.0.1.
 * @throws {Error} when `flag` is not a specific IPv4 address
 */
export function pickAdvertiseAddress(
  flag: string | undefined,
  listenHost: string,
  interfaces: readonly Deno.NetworkInterfaceInfo[],
): string {
  if (flag !== undefined) {
    const n = parseIPv4(flag);
    if (n === undefined || n === 0 || n === 0xffffffff || n >>> 28 === 0xe) {
      throw new Error(
        `--advertise-address must be a specific IPv4 address, got ${JSON.stringify(flag)}`,
      );
    }
    return flag;
  }
  const specific = (ip: string) => {
    const n = parseIPv4(ip);
    return n !== undefined && n !== 0 && n >>> 24 !== 127;
  };
  if (specific(listenHost)) return listenHost;
  const found = interfaces.find((i) =>
    i.family === "IPv4" && specific(i.address) && !/^(cni|podman|veth)/.test(i.name)
  );
  return found?.address ?? "127.0.0.1";
}

/** ConfigMap `kube-system/cluster-network` for `network`. */
export function clusterNetworkConfigMap(network: ClusterNetwork): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { ...CLUSTER_NETWORK_CONFIGMAP },
    data: clusterNetworkData(network),
  };
}

/** Service `default/kubernetes`: the first service IP, 443 → the API's port. */
export function kubernetesService(network: ClusterNetwork, apiPort: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      ...KUBERNETES_SERVICE,
      labels: { component: "apiserver", provider: "kubernetes" },
    },
    spec: {
      type: "ClusterIP",
      clusterIP: network.kubernetesServiceIP,
      clusterIPs: [network.kubernetesServiceIP],
      ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: apiPort }],
      sessionAffinity: "None",
    },
  };
}

/**
 * Endpoints `default/kubernetes`: this API server's address and port. Unlike kube-apiserver's,
 * they carry no `endpointslice.kubernetes.io/skip-mirror` label: kube-apiserver writes the
 * EndpointSlice itself, here the EndpointSlice mirroring controller publishes it.
 */
export function kubernetesEndpoints(advertiseAddress: string, apiPort: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Endpoints",
    metadata: { ...KUBERNETES_SERVICE },
    subsets: [{
      addresses: [{ ip: advertiseAddress }],
      ports: [{ name: "https", port: apiPort, protocol: "TCP" }],
    }],
  };
}

/** Create-or-update ConfigMap `kube-system/cluster-network` (before the API serves). */
export async function publishClusterNetwork(
  objects: Objects,
  network: ClusterNetwork,
): Promise<void> {
  await ensure(objects, kind("ConfigMap"), clusterNetworkConfigMap(network), ["data"]);
}

/**
 * Create-or-update the kubernetes Service and Endpoints (once the API's port is known), and give
 * Services stored without addresses theirs.
 */
export async function bootstrapServices(options: BootstrapOptions): Promise<void> {
  const { objects, network, advertiseAddress, apiPort } = options;
  await ensureKubernetesService(objects, kubernetesService(network, apiPort));
  await ensure(
    objects,
    kind("Endpoints"),
    kubernetesEndpoints(advertiseAddress, apiPort),
    ["subsets"],
  );
  await assignMissingServiceAddresses(objects);
}

function kind(name: string): ResourceType {
  return findKind("v1", name)!;
}

/**
 * Make the stored object at `desired`'s name carry `desired`'s `fields` and labels (other
 * fields and labels are kept), creating it when missing.
 */
async function ensure(
  objects: Objects,
  rt: ResourceType,
  desired: KubeObject,
  fields: string[],
): Promise<void> {
  const { namespace, name } = desired.metadata;
  for (let attempt = 1;; attempt++) {
    const current = await objects.store.get(storeKey(rt, namespace, name!));
    try {
      if (!current) {
        await objects.create(rt, namespace, desired, WRITE);
        return;
      }
      const next = cloneJson(current);
      if (desired.metadata.labels) {
        next.metadata.labels = { ...current.metadata.labels, ...desired.metadata.labels };
      }
      for (const field of fields) next[field] = cloneJson(desired[field]);
      if (sameJson(next, current)) return;
      await objects.update(rt, namespace, name!, next, WRITE);
      return;
    } catch (e) {
      const raced = e instanceof ApiError &&
        (e.reason === "Conflict" || e.reason === "AlreadyExists" || e.reason === "NotFound");
      if (!raced || attempt >= MAX_ATTEMPTS) throw e;
    }
  }
}

/**
 * The kubernetes Service: its ports and type follow the settings; a cluster IP that is not the
 * first service IP (the service CIDR changed) is replaced by deleting and creating it again.
 */
async function ensureKubernetesService(objects: Objects, desired: KubeObject): Promise<void> {
  const rt = kind("Service");
  const { namespace, name } = KUBERNETES_SERVICE;
  const current = await objects.store.get(storeKey(rt, namespace, name));
  const want = desired.spec as Record<string, unknown>;
  const have = isPlainObject(current?.spec) ? current.spec : undefined;
  if (current && have && have.clusterIP !== want.clusterIP) {
    console.error(
      `control plane: Service default/kubernetes has cluster IP ${have.clusterIP}, not ` +
        `${want.clusterIP} (the service CIDR changed): creating it again`,
    );
    await objects.delete(rt, namespace, name, { dryRun: false });
  }
  // the Service allocator frees the old address once it sees the deletion; the new one is
  // reserved for this Service, so it is never held by another
  const next = current && have?.clusterIP === want.clusterIP
    ? { ...desired, spec: { ...have, ...want }, metadata: { ...desired.metadata } }
    : desired;
  if (isPlainObject(next.spec)) delete next.spec.selector;
  await ensure(objects, rt, next, ["spec"]);
}

/**
 * Services stored before this control plane allocated addresses (an older data dir) get their
 * cluster IP and node ports now: an empty patch runs them through the allocator.
 */
export async function assignMissingServiceAddresses(objects: Objects): Promise<void> {
  const rt = kind("Service");
  const { items } = await objects.store.list(storePrefix(rt));
  for (const svc of items) {
    if (!lacksAddresses(svc) || svc.metadata.deletionTimestamp) continue;
    try {
      await objects.patch(
        rt,
        svc.metadata.namespace,
        svc.metadata.name!,
        "application/merge-patch+json",
        {},
        WRITE,
      );
    } catch (e) {
      console.error(
        `control plane: allocating addresses of Service ${svc.metadata.namespace}/${svc.metadata.name}:`,
        e instanceof Error ? e.message : e,
      );
    }
  }
}

/** True when a stored Service of a type that needs them has no cluster IP or node ports. */
function lacksAddresses(svc: KubeObject): boolean {
  const spec = isPlainObject(svc.spec) ? svc.spec : {};
  const type = typeof spec.type === "string" ? spec.type : "ClusterIP";
  if (type === "ExternalName") return false;
  if (typeof spec.clusterIP !== "string" || spec.clusterIP === "") return true;
  const nodePorts = type === "NodePort" ||
    (type === "LoadBalancer" && spec.allocateLoadBalancerNodePorts !== false);
  const ports = Array.isArray(spec.ports) ? spec.ports : [];
  return nodePorts && ports.some((p) => isPlainObject(p) && !p.nodePort);
}
