/**
 * The Job controller's rules, as pure functions over plain objects (Kubernetes'
 * `pkg/controller/job`): reading a Job's spec and status, its conditions, which pods count as
 * finished and when, the pod back-off after failures, the completed-index intervals of Indexed
 * Jobs, the pods to remove first, and the Pod to create.
 *
 * The controller (`controller.ts`) reads the Job and its pods from informers and carries out
 * what these functions decide. Times are milliseconds since the epoch; timestamps in objects
 * are RFC 3339 with whole seconds.
 *
 * @module
 */

import { cloneJson, type KubeObject, type OwnerReference } from "../../storage/object.ts";
import { podsToDelete } from "../replicaset/replicas.ts";

/** The finalizer on a Job's pods until the controller has counted them. */
export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";
/** Annotation and label carrying an Indexed Job pod's completion index. */
export const COMPLETION_INDEX_KEY = "batch.kubernetes.io/job-completion-index";
/** The environment variable an Indexed Job's containers read their index from. */
export const COMPLETION_INDEX_ENV = "JOB_COMPLETION_INDEX";
/** `spec.managedBy` of the Jobs this controller manages (unset means the same). */
export const JOB_CONTROLLER_NAME = "kubernetes.io/job-controller";
/** The first delay before replacing a failed pod (`DefaultJobPodFailureBackOff`). */
export const POD_FAILURE_BACKOFF_MS = 10_000;
/** The longest delay before replacing a failed pod: six minutes, as the Job docs state. */
export const MAX_POD_FAILURE_BACKOFF_MS = 360_000;
/** The most pod UIDs held in `status.uncountedTerminatedPods` (`MaxUncountedPods`). */
export const MAX_UNCOUNTED_PODS = 500;
/** The most pods one sync creates or deletes (`MaxPodCreateDeletePerSync`). */
export const MAX_POD_CREATE_DELETE_PER_SYNC = 500;

/** Condition of a Job that succeeded (final). */
export const COMPLETE = "Complete";
/** Condition of a Job that failed (final). */
export const FAILED = "Failed";
/** Condition of a suspended Job (False once resumed). */
export const SUSPENDED = "Suspended";
/** Interim condition of a failing Job whose pods are still being counted or terminated. */
export const FAILURE_TARGET = "FailureTarget";
/** Interim condition of a succeeding Job whose pods are still being counted or terminated. */
export const SUCCESS_CRITERIA_MET = "SuccessCriteriaMet";

/** The longest `generateName` the API server keeps whole (63 minus 5 random characters). */
const MAX_GENERATED_NAME = 58;
const UNKNOWN_INDEX = -1;

/** batch/v1 JobCondition. */
export interface JobCondition {
  type: string;
  status: string;
  lastProbeTime?: string;
  lastTransitionTime?: string;
  reason?: string;
  message?: string;
}

/** batch/v1 JobStatus as this controller writes it. */
export interface JobStatus {
  conditions?: JobCondition[];
  startTime?: string;
  completionTime?: string;
  active?: number;
  succeeded?: number;
  failed?: number;
  terminating?: number;
  completedIndexes?: string;
  failedIndexes?: string;
  uncountedTerminatedPods?: { succeeded?: string[]; failed?: string[] };
  ready?: number;
}

/** The parts of batch/v1 JobSpec the controller reads. */
export interface JobSpec {
  parallelism?: number;
  completions?: number;
  activeDeadlineSeconds?: number;
  backoffLimit?: number;
  completionMode?: string;
  suspend?: boolean;
  ttlSecondsAfterFinished?: number;
  podReplacementPolicy?: string;
  managedBy?: string;
  template?: {
    metadata?: {
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
      finalizers?: string[];
    };
    spec?: Record<string, unknown>;
  };
}

interface ContainerStatusView {
  name?: string;
  restartCount?: number;
  state?: { terminated?: { finishedAt?: string } };
}

