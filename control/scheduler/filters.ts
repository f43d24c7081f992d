/**
 * Feasibility filters: may this pod run on this node? Each filter returns `undefined` when the
 * node passes, or the reasons it fails in kube-scheduler's exact words (one reason, except
 * NodeResourcesFit, which names every resource that is short, as kube-scheduler does). A node
 * is rejected by the first filter that fails, in {@linkcode FILTERS} order: kube-scheduler's
 * default plugin order, cheapest first.
 *
 * | filter | reason |
 * | --- | --- |
 * | NodeUnschedulable | `node(s) were unschedulable` |
 * | NodeName | `node(s) didn't match the requested node name` |
 * | TaintToleration | `node(s) had untolerated taint {key: value}` |
 * | NodeAffinity | `node(s) didn't match Pod's node affinity/selector` |
 * | NodePorts | `node(s) didn't have free ports for the requested pod ports` |
 * | NodeResourcesFit | `Too many pods`, `Insufficient cpu`, `Insufficient memory`, `Insufficient <resource>` |
 * | VolumeBinding | `node(s) had volume node affinity conflict`, `node(s) didn't find available persistent volumes to bind`, `node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)` (see `volume_binding.ts`) |
 * | InterPodAffinity | `node(s) didn't satisfy existing pods anti-affinity rules`, `node(s) didn't match pod affinity rules`, `node(s) didn't match pod anti-affinity rules` |
 *
 * A node that is not Ready fails TaintToleration through the readiness taints the snapshot
 * gives it (see `snapshot.ts`), exactly as in a cluster where the node lifecycle controller
 * taints it: `node(s) had untolerated taint {node.kubernetes.io/not-ready: }`.
 *
 * @module
 */

import {
  type AffinityTerm,
  type NodeSelectorRequirement,
  type NodeSelectorTerm,
  type PodInfo,
  termMatches,
  type Toleration,
} from "./pod_info.ts";
import { type NodeInfo, type Snapshot, type Taint, TAINT_UNSCHEDULABLE } from "./snapshot.ts";
import { checkPodVolumes, type PodVolumes, podVolumes } from "./volume_binding.ts";

/** NodeUnschedulable's reason. */
export const REASON_UNSCHEDULABLE = "node(s) were unschedulable";
/** NodeName's reason. */
export const REASON_NODE_NAME = "node(s) didn't match the requested node name";
/** NodeAffinity's reason (nodeSelector and required node affinity). */
export const REASON_NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector";
/** NodePorts' reason. */
export const REASON_NODE_PORTS = "node(s) didn't have free ports for the requested pod ports";
/** NodeResourcesFit's reason when the node holds its `pods` allocatable already. */
export const REASON_TOO_MANY_PODS = "Too many pods";
/** InterPodAffinity's reason when a pod on the node's topology domain repels this one. */
export const REASON_EXISTING_ANTI_AFFINITY =
  "node(s) didn't satisfy existing pods anti-affinity rules";
/** InterPodAffinity's reason when the pod's required affinity is not met. */
export const REASON_AFFINITY = "node(s) didn't match pod affinity rules";
/** InterPodAffinity's reason when the pod's required anti-affinity is not met. */
export const REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules";

/** NodeResourcesFit's reason for one resource: `Insufficient cpu`. */
export function insufficient(resource: string): string {
  return `Insufficient ${resource}`;
}

/** TaintToleration's reason: `node(s) had untolerated taint {dedicated: gpu}`. */
export function untoleratedTaint(taint: Taint): string {
  return `node(s) had untolerated taint {${taint.key}: ${taint.value ?? ""}}`;
}

/** What a filter returns: `undefined` when the node passes, else why it does not. */
export type FilterResult = readonly string[] | undefined;

/**
 * Per-pod state computed once per scheduling attempt and shared by all nodes (kube's
 * `CycleState` from PreFilter). InterPodAffinity and VolumeBinding need some, and compute it
 * only when asked.
 */
