/**
 * The DaemonSet controller's decisions, as pure functions over plain objects (Kubernetes'
 * `pkg/controller/daemon` and `pkg/controller/daemon/util`): which nodes should run a daemon
 * pod ({@linkcode nodeShouldRunDaemonPod}), the Pod to create for a node
 * ({@linkcode newDaemonPod}), what to create and delete on each node ({@linkcode planManage}),
 * which out-of-date pods a rolling update replaces next ({@linkcode rollingUpdateDeletions}),
 * and the status to write ({@linkcode daemonSetStatus}).
 *
 * The controller around them (`controller.ts`) reads the DaemonSet, the nodes and the pods from
 * informers and carries out what they return. Times are milliseconds since the epoch;
 * timestamps in objects are RFC 3339.
 *
 * @module
 */

import { computeTemplateHash } from "../deployment/template_hash.ts";
import { tolerates } from "../scheduler/filters.ts";
import type {
  NodeSelectorRequirement,
  NodeSelectorTerm,
  Toleration,
} from "../scheduler/pod_info.ts";
import type { Taint } from "../scheduler/snapshot.ts";
import { cloneJson, type KubeObject, type OwnerReference } from "../../storage/object.ts";
import { isPodAvailable, isPodReady, podAvailableInMs } from "../replicaset/replicas.ts";

/** The label that ties a pod to the template it was made from (`apps.ControllerRevisionHashLabelKey`). */
export const CONTROLLER_REVISION_HASH_LABEL = "controller-revision-hash";
/** The label with the DaemonSet's generation when the pod was made (`DaemonSetTemplateGenerationKey`). */
export const POD_TEMPLATE_GENERATION_LABEL = "pod-template-generation";
/**
 * The annotation on a DaemonSet holding the hash of its current template: Kubernetes keeps it
 * in a ControllerRevision, which is not served here.
 */
export const REVISION_HASH_ANNOTATION = "daemonset.kubernetes.io/controller-revision-hash";
/** The most pods one sync creates, and deletes (the daemon controller's `BurstReplicas`). */
export const BURST_REPLICAS = 250;

const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";
const TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";
const TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
const TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
const TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
const TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";

// ----- reading objects ------------------------------------------------------------------------

interface NodeSelectorView {
  nodeSelectorTerms?: NodeSelectorTerm[];
}

interface AffinityView {
  nodeAffinity?: {
    requiredDuringSchedulingIgnoredDuringExecution?: NodeSelectorView;
    [field: string]: unknown;
  };
  [field: string]: unknown;
}

interface PodSpecView {
  nodeName?: string;
  nodeSelector?: Record<string, string>;
  affinity?: AffinityView;
  tolerations?: (Toleration & { tolerationSeconds?: number })[];
  hostNetwork?: boolean;
  [field: string]: unknown;
}

interface DaemonSetView {
  spec?: {
    minReadySeconds?: number;
    template?: {
      metadata?: {
        labels?: Record<string, string>;
        annotations?: Record<string, string>;
        finalizers?: string[];
      };
      spec?: PodSpecView;
    };
    updateStrategy?: {
      type?: string;
      rollingUpdate?: { maxUnavailable?: number | string; maxSurge?: number | string };
    };
  };
  status?: Partial<DaemonSetStatus>;
}

function _ds(ds: KubeObject): DaemonSetView {
  return ds as DaemonSetView;
}

function _podSpec(pod: KubeObject): PodSpecView {
  return (pod.spec ?? {}) as PodSpecView;
}

function _phase(pod: KubeObject): string | undefined {
  return (pod.status as { phase?: string } | undefined)?.phase;
}

function _nodeName(node: KubeObject): string {
  return node.metadata.name ?? "";
}

function _taints(node: KubeObject): Taint[] {
  return ((node.spec as { taints?: Taint[] } | undefined)?.taints) ?? [];
}

// ----- which nodes ------------------------------------------------------------------------------

/**
 * `tolerations` with the ones Kubernetes gives every daemon pod
 * (`AddOrUpdateDaemonPodTolerations`): `not-ready` and `unreachable` NoExecute with no
 * `tolerationSeconds` (they survive taint-based eviction), `disk-pressure`, `memory-pressure`,
 * `pid-pressure` and `unschedulable` NoSchedule, and `network-unavailable` NoSchedule for a
 * `hostNetwork` pod. One already there with the same key, operator, value and effect is
 * replaced (its `tolerationSeconds` goes); the others are kept in order.
 */
