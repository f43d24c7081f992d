/**
 * {@linkcode JobController}: runs batch/v1 Jobs' pods to completion, as kube-controller-manager's
 * job controller (1.32) does. Events from the Job and Pod informers only enqueue the Job's
 * `namespace/name` (or `orphan:namespace/name` for a pod whose tracking finalizer must go);
 * `reconcile(key)` converges one Job:
 *
 * - keeps `min(parallelism, completions - succeeded)` pods active (`parallelism` while nothing
 *   has succeeded when `completions` is unset), creating pods from the template in slow-start
 *   batches or removing the surplus; Indexed Jobs get one pod per pending completion index;
 * - counts finished pods exactly once through the `batch.kubernetes.io/job-tracking`
 *   finalizer: a finished pod's uid goes to `status.uncountedTerminatedPods` first, then its
 *   finalizer is removed, then it moves into `status.succeeded`/`status.failed`;
 * - fails the Job when failures exceed `backoffLimit` (with `restartPolicy: OnFailure`, when
 *   container restarts reach it) or it has been active for `activeDeadlineSeconds`, deleting
 *   its active pods: `FailureTarget` first, `Failed` once no pod is left terminating;
 * - completes it when enough pods succeeded: `SuccessCriteriaMet`, then `Complete` and
 *   `completionTime`;
 * - waits 10 s (doubling per failure since the last success, at most 6 min) before replacing
 *   failed pods;
 * - deletes the active pods of a suspended Job (condition `Suspended`) and resets `startTime`
 *   on resume;
 * - deletes finished Jobs `ttlSecondsAfterFinished` after they finished (the TTL-after-finished
 *   controller's work, done here), with Foreground propagation as Kubernetes does.
 *
 * Expectations keep a slow watch from causing double creates, and finalizer expectations keep a
 * pod whose finalizer removal is not yet seen from being counted twice. Nothing runs while idle:
 * the only timers are for known deadlines (back-off, `activeDeadlineSeconds`, TTL).
 *
 * Not done: pod adoption and release (only pods whose controller reference names the Job are
 * its pods), `podFailurePolicy`, `successPolicy`, `backoffLimitPerIndex`/`maxFailedIndexes`,
 * elastic Indexed Jobs, and the 1 s batching of pod events.
 *
 * The pure rules are in `status.ts`.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import type { KubeObject, OwnerReference } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import { ControllerExpectations } from "../expectations.ts";
import {
  CONTROLLER_INDEX,
  errorMessage,
  type Informer,
  type InformerEvent,
  queueKey,
  splitQueueKey,
} from "../informer.ts";
import { JSON_PATCH, STRATEGIC_MERGE_PATCH } from "../patch/apply_patch.ts";
import { QueueController } from "../queue_controller.ts";
import {
  controllerRefOf,
  isPodActive,
  isPodReady,
  isPodTerminating,
  SLOW_START_INITIAL_BATCH_SIZE,
  slowStartBatch,
} from "../replicaset/replicas.ts";
import {
  activePodsForRemoval,
  type BackoffRecord,
  backoffRemainingMs,
  compactStatus,
  COMPLETE,
  completionIndex,
  countIndexes,
  countUncounted,
  ensureCondition,
  FAILED,
  FAILURE_TARGET,
  findCondition,
  firstPendingIndexes,
  formatIndexes,
  formatTime,
  hasIndex,
  hasTrackingFinalizer,
  hasValidIndex,
  type Intervals,
  isIndexed,
  isJobFinished,
  isPodFailed,
  JOB_CONTROLLER_NAME,
  JOB_TRACKING_FINALIZER,
  type JobCondition,
  jobFinishTime,
  jobSpec,
  type JobStatus,
  jobStatus,
  MAX_POD_CREATE_DELETE_PER_SYNC,
  MAX_UNCOUNTED_PODS,
  newCondition,
  nextBackoffRecord,
  parseIndexes,
  parseTime,
  podFromJob,
  podPhase,
  restartsReachBackoffLimit,
  SUCCESS_CRITERIA_MET,
  SUSPENDED,
  withIndexes,
} from "./status.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;
/** Queue keys of pods whose tracking finalizer may have to go (`orphanQueue`). */
const ORPHAN = "orphan:";
const BACKOFF_LIMIT_MESSAGE = "Job has reached the specified backoff limit";
const DEADLINE_MESSAGE = "Job was active longer than specified deadline";
const COMPLETIONS_REACHED_MESSAGE = "Reached expected number of succeeded pods";

