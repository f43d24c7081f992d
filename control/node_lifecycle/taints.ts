/**
 * The pure rules of the node lifecycle controller (`controller.ts`), after Kubernetes'
 * `pkg/controller/nodelifecycle` and `pkg/controller/tainteviction`:
 *
 * - {@linkcode lastProbe} / {@linkcode unknownConditions}: when a node has been silent longer
 *   than its grace period, its Ready, MemoryPressure, DiskPressure and PIDPressure conditions
 *   become `Unknown` (`NodeStatusUnknown`, "Kubelet stopped posting node status.").
 * - {@linkcode desiredTaints} / {@linkcode reconcileTaints}: the taints conditions stand for
 *   (`not-ready`/`unreachable` as NoSchedule and NoExecute, the pressure taints and
 *   `unschedulable` as NoSchedule), added with `timeAdded` and removed when the condition clears.
 * - {@linkcode podNotReadyConditions}: a pod on a node that stopped being Ready gets its own
 *   Ready condition set to False (`MarkPodsNotReady`).
 * - {@linkcode evictionTime}: when the NoExecute taint manager deletes a pod, from the taints'
 *   `timeAdded` and the pod's tolerations, with the tolerations the API server's
 *   DefaultTolerationSeconds plugin and the DaemonSet controller would have added.
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../../storage/object.ts";

/** Taint of a node whose Ready condition is False. */
export const TAINT_NOT_READY = "node.kubernetes.io/not-ready";
/** Taint of a node whose Ready condition is Unknown. */
export const TAINT_UNREACHABLE = "node.kubernetes.io/unreachable";
/** Taint of a cordoned node (`spec.unschedulable`). */
export const TAINT_UNSCHEDULABLE = "node.kubernetes.io/unschedulable";
/** Taint of a node with MemoryPressure True. */
export const TAINT_MEMORY_PRESSURE = "node.kubernetes.io/memory-pressure";
/** Taint of a node with DiskPressure True. */
export const TAINT_DISK_PRESSURE = "node.kubernetes.io/disk-pressure";
/** Taint of a node with PIDPressure True. */
export const TAINT_PID_PRESSURE = "node.kubernetes.io/pid-pressure";
/** Taint of a node with NetworkUnavailable True. */
export const TAINT_NETWORK_UNAVAILABLE = "node.kubernetes.io/network-unavailable";

/** Reason of a condition the controller turned Unknown. */
export const REASON_STATUS_UNKNOWN = "NodeStatusUnknown";
/** Message of a condition the controller turned Unknown (Kubernetes' wording). */
export const MESSAGE_STATUS_UNKNOWN = "Kubelet stopped posting node status.";
/** Reason of a condition the kubelet never posted. */
export const REASON_NEVER_UPDATED = "NodeStatusNeverUpdated";
/** Message of a condition the kubelet never posted (Kubernetes' wording). */
export const MESSAGE_NEVER_UPDATED = "Kubelet never posted node status.";

/** The conditions of a silent node that turn Unknown (NetworkUnavailable is not the kubelet's). */
export const MONITORED_CONDITIONS = ["Ready", "MemoryPressure", "DiskPressure", "PIDPressure"];

/** core/v1 Taint. */
export interface Taint {
  key: string;
  value?: string;
  effect: string;
  timeAdded?: string;
}

/** core/v1 Toleration. */
export interface Toleration {
  key?: string;
  operator?: string;
  value?: string;
  effect?: string;
  tolerationSeconds?: number;
}

