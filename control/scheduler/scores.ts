/**
 * Scorers: how good is each feasible node for this pod? Each scorer gives every node 0–100
 * (normalized over the feasible nodes, as kube-scheduler's NormalizeScore does); the node
 * with the highest weighted sum wins. Weights are kube-scheduler's defaults.
 *
 * | scorer | weight | prefers |
 * | --- | --- | --- |
 * | TaintToleration | 3 | fewer untolerated PreferNoSchedule taints |
 * | NodeAffinity | 2 | the most weight of matching preferred node affinity terms |
 * | InterPodAffinity | 2 | topology domains with pods it prefers, without pods it avoids |
 * | SelectorSpread | 2 | nodes with fewer pods of the same controller (ReplicaSet, …) |
 * | NodeResourcesFit (LeastAllocated) | 1 | more free cpu and memory |
 * | NodeResourcesBalancedAllocation | 1 | cpu and memory used in equal shares |
 * | ImageLocality | 1 | nodes that already have the pod's images |
 *
 * @module
 */

import { nodeSelectorTermMatches, tolerates, topologyPair } from "./filters.ts";
import { type AffinityTerm, type PodInfo, termMatches } from "./pod_info.ts";
import type { NodeInfo, Snapshot } from "./snapshot.ts";

/** The highest score a scorer gives. */
export const MAX_NODE_SCORE = 100;

/** A scorer: scores for `nodes` (same order), each 0–100. */
export interface Scorer {
  /** kube-scheduler's plugin name */
  name: string;
  weight: number;
  score(pod: PodInfo, nodes: readonly NodeInfo[], snapshot: Snapshot): number[];
}

/**
 * `helper.DefaultNormalizeScore`: scale raw scores so the largest becomes 100 (or, reversed,
 * the largest becomes 0); all zero stays 0 (reversed: 100).
 */
export function normalize(raw: number[], reverse: boolean): number[] {
  const max = Math.max(0, ...raw);
  if (max === 0) return raw.map(() => (reverse ? MAX_NODE_SCORE : 0));
  return raw.map((r) => {
    const s = Math.floor((MAX_NODE_SCORE * r) / max);
    return reverse ? MAX_NODE_SCORE - s : s;
  });
}

function leastAllocated(requested: number, allocatable: number): number {
  if (allocatable === 0 || requested > allocatable) return 0;
  return Math.floor(((allocatable - requested) * MAX_NODE_SCORE) / allocatable);
}

/** LeastAllocated: the share of cpu and memory left free, averaged (non-zero requests). */
export const leastAllocatedScorer: Scorer = {
  name: "NodeResourcesFit",
  weight: 1,
  score(pod, nodes) {
    return nodes.map((n) => {
      const cpu = leastAllocated(
        n.nonZeroRequested.milliCpu + pod.nonZeroRequests.milliCpu,
        n.allocatable.milliCpu,
      );
      const memory = leastAllocated(
        n.nonZeroRequested.memory + pod.nonZeroRequests.memory,
        n.allocatable.memory,
      );
      return Math.floor((cpu + memory) / 2);
    });
  },
};

/** BalancedAllocation: 100 × (1 − the standard deviation of the cpu and memory shares used). */
export const balancedAllocationScorer: Scorer = {
  name: "NodeResourcesBalancedAllocation",
  weight: 1,
  score(pod, nodes) {
    return nodes.map((n) => {
      const fractions: number[] = [];
      const pairs: [number, number][] = [
        [n.requested.milliCpu + pod.requests.milliCpu, n.allocatable.milliCpu],
        [n.requested.memory + pod.requests.memory, n.allocatable.memory],
      ];
      for (const [requested, allocatable] of pairs) {
        if (allocatable > 0) fractions.push(Math.min(1, requested / allocatable));
      }
      const std = fractions.length === 2
        ? Math.abs((fractions[0] ?? 0) - (fractions[1] ?? 0)) / 2
        : 0;
      return Math.floor((1 - std) * MAX_NODE_SCORE);
    });
  },
};

/**
 * SelectorSpread: pods of one controller (same controller ownerReference uid) spread over
 * nodes; a node with the most of them scores 0, one with none 100.
 */
export const selectorSpreadScorer: Scorer = {
  name: "SelectorSpread",
  weight: 2,
  score(pod, nodes, snapshot) {
    const owner = pod.ownerUid;
    if (!owner) return nodes.map(() => 0);
    const counts = nodes.map((n) => snapshot.ownerPodsOn(owner, n.name));
    const max = Math.max(0, ...counts);
    if (max === 0) return nodes.map(() => MAX_NODE_SCORE);
    return counts.map((c) => Math.floor((MAX_NODE_SCORE * (max - c)) / max));
  },
};

/** NodeAffinity (preferred): the summed weights of matching preferred terms, normalized. */
export const nodeAffinityScorer: Scorer = {
  name: "NodeAffinity",
  weight: 2,
  score(pod, nodes) {
    if (pod.preferredNodeTerms.length === 0) return nodes.map(() => 0);
    const raw = nodes.map((n) =>
      pod.preferredNodeTerms.reduce(
        (
          sum,
          t,
        ) => (t.weight !== 0 && nodeSelectorTermMatches(t.preference, n) ? sum + t.weight : sum),
        0,
      )
    );
    return normalize(raw, false);
  },
};

