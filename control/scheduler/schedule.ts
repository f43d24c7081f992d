/**
 * `schedulePod`: one scheduling decision against a {@linkcode Snapshot}: filter every node, score
 * the feasible ones, pick the best. When no node fits, the message aggregates the reasons as
 * kube-scheduler's `FitError` does:
 * `0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node affinity/selector.`
 * (each distinct reason with the number of nodes that gave it, the `count reason` strings
 * sorted as strings, joined by `, `, a trailing period). When VolumeBinding's pre-filter rules
 * the pod out before any node is looked at (a claim is missing, say), the message is its reason
 * alone: `0/3 nodes are available: persistentvolumeclaim "data" not found.`
 *
 * A pod whose unbound WaitForFirstConsumer claims still need a volume gets its node together
 * with those claims (`waitForClaims`): the caller writes the node into them and binds the pod
 * only once they are bound (see `volume_binding.ts`).
 *
 * Ties between the best nodes are broken by a hash of the pod's uid: deterministic for one
 * pod, spread evenly over many (kube-scheduler picks at random).
 *
 * @example
 * ```ts
 * const result = schedulePod(pod, Snapshot.of(nodes, pods));
 * if ("node" in result) console.log(`bind to ${result.node}`);
 * else console.log(result.unschedulable);
 * ```
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import { CycleState, runFilters } from "./filters.ts";
import { type PodInfo, podInfo } from "./pod_info.ts";
import { scoreNodes } from "./scores.ts";
import type { NodeInfo, Snapshot } from "./snapshot.ts";

/** kube-scheduler's message when the cluster has no node at all. */
export const NO_NODES_MESSAGE = "no nodes available to schedule pods";

/**
 * The outcome of {@linkcode schedulePod}: a node, or why there is none. `waitForClaims`, present
 * only when not empty, lists the pod's unbound WaitForFirstConsumer claims: the pod may go to
 * `node` once they are bound there.
 */
export type ScheduleResult =
  | { node: string; waitForClaims?: readonly KubeObject[] }
  | { unschedulable: string };

/** The feasible nodes and, for each rejected node, why. */
export interface Diagnosis {
  feasible: NodeInfo[];
  /** node name → reasons it was rejected */
  rejected: Map<string, readonly string[]>;
}

/** Run the filters over every node of `snapshot` (sharing `state` when given). */
export function findFeasibleNodes(
  pod: PodInfo,
  snapshot: Snapshot,
  state: CycleState = new CycleState(pod, snapshot),
): Diagnosis {
  const feasible: NodeInfo[] = [];
  const rejected = new Map<string, readonly string[]>();
  const nodes = snapshot.nodes();
  const wanted = numFeasibleNodesToFind(nodes.length);
  const start = snapshot.nextStartNodeIndex % Math.max(1, nodes.length);
  let processed = 0;
  for (; processed < nodes.length && feasible.length < wanted; processed++) {
    const node = nodes[(start + processed) % nodes.length]!;
    const reasons = runFilters(pod, node, state);
    if (reasons) rejected.set(node.name, reasons);
    else feasible.push(node);
  }
  snapshot.nextStartNodeIndex = nodes.length ? (start + processed) % nodes.length : 0;
  return { feasible, rejected };
}

/**
 * How many feasible nodes are enough to score (kube-scheduler's `numFeasibleNodesToFind` with
 * the adaptive `percentageOfNodesToScore`): every node up to 100, then 50% − nodes/125 of them
 * (at least 5%, at least 100). An unschedulable pod still has every node examined.
 */
export function numFeasibleNodesToFind(nodeCount: number): number {
  if (nodeCount < 100) return nodeCount;
  const percentage = Math.max(5, 50 - Math.floor(nodeCount / 125));
  return Math.max(100, Math.floor((nodeCount * percentage) / 100));
}

/** kube-scheduler's `FitError` message for `nodeCount` nodes rejected for these reasons. */
export function fitErrorMessage(
  nodeCount: number,
  reasonsPerNode: Iterable<readonly string[]>,
): string {
  const histogram = new Map<string, number>();
  for (const reasons of reasonsPerNode) {
    for (const r of reasons) histogram.set(r, (histogram.get(r) ?? 0) + 1);
  }
  const parts = [...histogram].map(([reason, n]) => `${n} ${reason}`).sort(byCodeUnits);
  const summary = parts.length > 0 ? ` ${parts.join(", ")}.` : "";
  return `0/${nodeCount} nodes are available:${summary}`;
}

/** kube-scheduler's `FitError` message when a pre-filter rejected the pod as a whole. */
export function preFilterMessage(nodeCount: number, message: string): string {
  return `0/${nodeCount} nodes are available: ${message}.`;
}

/** Go's `sort.Strings` order (byte order; the same as UTF-16 order for these strings). */
function byCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** FNV-1a, 32 bits: the tie-breaking hash. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** Choose a node for `pod` (a Pod object or its parsed {@linkcode PodInfo}). */
export function schedulePod(pod: KubeObject | PodInfo, snapshot: Snapshot): ScheduleResult {
  const info = "metadata" in pod ? podInfo(pod) : pod;
  const nodeCount = snapshot.nodes().length;
  if (nodeCount === 0) return { unschedulable: NO_NODES_MESSAGE };
  const state = new CycleState(info, snapshot);
  const claims = info.claims.length > 0;
  const refusal = claims ? state.volumes.unschedulable : undefined;
  if (refusal !== undefined) return { unschedulable: preFilterMessage(nodeCount, refusal) };
  const { feasible, rejected } = findFeasibleNodes(info, snapshot, state);
  if (feasible.length === 0) {
    return { unschedulable: fitErrorMessage(nodeCount, rejected.values()) };
  }
  let pick = feasible[0]!;
  if (feasible.length > 1) {
    const totals = scoreNodes(info, feasible, snapshot);
    const best = Math.max(...totals);
    const ties = feasible.filter((_, i) => totals[i] === best);
    pick = ties[fnv1a(info.uid || info.key) % ties.length]!;
  }
  const waitForClaims = claims ? state.volumes.delayed.map((d) => d.claim) : [];
  return waitForClaims.length > 0 ? { node: pick.name, waitForClaims } : { node: pick.name };
}