/** Options of {@linkcode JobController}. */
export interface JobControllerOptions {
  store: Store;
  /** informer of `/batch/jobs/` */
  jobs: Informer;
  /** informer of `/core/pods/`, with {@linkcode CONTROLLER_INDEX} */
  pods: Informer;
  /** an EventRecorder with component `job-controller` */
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 1 min) */
  retryMs?: number;
}

/** What one sync of one Job knows and has decided so far (`syncJobCtx`). */
interface SyncContext {
  key: string;
  /** the Job as last read or written (its resourceVersion is the next write's precondition) */
  job: KubeObject;
  /** the status being built */
  status: JobStatus;
  now: number;
  pods: KubeObject[];
  activePods: KubeObject[];
  active: number;
  ready: number;
  terminating: number;
  succeeded: number;
  failed: number;
  uncountedSucceeded: Set<string>;
  uncountedFailed: Set<string>;
  /** pods whose finalizer removal was sent and not yet seen */
  expectedRemovals: Set<string>;
  /** the condition the Job finishes (or is about to finish) with */
  finished: JobCondition | undefined;
  backoff: BackoffRecord;
  /** Indexed Jobs: the completed indexes in the status, and with this sync's successes */
  previousIndexes: Intervals;
  succeededIndexes: Intervals;
}

/** The job controller; see the module documentation. */
export class JobController extends QueueController {
  readonly #objects: Objects;
  readonly #jobs: Informer;
  readonly #pods: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #expectations: ControllerExpectations;
  /** job key → uids of pods whose finalizer removal is not yet observed */
  readonly #removals = new Map<string, Set<string>>();
  /** job key → failures since the last success (`podBackoffStore`) */
  readonly #backoff = new Map<string, BackoffRecord>();
  /** job key → the Job as this controller last wrote it, until the informer catches up */
  readonly #written = new Map<string, KubeObject>();
  /** job key → when a timer will enqueue it */
  readonly #wakeups = new Map<string, number>();
  readonly #stop = new AbortController();
  readonly #jobType: ResourceType;
  readonly #podType: ResourceType;

  constructor(options: JobControllerOptions) {
    super("job controller", { ...options, maxRetryMs: 60_000 });
    this.#clock = options.clock ?? systemClock;
    const clock = this.#clock;
    this.#objects = new Objects(options.store, () => new Date(clock.now()));
    this.#jobs = options.jobs;
    this.#pods = options.pods;
    this.#events = options.events;
    this.#jobType = findKind("batch/v1", "Job")!;
    this.#podType = findKind("v1", "Pod")!;
    this.#expectations = new ControllerExpectations({ clock: this.#clock });
    this.#jobs.onEvent((ev) => this.#onJob(ev));
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /** Stops the worker and the timers of known deadlines. */
  override async stop(): Promise<void> {
    this.#stop.abort();
    await super.stop();
  }

  /**
   * Converges one Job (`namespace/name`), or removes the tracking finalizer of one orphan pod
   * (`orphan:namespace/name`); true when the key must be looked at again.
   */
  override async reconcile(key: string): Promise<boolean> {
    if (key.startsWith(ORPHAN)) {
      await this.#syncOrphanPod(key.slice(ORPHAN.length));
      return false;
    }
    const job = this.#current(key);
    if (!job) {
      this.#forget(key);
      return false;
    }
    const managedBy = jobSpec(job).managedBy;
    if (managedBy !== undefined && managedBy !== JOB_CONTROLLER_NAME) return false;
    if (isJobFinished(job)) {
      this.#backoff.delete(key);
      await this.#deleteAfterTtl(key, job);
      return false;
    }
    try {
      await this.#syncJob(key, job);
    } catch (e) {
      // someone else wrote the Job meanwhile: its event brings the newer one; look again soon
      if (e instanceof ApiError && e.reason === "Conflict") return true;
      if (e instanceof ApiError && e.reason === "NotFound") return false;
      throw e;
    }
    return false;
  }

  /** The newest copy of the Job: the informer's, or the one this controller last wrote. */
  #current(key: string): KubeObject | undefined {
    const [namespace, name] = splitQueueKey(key);
    const cached = this.#jobs.get(storeKey(this.#jobType, namespace, name));
    const written = this.#written.get(key);
    if (
      cached && written && written.metadata.uid === cached.metadata.uid &&
      Number(written.metadata.resourceVersion) > Number(cached.metadata.resourceVersion)
    ) {
      return written;
    }
    this.#written.delete(key);
    return cached;
  }