interface PodView {
  spec?: {
    restartPolicy?: string;
    nodeName?: string;
    initContainers?: { name?: string; restartPolicy?: string }[];
  };
  status?: {
    phase?: string;
    conditions?: { type?: string; status?: string; lastTransitionTime?: string }[];
    containerStatuses?: ContainerStatusView[];
    initContainerStatuses?: ContainerStatusView[];
  };
}

function _pod(pod: KubeObject): PodView {
  return pod as PodView;
}

/** Milliseconds of an RFC 3339 timestamp, or undefined. */
export function parseTime(text: string | undefined): number | undefined {
  if (!text) return undefined;
  const ms = Date.parse(text);
  return Number.isNaN(ms) ? undefined : ms;
}

/** RFC 3339 with whole seconds, as metav1.Time serializes. */
export function formatTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ----- the Job -----------------------------------------------------------------------------------

/** The Job's spec (as served: defaults applied). */
export function jobSpec(job: KubeObject): JobSpec {
  return (job.spec ?? {}) as JobSpec;
}

/** A copy of the Job's status, with `uncountedTerminatedPods` present. */
export function jobStatus(job: KubeObject): JobStatus {
  const status = cloneJson((job.status ?? {}) as JobStatus);
  status.uncountedTerminatedPods ??= {};
  return status;
}

/** True for an Indexed Job. */
export function isIndexed(job: KubeObject): boolean {
  return jobSpec(job).completionMode === "Indexed";
}

/** The first condition of `type`, if any (`findConditionByType`). */
export function findCondition(
  conditions: readonly JobCondition[] | undefined,
  type: string,
): JobCondition | undefined {
  return conditions?.find((c) => c.type === type);
}

/** True when the Job's condition of `type` has status True. */
export function hasTrueCondition(job: KubeObject, type: string): boolean {
  return findCondition(jobStatus(job).conditions, type)?.status === "True";
}

/** True once the Job has a Complete or Failed condition that is True (`IsJobFinished`). */
export function isJobFinished(job: KubeObject): boolean {
  return hasTrueCondition(job, COMPLETE) || hasTrueCondition(job, FAILED);
}

/** A condition probed and changed at `now`. */
export function newCondition(
  type: string,
  status: string,
  reason: string,
  message: string,
  now: number,
): JobCondition {
  const at = formatTime(now);
  return { type, status, lastProbeTime: at, lastTransitionTime: at, reason, message };
}

/**
 * Sets the condition of `type` in `conditions` (in place) to status, reason and message
 * (`ensureJobConditionStatus`): an existing one is replaced when any of them differs; a missing
 * one is appended unless its status would be False. Returns whether anything changed.
 */
export function ensureCondition(
  conditions: JobCondition[],
  type: string,
  status: string,
  reason: string,
  message: string,
  now: number,
): boolean {
  const i = conditions.findIndex((c) => c.type === type);
  const existing = conditions[i];
  if (existing) {
    if (existing.status === status && existing.reason === reason && existing.message === message) {
      return false;
    }
    conditions[i] = newCondition(type, status, reason, message, now);
    return true;
  }
  if (status === "False") return false;
  conditions.push(newCondition(type, status, reason, message, now));
  return true;
}

/**
 * When a finished Job finished: the `lastTransitionTime` of its True Complete or Failed
 * condition (`jobFinishTime`); undefined when it has not finished or the time is missing.
 */
export function jobFinishTime(job: KubeObject): number | undefined {
  const done = (jobStatus(job).conditions ?? []).find((c) =>
    (c.type === COMPLETE || c.type === FAILED) && c.status === "True"
  );
  return parseTime(done?.lastTransitionTime);
}

