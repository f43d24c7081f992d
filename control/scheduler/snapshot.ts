/**
 * `Snapshot`: the scheduler's view of the cluster (kube-scheduler's cache + `NodeInfo`): every
 * node with what the pods bound to it already take — requested cpu/memory/pods, host ports in
 * use — plus the indexes scoring needs (pods per owner per node, nodes per image, pods that
 * carry affinity terms, namespace labels), and beside them the claims, volumes and storage
 * classes VolumeBinding reads ({@linkcode VolumeView}, `snapshot.volumes`).
 *
 * It is updated incrementally (`setNode`, `setPod`, `deletePod`, …) by the scheduler's watch,
 * and read synchronously by {@linkcode schedulePod}, so one scheduling decision always sees one
 * consistent state. Pods that ended (`Succeeded`, `Failed`) take nothing, as in kube-scheduler,
 * whose informer skips them. A pod bound to a node the snapshot does not know yet is kept and
 * counted once the node appears.
 *
 * Node readiness becomes taints, as Kubernetes' node lifecycle controller does it (taint-based
 * conditions): a node whose `Ready` condition is `False` or missing gets
 * `node.kubernetes.io/not-ready:NoSchedule`, one whose `Ready` is `Unknown` gets
 * `node.kubernetes.io/unreachable:NoSchedule`, unless it already carries a taint with that key.
 * Pods that tolerate them (DaemonSet-style) can still land there; others get
 * `node(s) had untolerated taint {node.kubernetes.io/not-ready: }`.
 *
 * @module
 */

import type { Node } from "../../storage/kinds/node.ts";
import type { Pod } from "../../storage/kinds/pod.ts";
import type { KubeObject } from "../../storage/object.ts";
import { milliValue, wholeValue } from "../../storage/quantity.ts";
import {
  type HostPort,
  normalizedImageName,
  type PodInfo,
  podInfo,
  type Resources,
} from "./pod_info.ts";
import { VolumeView } from "./volumes.ts";

/** The taint a node whose Ready condition is False (or missing) carries. */
export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
/** The taint a node whose Ready condition is Unknown carries. */
export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";
/** The taint `spec.unschedulable` stands for (tolerating it lets a pod ignore cordoning). */
export const TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";

/** core/v1 Taint */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
}

/** What the scheduler knows of one node. */
export interface NodeInfo {
  name: string;
  labels: Record<string, string>;
  /** `spec.unschedulable` (cordoned) */
  unschedulable: boolean;
  /** `spec.taints` plus the readiness taints described in the module doc */
  taints: Taint[];
  /** `status.allocatable`; a resource it does not list is 0 */
  allocatable: Resources & { pods: number };
  /** the sum of the requests of the pods bound here */
  requested: Resources;
  /** the same with container defaults (100m, 200Mi), for scoring */
  nonZeroRequested: { milliCpu: number; memory: number };
  /** pods bound here, by `namespace/name` */
  pods: Map<string, PodInfo>;
  /** host ports in use: `protocol/port` → host IP → how many pods use it */
  usedPorts: Map<string, Map<string, number>>;
  /** images present (`status.images[].names`, normalized) → size in bytes */
  images: Map<string, number>;
}

function readinessTaint(node: Node): Taint | undefined {
  const ready = (node.status?.conditions ?? []).findLast((c) => c.type === "Ready");
  if (ready?.status === "True") return undefined;
  const key = ready?.status === "Unknown" ? TAINT_UNREACHABLE : TAINT_NOT_READY;
  return { key, effect: "NoSchedule" };
}

function newNodeInfo(obj: KubeObject): NodeInfo {
  const node = obj as unknown as Node;
  const allocatable = node.status?.allocatable ?? {};
  const scalars = new Map<string, number>();
  let milliCpu = 0;
  let memory = 0;
  let pods = 0;
  for (const [name, q] of Object.entries(allocatable)) {
    if (name === "cpu") milliCpu = milliValue(q);
    else if (name === "memory") memory = wholeValue(q);
    else if (name === "pods") pods = wholeValue(q);
    else scalars.set(name, wholeValue(q));
  }
  const taints: Taint[] = (node.spec?.taints ?? []).map((t) => ({
    key: t.key,
    ...(t.value !== undefined ? { value: t.value } : {}),
    effect: t.effect,
  }));
  const readiness = readinessTaint(node);
  if (readiness && !taints.some((t) => t.key === readiness.key)) taints.push(readiness);
  const images = new Map<string, number>();
  for (const image of node.status?.images ?? []) {
    for (const name of image.names ?? []) {
      images.set(normalizedImageName(name), image.sizeBytes ?? 0);
    }
  }
  return {
    name: obj.metadata.name ?? "",
    labels: obj.metadata.labels ?? {},
    unschedulable: node.spec?.unschedulable === true,
    taints,
    allocatable: { milliCpu, memory, pods, scalars },
    requested: { milliCpu: 0, memory: 0, scalars: new Map() },
    nonZeroRequested: { milliCpu: 0, memory: 0 },
    pods: new Map(),
    usedPorts: new Map(),
    images,
  };
}

