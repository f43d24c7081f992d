/**
 * VolumeBinding (kube-scheduler's plugin, simplified): which nodes can reach the volumes of a
 * pod's PersistentVolumeClaims.
 *
 * The pre-filter ({@linkcode podVolumes}) reads the pod's claims once per scheduling attempt and
 * fails the whole pod, in kube-scheduler's words, when a claim is missing
 * (`persistentvolumeclaim "data" not found`), being deleted
 * (`persistentvolumeclaim "data" is being deleted`), or not bound although its class binds at
 * once (`pod has unbound immediate PersistentVolumeClaims`: a claim without a class, a class
 * that is not `WaitForFirstConsumer`, a class that does not exist, or a claim pre-bound by
 * `spec.volumeName` that the binder has not finished). The scheduler turns that into
 * `0/N nodes are available: <message>.`.
 *
 * The filter ({@linkcode checkPodVolumes}) then judges each node:
 *
 * | claim | the node passes when | reason |
 * | --- | --- | --- |
 * | bound | the volume's node affinity holds for it | `node(s) had volume node affinity conflict` |
 * | bound, volume missing | never | `node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)` |
 * | unbound, WaitForFirstConsumer, `volume.kubernetes.io/selected-node` naming an existing node | it is that node | `node(s) didn't find available persistent volumes to bind` |
 * | unbound, WaitForFirstConsumer, otherwise | a static volume fits the claim there (`findBestVolume` with the node), or the class's provisioner is `edge.io/local-path` (and its `allowedTopologies` admit the node) | the same |
 *
 * A claim counts as bound when it names its volume (`spec.volumeName`) and the binder finished
 * (`pv.kubernetes.io/bind-completed`, or `status.phase: Bound`). Two unbound claims of one pod
 * never count on the same static volume: claims pick in spec order, each among the volumes the
 * earlier ones left.
 *
 * After a node is chosen for a pod with unbound WaitForFirstConsumer claims, the scheduler does
 * not bind the pod: it writes the node into each claim's `volume.kubernetes.io/selected-node`
 * (the PV controller then binds a static volume there or asks the local-path provisioner of
 * that node for one) and plans the pod again once the claims are bound.
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  ANN_BIND_COMPLETED,
  ANN_SELECTED_NODE,
  annotation,
  claimClassName,
  claimVolumeName,
  LOCAL_PATH_PROVISIONER,
  phaseOf,
} from "../../storage/persistent_volumes.ts";
import { findBestVolume, volumeMismatch, volumeNodeAffinityMatches } from "../volume/matching.ts";
import type { PodInfo } from "./pod_info.ts";
import type { NodeInfo, Snapshot } from "./snapshot.ts";

/** The reason for a node outside a bound volume's node affinity. */
export const REASON_VOLUME_NODE_CONFLICT = "node(s) had volume node affinity conflict";
/** The reason for a node where an unbound WaitForFirstConsumer claim can get no volume. */
export const REASON_VOLUME_BIND_CONFLICT =
  "node(s) didn't find available persistent volumes to bind";
/** The reason for every node when a bound claim's volume does not exist. */
export const REASON_PV_NOT_EXIST =
  "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)";
/** The pre-filter's message for a claim that binds at once but is not bound yet. */
export const UNBOUND_IMMEDIATE_CLAIMS = "pod has unbound immediate PersistentVolumeClaims";

/** The StorageClass binding mode that waits for a pod to be scheduled. */
export const WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer";

/** The pre-filter's message for a claim that does not exist. */
export function claimNotFound(name: string): string {
  return `persistentvolumeclaim "${name}" not found`;
}

/** The pre-filter's message for a claim that is being deleted. */
export function claimBeingDeleted(name: string): string {
  return `persistentvolumeclaim "${name}" is being deleted`;
}

/** A bound claim of the pod and its volume (`undefined` when the volume does not exist). */
export interface BoundClaim {
  claim: KubeObject;
  volume: KubeObject | undefined;
}

/** An unbound claim of the pod whose class binds when a consumer is scheduled. */
export interface DelayedClaim {
  claim: KubeObject;
  /** the claim's `volume.kubernetes.io/selected-node` when that node exists, else undefined */
  selectedNode: string | undefined;
  /** volumes that fit the claim on some node (checked per node by the filter) */
  candidates: KubeObject[];
  /** the claim's class when its provisioner is ours, else undefined */
  provisioner: KubeObject | undefined;
}

/** What the pre-filter found out about a pod's claims (kube's `PodVolumeClaims`). */
export interface PodVolumes {
  /** why no node can take the pod, or undefined when the filter should judge each node */
  unschedulable: string | undefined;
  bound: BoundClaim[];
  delayed: DelayedClaim[];
}

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

/** True when the binder finished binding `claim` to the volume it names. */
export function isClaimBound(claim: KubeObject): boolean {
  if (claimVolumeName(claim) === "") return false;
  return annotation(claim, ANN_BIND_COMPLETED) !== undefined || phaseOf(claim) === "Bound";
}