/** core/v1 NodeCondition and PodCondition (the fields used here). */
export interface Condition {
  type: string;
  status: string;
  lastHeartbeatTime?: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** condition type → condition status → the NoSchedule taint it stands for. */
const CONDITION_TAINTS: Record<string, Record<string, string>> = {
  Ready: { False: TAINT_NOT_READY, Unknown: TAINT_UNREACHABLE },
  MemoryPressure: { True: TAINT_MEMORY_PRESSURE },
  DiskPressure: { True: TAINT_DISK_PRESSURE },
  NetworkUnavailable: { True: TAINT_NETWORK_UNAVAILABLE },
  PIDPressure: { True: TAINT_PID_PRESSURE },
};

/** Keys of the NoSchedule taints this controller owns. */
const NO_SCHEDULE_KEYS = new Set([
  TAINT_NOT_READY,
  TAINT_UNREACHABLE,
  TAINT_MEMORY_PRESSURE,
  TAINT_DISK_PRESSURE,
  TAINT_PID_PRESSURE,
  TAINT_NETWORK_UNAVAILABLE,
  TAINT_UNSCHEDULABLE,
]);
/** Keys of the NoExecute taints this controller owns. */
const NO_EXECUTE_KEYS = new Set([TAINT_NOT_READY, TAINT_UNREACHABLE]);

/** A node's `status.conditions`. */
export function conditionsOf(obj: KubeObject): Condition[] {
  const status = isPlainObject(obj.status) ? obj.status : {};
  return Array.isArray(status.conditions) ? status.conditions as Condition[] : [];
}

/** The condition of `type`, if present. */
export function conditionOf(obj: KubeObject, type: string): Condition | undefined {
  return conditionsOf(obj).find((c) => c.type === type);
}

/** A node's `spec.taints`. */
export function taintsOf(node: KubeObject): Taint[] {
  const spec = isPlainObject(node.spec) ? node.spec : {};
  return Array.isArray(spec.taints) ? spec.taints as Taint[] : [];
}

/** Milliseconds of an RFC 3339 time (seconds or microseconds), or undefined when malformed. */
export function parseTime(time: unknown): number | undefined {
  if (typeof time !== "string") return undefined;
  const ms = Date.parse(time);
  return Number.isNaN(ms) ? undefined : ms;
}

/** Options of {@linkcode lastProbe}. */
export interface ProbeOptions {
  /** the node's Lease in `kube-node-lease`, if any */
  lease: KubeObject | undefined;
  /** when the controller started watching: a node it has never heard from gets a full grace */
  observedSince: number;
  /** grace of a node that has posted a Ready condition */
  gracePeriodMs: number;
  /** grace of a node that has never posted one */
  startupGracePeriodMs: number;
}

/**
 * When `node` was last heard from and how long it may stay silent: the latest of its Lease's
 * `renewTime` and its Ready condition's `lastHeartbeatTime` (Kubernetes' probe timestamp),
 * never earlier than `observedSince`. A node without a Ready condition counts from its
 * creation (or Lease) with the startup grace period, as Kubernetes does.
 */
export function lastProbe(
  node: KubeObject,
  options: ProbeOptions,
): { probe: number; graceMs: number } {
  const spec = options.lease && isPlainObject(options.lease.spec) ? options.lease.spec : {};
  const renewed = parseTime(spec.renewTime) ?? -Infinity;
  const ready = conditionOf(node, "Ready");
  if (!ready) {
    const created = parseTime(node.metadata.creationTimestamp) ?? options.observedSince;
    return { probe: Math.max(created, renewed), graceMs: options.startupGracePeriodMs };
  }
  const heartbeat = parseTime(ready.lastHeartbeatTime) ?? -Infinity;
  return {
    probe: Math.max(heartbeat, renewed, options.observedSince),
    graceMs: options.gracePeriodMs,
  };
}

/**
 * The conditions of a node that stopped posting status (`tryUpdateNodeHealth`): each of
 * {@linkcode MONITORED_CONDITIONS} that is not Unknown becomes Unknown with reason
 * `NodeStatusUnknown`; a missing one is added as Unknown with `NodeStatusNeverUpdated`.
 * Other conditions (NetworkUnavailable) are kept. Undefined when nothing changes.
 */
export function unknownConditions(node: KubeObject, now: string): Condition[] | undefined {
  const conditions = conditionsOf(node).map((c) => ({ ...c }));
  let changed = false;
  for (const type of MONITORED_CONDITIONS) {
    const current = conditions.find((c) => c.type === type);
    if (!current) {
      conditions.push({
        type,
        status: "Unknown",
        lastHeartbeatTime: node.metadata.creationTimestamp ?? now,
        lastTransitionTime: now,
        reason: REASON_NEVER_UPDATED,
        message: MESSAGE_NEVER_UPDATED,
      });
      changed = true;
    } else if (current.status !== "Unknown") {
      current.status = "Unknown";
      current.reason = REASON_STATUS_UNKNOWN;
      current.message = MESSAGE_STATUS_UNKNOWN;
      current.lastTransitionTime = now;
      changed = true;
    }
  }
  return changed ? conditions : undefined;
}

/**
 * The taints `node`'s conditions stand for: NoSchedule per {@linkcode CONDITION_TAINTS} and
 * `spec.unschedulable` (`doNoScheduleTaintingPass`), NoExecute `not-ready` for Ready False and
 * `unreachable` for Ready Unknown (`processTaintBaseEviction`). No `timeAdded` yet.
 */
export function desiredTaints(node: KubeObject): Taint[] {
  const taints: Taint[] = [];
  for (const c of conditionsOf(node)) {
    const key = CONDITION_TAINTS[c.type]?.[c.status];
    if (key) taints.push({ key, effect: "NoSchedule" });
  }
  const spec = isPlainObject(node.spec) ? node.spec : {};
  if (spec.unschedulable === true) taints.push({ key: TAINT_UNSCHEDULABLE, effect: "NoSchedule" });
  const ready = conditionOf(node, "Ready")?.status;
  if (ready === "False") taints.push({ key: TAINT_NOT_READY, effect: "NoExecute" });
  if (ready === "Unknown") taints.push({ key: TAINT_UNREACHABLE, effect: "NoExecute" });
  return taints;
}

/** Whether this controller owns `taint` (adds and removes it). */
export function isManagedTaint(taint: Taint): boolean {
  if (taint.effect === "NoSchedule") return NO_SCHEDULE_KEYS.has(taint.key);
  if (taint.effect === "NoExecute") return NO_EXECUTE_KEYS.has(taint.key);
  return false;
}

/**
 * `current` with the managed taints made `desired`: taints it does not own are kept as they
 * are; a desired taint already there (same key and effect) keeps its `timeAdded`; a new one
 * gets `now`, except that when the NoExecute `not-ready` and `unreachable` taints swap, the new
 * one keeps the old one's `timeAdded` — the node has been unusable since then, and Kubernetes'
 * taint manager likewise keeps a pod's eviction deadline through the swap. Undefined when
 * nothing changes.
 */
export function reconcileTaints(
  current: readonly Taint[],
  desired: readonly Taint[],
  now: string,
): Taint[] | undefined {
  const same = (a: Taint, b: Taint) => a.key === b.key && a.effect === b.effect;
  const kept = current.filter((t) => !isManagedTaint(t) || desired.some((d) => same(d, t)));
  const removed = current.filter((t) => !kept.includes(t));
  const added = desired.filter((d) => !current.some((t) => same(d, t)));
  if (removed.length === 0 && added.length === 0) return undefined;
  const swapped = removed.find((t) => t.effect === "NoExecute" && NO_EXECUTE_KEYS.has(t.key));
  return [
    ...kept,
    ...added.map((t) => {
      const carried = t.effect === "NoExecute" && NO_EXECUTE_KEYS.has(t.key) &&
        swapped?.timeAdded;
      return { ...t, timeAdded: carried || now };
    }),
  ];
}

/**
 * The pod conditions after marking `pod` not ready because its node's Ready condition is
 * `nodeReady` (not True): the pod's Ready condition becomes False with `lastTransitionTime`
 * `now`, reason and message kept (`MarkPodsNotReady`). Undefined when there is nothing to do:
 * no Ready condition, already False, or Ready since after the node's transition (a kubelet
 * that is still alive and says so; marking once per node transition, as Kubernetes does).
 */
export function podNotReadyConditions(
  pod: KubeObject,
  nodeReady: Condition,
  now: string,
): Condition[] | undefined {
  const conditions = conditionsOf(pod);
  const ready = conditions.find((c) => c.type === "Ready");
  if (!ready || ready.status === "False") return undefined;
  const podSince = parseTime(ready.lastTransitionTime);
  const nodeSince = parseTime(nodeReady.lastTransitionTime);
  if (podSince !== undefined && nodeSince !== undefined && podSince > nodeSince) return undefined;
  return conditions.map((c) =>
    c === ready ? { ...c, status: "False", lastTransitionTime: now } : c
  );
}

/** Whether `toleration` tolerates `taint` (`Toleration.ToleratesTaint`). */
export function tolerates(toleration: Toleration, taint: Taint): boolean {
  if (toleration.effect && toleration.effect !== taint.effect) return false;
  if (toleration.key && toleration.key !== taint.key) return false;
  switch (toleration.operator ?? "") {
    case "Exists":
      return true;
    case "":
    case "Equal":
      return (toleration.value ?? "") === (taint.value ?? "");
    default:
      return false;
  }
}

/** Whether `pod`'s controller is a DaemonSet. */
export function isDaemonSetPod(pod: KubeObject): boolean {
  const ref = pod.metadata.ownerReferences?.find((r) => r.controller === true);
  return ref?.kind === "DaemonSet";
}

/**
 * The tolerations `pod` would carry in Kubernetes: its own; for a DaemonSet's pod, the
 * DaemonSet controller's `not-ready`/`unreachable` NoExecute tolerations without
 * `tolerationSeconds` (replacing an equal one, `AddOrUpdateTolerationInPodSpec`); then, unless
 * one of them already covers the key with NoExecute, the DefaultTolerationSeconds admission
 * plugin's tolerations of `defaultSeconds`.
 */
export function effectiveTolerations(pod: KubeObject, defaultSeconds: number): Toleration[] {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  const tolerations = Array.isArray(spec.tolerations)
    ? (spec.tolerations as Toleration[]).map((t) => ({ ...t }))
    : [];
  const forKey = (key: string, seconds?: number): Toleration => ({
    key,
    operator: "Exists",
    effect: "NoExecute",
    ...(seconds === undefined ? {} : { tolerationSeconds: seconds }),
  });
  if (isDaemonSetPod(pod)) {
    for (const key of [TAINT_NOT_READY, TAINT_UNREACHABLE]) {
      const wanted = forKey(key);
      const i = tolerations.findIndex((t) =>
        (t.key ?? "") === key && t.operator === "Exists" && (t.value ?? "") === "" &&
        t.effect === "NoExecute"
      );
      if (i >= 0) tolerations[i] = wanted;
      else tolerations.push(wanted);
    }
  }
  for (const key of [TAINT_NOT_READY, TAINT_UNREACHABLE]) {
    const covered = tolerations.some((t) =>
      (!t.key || t.key === key) && (!t.effect || t.effect === "NoExecute")
    );
    if (!covered) tolerations.push(forKey(key, defaultSeconds));
  }
  return tolerations;
}

/**
 * When the taint manager deletes `pod` given its node's `taints`, or undefined when it never
 * does (no NoExecute taint, or every one tolerated forever). Each NoExecute taint is matched
 * with the first toleration that tolerates it (`GetMatchingTolerations`); an untolerated taint
 * evicts at once (its start), a toleration with `tolerationSeconds` evicts that long after the
 * taint's start (`since(taint)`, its `timeAdded`), one without never. The earliest wins.
 */
export function evictionTime(
  taints: readonly Taint[],
  tolerations: readonly Toleration[],
  since: (taint: Taint) => number,
): number | undefined {
  let at = Infinity;
  for (const taint of taints) {
    if (taint.effect !== "NoExecute") continue;
    const toleration = tolerations.find((t) => tolerates(t, taint));
    if (!toleration) at = Math.min(at, since(taint));
    else if (toleration.tolerationSeconds !== undefined) {
      at = Math.min(at, since(taint) + Math.max(0, toleration.tolerationSeconds) * 1000);
    }
  }
  return at === Infinity ? undefined : at;
}