/** The controller ownerReference the Job puts on its pods (`metav1.NewControllerRef`). */
export function jobControllerRef(job: KubeObject): OwnerReference {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    name: job.metadata.name ?? "",
    uid: job.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

// ----- pods --------------------------------------------------------------------------------------

/** True when the pod carries {@linkcode JOB_TRACKING_FINALIZER}. */
export function hasTrackingFinalizer(pod: KubeObject): boolean {
  return pod.metadata.finalizers?.includes(JOB_TRACKING_FINALIZER) ?? false;
}

/** The pod's phase ("" when unset). */
export function podPhase(pod: KubeObject): string {
  return _pod(pod).status?.phase ?? "";
}

/**
 * True when the pod counts as failed (`isPodFailed`): phase Failed, or — unless the Job only
 * replaces failed pods (`podReplacementPolicy: Failed`) — being deleted before it succeeded.
 */
export function isPodFailed(pod: KubeObject, job: KubeObject): boolean {
  const phase = podPhase(pod);
  if (phase === "Failed") return true;
  if (jobSpec(job).podReplacementPolicy === "Failed") return false;
  return pod.metadata.deletionTimestamp !== undefined && phase !== "Succeeded";
}

/** The pod's completion index from {@linkcode COMPLETION_INDEX_KEY}, or -1 when unknown. */
export function completionIndex(pod: KubeObject): number {
  const value = pod.metadata.annotations?.[COMPLETION_INDEX_KEY];
  if (value === undefined || !/^[0-9]+$/.test(value)) return UNKNOWN_INDEX;
  const index = Number(value);
  return Number.isSafeInteger(index) ? index : UNKNOWN_INDEX;
}

/** True when the pod has a completion index below `completions`. */
export function hasValidIndex(pod: KubeObject, completions: number): boolean {
  const index = completionIndex(pod);
  return index !== UNKNOWN_INDEX && index < completions;
}

/**
 * When the pod finished (`getFinishedTime`): the latest `finishedAt` when every container has
 * terminated, else the Ready=False condition's transition time, else its deletion time minus
 * the grace period, else its creation time.
 */
export function podFinishedTime(pod: KubeObject): number {
  const view = _pod(pod);
  const sidecars = new Set(
    (view.spec?.initContainers ?? []).filter((c) => c.restartPolicy === "Always").map((c) =>
      c.name
    ),
  );
  const statuses = [
    ...(view.status?.containerStatuses ?? []),
    ...(view.status?.initContainerStatuses ?? []).filter((c) => sidecars.has(c.name)),
  ];
  let latest: number | undefined;
  for (const c of statuses) {
    const at = parseTime(c.state?.terminated?.finishedAt);
    if (at === undefined) {
      latest = undefined;
      break;
    }
    latest = Math.max(latest ?? at, at);
  }
  if (latest !== undefined) return latest;
  const ready = view.status?.conditions?.find((c) => c.type === "Ready");
  const readyFalse = ready?.status === "False" ? parseTime(ready.lastTransitionTime) : undefined;
  if (readyFalse !== undefined) return readyFalse;
  const deleted = parseTime(pod.metadata.deletionTimestamp);
  if (deleted !== undefined) return deleted - (pod.metadata.deletionGracePeriodSeconds ?? 0) * 1000;
  return parseTime(pod.metadata.creationTimestamp) ?? 0;
}

/**
 * True when the container restarts of the Job's running and pending pods reach the back-off
 * limit (`pastBackoffLimitOnFailure`; `restartPolicy: OnFailure` only): more than 0 restarts
 * with a limit of 0, else at least `backoffLimit`.
 */
export function restartsReachBackoffLimit(job: KubeObject, pods: readonly KubeObject[]): boolean {
  const spec = jobSpec(job);
  if (spec.template?.spec?.restartPolicy !== "OnFailure") return false;
  let restarts = 0;
  for (const pod of pods) {
    const phase = podPhase(pod);
    if (phase !== "Running" && phase !== "Pending") continue;
    const status = _pod(pod).status;
    for (
      const c of [...(status?.initContainerStatuses ?? []), ...(status?.containerStatuses ?? [])]
    ) {
      restarts += c.restartCount ?? 0;
    }
  }
  const limit = spec.backoffLimit ?? 6;
  return limit === 0 ? restarts > 0 : restarts >= limit;
}

// ----- back-off after pod failures ---------------------------------------------------------------

/** The failures since the last success, for the pod re-creation back-off (`backoffRecord`). */
export interface BackoffRecord {
  failuresAfterLastSuccess: number;
  /** when the last of those failures happened (ms) */
  lastFailureTime: number | undefined;
}

/**
 * The back-off record after the pods that newly succeeded and failed (`newBackoffRecord`): a
 * success resets it to the failures that finished after the latest success.
 */
export function nextBackoffRecord(
  old: BackoffRecord | undefined,
  newSucceeded: readonly KubeObject[],
  newFailed: readonly KubeObject[],
): BackoffRecord {
  const record: BackoffRecord = old
    ? { ...old }
    : { failuresAfterLastSuccess: 0, lastFailureTime: undefined };
  const failedTimes = newFailed.map(podFinishedTime).sort((a, b) => a - b);
  if (newSucceeded.length === 0) {
    if (failedTimes.length === 0) return record;
    record.failuresAfterLastSuccess += failedTimes.length;
    record.lastFailureTime = failedTimes[failedTimes.length - 1];
    return record;
  }
  const lastSuccess = Math.max(...newSucceeded.map(podFinishedTime));
  const after = failedTimes.filter((t) => t > lastSuccess);
  return {
    failuresAfterLastSuccess: after.length,
    lastFailureTime: after.length > 0 ? after[after.length - 1] : undefined,
  };
}

/**
 * How long pod creation still waits at `now` (`getRemainingTime`): 10 s after one failure,
 * doubling with each further failure, at most six minutes, counted from the last failure.
 */
export function backoffRemainingMs(record: BackoffRecord | undefined, now: number): number {
  if (!record || record.failuresAfterLastSuccess === 0 || record.lastFailureTime === undefined) {
    return 0;
  }
  let delay = POD_FAILURE_BACKOFF_MS;
  for (let i = 1; i < record.failuresAfterLastSuccess && delay < MAX_POD_FAILURE_BACKOFF_MS; i++) {
    delay *= 2;
  }
  delay = Math.min(delay, MAX_POD_FAILURE_BACKOFF_MS);
  const elapsed = now - record.lastFailureTime;
  return elapsed > delay ? 0 : delay - elapsed;
}

// ----- completed indexes -------------------------------------------------------------------------

/** Sorted, disjoint, non-adjacent `[first, last]` intervals of completion indexes. */
export type Intervals = Array<[number, number]>;

/**
 * `status.completedIndexes` (`"1,3-5,7"`) as intervals below `completions`
 * (`succeededIndexesFromString`); unreadable parts are skipped.
 */
export function parseIndexes(text: string | undefined, completions: number): Intervals {
  const result: Intervals = [];
  if (!text) return result;
  for (const part of text.split(",")) {
    const [a, b] = part.split("-");
    if (!a || !/^[0-9]+$/.test(a) || (b !== undefined && !/^[0-9]+$/.test(b))) continue;
    const first = Number(a);
    if (first >= completions) break;
    const last = b === undefined ? first : Math.min(Number(b), completions - 1);
    const previous = result[result.length - 1];
    if (previous && previous[1] === first - 1) previous[1] = last;
    else result.push([first, last]);
  }
  return result;
}

/** `intervals` with the increasing `indexes` added (`withOrderedIndexes`). */
export function withIndexes(intervals: Intervals, indexes: readonly number[]): Intervals {
  const result: Intervals = [];
  const add = ([first, last]: [number, number]) => {
    const previous = result[result.length - 1];
    if (!previous || first > previous[1] + 1) result.push([first, last]);
    else if (previous[1] < last) previous[1] = last;
  };
  let i = 0;
  let j = 0;
  while (i < intervals.length || j < indexes.length) {
    const interval = intervals[i];
    const index = indexes[j];
    if (interval && (index === undefined || interval[0] < index)) {
      add(interval);
      i++;
    } else if (index !== undefined) {
      add([index, index]);
      j++;
    }
  }
  return result;
}

/** How many indexes the intervals hold. */
export function countIndexes(intervals: Intervals): number {
  return intervals.reduce((n, [first, last]) => n + last - first + 1, 0);
}

/** Whether `index` is in the intervals. */
export function hasIndex(intervals: Intervals, index: number): boolean {
  return intervals.some(([first, last]) => first <= index && index <= last);
}

/** The intervals as `status.completedIndexes`: `"1,3-5,7"` (two neighbours as `"3,4"`). */
export function formatIndexes(intervals: Intervals): string {
  return intervals.map(([first, last]) =>
    last === first ? `${first}` : last === first + 1 ? `${first},${last}` : `${first}-${last}`
  ).join(",");
}

/**
 * The `count` lowest indexes below `completions` that neither an active pod nor a succeeded
 * index covers (`firstPendingIndexes`).
 */
export function firstPendingIndexes(
  activePods: readonly KubeObject[],
  succeeded: Intervals,
  count: number,
  completions: number,
): number[] {
  const active = [...new Set(activePods.map(completionIndex).filter((ix) => ix !== UNKNOWN_INDEX))]
    .sort((a, b) => a - b);
  const taken = withIndexes(succeeded, active);
  const result: number[] = [];
  for (let candidate = 0; candidate < completions && result.length < count; candidate++) {
    if (!hasIndex(taken, candidate)) result.push(candidate);
  }
  return result;
}

/**
 * The active pods to remove (`activePodsForRemoval`): for an Indexed Job first every pod
 * without a valid index and all but one of each repeated index; then, up to `atLeast`, the
 * pods the ReplicaSet controller would delete first (unscheduled, pending, not ready, …).
 */
export function activePodsForRemoval(
  job: KubeObject,
  pods: readonly KubeObject[],
  atLeast: number,
): KubeObject[] {
  const remove: KubeObject[] = [];
  let left: KubeObject[] = [...pods];
  if (isIndexed(job)) {
    const completions = jobSpec(job).completions ?? 0;
    const byIndex = new Map<number, KubeObject[]>();
    left = [];
    for (const pod of pods) {
      if (!hasValidIndex(pod, completions)) {
        remove.push(pod);
        continue;
      }
      const index = completionIndex(pod);
      byIndex.set(index, [...(byIndex.get(index) ?? []), pod]);
    }
    for (const group of byIndex.values()) {
      const extra = group.length > 1 ? podsToDelete(group, group.length - 1) : [];
      remove.push(...extra);
      left.push(...group.filter((pod) => !extra.includes(pod)));
    }
  }
  if (remove.length < atLeast) remove.push(...podsToDelete(left, atLeast - remove.length));
  return remove;
}

/** `generateName` of an Indexed Job's pod: `<job>-<index>-`, the Job name cut to fit. */
function _indexedGenerateName(jobName: string, index: number): string {
  const suffix = `-${index}-`;
  const prefix = `${jobName}${suffix}`;
  return prefix.length > MAX_GENERATED_NAME
    ? `${jobName.slice(0, MAX_GENERATED_NAME - suffix.length)}${suffix}`
    : prefix;
}

interface _ContainerView {
  env?: Array<{ name?: string; [field: string]: unknown }>;
}

function _addIndexEnv(containers: unknown): void {
  if (!Array.isArray(containers)) return;
  for (const container of containers as _ContainerView[]) {
    const env = container.env ??= [];
    if (env.some((e) => e.name === COMPLETION_INDEX_ENV)) continue;
    env.push({
      name: COMPLETION_INDEX_ENV,
      valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX_KEY}']` } },
    });
  }
}