export function daemonPodTolerations(
  tolerations: readonly (Toleration & { tolerationSeconds?: number })[],
  hostNetwork: boolean,
): (Toleration & { tolerationSeconds?: number })[] {
  const added: Toleration[] = [
    { key: TAINT_NOT_READY, operator: "Exists", effect: "NoExecute" },
    { key: TAINT_UNREACHABLE, operator: "Exists", effect: "NoExecute" },
    { key: TAINT_DISK_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_MEMORY_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_PID_PRESSURE, operator: "Exists", effect: "NoSchedule" },
    { key: TAINT_UNSCHEDULABLE, operator: "Exists", effect: "NoSchedule" },
  ];
  if (hostNetwork) {
    added.push({ key: TAINT_NETWORK_UNAVAILABLE, operator: "Exists", effect: "NoSchedule" });
  }
  let result = tolerations.map((t) => ({ ...t }));
  for (const toleration of added) {
    const same = (t: Toleration) =>
      (t.key ?? "") === toleration.key && (t.operator ?? "") === toleration.operator &&
      (t.value ?? "") === "" && (t.effect ?? "") === toleration.effect;
    if (result.some(same)) {
      result = result.map((t) => (same(t) ? { ...toleration } : t));
    } else {
      result.push({ ...toleration });
    }
  }
  return result;
}

const INTEGER = /^-?[0-9]+$/;