/** TaintToleration (preferred): fewer untolerated `PreferNoSchedule` taints is better. */
export const taintTolerationScorer: Scorer = {
  name: "TaintToleration",
  weight: 3,
  score(pod, nodes) {
    const tolerations = pod.tolerations.filter((t) => !t.effect || t.effect === "PreferNoSchedule");
    const raw = nodes.map((n) =>
      n.taints.filter((taint) =>
        taint.effect === "PreferNoSchedule" && !tolerations.some((t) => tolerates(t, taint))
      ).length
    );
    return normalize(raw, true);
  },
};

/** Weight kube-scheduler gives an existing pod's required affinity toward the incoming pod. */
const HARD_POD_AFFINITY_WEIGHT = 1;

/**
 * InterPodAffinity (preferred): per topology pair, + the weight of each preferred affinity
 * term a pod there satisfies, − for preferred anti-affinity; existing pods' terms toward the
 * incoming pod count the same way (their required affinity with weight 1). Normalized so the
 * worst feasible node scores 0 and the best 100.
 */
export const interPodAffinityScorer: Scorer = {
  name: "InterPodAffinity",
  weight: 2,
  score(pod, nodes, snapshot) {
    const incomingTerms = pod.preferredAffinity.length + pod.preferredAntiAffinity.length > 0;
    if (!incomingTerms && snapshot.podsWithAffinity().size === 0) return nodes.map(() => 0);
    const byPair = new Map<string, number>();
    const add = (node: NodeInfo, term: AffinityTerm, weight: number) => {
      const pair = topologyPair(node, term.topologyKey);
      if (pair !== undefined) byPair.set(pair, (byPair.get(pair) ?? 0) + weight);
    };
    const ownLabels = snapshot.namespaceLabels(pod.namespace);
    const visit = (existing: PodInfo, node: NodeInfo) => {
      const labels = snapshot.namespaceLabels(existing.namespace);
      for (const t of pod.preferredAffinity) {
        if (termMatches(t, existing, labels)) add(node, t, t.weight);
      }
      for (const t of pod.preferredAntiAffinity) {
        if (termMatches(t, existing, labels)) add(node, t, -t.weight);
      }
      for (const t of existing.requiredAffinity) {
        if (termMatches(t, pod, ownLabels)) add(node, t, HARD_POD_AFFINITY_WEIGHT);
      }
      for (const t of existing.preferredAffinity) {
        if (termMatches(t, pod, ownLabels)) add(node, t, t.weight);
      }
      for (const t of existing.preferredAntiAffinity) {
        if (termMatches(t, pod, ownLabels)) add(node, t, -t.weight);
      }
    };
    if (incomingTerms) {
      for (const node of snapshot.nodes()) {
        for (const existing of node.pods.values()) visit(existing, node);
      }
    } else {
      for (const existing of snapshot.podsWithAffinity()) {
        const node = snapshot.node(existing.nodeName);
        if (node) visit(existing, node);
      }
    }
    const keys = new Set([...byPair.keys()].map((p) => p.slice(0, p.indexOf("\0"))));
    const raw = nodes.map((n) => {
      let sum = 0;
      for (const key of keys) {
        const pair = topologyPair(n, key);
        if (pair !== undefined) sum += byPair.get(pair) ?? 0;
      }
      return sum;
    });
    const min = Math.min(...raw);
    const diff = Math.max(...raw) - min;
    return raw.map((r) => (diff > 0 ? Math.floor((MAX_NODE_SCORE * (r - min)) / diff) : 0));
  },
};

const MB = 1024 * 1024;
/** Below this summed image size a node scores 0 for ImageLocality. */
const IMAGE_MIN_THRESHOLD = 23 * MB;
/** Per container, the summed image size at which a node scores 100. */
const IMAGE_MAX_CONTAINER_THRESHOLD = 1000 * MB;

/**
 * ImageLocality: the sizes of the pod's images the node already has, each scaled by the share
 * of nodes that have it (so one node holding a rare image does not attract everything),
 * mapped from [23 MB, 1000 MB × containers] onto 0–100.
 */
export const imageLocalityScorer: Scorer = {
  name: "ImageLocality",
  weight: 1,
  score(pod, nodes, snapshot) {
    if (pod.images.length === 0) return nodes.map(() => 0);
    const total = snapshot.nodes().length;
    const max = IMAGE_MAX_CONTAINER_THRESHOLD * pod.images.length;
    return nodes.map((n) => {
      let sum = 0;
      for (const image of pod.images) {
        const size = n.images.get(image);
        if (size !== undefined) sum += size * (snapshot.nodesWithImage(image) / total);
      }
      const clamped = Math.min(max, Math.max(IMAGE_MIN_THRESHOLD, sum));
      return Math.floor(
        (MAX_NODE_SCORE * (clamped - IMAGE_MIN_THRESHOLD)) / (max - IMAGE_MIN_THRESHOLD),
      );
    });
  },
};

/** The scorers that run. */
export const SCORERS: readonly Scorer[] = [
  taintTolerationScorer,
  nodeAffinityScorer,
  interPodAffinityScorer,
  selectorSpreadScorer,
  leastAllocatedScorer,
  balancedAllocationScorer,
  imageLocalityScorer,
];

/** The weighted total of every scorer for each node (same order as `nodes`). */
export function scoreNodes(
  pod: PodInfo,
  nodes: readonly NodeInfo[],
  snapshot: Snapshot,
): number[] {
  const totals = nodes.map(() => 0);
  for (const scorer of SCORERS) {
    const scores = scorer.score(pod, nodes, snapshot);
    for (let i = 0; i < totals.length; i++) {
      totals[i] = (totals[i] ?? 0) + scorer.weight * (scores[i] ?? 0);
    }
  }
  return totals;
}