export class CycleState {
  #interPod: InterPodState | undefined;
  #volumes: PodVolumes | undefined;

  constructor(readonly pod: PodInfo, readonly snapshot: Snapshot) {}

  /** Topology-pair counts for InterPodAffinity. */
  get interPod(): InterPodState {
    this.#interPod ??= interPodState(this.pod, this.snapshot);
    return this.#interPod;
  }

  /** The pod's claims sorted by VolumeBinding's pre-filter. */
  get volumes(): PodVolumes {
    this.#volumes ??= podVolumes(this.pod, this.snapshot);
    return this.#volumes;
  }
}

/** A feasibility check. */
export interface Filter {
  /** kube-scheduler's plugin name */
  name: string;
  filter(pod: PodInfo, node: NodeInfo, state: CycleState): FilterResult;
}

// ----- taints and tolerations ------------------------------------------------------------------

/** True when `toleration` tolerates `taint` (`Toleration.ToleratesTaint`). */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "Equal") {
    case "Exists":
      return true;
    case "Equal":
    case "":
      return (toleration.value ?? "") === (taint.value ?? "");
    default:
      return false;
  }
}

function tolerated(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => tolerates(t, taint));
}

/** NodeUnschedulable: a cordoned node takes only pods tolerating its unschedulable taint. */
export const nodeUnschedulable: Filter = {
  name: "NodeUnschedulable",
  filter(pod, node) {
    if (!node.unschedulable) return undefined;
    const taint = { key: TAINT_UNSCHEDULABLE, effect: "NoSchedule" };
    return tolerated(pod.tolerations, taint) ? undefined : [REASON_UNSCHEDULABLE];
  },
};

/** NodeName: a pod naming a node fits only there. */
export const nodeName: Filter = {
  name: "NodeName",
  filter(pod, node) {
    return pod.nodeName && pod.nodeName !== node.name ? [REASON_NODE_NAME] : undefined;
  },
};

/** TaintToleration: every NoSchedule and NoExecute taint must be tolerated. */
export const taintToleration: Filter = {
  name: "TaintToleration",
  filter(pod, node) {
    for (const taint of node.taints) {
      if (taint.effect !== "NoSchedule" && taint.effect !== "NoExecute") continue;
      if (!tolerated(pod.tolerations, taint)) return [untoleratedTaint(taint)];
    }
    return undefined;
  },
};

// ----- node affinity ---------------------------------------------------------------------------

const INTEGER = /^-?[0-9]+$/;

function requirementMatches(r: NodeSelectorRequirement, has: boolean, value: string): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return values.length > 0 && has && values.includes(value);
    case "NotIn":
      return values.length > 0 && (!has || !values.includes(value));
    case "Exists":
      return values.length === 0 && has;
    case "DoesNotExist":
      return values.length === 0 && !has;
    case "Gt":
    case "Lt": {
      const bound = values[0] ?? "";
      if (values.length !== 1 || !INTEGER.test(bound) || !has || !INTEGER.test(value)) {
        return false;
      }
      return r.operator === "Gt" ? Number(value) > Number(bound) : Number(value) < Number(bound);
    }
    default:
      return false;
  }
}

/**
 * True when `node` satisfies a node selector term: all its `matchExpressions` (on labels) and
 * `matchFields` (only `metadata.name`, with In/NotIn). A term with neither matches nothing.
 */
export function nodeSelectorTermMatches(
  term: NodeSelectorTerm,
  node: Pick<NodeInfo, "name" | "labels">,
): boolean {
  const exprs = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (exprs.length === 0 && fields.length === 0) return false;
  for (const r of exprs) {
    if (!requirementMatches(r, Object.hasOwn(node.labels, r.key), node.labels[r.key] ?? "")) {
      return false;
    }
  }
  for (const r of fields) {
    if (r.key !== "metadata.name" || (r.operator !== "In" && r.operator !== "NotIn")) return false;
    if ((r.values ?? []).length !== 1) return false;
    if (!requirementMatches(r, true, node.name)) return false;
  }
  return true;
}