/** One node selector requirement against a value that is there (`has`) or not. */
function _requirementMatches(r: NodeSelectorRequirement, has: boolean, value: string): boolean {
  const values = r.values ?? [];
  switch (r.operator) {
    case "In":
      return has && values.includes(value);
    case "NotIn":
      return !has || !values.includes(value);
    case "Exists":
      return has;
    case "DoesNotExist":
      return !has;
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
 * Whether `node` satisfies one node selector term: every `matchExpressions` requirement on its
 * labels and every `matchFields` requirement on `metadata.name` (In/NotIn with one value). A
 * term with neither matches nothing.
 */
function _nodeSelectorTermMatches(term: NodeSelectorTerm, node: KubeObject): boolean {
  const expressions = term.matchExpressions ?? [];
  const fields = term.matchFields ?? [];
  if (expressions.length === 0 && fields.length === 0) return false;
  const labels = node.metadata.labels ?? {};
  for (const r of expressions) {
    if (!_requirementMatches(r, Object.hasOwn(labels, r.key), labels[r.key] ?? "")) return false;
  }
  for (const r of fields) {
    if (r.key !== "metadata.name" || (r.operator !== "In" && r.operator !== "NotIn")) return false;
    if ((r.values ?? []).length !== 1) return false;
    if (!_requirementMatches(r, true, _nodeName(node))) return false;
  }
  return true;
}

/**
 * Whether a pod with `spec` may run on `node` by its `nodeSelector` and required node affinity
 * (`nodeaffinity.GetRequiredNodeAffinity(pod).Match(node)`; the terms are ORed).
 */
function _matchesNodeAffinity(spec: PodSpecView, node: KubeObject): boolean {
  const labels = node.metadata.labels ?? {};
  for (const [k, v] of Object.entries(spec.nodeSelector ?? {})) {
    if (!Object.hasOwn(labels, k) || labels[k] !== v) return false;
  }
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  if (!required) return true;
  return (required.nodeSelectorTerms ?? []).some((term) => _nodeSelectorTermMatches(term, node));
}

/** Whether `node` should run a pod of a DaemonSet ({@linkcode nodeShouldRunDaemonPod}). */
export interface Placement {
  /** a daemon pod should be created on the node if there is none */
  shouldRun: boolean;
  /** a daemon pod already on the node may stay */
  shouldContinueRunning: boolean;
}

/**
 * Whether `node` should run a pod of `ds` (`NodeShouldRunDaemonPod`):
 * - not at all when the template names another node or its `nodeSelector` or required node
 *   affinity does not match the node;
 * - when a NoSchedule or NoExecute taint in the node's `spec.taints` is not tolerated by the
 *   template's tolerations plus {@linkcode daemonPodTolerations}, no new pod should run, but
 *   one already there may stay unless the taint is NoExecute;
 * - otherwise, yes.
 *
 * The node's readiness is not looked at, only its taints: the node lifecycle controller turns
 * a not-ready node into `not-ready` taints (NoExecute is tolerated, NoSchedule is not unless
 * the template tolerates it).
 */
export function nodeShouldRunDaemonPod(node: KubeObject, ds: KubeObject): Placement {
  const spec = _ds(ds).spec?.template?.spec ?? {};
  if (spec.nodeName && spec.nodeName !== _nodeName(node)) {
    return { shouldRun: false, shouldContinueRunning: false };
  }
  if (!_matchesNodeAffinity(spec, node)) return { shouldRun: false, shouldContinueRunning: false };
  const tolerations = daemonPodTolerations(spec.tolerations ?? [], spec.hostNetwork === true);
  const untolerated = (effects: readonly string[]) =>
    _taints(node).some((taint) =>
      effects.includes(taint.effect) && !tolerations.some((t) => tolerates(t, taint))
    );
  if (untolerated(["NoSchedule", "NoExecute"])) {
    return { shouldRun: false, shouldContinueRunning: !untolerated(["NoExecute"]) };
  }
  return { shouldRun: true, shouldContinueRunning: true };
}

/** A node with its {@linkcode Placement} for one DaemonSet. */
export interface NodePlacement extends Placement {
  name: string;
  node: KubeObject;
}

/** Each node's {@linkcode Placement} for `ds`, in the order given. */
export function placements(ds: KubeObject, nodes: readonly KubeObject[]): NodePlacement[] {
  return nodes.map((node) => ({
    name: _nodeName(node),
    node,
    ...nodeShouldRunDaemonPod(node, ds),
  }));
}

// ----- the pods ---------------------------------------------------------------------------------

/**
 * The node a daemon pod is for (`GetTargetNodeName`): its `spec.nodeName`, or before it is
 * bound the one value of a `matchFields` `metadata.name In` requirement of its required node
 * affinity; undefined when it names none.
 */
export function targetNodeName(pod: KubeObject): string | undefined {
  const spec = _podSpec(pod);
  if (spec.nodeName) return spec.nodeName;
  const required = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  for (const term of required?.nodeSelectorTerms ?? []) {
    for (const r of term.matchFields ?? []) {
      if (r.key === "metadata.name" && r.operator === "In") {
        return r.values?.length === 1 ? r.values[0] : undefined;
      }
    }
  }
  return undefined;
}

/**
 * `affinity` with its required node affinity replaced by one term that selects node `nodeName`
 * by `metadata.name` (`ReplaceDaemonSetPodNodeNameNodeAffinity`); the default scheduler then
 * binds the pod there. Preferred terms and pod (anti-)affinity are kept.
 */
export function nodeNameAffinity(
  affinity: AffinityView | undefined,
  nodeName: string,
): AffinityView {
  const required = {
    nodeSelectorTerms: [
      { matchFields: [{ key: "metadata.name", operator: "In", values: [nodeName] }] },
    ],
  };
  const result = cloneJson(affinity ?? {});
  result.nodeAffinity = {
    ...(result.nodeAffinity ?? {}),
    requiredDuringSchedulingIgnoredDuringExecution: required,
  };
  return result;
}

/**
 * The hash of `ds`'s pod template (with `status.collisionCount`), as the
 * {@linkcode CONTROLLER_REVISION_HASH_LABEL} of its current pods.
 */
export function templateHash(ds: KubeObject): string {
  const view = _ds(ds);
  return computeTemplateHash(view.spec?.template ?? {}, view.status?.collisionCount);
}

/** The controller ownerReference a DaemonSet puts on its pods (`metav1.NewControllerRef`). */
export function daemonSetRef(ds: KubeObject): OwnerReference {
  return {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    name: ds.metadata.name ?? "",
    uid: ds.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

/**
 * The Pod to POST for node `nodeName` (`CreatePodTemplate` + `ReplaceDaemonSetPodNodeNameNodeAffinity`
 * + `GetPodFromTemplate`): `generateName` `"<ds>-"`, the template's labels plus
 * {@linkcode CONTROLLER_REVISION_HASH_LABEL} `hash` and {@linkcode POD_TEMPLATE_GENERATION_LABEL}
 * (the DaemonSet's generation), its annotations and finalizers, a controller ownerReference to
 * the DaemonSet, and the template's spec with {@linkcode daemonPodTolerations} and a required
 * node affinity for the node.
 */
export function newDaemonPod(ds: KubeObject, nodeName: string, hash: string): KubeObject {
  const template = _ds(ds).spec?.template ?? {};
  const meta = template.metadata ?? {};
  const labels: Record<string, string> = { ...meta.labels };
  if (ds.metadata.generation !== undefined) {
    labels[POD_TEMPLATE_GENERATION_LABEL] = String(ds.metadata.generation);
  }
  labels[CONTROLLER_REVISION_HASH_LABEL] = hash;
  const metadata: KubeObject["metadata"] = {
    generateName: `${ds.metadata.name ?? ""}-`,
    labels,
    ownerReferences: [daemonSetRef(ds)],
  };
  if (ds.metadata.namespace !== undefined) metadata.namespace = ds.metadata.namespace;
  if (meta.annotations) metadata.annotations = { ...meta.annotations };
  if (meta.finalizers) metadata.finalizers = [...meta.finalizers];
  const spec = cloneJson(template.spec ?? {});
  spec.tolerations = daemonPodTolerations(spec.tolerations ?? [], spec.hostNetwork === true);
  spec.affinity = nodeNameAffinity(spec.affinity, nodeName);
  return { apiVersion: "v1", kind: "Pod", metadata, spec };
}

/** Whether `pod` was made from the template with hash `hash` (`IsPodUpdated`, by hash only). */
export function isPodUpdated(pod: KubeObject, hash: string): boolean {
  return hash !== "" && pod.metadata.labels?.[CONTROLLER_REVISION_HASH_LABEL] === hash;
}

/**
 * Order of the daemon pods on one node, the one to keep first (`podByCreationTimestampAndPhase`):
 * bound before unbound, then older before newer, then by name.
 */
export function compareDaemonPods(a: KubeObject, b: KubeObject): number {
  const aBound = Boolean(_podSpec(a).nodeName);
  const bBound = Boolean(_podSpec(b).nodeName);
  if (aBound !== bBound) return aBound ? -1 : 1;
  const aTime = Date.parse(a.metadata.creationTimestamp ?? "") || 0;
  const bTime = Date.parse(b.metadata.creationTimestamp ?? "") || 0;
  if (aTime !== bTime) return aTime - bTime;
  const aName = a.metadata.name ?? "";
  const bName = b.metadata.name ?? "";
  return aName < bName ? -1 : aName > bName ? 1 : 0;
}

/**
 * The DaemonSet's pods by the node they are for ({@linkcode targetNodeName}), each list in
 * {@linkcode compareDaemonPods} order. Pods that ended (Succeeded or Failed) and are being
 * deleted are left out: nothing is left to do with them. Pods naming no node are left out too.
 */
export function podsByNode(pods: readonly KubeObject[]): Map<string, KubeObject[]> {
  const byNode = new Map<string, KubeObject[]>();
  for (const pod of pods) {
    const phase = _phase(pod);
    if ((phase === "Succeeded" || phase === "Failed") && pod.metadata.deletionTimestamp) continue;
    const node = targetNodeName(pod);
    if (node === undefined) continue;
    const list = byNode.get(node);
    if (list) list.push(pod);
    else byNode.set(node, [pod]);
  }
  for (const list of byNode.values()) list.sort(compareDaemonPods);
  return byNode;
}

// ----- what to create and delete ----------------------------------------------------------------

/** A pod and the node it is on. */
export interface PodOnNode {
  pod: KubeObject;
  node: string;
}

/** What {@linkcode planManage} decided. */
export interface ManagePlan {
  /** nodes that need a daemon pod, in node order */
  createOn: string[];
  /** pods to delete: on nodes that should not run them, and all but the oldest on a node */
  delete: KubeObject[];
  /** pods for nodes that do not exist: delete at once (no kubelet will finish them) */
  forceDelete: KubeObject[];
  /** Failed pods on nodes that keep a daemon pod: delete, with back-off */
  failed: PodOnNode[];
  /** Succeeded pods on nodes that keep a daemon pod: delete */
  succeeded: PodOnNode[];
}

/**
 * What to create and delete so each node runs what it should (`manage` and
 * `podsShouldBeOnNode`, without surge), for each node of `nodes`:
 * - it should run a pod and has none: create one;
 * - a pod may stay: Failed and Succeeded pods are to be deleted (`failed`, `succeeded`), and
 *   of the others, not being deleted, all but the first in {@linkcode compareDaemonPods}
 *   order; while a pod is being deleted nothing new is made;
 * - no pod may stay: delete those not being deleted yet.
 *
 * Pods for nodes not in `nodes` go to `forceDelete` (Kubernetes leaves the bound ones to the
 * pod garbage collector, which is not run here). `byNode` is {@linkcode podsByNode}.
 */
export function planManage(
  nodes: readonly NodePlacement[],
  byNode: ReadonlyMap<string, readonly KubeObject[]>,
): ManagePlan {
  const plan: ManagePlan = { createOn: [], delete: [], forceDelete: [], failed: [], succeeded: [] };
  for (const { name, shouldRun, shouldContinueRunning } of nodes) {
    const pods = byNode.get(name) ?? [];
    if (shouldRun && pods.length === 0) {
      plan.createOn.push(name);
    } else if (shouldContinueRunning) {
      const running: KubeObject[] = [];
      for (const pod of pods) {
        if (pod.metadata.deletionTimestamp) continue;
        const phase = _phase(pod);
        if (phase === "Failed") plan.failed.push({ pod, node: name });
        else if (phase === "Succeeded") plan.succeeded.push({ pod, node: name });
        else running.push(pod);
      }
      plan.delete.push(...running.slice(1));
    } else {
      plan.delete.push(...pods.filter((pod) => !pod.metadata.deletionTimestamp));
    }
  }
  const known = new Set(nodes.map((n) => n.name));
  for (const [node, pods] of byNode) {
    if (known.has(node)) continue;
    plan.forceDelete.push(...pods.filter((pod) => !pod.metadata.deletionTimestamp));
  }
  return plan;
}

// ----- rolling update ---------------------------------------------------------------------------

/**
 * An int-or-percent of `total`, percentages rounded up (`GetScaledValueFromIntOrPercent` with
 * roundUp); an unreadable value counts as 0.
 */
function _scaledValue(value: number | string | undefined, total: number): number {
  if (typeof value === "number") return value;
  if (typeof value !== "string" || !/^[0-9]+%$/.test(value)) return 0;
  return Math.ceil((Number(value.slice(0, -1)) * total) / 100);
}

/**
 * How many nodes a rolling update may have without an available daemon pod: `maxUnavailable`
 * of the desired number of nodes (`UnavailableCount`), and 1 when that comes to 0 while nodes
 * want pods (what Kubernetes does when neither surge nor unavailability is allowed; surge is
 * not supported here, so a `maxSurge` rollout also replaces one node at a time).
 */
export function maxUnavailable(ds: KubeObject, desiredNumberScheduled: number): number {
  const rollingUpdate = _ds(ds).spec?.updateStrategy?.rollingUpdate;
  const n = _scaledValue(rollingUpdate?.maxUnavailable, desiredNumberScheduled);
  return desiredNumberScheduled > 0 && n === 0 ? 1 : n;
}

/**
 * The out-of-date pods a RollingUpdate deletes now (`rollingUpdate` with maxSurge 0); the
 * manage step then creates their replacements. Every node that should run a pod, or has
 * pods, is looked at in node order:
 * - a node with no pod, or with both an old and a new pod (the manage step sorts it out), or
 *   with more than one of either, counts as unavailable; so does a new pod not yet available;
 * - an old pod that is not available is replaced at once;
 * - old available pods are replaced while fewer than {@linkcode maxUnavailable} nodes are
 *   unavailable, each replacement making one more.
 *
 * Pods being deleted are not counted. `now` decides availability (`minReadySeconds`).
 */
export function rollingUpdateDeletions(
  ds: KubeObject,
  nodes: readonly NodePlacement[],
  byNode: ReadonlyMap<string, readonly KubeObject[]>,
  hash: string,
  now: number,
): KubeObject[] {
  const minReadySeconds = _ds(ds).spec?.minReadySeconds ?? 0;
  const wanted = nodes.filter((n) => n.shouldRun).map((n) => n.name);
  const names = [...new Set([...wanted, ...byNode.keys()])].sort();
  const max = maxUnavailable(ds, wanted.length);
  let unavailable = 0;
  const replace: KubeObject[] = [];
  const candidates: KubeObject[] = [];
  for (const name of names) {
    const live = (byNode.get(name) ?? []).filter((pod) => !pod.metadata.deletionTimestamp);
    const fresh = live.filter((pod) => isPodUpdated(pod, hash));
    const old = live.filter((pod) => !isPodUpdated(pod, hash));
    if (fresh.length > 1 || old.length > 1 || fresh.length === old.length) {
      unavailable++;
    } else if (fresh.length === 1) {
      if (!isPodAvailable(fresh[0]!, minReadySeconds, now)) unavailable++;
    } else if (!isPodAvailable(old[0]!, minReadySeconds, now)) {
      replace.push(old[0]!);
    } else if (unavailable < max) {
      candidates.push(old[0]!);
    }
  }
  const room = Math.min(Math.max(max - unavailable, 0), candidates.length);
  return [...replace, ...candidates.slice(0, room)];
}

// ----- status -----------------------------------------------------------------------------------

/** apps/v1 DaemonSetStatus. Zero counts of the optional fields are left out, as the API serves them. */
export interface DaemonSetStatus {
  currentNumberScheduled: number;
  numberMisscheduled: number;
  desiredNumberScheduled: number;
  numberReady: number;
  observedGeneration?: number;
  updatedNumberScheduled?: number;
  numberAvailable?: number;
  numberUnavailable?: number;
  collisionCount?: number;
  conditions?: unknown[];
}

/** What {@linkcode daemonSetStatus} computed. */
export interface StatusResult {
  status: DaemonSetStatus;
  /** false when writing `status` would change nothing (skip the write) */
  changed: boolean;
  /**
   * When to sync again so `numberAvailable` catches up with pods that are ready but not yet
   * for `minReadySeconds`; undefined when nothing waits.
   */
  requeueAfterMs: number | undefined;
}

/**
 * The DaemonSet's status (`updateDaemonSetStatus` and `storeDaemonSetStatus`). For each node
 * that should run a pod: `desiredNumberScheduled`; with a pod, `currentNumberScheduled`, and
 * by its first pod ({@linkcode compareDaemonPods}) `numberReady`, `numberAvailable` (ready for
 * more than `minReadySeconds`) and `updatedNumberScheduled` (made from the current template).
 * Nodes that should not run a pod but have one: `numberMisscheduled`. `numberUnavailable` is
 * desired minus available. `observedGeneration` becomes `metadata.generation` when `observe`
 * (the sync acted on this generation), else stays. `collisionCount` and `conditions` are kept.
 */
export function daemonSetStatus(
  ds: KubeObject,
  nodes: readonly NodePlacement[],
  byNode: ReadonlyMap<string, readonly KubeObject[]>,
  hash: string,
  now: number,
  observe: boolean,
): StatusResult {
  const view = _ds(ds);
  const old = view.status ?? {};
  const minReadySeconds = view.spec?.minReadySeconds ?? 0;
  let desired = 0;
  let current = 0;
  let misscheduled = 0;
  let ready = 0;
  let available = 0;
  let updated = 0;
  let nextAvailable: number | undefined;
  for (const { name, shouldRun } of nodes) {
    const pod = byNode.get(name)?.[0];
    if (!shouldRun) {
      if (pod) misscheduled++;
      continue;
    }
    desired++;
    if (!pod) continue;
    current++;
    if (isPodReady(pod)) {
      ready++;
      const wait = podAvailableInMs(pod, minReadySeconds, now);
      if (wait === 0) available++;
      else nextAvailable = Math.min(nextAvailable ?? Infinity, wait ?? minReadySeconds * 1000);
    }
    if (isPodUpdated(pod, hash)) updated++;
  }
  const status: DaemonSetStatus = {
    currentNumberScheduled: current,
    numberMisscheduled: misscheduled,
    desiredNumberScheduled: desired,
    numberReady: ready,
  };
  const generation = observe ? ds.metadata.generation ?? 0 : old.observedGeneration ?? 0;
  if (generation) status.observedGeneration = generation;
  if (updated) status.updatedNumberScheduled = updated;
  if (available) status.numberAvailable = available;
  if (desired - available) status.numberUnavailable = desired - available;
  if (old.collisionCount !== undefined) status.collisionCount = old.collisionCount;
  if (old.conditions?.length) status.conditions = old.conditions;

  const changed = (old.currentNumberScheduled ?? 0) !== current ||
    (old.numberMisscheduled ?? 0) !== misscheduled ||
    (old.desiredNumberScheduled ?? 0) !== desired ||
    (old.numberReady ?? 0) !== ready ||
    (old.updatedNumberScheduled ?? 0) !== updated ||
    (old.numberAvailable ?? 0) !== available ||
    (old.numberUnavailable ?? 0) !== desired - available ||
    (old.observedGeneration ?? 0) !== generation;
  const requeueAfterMs = minReadySeconds > 0 && ready !== available ? nextAvailable : undefined;
  return { status, changed, requeueAfterMs };
}