function portKey(p: HostPort): string {
  return `${p.protocol}/${p.port}`;
}

/** Add (`sign` 1) or remove (`sign` -1) what `pod` takes from `node`. */
function account(node: NodeInfo, pod: PodInfo, sign: 1 | -1): void {
  node.requested.milliCpu += sign * pod.requests.milliCpu;
  node.requested.memory += sign * pod.requests.memory;
  for (const [k, v] of pod.requests.scalars) {
    node.requested.scalars.set(k, (node.requested.scalars.get(k) ?? 0) + sign * v);
  }
  node.nonZeroRequested.milliCpu += sign * pod.nonZeroRequests.milliCpu;
  node.nonZeroRequested.memory += sign * pod.nonZeroRequests.memory;
  for (const p of pod.hostPorts) {
    const key = portKey(p);
    let ips = node.usedPorts.get(key);
    if (!ips) node.usedPorts.set(key, ips = new Map());
    const n = (ips.get(p.hostIP) ?? 0) + sign;
    if (n > 0) ips.set(p.hostIP, n);
    else ips.delete(p.hostIP);
    if (ips.size === 0) node.usedPorts.delete(key);
  }
}

/** True when `pod` counts against a node: bound, and not ended. */
function occupiesNode(obj: KubeObject): boolean {
  const pod = obj as unknown as Pod;
  const phase = pod.status?.phase;
  return !!pod.spec?.nodeName && phase !== "Succeeded" && phase !== "Failed";
}

/** The cluster as the scheduler sees it; see the module doc. */
export class Snapshot {
  /**
   * Where the next scheduling cycle starts looking for feasible nodes (kube-scheduler's
   * `nextStartNodeIndex`), so that stopping early still gives every node its turn.
   */
  nextStartNodeIndex = 0;
  /** PersistentVolumeClaims, PersistentVolumes and StorageClasses */
  readonly volumes = new VolumeView();
  readonly #nodes = new Map<string, NodeInfo>();
  #sorted: NodeInfo[] | undefined;
  /** bound pods by `namespace/name` */
  readonly #pods = new Map<string, PodInfo>();
  /** node name → `namespace/name` → bound pods whose node is unknown */
  readonly #orphans = new Map<string, Map<string, PodInfo>>();
  readonly #namespaces = new Map<string, Record<string, string>>();
  /** controller owner uid → node name → pods */
  readonly #owners = new Map<string, Map<string, number>>();
  /** normalized image name → nodes that have it */
  readonly #imageNodes = new Map<string, number>();
  /** pods on known nodes with any pod affinity or anti-affinity term */
  readonly #affinityPods = new Set<PodInfo>();

  /**
   * A snapshot of these objects: Nodes, Pods and optionally Namespaces and storage objects
   * (PersistentVolumeClaims, PersistentVolumes, StorageClasses, told apart by `kind`).
   */
  static of(
    nodes: readonly KubeObject[],
    pods: readonly KubeObject[] = [],
    namespaces: readonly KubeObject[] = [],
    storage: readonly KubeObject[] = [],
  ): Snapshot {
    const s = new Snapshot();
    for (const n of nodes) s.setNode(n);
    for (const p of pods) s.setPod(p);
    for (const ns of namespaces) s.setNamespace(ns);
    for (const obj of storage) s.volumes.set(obj);
    return s;
  }