/** NodeAffinity: `spec.nodeSelector` and required node affinity (terms ORed). */
export const nodeAffinity: Filter = {
  name: "NodeAffinity",
  filter(pod, node) {
    for (const [k, v] of Object.entries(pod.nodeSelector)) {
      if (!Object.hasOwn(node.labels, k) || node.labels[k] !== v) return [REASON_NODE_AFFINITY];
    }
    const terms = pod.requiredNodeTerms;
    if (terms && !terms.some((t) => nodeSelectorTermMatches(t, node))) {
      return [REASON_NODE_AFFINITY];
    }
    return undefined;
  },
};

// ----- ports and resources ---------------------------------------------------------------------

/** NodePorts: a host port (per protocol and IP; 0.0.0.0 meaning all) is used once per node. */
export const nodePorts: Filter = {
  name: "NodePorts",
  filter(pod, node) {
    for (const p of pod.hostPorts) {
      const ips = node.usedPorts.get(`${p.protocol}/${p.port}`);
      if (!ips) continue;
      if (p.hostIP === "0.0.0.0" || ips.has(p.hostIP) || ips.has("0.0.0.0")) {
        return [REASON_NODE_PORTS];
      }
    }
    return undefined;
  },
};

/** NodeResourcesFit: the pod count and each requested resource must fit what is left. */
export const nodeResourcesFit: Filter = {
  name: "NodeResourcesFit",
  filter(pod, node) {
    const reasons: string[] = [];
    if (node.pods.size + 1 > node.allocatable.pods) reasons.push(REASON_TOO_MANY_PODS);
    const req = pod.requests;
    const { allocatable, requested } = node;
    if (req.milliCpu > 0 && req.milliCpu > allocatable.milliCpu - requested.milliCpu) {
      reasons.push(insufficient("cpu"));
    }
    if (req.memory > 0 && req.memory > allocatable.memory - requested.memory) {
      reasons.push(insufficient("memory"));
    }
    for (const [name, amount] of req.scalars) {
      const free = (allocatable.scalars.get(name) ?? 0) - (requested.scalars.get(name) ?? 0);
      if (amount > 0 && amount > free) reasons.push(insufficient(name));
    }
    return reasons.length > 0 ? reasons : undefined;
  },
};

// ----- volumes ---------------------------------------------------------------------------------

/**
 * VolumeBinding: the volumes of the pod's PersistentVolumeClaims must be reachable from the node
 * (bound ones), or obtainable there (unbound WaitForFirstConsumer ones). Pods without claims
 * pass at no cost. See `volume_binding.ts`.
 */
export const volumeBinding: Filter = {
  name: "VolumeBinding",
  filter(pod, node, state) {
    return pod.claims.length === 0 ? undefined : checkPodVolumes(state.volumes, node);
  },
};

// ----- inter-pod affinity ----------------------------------------------------------------------

/** Counts of matching pods per topology pair (`key\0value`). */
export interface InterPodState {
  /** pairs where an existing pod's required anti-affinity selects the incoming pod */
  existingAntiAffinity: Map<string, number>;
  /** pairs holding pods that match all of the incoming pod's required affinity terms */
  affinity: Map<string, number>;
  /** pairs holding pods that match one of the incoming pod's required anti-affinity terms */
  antiAffinity: Map<string, number>;
}

/** The topology pair of `node` for `key`, or `undefined` when the node lacks the label. */
export function topologyPair(node: NodeInfo, key: string): string | undefined {
  return Object.hasOwn(node.labels, key) ? `${key}\0${node.labels[key]}` : undefined;
}

function bump(counts: Map<string, number>, pair: string | undefined): void {
  if (pair !== undefined) counts.set(pair, (counts.get(pair) ?? 0) + 1);
}

function matchesAll(
  terms: readonly AffinityTerm[],
  pod: PodInfo,
  namespaceLabels: Record<string, string> | undefined,
): boolean {
  return terms.length > 0 && terms.every((t) => termMatches(t, pod, namespaceLabels));
}