/**
 * True when `claim` waits for its first consumer: its class exists and has
 * `volumeBindingMode: WaitForFirstConsumer` (a claim without a class, or whose class is missing,
 * binds at once, as in Kubernetes).
 */
export function isDelayBinding(claim: KubeObject, storageClass: KubeObject | undefined): boolean {
  if (claimClassName(claim) === "" || !storageClass) return false;
  return record(storageClass).volumeBindingMode === WAIT_FOR_FIRST_CONSUMER;
}

/** `MatchTopologySelectorTerms`: no terms admit every node, else one term must hold. */
function topologyAllows(storageClass: KubeObject, node: NodeInfo): boolean {
  const terms = record(storageClass).allowedTopologies;
  if (!Array.isArray(terms) || terms.length === 0) return true;
  return terms.some((term) => {
    const exprs = record(term).matchLabelExpressions;
    if (!Array.isArray(exprs)) return false;
    return exprs.every((e) => {
      const { key, values } = record(e);
      return typeof key === "string" && Object.hasOwn(node.labels, key) &&
        Array.isArray(values) && values.includes(node.labels[key]);
    });
  });
}

function failed(message: string): PodVolumes {
  return { unschedulable: message, bound: [], delayed: [] };
}

/**
 * The VolumeBinding pre-filter: sort the pod's claims into bound and delayed ones, or say why
 * the pod fits nowhere. See the module doc.
 */
export function podVolumes(pod: PodInfo, snapshot: Snapshot): PodVolumes {
  const view = snapshot.volumes;
  const bound: BoundClaim[] = [];
  const delayed: DelayedClaim[] = [];
  let unboundImmediate = false;
  for (const name of pod.claims) {
    const claim = view.claim(pod.namespace, name);
    if (!claim) return failed(claimNotFound(name));
    if (claim.metadata.deletionTimestamp) return failed(claimBeingDeleted(name));
    if (isClaimBound(claim)) {
      bound.push({ claim, volume: view.volume(claimVolumeName(claim)) });
      continue;
    }
    const storageClass = view.storageClass(claimClassName(claim));
    if (!isDelayBinding(claim, storageClass) || claimVolumeName(claim) !== "") {
      unboundImmediate = true;
      continue;
    }
    const selected = annotation(claim, ANN_SELECTED_NODE);
    const selectedNode = selected && snapshot.node(selected) ? selected : undefined;
    const candidates: KubeObject[] = [];
    if (selectedNode === undefined) {
      for (const volume of view.volumes()) {
        if (volumeMismatch(claim, volume) === undefined) candidates.push(volume);
      }
    }
    const ours = record(storageClass).provisioner === LOCAL_PATH_PROVISIONER;
    delayed.push({ claim, selectedNode, candidates, provisioner: ours ? storageClass : undefined });
  }
  if (unboundImmediate) return failed(UNBOUND_IMMEDIATE_CLAIMS);
  return { unschedulable: undefined, bound, delayed };
}

/**
 * The VolumeBinding filter for one node, given the pre-filter's result: `undefined` when the
 * pod's volumes can be had there, else the reasons (kube-scheduler's order). See the module doc.
 */
export function checkPodVolumes(
  volumes: PodVolumes,
  node: NodeInfo,
): readonly string[] | undefined {
  let nodeConflict = false;
  let missing = false;
  for (const { volume } of volumes.bound) {
    if (!volume) {
      missing = true;
      break;
    }
    if (!volumeNodeAffinityMatches(volume, node)) {
      nodeConflict = true;
      break;
    }
  }
  let bindConflict = false;
  const chosen = new Set<KubeObject>();
  for (const d of volumes.delayed) {
    if (d.selectedNode !== undefined) {
      if (d.selectedNode === node.name) continue;
      bindConflict = true;
      break;
    }
    const left = chosen.size === 0 ? d.candidates : d.candidates.filter((v) => !chosen.has(v));
    const volume = left.length === 0 ? undefined : findBestVolume(d.claim, left, { node });
    if (volume) {
      chosen.add(volume);
      continue;
    }
    if (d.provisioner && topologyAllows(d.provisioner, node)) continue;
    bindConflict = true;
    break;
  }
  if (!nodeConflict && !missing && !bindConflict) return undefined;
  const reasons: string[] = [];
  if (nodeConflict) reasons.push(REASON_VOLUME_NODE_CONFLICT);
  if (bindConflict) reasons.push(REASON_VOLUME_BIND_CONFLICT);
  if (missing) reasons.push(REASON_PV_NOT_EXIST);
  return reasons;
}

/**
 * The claims to write `volume.kubernetes.io/selected-node: <node>` on once `node` is chosen for
 * their pod: those of `claims` (a `waitForClaims` list) that do not name it yet.
 */
export function claimsToSelect(claims: readonly KubeObject[], node: string): KubeObject[] {
  return claims.filter((c) => annotation(c, ANN_SELECTED_NODE) !== node);
}