/**
 * The Pod to POST for a Job (`CreatePodsWithGenerateName` of the template): `generateName`
 * `<job>-`, the template's labels, annotations and finalizers plus
 * {@linkcode JOB_TRACKING_FINALIZER}, a controller ownerReference to the Job, and a copy of the
 * template's spec (its `restartPolicy` included). With an `index` (Indexed Jobs) the pod also
 * gets the index as annotation and label, `generateName` `<job>-<index>-`, hostname
 * `<job>-<index>` and the {@linkcode COMPLETION_INDEX_ENV} variable in every container.
 */
export function podFromJob(job: KubeObject, index?: number): KubeObject {
  const template = jobSpec(job).template ?? {};
  const meta = template.metadata ?? {};
  const name = job.metadata.name ?? "";
  const metadata: KubeObject["metadata"] = {
    generateName: index === undefined ? `${name}-` : _indexedGenerateName(name, index),
    ownerReferences: [jobControllerRef(job)],
  };
  if (job.metadata.namespace !== undefined) metadata.namespace = job.metadata.namespace;
  const labels = { ...meta.labels };
  const annotations = { ...meta.annotations };
  const spec = cloneJson(template.spec ?? {});
  if (index !== undefined) {
    annotations[COMPLETION_INDEX_KEY] = String(index);
    labels[COMPLETION_INDEX_KEY] = String(index);
    spec.hostname = `${name}-${index}`;
    _addIndexEnv(spec.initContainers);
    _addIndexEnv(spec.containers);
  }
  if (Object.keys(labels).length > 0) metadata.labels = labels;
  if (Object.keys(annotations).length > 0) metadata.annotations = annotations;
  const finalizers = [...(meta.finalizers ?? [])];
  if (!finalizers.includes(JOB_TRACKING_FINALIZER)) finalizers.push(JOB_TRACKING_FINALIZER);
  metadata.finalizers = finalizers;
  return { apiVersion: "v1", kind: "Pod", metadata, spec };
}