function interPodState(pod: PodInfo, snapshot: Snapshot): InterPodState {
  const state: InterPodState = {
    existingAntiAffinity: new Map(),
    affinity: new Map(),
    antiAffinity: new Map(),
  };
  const ownLabels = snapshot.namespaceLabels(pod.namespace);
  for (const existing of snapshot.podsWithAffinity()) {
    const node = snapshot.node(existing.nodeName);
    if (!node) continue;
    for (const term of existing.requiredAntiAffinity) {
      if (termMatches(term, pod, ownLabels)) {
        bump(state.existingAntiAffinity, topologyPair(node, term.topologyKey));
      }
    }
  }
  if (pod.requiredAffinity.length === 0 && pod.requiredAntiAffinity.length === 0) return state;
  for (const node of snapshot.nodes()) {
    for (const existing of node.pods.values()) {
      const labels = snapshot.namespaceLabels(existing.namespace);
      if (matchesAll(pod.requiredAffinity, existing, labels)) {
        for (const term of pod.requiredAffinity) {
          bump(state.affinity, topologyPair(node, term.topologyKey));
        }
      }
      for (const term of pod.requiredAntiAffinity) {
        if (termMatches(term, existing, labels)) {
          bump(state.antiAffinity, topologyPair(node, term.topologyKey));
        }
      }
    }
  }
  return state;
}

function satisfiesAffinity(pod: PodInfo, node: NodeInfo, state: CycleState): boolean {
  const counts = state.interPod.affinity;
  let podsExist = true;
  for (const term of pod.requiredAffinity) {
    const pair = topologyPair(node, term.topologyKey);
    if (pair === undefined) return false;
    if ((counts.get(pair) ?? 0) <= 0) podsExist = false;
  }
  if (podsExist) return true;
  // The first pod of a group with affinity to itself: no pod anywhere matches, but it matches
  // its own terms, so it may go to any node that has the topology labels.
  const ownLabels = state.snapshot.namespaceLabels(pod.namespace);
  return counts.size === 0 && matchesAll(pod.requiredAffinity, pod, ownLabels);
}

/**
 * InterPodAffinity: existing pods' required anti-affinity against this pod, then this pod's
 * required affinity, then its required anti-affinity, each by topology domain (the value of
 * the term's `topologyKey` label on the node: `kubernetes.io/hostname`, a zone, any label).
 */
export const interPodAffinity: Filter = {
  name: "InterPodAffinity",
  filter(pod, node, state) {
    if (state.snapshot.podsWithAffinity().size === 0 && !pod.hasAffinity) return undefined;
    const { existingAntiAffinity, antiAffinity } = state.interPod;
    for (const [pair, n] of existingAntiAffinity) {
      const key = pair.slice(0, pair.indexOf("\0"));
      if (n > 0 && topologyPair(node, key) === pair) return [REASON_EXISTING_ANTI_AFFINITY];
    }
    if (pod.requiredAffinity.length > 0 && !satisfiesAffinity(pod, node, state)) {
      return [REASON_AFFINITY];
    }
    for (const term of pod.requiredAntiAffinity) {
      const pair = topologyPair(node, term.topologyKey);
      if (pair !== undefined && (antiAffinity.get(pair) ?? 0) > 0) return [REASON_ANTI_AFFINITY];
    }
    return undefined;
  },
};

/** The filters in the order they run (kube-scheduler's default order, cheapest first). */
export const FILTERS: readonly Filter[] = [
  nodeUnschedulable,
  nodeName,
  taintToleration,
  nodeAffinity,
  nodePorts,
  nodeResourcesFit,
  volumeBinding,
  interPodAffinity,
];

/** Run the filters for one node; `undefined` when it is feasible, else the first rejection. */
export function runFilters(pod: PodInfo, node: NodeInfo, state: CycleState): FilterResult {
  for (const f of FILTERS) {
    const reasons = f.filter(pod, node, state);
    if (reasons) return reasons;
  }
  return undefined;
}