  #forget(key: string): void {
    this.#expectations.delete(key);
    this.#removals.delete(key);
    this.#backoff.delete(key);
    this.#written.delete(key);
  }

  /** `syncJob` for a Job that has not finished. */
  async #syncJob(key: string, job: KubeObject): Promise<void> {
    const now = this.#clock.now();
    const spec = jobSpec(job);
    const status = jobStatus(job);
    // checked before reading the pods, so a pod that appears meanwhile only delays the sync
    const satisfied = this.#expectations.satisfied(key);
    const pods = this.#pods.byIndex(CONTROLLER_INDEX, job.metadata.uid ?? "")
      .filter((pod) => pod.metadata.namespace === job.metadata.namespace);
    const activePods = pods.filter(isPodActive);
    const ctx: SyncContext = {
      key,
      job,
      status,
      now,
      pods,
      activePods,
      active: activePods.length,
      ready: activePods.filter(isPodReady).length,
      terminating: pods.filter(isPodTerminating).length,
      succeeded: 0,
      failed: 0,
      uncountedSucceeded: new Set(status.uncountedTerminatedPods?.succeeded ?? []),
      uncountedFailed: new Set(status.uncountedTerminatedPods?.failed ?? []),
      expectedRemovals: new Set(this.#removals.get(key) ?? []),
      finished: undefined,
      backoff: { failuresAfterLastSuccess: 0, lastFailureTime: undefined },
      previousIndexes: [],
      succeededIndexes: [],
    };
    const indexed = isIndexed(job);
    const completions = spec.completions;
    const countable = (pod: KubeObject) =>
      hasTrackingFinalizer(pod) && !ctx.expectedRemovals.has(pod.metadata.uid ?? "") &&
      (!indexed || hasValidIndex(pod, completions ?? 0));
    const newSucceeded = pods.filter((pod) =>
      countable(pod) && !ctx.uncountedSucceeded.has(pod.metadata.uid ?? "") &&
      podPhase(pod) === "Succeeded"
    );
    const newFailed = pods.filter((pod) =>
      countable(pod) && !ctx.uncountedFailed.has(pod.metadata.uid ?? "") && isPodFailed(pod, job)
    );
    ctx.succeeded = (status.succeeded ?? 0) + newSucceeded.length + ctx.uncountedSucceeded.size;
    ctx.failed = (status.failed ?? 0) + newFailed.length + ctx.uncountedFailed.size;
    const startTime = status.startTime;
    if (!status.startTime && !spec.suspend) status.startTime = formatTime(now);
    ctx.backoff = nextBackoffRecord(this.#backoff.get(key), newSucceeded, newFailed);

    // the sync that resumes a suspended Job restarts its activeDeadlineSeconds clock below
    const resuming = !spec.suspend &&
      findCondition(status.conditions, SUSPENDED)?.status === "True";
    const met = findCondition(status.conditions, SUCCESS_CRITERIA_MET);
    const target = findCondition(status.conditions, FAILURE_TARGET);
    if (met?.status === "True") {
      ctx.finished = met;
    } else if (target?.status === "True") {
      ctx.finished = newCondition(FAILED, "True", target.reason ?? "", target.message ?? "", now);
    } else if (ctx.failed > (spec.backoffLimit ?? 6) || restartsReachBackoffLimit(job, pods)) {
      ctx.finished = newCondition(
        FAILURE_TARGET,
        "True",
        "BackoffLimitExceeded",
        BACKOFF_LIMIT_MESSAGE,
        now,
      );
    } else if (
      spec.activeDeadlineSeconds !== undefined && !spec.suspend && !resuming &&
      now >= (parseTime(status.startTime) ?? now) + spec.activeDeadlineSeconds * 1000
    ) {
      ctx.finished = newCondition(
        FAILURE_TARGET,
        "True",
        "DeadlineExceeded",
        DEADLINE_MESSAGE,
        now,
      );
    }
    if (indexed) {
      const total = completions ?? 0;
      ctx.previousIndexes = parseIndexes(status.completedIndexes, total);
      const done = pods.filter((pod) =>
        podPhase(pod) === "Succeeded" && hasValidIndex(pod, total) && hasTrackingFinalizer(pod)
      );
      ctx.succeededIndexes = withIndexes(ctx.previousIndexes, sortedIndexes(done));
      ctx.succeeded = countIndexes(ctx.succeededIndexes);
    }

    let manageError: unknown;
    let suspendChanged = false;
    if (ctx.finished) {
      const { deleted, deletedReady, error } = await this.#deleteActivePods(ctx);
      // not finished yet while pods may remain that the informer has not shown
      if (deleted !== ctx.active || !satisfied) ctx.finished = undefined;
      ctx.active -= deleted;
      ctx.terminating += deleted;
      ctx.ready -= deletedReady;
      manageError = error;
    } else {
      let managed = false;
      if (satisfied && !job.metadata.deletionTimestamp) {
        manageError = await this.#manageJob(ctx);
        managed = true;
      }
      const complete = completions === undefined
        ? ctx.succeeded > 0 && ctx.active === 0
        : ctx.succeeded >= completions && ctx.active === 0;
      if (complete) {
        ctx.finished = newCondition(
          SUCCESS_CRITERIA_MET,
          "True",
          "CompletionsReached",
          COMPLETIONS_REACHED_MESSAGE,
          now,
        );
      } else if (managed) {
        const conditions = status.conditions ??= [];
        if (spec.suspend) {
          if (
            ensureCondition(conditions, SUSPENDED, "True", "JobSuspended", "Job suspended", now)
          ) {
            suspendChanged = true;
            await this.#events.record(job, "Normal", "Suspended", "Job suspended");
          }
        } else if (
          ensureCondition(conditions, SUSPENDED, "False", "JobResumed", "Job resumed", now)
        ) {
          suspendChanged = true;
          await this.#events.record(job, "Normal", "Resumed", "Job resumed");
          // activeDeadlineSeconds counts the time the Job is continuously active
          status.startTime = formatTime(now);
        }
      }
    }

    if (!ctx.finished && spec.activeDeadlineSeconds !== undefined && !spec.suspend) {
      const deadline = (parseTime(status.startTime) ?? now) + spec.activeDeadlineSeconds * 1000;
      if (deadline > now) this.#wakeAt(key, deadline);
    }
    const needsUpdate = suspendChanged || ctx.active !== (status.active ?? 0) ||
      ctx.ready !== status.ready || ctx.terminating !== status.terminating ||
      status.startTime !== startTime;
    status.active = ctx.active;
    status.ready = ctx.ready;
    status.terminating = ctx.terminating;
    await this.#trackStatusAndRemoveFinalizers(ctx, needsUpdate);
    if (manageError !== undefined) throw manageError;
  }

  /**
   * Creates or deletes pods toward the wanted number of active pods (`manageJob`), updating
   * `ctx.active`, `ctx.ready` and `ctx.terminating`; returns the first error, if any.
   */
  async #manageJob(ctx: SyncContext): Promise<unknown> {
    const { key, job } = ctx;
    const spec = jobSpec(job);
    if (spec.suspend) {
      return await this.#deleteJobPods(ctx, activePodsForRemoval(job, ctx.activePods, ctx.active));
    }
    const parallelism = spec.parallelism ?? 1;
    let want: number;
    if (spec.completions === undefined) {
      // a work queue: once one pod succeeded, what runs may finish but nothing new starts
      want = ctx.succeeded > 0 ? ctx.active : parallelism;
    } else {
      want = Math.max(0, Math.min(parallelism, spec.completions - ctx.succeeded));
    }
    const surplus = activePodsForRemoval(job, ctx.activePods, Math.max(0, ctx.active - want))
      .slice(0, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (surplus.length > 0) return await this.#deleteJobPods(ctx, surplus);

    const terminating = spec.podReplacementPolicy === "Failed" ? ctx.terminating : 0;
    let diff = Math.min(want - terminating - ctx.active, MAX_POD_CREATE_DELETE_PER_SYNC);
    if (diff <= 0) return undefined;
    const wait = backoffRemainingMs(ctx.backoff, ctx.now);
    if (wait > 0) {
      this.#wakeAt(key, ctx.now + wait);
      return undefined;
    }
    let indexes: number[] | undefined;
    if (isIndexed(job)) {
      indexes = firstPendingIndexes(
        ctx.activePods,
        ctx.succeededIndexes,
        diff,
        spec.completions ?? 0,
      );
      diff = indexes.length;
      if (diff === 0) return undefined;
    }
    this.#expectations.expectCreations(key, diff);
    let next = 0;
    const { successes, error } = await slowStartBatch(
      diff,
      SLOW_START_INITIAL_BATCH_SIZE,
      () => this.#createPod(job, indexes?.[next++]),
    );
    // creations that failed or were never tried will not be observed
    if (successes < diff) this.#expectations.creationObserved(key, diff - successes);
    ctx.active += successes;
    return error;
  }

  async #createPod(job: KubeObject, index: number | undefined): Promise<void> {
    try {
      const { object } = await this.#objects.create(
        this.#podType,
        job.metadata.namespace,
        podFromJob(job, index),
        WRITE,
      );
      await this.#events.record(
        job,
        "Normal",
        "SuccessfulCreate",
        `Created pod: ${object.metadata.name}`,
      );
    } catch (e) {
      await this.#events.record(
        job,
        "Warning",
        "FailedCreate",
        `Error creating: ${errorMessage(e)}`,
      );
      throw e;
    }
  }

  /**
   * Deletes pods that are not to be counted (suspend, surplus): the tracking finalizer goes
   * first, then the pod (`deleteJobPods`). Returns the first error.
   */
  async #deleteJobPods(ctx: SyncContext, pods: readonly KubeObject[]): Promise<unknown> {
    const { key, job } = ctx;
    this.#expectations.expectDeletions(key, pods.map((pod) => pod.metadata.uid ?? ""));
    const results = await Promise.allSettled(pods.map(async (pod) => {
      try {
        if (hasTrackingFinalizer(pod)) await this.#removeFinalizer(pod);
      } catch (e) {
        // the informer will not observe this deletion
        this.#expectations.deletionObserved(key, pod.metadata.uid ?? "");
        if (isNotFound(e)) return;
        throw e;
      }
      try {
        await this.#deletePod(job, pod);
      } catch (e) {
        this.#expectations.deletionObserved(key, pod.metadata.uid ?? "");
        if (!isGone(e)) throw e;
      }
    }));
    let error: unknown;
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        error ??= result.reason;
        return;
      }
      ctx.active--;
      ctx.terminating++;
      if (isPodReady(pods[i]!)) ctx.ready--;
    });
    return error;
  }

  /**
   * Deletes the active pods of a finishing Job, keeping their finalizers so they are counted
   * (`deleteActivePods`).
   */
  async #deleteActivePods(
    ctx: SyncContext,
  ): Promise<{ deleted: number; deletedReady: number; error: unknown }> {
    const results = await Promise.allSettled(
      ctx.activePods.map(async (pod) => {
        try {
          await this.#deletePod(ctx.job, pod);
        } catch (e) {
          if (!isGone(e)) throw e;
        }
      }),
    );
    let deleted = 0;
    let deletedReady = 0;
    let error: unknown;
    results.forEach((result, i) => {
      if (result.status === "rejected") {
        error ??= result.reason;
        return;
      }
      deleted++;
      if (isPodReady(ctx.activePods[i]!)) deletedReady++;
    });
    return { deleted, deletedReady, error };
  }

  /**
   * DELETE one pod of `job`, recording SuccessfulDelete or FailedDelete. A pod no node has
   * taken goes at once (grace 0), as the API server's pod strategy decides for unbound pods.
   */
  async #deletePod(job: KubeObject, pod: KubeObject): Promise<void> {
    const name = pod.metadata.name ?? "";
    const bound = Boolean((pod.spec as { nodeName?: string } | undefined)?.nodeName);
    try {
      await this.#objects.delete(this.#podType, pod.metadata.namespace, name, {
        dryRun: false,
        preconditions: { uid: pod.metadata.uid ?? "" },
        ...(bound ? {} : { gracePeriodSeconds: 0 }),
      });
    } catch (e) {
      if (!isGone(e)) {
        await this.#events.record(
          job,
          "Warning",
          "FailedDelete",
          `Error deleting: ${errorMessage(e)}`,
        );
      }
      throw e;
    }
    await this.#events.record(job, "Normal", "SuccessfulDelete", `Deleted pod: ${name}`);
  }

  async #removeFinalizer(pod: KubeObject): Promise<void> {
    await this.#objects.patch(
      this.#podType,
      pod.metadata.namespace,
      pod.metadata.name ?? "",
      STRATEGIC_MERGE_PATCH,
      { metadata: { [`$deleteFromPrimitiveList/finalizers`]: [JOB_TRACKING_FINALIZER] } },
      WRITE,
    );
  }

  /**
   * `trackJobStatusAndRemoveFinalizers`: records newly finished pods in
   * `uncountedTerminatedPods`, writes the status, removes their finalizers, moves the pods
   * whose finalizer is gone into the counters, and adds the final condition once nothing is
   * left uncounted or terminating.
   */
  async #trackStatusAndRemoveFinalizers(ctx: SyncContext, needsUpdate: boolean): Promise<void> {
    const { job, status } = ctx;
    const indexed = isIndexed(job);
    const completions = jobSpec(job).completions ?? 0;
    const uncounted = status.uncountedTerminatedPods ??= {};
    const withFinalizer = new Set(
      ctx.pods.filter((pod) =>
        hasTrackingFinalizer(pod) && !ctx.expectedRemovals.has(pod.metadata.uid ?? "")
      ).map((pod) => pod.metadata.uid ?? ""),
    );
    let flush = countUncounted(status, withFinalizer) || needsUpdate;
    const toRemove: KubeObject[] = [];
    const newIndexes: number[] = [];
    let capped = false;
    const failing = ctx.finished !== undefined && ctx.finished.type !== SUCCESS_CRITERIA_MET;
    for (const pod of ctx.pods) {
      const uid = pod.metadata.uid ?? "";
      if (!hasTrackingFinalizer(pod) || ctx.expectedRemovals.has(uid)) continue;
      const failed = isPodFailed(pod, job);
      const removable = job.metadata.deletionTimestamp !== undefined ||
        ctx.finished !== undefined || podPhase(pod) === "Succeeded" || failed;
      if (!removable) continue;
      toRemove.push(pod);
      if (podPhase(pod) === "Succeeded" && !ctx.uncountedFailed.has(uid)) {
        if (indexed) {
          const index = completionIndex(pod);
          if (hasValidIndex(pod, completions) && !hasIndex(ctx.previousIndexes, index)) {
            newIndexes.push(index);
            flush = true;
          }
        } else if (!ctx.uncountedSucceeded.has(uid)) {
          (uncounted.succeeded ??= []).push(uid);
          flush = true;
        }
      } else if (
        (failed || failing) && !ctx.uncountedFailed.has(uid) &&
        (!indexed || hasValidIndex(pod, completions))
      ) {
        // when the Job fails, every pod not yet finished counts as failed
        (uncounted.failed ??= []).push(uid);
        flush = true;
      }
      const held = newIndexes.length + (uncounted.succeeded?.length ?? 0) +
        (uncounted.failed?.length ?? 0);
      if (held >= MAX_UNCOUNTED_PODS) {
        // the rest waits for the next sync, which the status update brings
        capped = true;
        break;
      }
    }
    if (indexed) {
      ctx.succeededIndexes = withIndexes(
        ctx.succeededIndexes,
        [...new Set(newIndexes)].sort(
          (a, b) => a - b,
        ),
      );
      const text = formatIndexes(ctx.succeededIndexes);
      if (text !== (status.completedIndexes ?? "")) flush = true;
      status.succeeded = countIndexes(ctx.succeededIndexes);
      status.completedIndexes = text;
    }
    if (ctx.finished?.type === FAILURE_TARGET) {
      // recorded before the finalizers go, so the reason survives a restart
      (status.conditions ??= []).push(ctx.finished);
      flush = true;
      ctx.finished = newCondition(
        FAILED,
        "True",
        ctx.finished.reason ?? "",
        ctx.finished.message ?? "",
        ctx.now,
      );
    }
    if (ctx.finished?.type === SUCCESS_CRITERIA_MET) {
      if (findCondition(status.conditions, SUCCESS_CRITERIA_MET) === undefined) {
        (status.conditions ??= []).push(ctx.finished);
        flush = true;
      }
      ctx.finished = newCondition(
        COMPLETE,
        "True",
        ctx.finished.reason ?? "",
        ctx.finished.message ?? "",
        ctx.now,
      );
    }

    // flushUncountedAndRemoveFinalizers
    if (flush) {
      await this.#writeStatus(ctx);
      this.#backoff.set(ctx.key, ctx.backoff);
      flush = false;
    }
    let removeError: unknown;
    if (toRemove.length > 0) {
      const expected = this.#removals.get(ctx.key) ?? new Set<string>();
      this.#removals.set(ctx.key, expected);
      for (const pod of toRemove) expected.add(pod.metadata.uid ?? "");
      const results = await Promise.allSettled(toRemove.map((pod) => this.#removeFinalizer(pod)));
      results.forEach((result, i) => {
        const uid = toRemove[i]!.metadata.uid ?? "";
        if (result.status === "fulfilled" || isNotFound(result.reason)) {
          withFinalizer.delete(uid);
          if (result.status === "rejected") expected.delete(uid);
          return;
        }
        // no pod update will show this removal
        expected.delete(uid);
        removeError ??= result.reason;
      });
    }
    if (countUncounted(status, withFinalizer)) flush = true;
    if (removeError !== undefined) {
      if (flush) await this.#writeStatus(ctx);
      throw removeError;
    }
    const finished = !capped && this.#enactFinished(ctx);
    if (finished) flush = true;
    if (flush) {
      await this.#writeStatus(ctx);
      if (finished) await this.#recordFinished(ctx);
    }
  }

  /** Adds the final condition when nothing is left uncounted or terminating (`enactJobFinished`). */
  #enactFinished(ctx: SyncContext): boolean {
    const done = ctx.finished;
    if (!done) return false;
    const uncounted = ctx.status.uncountedTerminatedPods ?? {};
    if ((uncounted.succeeded?.length ?? 0) + (uncounted.failed?.length ?? 0) > 0) return false;
    if (ctx.terminating > 0) return false;
    const conditions = ctx.status.conditions ??= [];
    ensureCondition(
      conditions,
      done.type,
      done.status,
      done.reason ?? "",
      done.message ?? "",
      ctx.now,
    );
    if (done.type === COMPLETE) ctx.status.completionTime = formatTime(ctx.now);
    return true;
  }

  async #recordFinished(ctx: SyncContext): Promise<void> {
    const { job, status } = ctx;
    const done = ctx.finished!;
    if (done.type === COMPLETE) {
      const completions = jobSpec(job).completions;
      if (completions !== undefined && (status.succeeded ?? 0) > completions) {
        await this.#events.record(
          job,
          "Warning",
          "TooManySucceededPods",
          "Too many succeeded pods running after completion count reached",
        );
      }
      await this.#events.record(job, "Normal", "Completed", "Job completed");
    } else {
      await this.#events.record(job, "Warning", done.reason ?? "", done.message ?? "");
    }
  }

  /**
   * Writes `ctx.status` to the Job's status subresource, on the condition that the Job is still
   * at the resourceVersion read (a JSON patch that pins it: Conflict otherwise).
   */
  async #writeStatus(ctx: SyncContext): Promise<void> {
    const { job } = ctx;
    const { object } = await this.#objects.patch(
      this.#jobType,
      job.metadata.namespace,
      job.metadata.name ?? "",
      JSON_PATCH,
      [
        { op: "replace", path: "/metadata/resourceVersion", value: job.metadata.resourceVersion },
        { op: "add", path: "/status", value: compactStatus(ctx.status) },
      ],
      { ...WRITE, subresource: "status" },
    );
    ctx.job = object;
    this.#written.set(ctx.key, object);
  }

  /** `ttlafterfinished`: deletes a finished Job once `ttlSecondsAfterFinished` has passed. */
  async #deleteAfterTtl(key: string, job: KubeObject): Promise<void> {
    const expiry = (j: KubeObject): number | undefined => {
      const ttl = jobSpec(j).ttlSecondsAfterFinished;
      const finishedAt = jobFinishTime(j);
      if (ttl === undefined || finishedAt === undefined || j.metadata.deletionTimestamp) {
        return undefined;
      }
      return finishedAt + ttl * 1000;
    };
    const at = expiry(job);
    if (at === undefined) return;
    if (this.#clock.now() < at) {
      this.#wakeAt(key, at);
      return;
    }
    // the cached TTL may be stale: decide on the stored Job
    let fresh: KubeObject;
    try {
      fresh = await this.#objects.get(this.#jobType, job.metadata.namespace, job.metadata.name!);
    } catch (e) {
      if (isNotFound(e)) return;
      throw e;
    }
    const freshAt = isJobFinished(fresh) ? expiry(fresh) : undefined;
    if (freshAt === undefined) return;
    if (this.#clock.now() < freshAt) {
      this.#wakeAt(key, freshAt);
      return;
    }
    try {
      await this.#objects.delete(this.#jobType, fresh.metadata.namespace, fresh.metadata.name!, {
        dryRun: false,
        propagationPolicy: "Foreground",
        preconditions: { uid: fresh.metadata.uid ?? "" },
      });
    } catch (e) {
      if (!isGone(e)) throw e;
    }
  }

  /** Removes the tracking finalizer of a pod whose Job is gone or finished (`syncOrphanPod`). */
  async #syncOrphanPod(podKey: string): Promise<void> {
    const [namespace, name] = splitQueueKey(podKey);
    const pod = this.#pods.get(storeKey(this.#podType, namespace, name));
    if (!pod || !hasTrackingFinalizer(pod)) return;
    const ref = controllerRefOf(pod);
    if (ref) {
      // a pod controlled by something other than a Job keeps its finalizers
      if (ref.kind !== "Job" || ref.apiVersion !== "batch/v1") return;
      const job = this.#resolve(namespace, ref);
      const managedBy = job && jobSpec(job).managedBy;
      if (managedBy !== undefined && managedBy !== JOB_CONTROLLER_NAME) return;
      if (job && !isJobFinished(job)) return;
    }
    try {
      await this.#removeFinalizer(pod);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }

  /** Enqueues `key` at `at` (ms), unless a timer already does so by then. */
  #wakeAt(key: string, at: number): void {
    const pending = this.#wakeups.get(key);
    if (pending !== undefined && pending <= at) return;
    this.#wakeups.set(key, at);
    const signal = this.#stop.signal;
    this.#clock.sleep(Math.max(0, at - this.#clock.now()), signal).then(() => {
      if (this.#wakeups.get(key) === at) this.#wakeups.delete(key);
      if (!signal.aborted) this.queue.add(key);
    });
  }

  #onJob(ev: InformerEvent): void {
    const job = ev.object;
    this.queue.add(queueKey(job));
    // a finished or deleted Job's pods must not keep their finalizers
    if (ev.type === "delete" || isJobFinished(job)) {
      for (const pod of this.#pods.byIndex(CONTROLLER_INDEX, job.metadata.uid ?? "")) {
        if (hasTrackingFinalizer(pod)) this.queue.add(ORPHAN + queueKey(pod));
      }
    }
  }

  #onPod(ev: InformerEvent): void {
    const pod = ev.object;
    if (ev.type === "delete") return this.#onPodGone(pod, true);
    if (ev.type === "update" && pod.metadata.resourceVersion === ev.old.metadata.resourceVersion) {
      return;
    }
    // a graceful deletion starts: the pod no longer counts as active
    if (pod.metadata.deletionTimestamp) return this.#onPodGone(pod, false);
    const uid = pod.metadata.uid ?? "";
    const finalizerGone = !hasTrackingFinalizer(pod);
    const ref = controllerRefOf(pod);
    if (ev.type === "update") {
      const oldRef = controllerRefOf(ev.old);
      const oldJob = oldRef && oldRef.uid !== ref?.uid
        ? this.#resolve(pod.metadata.namespace, oldRef)
        : undefined;
      if (oldJob) {
        if (finalizerGone) this.#removalObserved(queueKey(oldJob), uid);
        this.queue.add(queueKey(oldJob));
      }
    }
    if (ref) {
      const job = this.#resolve(pod.metadata.namespace, ref);
      if (job) {
        const key = queueKey(job);
        if (ev.type === "add") this.#expectations.creationObserved(key);
        else if (finalizerGone) this.#removalObserved(key, uid);
        this.queue.add(key);
        return;
      }
      if (ref.kind !== "Job") return;
    }
    // an orphan, or its Job is gone
    if (!finalizerGone) this.queue.add(ORPHAN + queueKey(pod));
  }

  /** A pod is being deleted (`final`: it is gone). */
  #onPodGone(pod: KubeObject, final: boolean): void {
    const hasFinalizer = hasTrackingFinalizer(pod);
    const ref = controllerRefOf(pod);
    const job = ref && this.#resolve(pod.metadata.namespace, ref);
    if (!job || isJobFinished(job)) {
      if (hasFinalizer && (!ref || ref.kind === "Job")) this.queue.add(ORPHAN + queueKey(pod));
      return;
    }
    const key = queueKey(job);
    const uid = pod.metadata.uid ?? "";
    this.#expectations.deletionObserved(key, uid);
    if (final || !hasFinalizer) this.#removalObserved(key, uid);
    this.queue.add(key);
  }

  #removalObserved(key: string, uid: string): void {
    const expected = this.#removals.get(key);
    expected?.delete(uid);
    if (expected?.size === 0) this.#removals.delete(key);
  }

  /** The Job a controller reference names, if the informer holds it with that uid. */
  #resolve(namespace: string | undefined, ref: OwnerReference): KubeObject | undefined {
    if (ref.kind !== "Job") return undefined;
    const job = this.#jobs.get(storeKey(this.#jobType, namespace, ref.name));
    return job && job.metadata.uid === ref.uid ? job : undefined;
  }
}

/** The completion indexes of `pods`, increasing, each once. */
function sortedIndexes(pods: readonly KubeObject[]): number[] {
  return [...new Set(pods.map(completionIndex))].sort((a, b) => a - b);
}

function isNotFound(e: unknown): boolean {
  return e instanceof ApiError && e.reason === "NotFound";
}

/** A delete with a uid precondition found nothing, or another object of that name. */
function isGone(e: unknown): boolean {
  return isNotFound(e) || (e instanceof ApiError && e.reason === "Conflict");
}