  /** Every node, sorted by name. */
  nodes(): readonly NodeInfo[] {
    this.#sorted ??= [...this.#nodes.values()].sort((a, b) =>
      a.name < b.name ? -1 : a.name > b.name ? 1 : 0
    );
    return this.#sorted;
  }

  /** The node called `name`. */
  node(name: string): NodeInfo | undefined {
    return this.#nodes.get(name);
  }

  /** The bound pod `namespace/name`, as the snapshot counts it. */
  pod(key: string): PodInfo | undefined {
    return this.#pods.get(key);
  }

  /** Labels of the namespace `name` (for namespace selectors of affinity terms). */
  namespaceLabels(name: string): Record<string, string> | undefined {
    return this.#namespaces.get(name);
  }

  /** How many pods controlled by `ownerUid` are bound to `nodeName`. */
  ownerPodsOn(ownerUid: string, nodeName: string): number {
    return this.#owners.get(ownerUid)?.get(nodeName) ?? 0;
  }

  /** How many nodes have the (normalized) image. */
  nodesWithImage(image: string): number {
    return this.#imageNodes.get(image) ?? 0;
  }

  /** Pods on known nodes that carry pod affinity or anti-affinity terms. */
  podsWithAffinity(): ReadonlySet<PodInfo> {
    return this.#affinityPods;
  }

  /** Add or replace a node. */
  setNode(obj: KubeObject): void {
    const name = obj.metadata.name ?? "";
    const old = this.#nodes.get(name);
    const info = newNodeInfo(obj);
    const pods = old ? this.#detachNode(old) : [...(this.#orphans.get(name)?.values() ?? [])];
    this.#orphans.delete(name);
    this.#nodes.set(name, info);
    this.#sorted = undefined;
    for (const image of info.images.keys()) {
      this.#imageNodes.set(image, (this.#imageNodes.get(image) ?? 0) + 1);
    }
    for (const pod of pods) this.#attach(info, pod);
  }

  /** Remove a node; its pods wait for a node of that name to come back. */
  deleteNode(name: string): void {
    const old = this.#nodes.get(name);
    if (!old) return;
    const pods = this.#detachNode(old);
    this.#nodes.delete(name);
    this.#sorted = undefined;
    if (pods.length > 0) this.#orphans.set(name, new Map(pods.map((p) => [p.key, p])));
  }

  /** Add, replace or (when it is unbound or has ended) drop a pod. */
  setPod(obj: KubeObject): void {
    const key = `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
    this.deletePod(key);
    if (!occupiesNode(obj)) return;
    const info = podInfo(obj);
    this.#pods.set(key, info);
    const node = this.#nodes.get(info.nodeName);
    if (node) {
      this.#attach(node, info);
    } else {
      let waiting = this.#orphans.get(info.nodeName);
      if (!waiting) this.#orphans.set(info.nodeName, waiting = new Map());
      waiting.set(key, info);
    }
  }

  /** Forget the pod `namespace/name`. */
  deletePod(key: string): void {
    const info = this.#pods.get(key);
    if (!info) return;
    this.#pods.delete(key);
    const node = this.#nodes.get(info.nodeName);
    if (node?.pods.get(key) === info) {
      this.#detach(node, info);
      return;
    }
    const waiting = this.#orphans.get(info.nodeName);
    waiting?.delete(key);
    if (waiting?.size === 0) this.#orphans.delete(info.nodeName);
  }

  /** Add or replace a namespace (its labels). */
  setNamespace(obj: KubeObject): void {
    this.#namespaces.set(obj.metadata.name ?? "", obj.metadata.labels ?? {});
  }

  /** Forget a namespace. */
  deleteNamespace(name: string): void {
    this.#namespaces.delete(name);
  }

  #attach(node: NodeInfo, pod: PodInfo): void {
    node.pods.set(pod.key, pod);
    account(node, pod, 1);
    if (pod.ownerUid) {
      let perNode = this.#owners.get(pod.ownerUid);
      if (!perNode) this.#owners.set(pod.ownerUid, perNode = new Map());
      perNode.set(node.name, (perNode.get(node.name) ?? 0) + 1);
    }
    if (pod.hasAffinity) this.#affinityPods.add(pod);
  }

  #detach(node: NodeInfo, pod: PodInfo): void {
    node.pods.delete(pod.key);
    account(node, pod, -1);
    if (pod.ownerUid) {
      const perNode = this.#owners.get(pod.ownerUid);
      const n = (perNode?.get(node.name) ?? 0) - 1;
      if (n > 0) perNode?.set(node.name, n);
      else perNode?.delete(node.name);
      if (perNode?.size === 0) this.#owners.delete(pod.ownerUid);
    }
    this.#affinityPods.delete(pod);
  }

  /** Undo a node's contributions to the indexes; returns the pods that were bound to it. */
  #detachNode(node: NodeInfo): PodInfo[] {
    for (const image of node.images.keys()) {
      const n = (this.#imageNodes.get(image) ?? 0) - 1;
      if (n > 0) this.#imageNodes.set(image, n);
      else this.#imageNodes.delete(image);
    }
    const pods = [...node.pods.values()];
    for (const pod of pods) this.#detach(node, pod);
    return pods;
  }
}
