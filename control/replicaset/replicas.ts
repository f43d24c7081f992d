/**
 * The ReplicaSet controller's decisions, as pure functions over plain objects (Kubernetes'
 * `pkg/controller/replicaset` and `pkg/controller/controller_utils.go`): which pods a
 * ReplicaSet owns (adopting matching orphans, releasing owned pods that no longer match), how
 * many pods to create or which to delete, the Pod to create, and the status to write.
 *
 * The controller around these functions reads the ReplicaSet and the pods of its namespace from
 * the store and carries out what they return. One `reconcile("namespace/name")`, as Kubernetes'
 * `syncReplicaSet` does it:
 *
 * 1. Read the ReplicaSet. When it is gone, `expectations.delete(key)` and stop.
 * 2. `claimPods(rs, podsOfTheNamespace)`. Before the first adoption, read the ReplicaSet again
 *    from the store (not a cache) and adopt nothing if its uid changed or it is being deleted.
 *    Apply each `adopt` and `release` patch (strategic merge); an adoption that fails is not a
 *    replica (drop it from `active`); NotFound, and Invalid on release, are not errors.
 * 3. When `expectations.satisfied(key)`, act on `manageReplicasDiff(rs, claims.active, { now })`:
 *    - create `n`: `expectations.expectCreations(key, n)` first, then
 *      `slowStartBatch(n, SLOW_START_INITIAL_BATCH_SIZE, () => post(podFromTemplate(rs)))`, and
 *      `expectations.creationObserved(key, n - successes)` for the pods never created. A create
 *      refused because the namespace is terminating counts as a success (nothing to retry);
 *    - delete `pods`: `expectations.expectDeletions(key, pods.map(uid))` first, then delete
 *      them side by side; for each failed delete `expectations.deletionObserved(key, uid)`
 *      (NotFound is not an error).
 * 4. `replicaSetStatus(rs, claims.active, now, { error, terminatingPods: claims.terminating })`;
 *    write `status` to the `status` subresource when `changed`; queue the key again after
 *    `requeueAfterMs` when it is set. Return the error of step 3 so the key is retried.
 *
 * The pod watch feeds the expectations: a pod added with a controller reference to a ReplicaSet
 * is `creationObserved` for that ReplicaSet's key (or `deletionObserved` if it already carries a
 * `deletionTimestamp`); a pod whose `deletionTimestamp` appears, or that is deleted, is
 * `deletionObserved(key, uid)`.
 *
 * Times are milliseconds since the epoch (`Clock.now()`); timestamps in objects are RFC 3339.
 *
 * @module
 */

import {
  labelSelectorFromSpec,
  type LabelSelectorSpec,
  matchesLabelSelector,
} from "../../storage/labels.ts";
import { cloneJson, type KubeObject, type OwnerReference } from "../../storage/object.ts";
import { STRATEGIC_MERGE_PATCH } from "../patch/apply_patch.ts";

/** The most pods one sync creates or deletes (kube-controller-manager's `burstReplicas`). */
export const BURST_REPLICAS = 500;
/** The size of the first batch of creations (`controller.SlowStartInitialBatchSize`). */
export const SLOW_START_INITIAL_BATCH_SIZE = 1;
/** The annotation that ranks pods for deletion: lower cost goes first (an int32). */
export const POD_DELETION_COST_ANNOTATION = "controller.kubernetes.io/pod-deletion-cost";
/** The ReplicaSet condition set while pods cannot be created or deleted. */
export const REPLICA_FAILURE = "ReplicaFailure";