/**
 * Moves the uids in `status.uncountedTerminatedPods` whose pods no longer hold the tracking
 * finalizer (`withFinalizer` lacks them) into `succeeded` and `failed`, in place
 * (`cleanUncountedPodsWithoutFinalizers`). Returns whether anything moved.
 */
export function countUncounted(status: JobStatus, withFinalizer: ReadonlySet<string>): boolean {
  const uncounted = status.uncountedTerminatedPods ??= {};
  let changed = false;
  for (const field of ["succeeded", "failed"] as const) {
    const uids = uncounted[field] ?? [];
    const left = uids.filter((uid) => withFinalizer.has(uid));
    if (left.length === uids.length) continue;
    status[field] = (status[field] ?? 0) + uids.length - left.length;
    uncounted[field] = left;
    changed = true;
  }
  return changed;
}

/**
 * The status as the API serves it, for writing and comparing: zero `active`, `succeeded` and
 * `failed`, empty conditions and `completedIndexes`, and empty uncounted lists are left out
 * (Go's `omitempty`); `ready`, `terminating` and `uncountedTerminatedPods` stay (pointers).
 */
export function compactStatus(status: JobStatus): JobStatus {
  const out: JobStatus = {};
  if (status.conditions?.length) out.conditions = status.conditions;
  if (status.startTime) out.startTime = status.startTime;
  if (status.completionTime) out.completionTime = status.completionTime;
  if (status.active) out.active = status.active;
  if (status.succeeded) out.succeeded = status.succeeded;
  if (status.failed) out.failed = status.failed;
  if (status.terminating !== undefined) out.terminating = status.terminating;
  if (status.completedIndexes) out.completedIndexes = status.completedIndexes;
  if (status.failedIndexes !== undefined) out.failedIndexes = status.failedIndexes;
  const uncounted = status.uncountedTerminatedPods ?? {};
  out.uncountedTerminatedPods = {};
  if (uncounted.succeeded?.length) out.uncountedTerminatedPods.succeeded = uncounted.succeeded;
  if (uncounted.failed?.length) out.uncountedTerminatedPods.failed = uncounted.failed;
  if (status.ready !== undefined) out.ready = status.ready;
  return out;
}