/** A status condition of a ReplicaSet (apps/v1 ReplicaSetCondition). */
export interface ReplicaSetCondition {
  type: string;
  status: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** apps/v1 ReplicaSetStatus. Zero counts are left out, as the API serves them. */
export interface ReplicaSetStatus {
  replicas: number;
  fullyLabeledReplicas?: number;
  readyReplicas?: number;
  availableReplicas?: number;
  terminatingReplicas?: number;
  observedGeneration?: number;
  conditions?: ReplicaSetCondition[];
}

// ----- reading objects ------------------------------------------------------------------------

interface PodCondition {
  type?: string;
  status?: string;
  lastTransitionTime?: string;
}

interface ContainerStatusView {
  name?: string;
  restartCount?: number;
}

interface PodView {
  spec?: {
    nodeName?: string;
    initContainers?: { name?: string; restartPolicy?: string }[];
  };
  status?: {
    phase?: string;
    conditions?: PodCondition[];
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}

interface ReplicaSetView {
  spec?: {
    replicas?: number;
    minReadySeconds?: number;
    selector?: LabelSelectorSpec;
    template?: {
      metadata?: {
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        finalizers?: string[];
      };
      spec?: Record<string, unknown>;
    };
  };
  status?: Partial<ReplicaSetStatus>;
}

function _pod(pod: KubeObject): PodView {
  return pod as PodView;
}

function _rs(rs: KubeObject): ReplicaSetView {
  return rs as ReplicaSetView;
}

/** Milliseconds of an RFC 3339 timestamp; undefined for a missing or unreadable one (Go's zero time). */
function _time(timestamp: string | undefined): number | undefined {
  if (!timestamp) return undefined;
  const ms = Date.parse(timestamp);
  return Number.isNaN(ms) ? undefined : ms;
}

/** RFC 3339 with whole seconds, as metav1.Time serializes. */
function _timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function _readyCondition(pod: KubeObject): PodCondition | undefined {
  return _pod(pod).status?.conditions?.find((c) => c.type === "Ready");
}

function _desiredReplicas(rs: KubeObject): number {
  return _rs(rs).spec?.replicas ?? 1;
}

// ----- ownership --------------------------------------------------------------------------------

/** The controller ownerReference a ReplicaSet puts on its pods (`metav1.NewControllerRef`). */
export function controllerRef(rs: KubeObject): OwnerReference {
  return {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    name: rs.metadata.name ?? "",
    uid: rs.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/** The ownerReference of `obj` with `controller: true`, if any (`metav1.GetControllerOf`). */
export function controllerRefOf(obj: KubeObject): OwnerReference | undefined {
  return obj.metadata.ownerReferences?.find((ref) => ref.controller === true);
}

/** True when `obj`'s controller reference names `owner` by uid (`metav1.IsControlledBy`). */
export function isControlledBy(obj: KubeObject, owner: KubeObject): boolean {
  const ref = controllerRefOf(obj);
  return ref !== undefined && ref.uid !== "" && ref.uid === owner.metadata.uid;
}

/**
 * The Pod to POST for a ReplicaSet (`controller.GetPodFromTemplate`): `generateName`
 * `"<rs>-"` (the API server appends five random characters), the ReplicaSet's namespace, the
 * template's labels, annotations and finalizers, a controller ownerReference to the ReplicaSet,
 * and a copy of the template's spec.
 */
export function podFromTemplate(rs: KubeObject): KubeObject {
  const template = _rs(rs).spec?.template ?? {};
  const meta = template.metadata ?? {};
  const metadata: KubeObject["metadata"] = {
    generateName: `${rs.metadata.name ?? ""}-`,
    ownerReferences: [controllerRef(rs)],
  };
  if (rs.metadata.namespace !== undefined) metadata.namespace = rs.metadata.namespace;
  if (meta.labels) metadata.labels = { ...meta.labels };
  if (meta.annotations) metadata.annotations = { ...meta.annotations };
  if (meta.finalizers) metadata.finalizers = [...meta.finalizers];
  return { apiVersion: "v1", kind: "Pod", metadata, spec: cloneJson(template.spec ?? {}) };
}

/** A patch for one pod, to send as `PATCH` with `contentType`. */
export interface PodPatch {
  namespace: string;
  name: string;
  uid: string;
  contentType: typeof STRATEGIC_MERGE_PATCH;
  patch: Record<string, unknown>;
}

/** What {@linkcode claimPods} decided. */
export interface PodClaims {
  /** active pods that are the ReplicaSet's replicas once `adopt` is applied */
  active: KubeObject[];
  /** pods of the ReplicaSet being deleted that have not finished (`status.terminatingReplicas`) */
  terminating: KubeObject[];
  /** orphans that match the selector: give each the ReplicaSet's controller reference */
  adopt: PodPatch[];
  /** owned pods that no longer match the selector: take the reference away */
  release: PodPatch[];
}

/**
 * The strategic-merge patch that adopts `pod` (`ownerRefControllerPatch`): it adds the
 * ReplicaSet's controller reference and repeats the pod's uid. It also pins the pod's
 * resourceVersion, so if the pod changed since it was read (another controller adopted it
 * first, say) the write fails with Conflict instead of giving the pod two controllers.
 */
export function adoptPatch(rs: KubeObject, pod: KubeObject): PodPatch {
  const metadata: Record<string, unknown> = {
    ownerReferences: [controllerRef(rs)],
    uid: pod.metadata.uid,
  };
  if (pod.metadata.resourceVersion) metadata.resourceVersion = pod.metadata.resourceVersion;
  return _podPatch(pod, { metadata });
}

/**
 * The strategic-merge patch that releases `pod` (`GenerateDeleteOwnerRefStrategicMergeBytes`):
 * it deletes the ownerReference with the ReplicaSet's uid.
 */
export function releasePatch(rs: KubeObject, pod: KubeObject): PodPatch {
  return _podPatch(pod, {
    metadata: {
      ownerReferences: [{ $patch: "delete", uid: rs.metadata.uid }],
      uid: pod.metadata.uid,
    },
  });
}

function _podPatch(pod: KubeObject, patch: Record<string, unknown>): PodPatch {
  return {
    namespace: pod.metadata.namespace ?? "",
    name: pod.metadata.name ?? "",
    uid: pod.metadata.uid ?? "",
    contentType: STRATEGIC_MERGE_PATCH,
    patch,
  };
}

/**
 * Sorts `pods` (any pods of the ReplicaSet's namespace) into the ReplicaSet's replicas and what
 * to patch, as `PodControllerRefManager.ClaimPods` over the active pods does:
 * - a pod controlled by another owner is left alone;
 * - an owned pod that matches the selector is a replica; one that no longer matches is
 *   released (unless the ReplicaSet is being deleted);
 * - an active orphan in the same namespace that matches the selector is adopted and counts as
 *   a replica, unless the ReplicaSet is being deleted.
 *
 * `terminating` lists the pods that are being deleted, not yet Succeeded or Failed, controlled
 * by the ReplicaSet and matching its selector (`FilterClaimedPods` over `FilterTerminatingPods`).
 *
 * @throws {ApiError} BadRequest when the ReplicaSet's selector is invalid.
 */
export function claimPods(rs: KubeObject, pods: readonly KubeObject[]): PodClaims {
  const selector = labelSelectorFromSpec(_rs(rs).spec?.selector);
  const matches = (pod: KubeObject) => matchesLabelSelector(selector, pod.metadata.labels);
  const rsDeleting = rs.metadata.deletionTimestamp !== undefined;
  const claims: PodClaims = { active: [], terminating: [], adopt: [], release: [] };
  for (const pod of pods) {
    if (isPodTerminating(pod)) {
      if (isControlledBy(pod, rs) && matches(pod)) claims.terminating.push(pod);
      continue;
    }
    if (!isPodActive(pod)) continue;
    const ref = controllerRefOf(pod);
    if (ref) {
      if (ref.uid !== rs.metadata.uid) continue;
      if (matches(pod)) claims.active.push(pod);
      else if (!rsDeleting) claims.release.push(releasePatch(rs, pod));
      continue;
    }
    if (rsDeleting || !matches(pod)) continue;
    if (rs.metadata.namespace && rs.metadata.namespace !== pod.metadata.namespace) continue;
    claims.adopt.push(adoptPatch(rs, pod));
    claims.active.push(pod);
  }
  return claims;
}

// ----- pod state --------------------------------------------------------------------------------

/** True for a pod that counts as a replica: not Succeeded or Failed and not being deleted. */
export function isPodActive(pod: KubeObject): boolean {
  const phase = _pod(pod).status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" &&
    pod.metadata.deletionTimestamp === undefined;
}

/** True for a pod being deleted that has not yet Succeeded or Failed (`IsPodTerminating`). */
export function isPodTerminating(pod: KubeObject): boolean {
  const phase = _pod(pod).status?.phase;
  return phase !== "Succeeded" && phase !== "Failed" &&
    pod.metadata.deletionTimestamp !== undefined;
}

/** True when the pod's `Ready` condition is `True`. */
export function isPodReady(pod: KubeObject): boolean {
  return _readyCondition(pod)?.status === "True";
}

/**
 * True when the pod is ready and has been for more than `minReadySeconds` at `now`
 * (`podutil.IsPodAvailable`). With `minReadySeconds` 0 every ready pod is available; otherwise
 * a Ready condition without `lastTransitionTime` never is.
 */
export function isPodAvailable(pod: KubeObject, minReadySeconds: number, now: number): boolean {
  return podAvailableInMs(pod, minReadySeconds, now) === 0;
}

/**
 * How long until the pod becomes available: 0 when it is available at `now`, the milliseconds
 * until {@linkcode isPodAvailable} first holds when it is ready but not yet for long enough,
 * and undefined when time alone will not make it available (not ready, or no ready time).
 */
export function podAvailableInMs(
  pod: KubeObject,
  minReadySeconds: number,
  now: number,
): number | undefined {
  if (!isPodReady(pod)) return undefined;
  if (minReadySeconds <= 0) return 0;
  const since = _time(_readyCondition(pod)?.lastTransitionTime);
  if (since === undefined) return undefined;
  // Available strictly after readyTime + minReadySeconds, as Kubernetes' `Before(now)`.
  const wait = since + minReadySeconds * 1000 - now;
  return wait < 0 ? 0 : wait + 1;
}

/**
 * The pod's deletion cost from {@linkcode POD_DELETION_COST_ANNOTATION}: an int32 written
 * without a plus sign or leading zeros; anything else (or none) counts as 0.
 */
export function podDeletionCost(pod: KubeObject): number {
  const value = pod.metadata.annotations?.[POD_DELETION_COST_ANNOTATION];
  if (value === undefined || !/^(-[0-9]+|0|[1-9][0-9]*)$/.test(value)) return 0;
  const cost = Number(value);
  return cost >= -(2 ** 31) && cost <= 2 ** 31 - 1 ? cost : 0;
}

// ----- choosing pods to delete ----------------------------------------------------------------

const PHASE_ORDINAL: Record<string, number> = { Pending: 0, Unknown: 1, Running: 2 };

interface _Ranked {
  pod: KubeObject;
  uid: string;
  node: string;
  phase: number;
  ready: boolean;
  readyTime: number | undefined;
  cost: number;
  /** active related pods on the same node */
  rank: number;
  restarts: number;
  sidecarRestarts: number;
  created: number | undefined;
}

function _maxRestarts(pod: KubeObject): { regular: number; sidecar: number } {
  const view = _pod(pod);
  let regular = 0;
  for (const c of view.status?.containerStatuses ?? []) {
    regular = Math.max(regular, c.restartCount ?? 0);
  }
  const sidecars = new Set(
    (view.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always").map((c) =>
      c.name
    ),
  );
  let sidecar = 0;
  for (const c of view.status?.initContainerStatuses ?? []) {
    if (sidecars.has(c.name)) sidecar = Math.max(sidecar, c.restartCount ?? 0);
  }
  return { regular, sidecar };
}

function _rank(pod: KubeObject, podsOnNode: Map<string, number>): _Ranked {
  const node = _pod(pod).spec?.nodeName ?? "";
  const ready = isPodReady(pod);
  const restarts = _maxRestarts(pod);
  return {
    pod,
    uid: pod.metadata.uid ?? "",
    node,
    phase: PHASE_ORDINAL[_pod(pod).status?.phase ?? ""] ?? 0,
    ready,
    readyTime: ready ? _time(_readyCondition(pod)?.lastTransitionTime) : undefined,
    cost: podDeletionCost(pod),
    rank: podsOnNode.get(node) ?? 0,
    restarts: restarts.regular,
    sidecarRestarts: restarts.sidecar,
    created: _time(pod.metadata.creationTimestamp),
  };
}

/** Go's `int64(math.Log2(float64(now - t)))` over nanoseconds, -1 when `t` is not in the past. */
function _logRank(t: number, now: number): number {
  const ns = (now - t) * 1e6;
  return ns > 0 ? Math.trunc(Math.log2(ns)) : -1;
}

/**
 * Orders two different times so the more recent comes first, a missing time before any
 * (`afterOrZero`); with `now`, times in the same power-of-two age bucket tie and are ordered by
 * uid instead (LogarithmicScaleDown).
 */
function _newerFirst(
  a: _Ranked,
  b: _Ranked,
  ta: number | undefined,
  tb: number | undefined,
  now: number | undefined,
): number {
  if (ta === undefined || tb === undefined) return ta === undefined ? -1 : 1;
  if (now !== undefined) {
    const diff = _logRank(ta, now) - _logRank(tb, now);
    if (diff === 0) return a.uid < b.uid ? -1 : a.uid > b.uid ? 1 : 0;
    return diff < 0 ? -1 : 1;
  }
  return ta > tb ? -1 : 1;
}

/** Negative when `a` should be deleted before `b` (`ActivePodsWithRanks.Less`). */
function _compareForDeletion(a: _Ranked, b: _Ranked, now: number | undefined): number {
  // 1. unassigned before assigned
  if (a.node !== b.node && (a.node === "" || b.node === "")) return a.node === "" ? -1 : 1;
  // 2. Pending before Unknown before Running
  if (a.phase !== b.phase) return a.phase - b.phase;
  // 3. not ready before ready
  if (a.ready !== b.ready) return a.ready ? 1 : -1;
  // 4. lower pod-deletion-cost first
  if (a.cost !== b.cost) return a.cost - b.cost;
  // 5. doubled up before not doubled up: more related pods on the same node first
  if (a.rank !== b.rank) return b.rank - a.rank;
  // 6. ready for a shorter time first
  if (a.ready && b.ready && a.readyTime !== b.readyTime) {
    return _newerFirst(a, b, a.readyTime, b.readyTime, now);
  }
  // 7. more container restarts first, then more sidecar restarts
  if (a.restarts !== b.restarts) return b.restarts - a.restarts;
  if (a.sidecarRestarts !== b.sidecarRestarts) return b.sidecarRestarts - a.sidecarRestarts;
  // 8. created more recently first
  if (a.created !== b.created) return _newerFirst(a, b, a.created, b.created, now);
  return 0;
}

/** Options of {@linkcode podsToDelete} and {@linkcode manageReplicasDiff}. */
export interface RankOptions {
  /**
   * The pods whose count per node ranks a pod (more on its node, deleted sooner): the active
   * pods of this ReplicaSet and of its sibling ReplicaSets of the same Deployment
   * (`getIndirectlyRelatedPods`). Default: the pods being ranked.
   */
  relatedPods?: readonly KubeObject[];
  /**
   * The time ready and creation times are compared at: with it, times within the same
   * power-of-two age bucket tie (Kubernetes' LogarithmicScaleDown, on by default); without it
   * the plain newer-first order applies.
   */
  now?: number;
}

/**
 * The `count` pods to delete first (`getPodsToDelete`), ordered like Kubernetes'
 * `ActivePodsWithRanks`:
 * 1. not yet scheduled before scheduled;
 * 2. Pending before Unknown before Running;
 * 3. not ready before ready;
 * 4. lower {@linkcode POD_DELETION_COST_ANNOTATION} first;
 * 5. more related pods on the same node first;
 * 6. of two ready pods, the one ready for less time first;
 * 7. more restarts (of any one container, then of any one sidecar) first;
 * 8. created more recently first (no creation time before any).
 *
 * When `count` covers every pod they are all returned without sorting.
 */
export function podsToDelete(
  pods: readonly KubeObject[],
  count: number,
  options: RankOptions = {},
): KubeObject[] {
  if (count <= 0) return [];
  if (count >= pods.length) return [...pods];
  const podsOnNode = new Map<string, number>();
  for (const pod of options.relatedPods ?? pods) {
    if (!isPodActive(pod)) continue;
    const node = _pod(pod).spec?.nodeName ?? "";
    podsOnNode.set(node, (podsOnNode.get(node) ?? 0) + 1);
  }
  return pods
    .map((pod) => _rank(pod, podsOnNode))
    .sort((a, b) => _compareForDeletion(a, b, options.now))
    .slice(0, count)
    .map((r) => r.pod);
}

// ----- creating and deleting -------------------------------------------------------------------

/** What one sync should do about the number of replicas. */
export type ReplicasDiff =
  | { action: "none" }
  | { action: "create"; count: number }
  | { action: "delete"; pods: KubeObject[] };

/** Options of {@linkcode manageReplicasDiff}. */
export interface ManageReplicasOptions extends RankOptions {
  /** the most pods one sync creates or deletes (default {@linkcode BURST_REPLICAS}) */
  burstReplicas?: number;
}

/**
 * How to bring `activePods` (the ReplicaSet's claimed active pods) to `spec.replicas`
 * (`manageReplicas`): create the missing pods or delete the surplus chosen by
 * {@linkcode podsToDelete}, at most `burstReplicas` at a time. A ReplicaSet being deleted is
 * left alone.
 */
export function manageReplicasDiff(
  rs: KubeObject,
  activePods: readonly KubeObject[],
  options: ManageReplicasOptions = {},
): ReplicasDiff {
  if (rs.metadata.deletionTimestamp !== undefined) return { action: "none" };
  const burst = options.burstReplicas ?? BURST_REPLICAS;
  const diff = activePods.length - _desiredReplicas(rs);
  if (diff < 0) return { action: "create", count: Math.min(-diff, burst) };
  if (diff > 0) {
    return { action: "delete", pods: podsToDelete(activePods, Math.min(diff, burst), options) };
  }
  return { action: "none" };
}

/**
 * The batch sizes of a slow start of `count` calls: `initialBatchSize`, then each batch twice
 * the last, the final one whatever remains (`1, 2, 4, 8, 5` for 20).
 */
export function slowStartBatches(
  count: number,
  initialBatchSize: number = SLOW_START_INITIAL_BATCH_SIZE,
): number[] {
  const sizes: number[] = [];
  let remaining = count;
  for (let size = Math.min(remaining, initialBatchSize); size > 0;) {
    sizes.push(size);
    remaining -= size;
    size = Math.min(2 * size, remaining);
  }
  return sizes;
}

/**
 * Calls `fn` `count` times in {@linkcode slowStartBatches}, each batch side by side, and stops
 * after the first batch in which a call fails, so a request that fails every time (a quota, a
 * bad template) fails once and not `count` times. Returns how many calls succeeded and the
 * first error.
 *
 * @example
 * ```ts
 * expectations.expectCreations(key, n);
 * const { successes, error } = await slowStartBatch(n, SLOW_START_INITIAL_BATCH_SIZE, () =>
 *   createPod(podFromTemplate(rs)));
 * expectations.creationObserved(key, n - successes); // never tried, never observed
 * ```
 */
export async function slowStartBatch(
  count: number,
  initialBatchSize: number,
  fn: () => Promise<void>,
): Promise<{ successes: number; error?: unknown }> {
  let successes = 0;
  for (const size of slowStartBatches(count, initialBatchSize)) {
    const results = await Promise.allSettled(Array.from({ length: size }, () => fn()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
    successes += results.filter((r) => r.status === "fulfilled").length;
    if (failed) return { successes, error: failed.reason };
  }
  return { successes };
}

// ----- status ---------------------------------------------------------------------------------

/** Options of {@linkcode replicaSetStatus}. */
export interface StatusOptions {
  /** why creating or deleting pods failed in this sync: sets the ReplicaFailure condition */
  error?: unknown;
  /**
   * The ReplicaSet's terminating pods ({@linkcode PodClaims.terminating}); when given,
   * `status.terminatingReplicas` is set (Kubernetes' DeploymentReplicaSetTerminatingReplicas).
   */
  terminatingPods?: readonly KubeObject[];
}

/** What {@linkcode replicaSetStatus} computed. */
export interface StatusResult {
  /** the status to write */
  status: ReplicaSetStatus;
  /** false when writing `status` would change nothing Kubernetes compares (skip the write) */
  changed: boolean;
  /**
   * When to sync again so `availableReplicas` catches up with pods that are ready but not yet
   * for `minReadySeconds`: the ms until the first of them becomes available (or
   * `minReadySeconds` when none has a ready time); undefined when nothing waits.
   */
  requeueAfterMs: number | undefined;
}

function _errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

function _matchesTemplate(pod: KubeObject, labels: Record<string, string>): boolean {
  const podLabels = pod.metadata.labels ?? {};
  return Object.entries(labels).every(([k, v]) =>
    Object.hasOwn(podLabels, k) && podLabels[k] === v
  );
}

/**
 * The ReplicaSet's status from its claimed active pods (`calculateStatus` and the comparison of
 * `updateReplicaSetStatus`): `replicas`, `fullyLabeledReplicas` (pods carrying every template
 * label), `readyReplicas`, `availableReplicas` (ready for more than `minReadySeconds`),
 * `observedGeneration` (`metadata.generation`), and the ReplicaFailure condition: added with
 * reason FailedCreate or FailedDelete when `options.error` is given and the condition is not
 * there yet, removed when there is no error. Other conditions are kept.
 */
export function replicaSetStatus(
  rs: KubeObject,
  activePods: readonly KubeObject[],
  now: number,
  options: StatusOptions = {},
): StatusResult {
  const view = _rs(rs);
  const old = view.status ?? {};
  const minReadySeconds = view.spec?.minReadySeconds ?? 0;
  const templateLabels = view.spec?.template?.metadata?.labels ?? {};

  let fullyLabeled = 0;
  let ready = 0;
  let available = 0;
  let nextAvailable: number | undefined;
  for (const pod of activePods) {
    if (_matchesTemplate(pod, templateLabels)) fullyLabeled++;
    if (!isPodReady(pod)) continue;
    ready++;
    const wait = podAvailableInMs(pod, minReadySeconds, now);
    if (wait === 0) available++;
    else if (wait !== undefined) nextAvailable = Math.min(nextAvailable ?? wait, wait);
  }

  let conditions = cloneJson(old.conditions ?? []);
  const failure = conditions.find((c) => c.type === REPLICA_FAILURE);
  if (options.error !== undefined && !failure) {
    const diff = activePods.length - _desiredReplicas(rs);
    const condition: ReplicaSetCondition = {
      type: REPLICA_FAILURE,
      status: "True",
      lastTransitionTime: _timestamp(now),
    };
    if (diff !== 0) condition.reason = diff < 0 ? "FailedCreate" : "FailedDelete";
    condition.message = _errorMessage(options.error);
    conditions.push(condition);
  } else if (options.error === undefined && failure) {
    conditions = conditions.filter((c) => c.type !== REPLICA_FAILURE);
  }

  const status: ReplicaSetStatus = { replicas: activePods.length };
  if (fullyLabeled) status.fullyLabeledReplicas = fullyLabeled;
  if (ready) status.readyReplicas = ready;
  if (available) status.availableReplicas = available;
  if (options.terminatingPods) status.terminatingReplicas = options.terminatingPods.length;
  const generation = rs.metadata.generation ?? 0;
  if (generation) status.observedGeneration = generation;
  if (conditions.length) status.conditions = conditions;

  const changed = (old.replicas ?? 0) !== activePods.length ||
    (old.fullyLabeledReplicas ?? 0) !== fullyLabeled ||
    (old.readyReplicas ?? 0) !== ready ||
    (old.availableReplicas ?? 0) !== available ||
    old.terminatingReplicas !== status.terminatingReplicas ||
    (old.observedGeneration ?? 0) !== generation ||
    JSON.stringify(old.conditions ?? []) !== JSON.stringify(conditions);

  let requeueAfterMs: number | undefined;
  if (minReadySeconds > 0 && ready !== available) {
    requeueAfterMs = nextAvailable ?? minReadySeconds * 1000;
  }
  return { status, changed, requeueAfterMs };
}
