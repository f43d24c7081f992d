/**
 * The Deployment controller's planning logic: a pure function from a Deployment and the
 * ReplicaSets it controls to the writes one sync makes. No store, no clock, no I/O.
 *
 * It follows Kubernetes' deployment controller (`pkg/controller/deployment`: `sync.go`,
 * `rolling.go`, `recreate.go`, `progress.go`, `util/deployment_util.go`) step for step. One call
 * is one sync and makes one step of a rollout; the writes it asks for change ReplicaSets, whose
 * status then changes as pods come and go, and those changes trigger the next sync.
 *
 * @example
 * ```ts
 * const plan = planDeployment({ deployment, replicaSets, pods, now: clock.now() });
 * if (plan.createReplicaSet) await create(plan.createReplicaSet);
 * for (const rs of plan.updateReplicaSets) await update(rs); // CAS on rs.metadata.resourceVersion
 * ```
 *
 * @module
 */

import type { Deployment } from "../../storage/kinds/deployment.ts";
import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  canonicalJson,
  computeTemplateHash,
  equalIgnoreHash,
  POD_TEMPLATE_HASH_LABEL,
} from "./template_hash.ts";

/** A ReplicaSet's place in the rollout history (also copied to the Deployment). */
export const REVISION_ANNOTATION = "deployment.kubernetes.io/revision";
/** Earlier revisions a ReplicaSet served before a rollback made it current again. */
export const REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history";
/** The deployment's `spec.replicas` when this ReplicaSet was last scaled. */
export const DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas";
/** The deployment's `spec.replicas` + maxSurge when this ReplicaSet was last scaled. */
export const MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas";

/** A Deployment's `status`. */
export type DeploymentStatus = NonNullable<Deployment["status"]>;
/** One entry of a Deployment's `status.conditions`. */
export type DeploymentCondition = NonNullable<DeploymentStatus["conditions"]>[number];

/** What {@linkcode planDeployment} reads. */
export interface PlanDeploymentInput {
  /** The apps/v1 Deployment as stored (defaulted by the API). */
  deployment: KubeObject;
  /**
   * The ReplicaSets whose controller ownerReference carries the deployment's uid, in any state
   * (scaled to 0, being deleted). Others are ignored.
   */
  replicaSets: readonly KubeObject[];
  /**
   * The pods controlled by those ReplicaSets. Required by the Recreate strategy, which must not
   * start new pods while an old one still runs; ignored by RollingUpdate.
   */
  pods?: readonly KubeObject[];
  /** Milliseconds since the epoch. */
  now: number;
}

/** An Event to record on the Deployment. */
export interface DeploymentEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
  /** The ReplicaSet whose write the event reports: record it once that write succeeded. */
  replicaSet: string;
}

/** The writes of one sync, as plain data. */
export interface DeploymentPlan {
  /**
   * A ReplicaSet to create: name `<deployment>-<pod-template-hash>`, the template's labels plus
   * `pod-template-hash`, the revision and replica annotations, the deployment's other annotations
   * (e.g. `kubernetes.io/change-cause`), and a controller ownerReference to the deployment.
   */
  createReplicaSet?: KubeObject;
  /**
   * Existing ReplicaSets to write back, in order: the input object with a new `spec.replicas`,
   * `spec.minReadySeconds` and/or annotations. `metadata.resourceVersion` is the one read, so
   * the update is a compare-and-swap.
   */
  updateReplicaSets: KubeObject[];
  /** Old ReplicaSets to delete, beyond `revisionHistoryLimit` (oldest revision first). */
  deleteReplicaSets: string[];
  /** The new value of the deployment's `deployment.kubernetes.io/revision` annotation, if it changes. */
  revision?: string;
  /** The deployment's status after this sync. */
  status: DeploymentStatus;
  /** Whether `status` differs from the stored one (and so must be written). */
  statusChanged: boolean;
  /** Events to record on the deployment (`ScalingReplicaSet`). */
  events: DeploymentEvent[];
  /**
   * Sync again after this many milliseconds even when nothing else happens: to notice a missed
   * progress deadline, or (0) right away after a hash collision.
   */
  requeueAfterMs?: number;
}

const MAX_INT32 = 2147483647;
const MAX_REVISION_HISTORY_CHARS = 2000;

/** Deployment annotations that are never copied onto its ReplicaSets. */
const ANNOTATIONS_NOT_COPIED = new Set([
  "kubectl.kubernetes.io/last-applied-configuration",
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  "deprecated.deployment.rollback.to",
]);

const AVAILABLE = "Available";
const PROGRESSING = "Progressing";
const REPLICA_FAILURE = "ReplicaFailure";

/**
 * Plan one sync of a Deployment: find its new ReplicaSet (the one whose template equals the
 * deployment's, ignoring `pod-template-hash`) and old ones, keep revisions in order, then, as
 * Kubernetes does and in its order:
 *
 * - being deleted: only the status;
 * - paused: set the Progressing condition to `DeploymentPaused`, scale (proportionally) but make
 *   no rollout progress, prune history;
 * - `spec.replicas` changed (a ReplicaSet's `desired-replicas` annotation disagrees): scale the
 *   active ReplicaSets proportionally;
 * - RollingUpdate: create the new ReplicaSet if missing, scale it up within maxSurge, else scale
 *   old ones down within maxUnavailable (unhealthy replicas first), prune history once complete;
 * - Recreate: scale old ReplicaSets to 0, wait until none of their pods runs, then create/scale
 *   the new one to `spec.replicas`;
 *
 * and compute the status: counts, `Available` and `Progressing` conditions (progress deadline
 * checked against `now`).
 *
 * @throws {Error} when the deployment has no name or uid, or uses Recreate without `pods`.
 */
export function planDeployment(input: PlanDeploymentInput): DeploymentPlan {
  return new _Sync(input).run();
}

// ----- ReplicaSets as the sync sees them ------------------------------------------------------

interface _Rs {
  /** The object read (undefined for the one this sync creates). */
  readonly source: KubeObject | undefined;
  /** The object as this sync leaves it. */
  readonly obj: KubeObject;
  readonly name: string;
  readonly uid: string;
  /** creationTimestamp in ms (Infinity for the one this sync creates: the newest). */
  readonly created: number;
}

function _rs(source: KubeObject): _Rs {
  const created = Date.parse(source.metadata.creationTimestamp ?? "");
  return {
    source,
    obj: cloneJson(source),
    name: source.metadata.name ?? "",
    uid: source.metadata.uid ?? "",
    created: Number.isNaN(created) ? 0 : created,
  };
}

function _field(obj: unknown, ...path: string[]): unknown {
  let cur = obj;
  for (const key of path) cur = isPlainObject(cur) ? cur[key] : undefined;
  return cur;
}

function _int(v: unknown, fallback = 0): number {
  return typeof v === "number" ? v : fallback;
}

function _spec(rs: _Rs): Record<string, unknown> {
  if (!isPlainObject(rs.obj.spec)) rs.obj.spec = {};
  return rs.obj.spec as Record<string, unknown>;
}

function _replicas(rs: _Rs): number {
  return _int(_field(rs.obj, "spec", "replicas"), 1);
}

function _status(rs: _Rs, field: string): number {
  return _int(_field(rs.obj, "status", field));
}

function _annotations(rs: _Rs): Record<string, string> {
  return (rs.obj.metadata.annotations ??= {});
}

/** The value of an integer annotation (`strconv.Atoi`), or undefined. */
function _intAnnotation(rs: _Rs, key: string): number | undefined {
  const v = rs.obj.metadata.annotations?.[key];
  return v !== undefined && /^[+-]?[0-9]+$/.test(v) ? Number(v) : undefined;
}

/** The revision annotation: 0 when absent, undefined when not an integer. */
function _revision(rs: _Rs): number | undefined {
  const v = rs.obj.metadata.annotations?.[REVISION_ANNOTATION];
  if (v === undefined) return 0;
  return /^[+-]?[0-9]+$/.test(v) ? Number(v) : undefined;
}

function _sum(rss: readonly _Rs[], count: (rs: _Rs) => number): number {
  return rss.reduce((n, rs) => n + count(rs), 0);
}

function _active(rss: readonly _Rs[]): _Rs[] {
  return rss.filter((rs) => _replicas(rs) > 0);
}

/** `ReplicaSetsByCreationTimestamp`: oldest first, then by name. */
function _byCreation(a: _Rs, b: _Rs): number {
  if (a.created !== b.created) return a.created < b.created ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** `ReplicaSetsByRevision`: lowest revision first, unparsable ones by creation. */
function _byRevision(a: _Rs, b: _Rs): number {
  const ra = _revision(a);
  const rb = _revision(b);
  if (ra === undefined || rb === undefined || ra === rb) return _byCreation(a, b);
  return ra - rb;
}

function _controllerUid(obj: KubeObject): string | undefined {
  return obj.metadata.ownerReferences?.find((r) => r.controller === true)?.uid;
}

// ----- numbers --------------------------------------------------------------------------------

/**
 * `intstr.GetScaledValueFromIntOrPercent`: a count, or a percentage of `total` rounded. Absent
 * counts as 0 (`ValueOrDefault`); validation admits no other strings than `N%`.
 */
function _scaled(v: number | string | undefined, total: number, roundUp: boolean): number {
  if (v === undefined) return 0;
  if (typeof v === "number") return v;
  const m = /^([0-9]+)%$/.exec(v);
  if (!m) return 0;
  const exact = (Number(m[1]) * total) / 100;
  return roundUp ? Math.ceil(exact) : Math.floor(exact);
}

/** `integer.RoundToInt32`: half away from zero. */
function _round(x: number): number {
  return x < 0 ? Math.trunc(x - 0.5) : Math.trunc(x + 0.5);
}

/** RFC 3339 to the second, as metav1.Time serializes. */
function _time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

// ----- conditions -----------------------------------------------------------------------------

function _condition(
  type: string,
  status: string,
  reason: string,
  message: string,
  now: string,
): DeploymentCondition {
  return { type, status, lastUpdateTime: now, lastTransitionTime: now, reason, message };
}

function _getCondition(st: DeploymentStatus, type: string): DeploymentCondition | undefined {
  return st.conditions?.find((c) => c.type === type);
}

function _removeCondition(st: DeploymentStatus, type: string): void {
  const rest = (st.conditions ?? []).filter((c) => c.type !== type);
  if (rest.length > 0) st.conditions = rest;
  else delete st.conditions;
}

/**
 * `SetDeploymentCondition`: no change when status and reason are the same; keeps
 * lastTransitionTime when only the reason changes.
 */
function _setCondition(st: DeploymentStatus, cond: DeploymentCondition): void {
  const current = _getCondition(st, cond.type);
  if (current && current.status === cond.status && current.reason === cond.reason) return;
  const next = { ...cond };
  if (current && current.status === cond.status && current.lastTransitionTime !== undefined) {
    next.lastTransitionTime = current.lastTransitionTime;
  }
  _removeCondition(st, cond.type);
  (st.conditions ??= []).push(next);
}

// ----- one sync -------------------------------------------------------------------------------

type _Spec = Deployment["spec"];

class _Sync {
  readonly #d: KubeObject;
  readonly #spec: _Spec;
  readonly #name: string;
  readonly #stored: DeploymentStatus;
  /** The deployment's status as this sync has changed it so far (Kubernetes' `d.Status`). */
  #status: DeploymentStatus;
  readonly #pods: readonly KubeObject[] | undefined;
  readonly #nowMs: number;
  readonly #now: string;
  readonly #all: _Rs[];
  #newRS: _Rs | undefined;
  #oldRSs: _Rs[] = [];
  #newRevision = 1;
  #created: _Rs | undefined;
  readonly #touched: _Rs[] = [];
  readonly #deletes: string[] = [];
  readonly #events: DeploymentEvent[] = [];
  #revision: string | undefined;
  #requeueAfterMs: number | undefined;

  constructor(input: PlanDeploymentInput) {
    const d = input.deployment;
    const uid = d.metadata.uid;
    if (!d.metadata.name || !uid) {
      throw new Error(
        `Cannot plan deployment '${
          d.metadata.name ?? ""
        }': metadata.name and metadata.uid are required`,
      );
    }
    this.#d = d;
    this.#name = d.metadata.name;
    this.#spec = d.spec as _Spec;
    if (this.#spec.strategy?.type === "Recreate" && input.pods === undefined) {
      throw new Error(
        `Cannot plan deployment '${this.#name}': strategy Recreate needs the pods of its ReplicaSets`,
      );
    }
    this.#stored = isPlainObject(d.status) ? d.status as DeploymentStatus : {};
    this.#status = cloneJson(this.#stored);
    this.#pods = input.pods;
    this.#nowMs = input.now;
    this.#now = _time(input.now);
    this.#all = input.replicaSets.filter((rs) => _controllerUid(rs) === uid).map(_rs);
  }

  run(): DeploymentPlan {
    this.#findReplicaSetsAndSyncRevision();
    if (this.#d.metadata.deletionTimestamp) {
      this.#status = this.#calculateStatus();
    } else {
      this.#checkPausedConditions();
      if (this.#spec.paused || this.#isScalingEvent()) this.#sync();
      else if (this.#spec.strategy?.type === "Recreate") this.#rolloutRecreate();
      else this.#rolloutRolling();
    }
    return this.#plan();
  }

  #plan(): DeploymentPlan {
    const plan: DeploymentPlan = {
      updateReplicaSets: this.#touched
        .filter((rs) => rs.source && canonicalJson(rs.obj) !== canonicalJson(rs.source))
        .map((rs) => rs.obj),
      deleteReplicaSets: this.#deletes,
      status: this.#status,
      statusChanged: canonicalJson(this.#status) !== canonicalJson(this.#stored),
      events: this.#events,
    };
    if (this.#created) plan.createReplicaSet = this.#created.obj;
    if (this.#revision !== undefined) plan.revision = this.#revision;
    if (this.#requeueAfterMs !== undefined) plan.requeueAfterMs = this.#requeueAfterMs;
    return plan;
  }

  // --- the deployment's numbers ---

  get #replicas(): number {
    return this.#spec.replicas ?? 1;
  }

  get #rolling(): boolean {
    return this.#spec.strategy?.type !== "Recreate";
  }

  /** `ResolveFenceposts`: surge rounds up, unavailable down; both 0 makes unavailable 1. */
  #fenceposts(): { surge: number; unavailable: number } {
    const ru = this.#spec.strategy?.rollingUpdate;
    const surge = _scaled(ru?.maxSurge, this.#replicas, true);
    const unavailable = _scaled(ru?.maxUnavailable, this.#replicas, false);
    return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable };
  }

  #maxSurge(): number {
    return this.#rolling ? this.#fenceposts().surge : 0;
  }

  #maxUnavailable(): number {
    if (!this.#rolling || this.#replicas === 0) return 0;
    return Math.min(this.#fenceposts().unavailable, this.#replicas);
  }

  #hasProgressDeadline(): boolean {
    const pds = this.#spec.progressDeadlineSeconds;
    return pds !== undefined && pds !== MAX_INT32;
  }

  // --- finding the new ReplicaSet, revisions (getAllReplicaSetsAndSyncRevision) ---

  #findReplicaSetsAndSyncRevision(): void {
    const sorted = [...this.#all].sort(_byCreation);
    const template = this.#spec.template;
    this.#newRS = sorted.find((rs) =>
      equalIgnoreHash(_field(rs.obj, "spec", "template"), template)
    );
    this.#oldRSs = sorted.filter((rs) => rs !== this.#newRS);
    const maxOld = this.#oldRSs.reduce((max, rs) => Math.max(max, _revision(rs) ?? 0), 0);
    this.#newRevision = maxOld + 1;
    const rs = this.#newRS;
    if (!rs) return;
    let changed = this.#setNewReplicaSetAnnotations(rs, true);
    const minReady = this.#spec.minReadySeconds ?? 0;
    if (_int(_field(rs.obj, "spec", "minReadySeconds")) !== minReady) {
      if (minReady === 0) delete _spec(rs).minReadySeconds;
      else _spec(rs).minReadySeconds = minReady;
      changed = true;
    }
    if (changed) this.#touch(rs);
    const revision = rs.obj.metadata.annotations?.[REVISION_ANNOTATION];
    if (revision !== undefined) this.#setDeploymentRevision(revision);
    if (this.#hasProgressDeadline() && !_getCondition(this.#status, PROGRESSING)) {
      _setCondition(
        this.#status,
        _condition(
          PROGRESSING,
          "True",
          "FoundNewReplicaSet",
          `Found new replica set "${rs.name}"`,
          this.#now,
        ),
      );
    }
  }

  /**
   * `SetNewReplicaSetAnnotations`: copy the deployment's annotations, raise the revision to
   * the new one (remembering the old in revision-history: a rollback), and on creation set the
   * replica annotations. Returns whether anything changed.
   */
  #setNewReplicaSetAnnotations(rs: _Rs, exists: boolean): boolean {
    const oldRevision = rs.obj.metadata.annotations?.[REVISION_ANNOTATION];
    const oldInt = oldRevision === undefined || oldRevision === "" ? 0 : _revision(rs);
    if (oldInt === undefined) return false;
    const ann = _annotations(rs);
    let changed = false;
    for (const [k, v] of Object.entries(this.#d.metadata.annotations ?? {})) {
      if (ANNOTATIONS_NOT_COPIED.has(k) || ann[k] === v) continue;
      ann[k] = v;
      changed = true;
    }
    if (oldInt < this.#newRevision) {
      ann[REVISION_ANNOTATION] = String(this.#newRevision);
      changed = true;
      if (oldRevision !== undefined && oldRevision !== "") {
        this.#appendRevisionHistory(ann, oldRevision);
      }
    }
    if (!exists && this.#setReplicasAnnotations(rs)) changed = true;
    return changed;
  }

  #appendRevisionHistory(ann: Record<string, string>, oldRevision: string): void {
    const history = ann[REVISION_HISTORY_ANNOTATION] ?? "";
    if (history === "") {
      ann[REVISION_HISTORY_ANNOTATION] = oldRevision;
      return;
    }
    const parts = history.split(",");
    let total = history.length + oldRevision.length + 1;
    let start = 0;
    while (total > MAX_REVISION_HISTORY_CHARS && start < parts.length) {
      total -= (parts[start]?.length ?? 0) + 1;
      start++;
    }
    if (total <= MAX_REVISION_HISTORY_CHARS) {
      ann[REVISION_HISTORY_ANNOTATION] = [...parts.slice(start), oldRevision].join(",");
    }
  }

  /** desired-replicas and max-replicas; returns whether they changed. */
  #setReplicasAnnotations(rs: _Rs): boolean {
    if (!this.#replicasAnnotationsNeedUpdate(rs)) return false;
    const ann = _annotations(rs);
    ann[DESIRED_REPLICAS_ANNOTATION] = String(this.#replicas);
    ann[MAX_REPLICAS_ANNOTATION] = String(this.#replicas + this.#maxSurge());
    return true;
  }

  #replicasAnnotationsNeedUpdate(rs: _Rs): boolean {
    const ann = rs.obj.metadata.annotations ?? {};
    return ann[DESIRED_REPLICAS_ANNOTATION] !== String(this.#replicas) ||
      ann[MAX_REPLICAS_ANNOTATION] !== String(this.#replicas + this.#maxSurge());
  }

  #setDeploymentRevision(revision: string): void {
    const current = this.#revision ?? this.#d.metadata.annotations?.[REVISION_ANNOTATION];
    if (current !== revision) this.#revision = revision;
  }

  /** Create the new ReplicaSet (getNewReplicaSet with createIfNotExisted); false on a hash collision. */
  #createNewReplicaSet(): boolean {
    const d = this.#d;
    const template = cloneJson(this.#spec.template) as Record<string, unknown>;
    const hash = computeTemplateHash(template, this.#status.collisionCount);
    const name = `${this.#name}-${hash}`;
    if (this.#all.some((rs) => rs.name === name)) {
      // Another ReplicaSet of ours has this name but a different template: a hash collision.
      this.#status.collisionCount = (this.#status.collisionCount ?? 0) + 1;
      this.#requeueAfterMs = 0;
      return false;
    }
    const meta = isPlainObject(template.metadata) ? template.metadata : {};
    const labels = {
      ...(isPlainObject(meta.labels) ? meta.labels as Record<string, string> : {}),
      [POD_TEMPLATE_HASH_LABEL]: hash,
    };
    template.metadata = { ...meta, labels: { ...labels } };
    const selector = cloneJson(this.#spec.selector ?? {});
    selector.matchLabels = { ...selector.matchLabels, [POD_TEMPLATE_HASH_LABEL]: hash };
    const spec: Record<string, unknown> = { replicas: 0 };
    if ((this.#spec.minReadySeconds ?? 0) !== 0) spec.minReadySeconds = this.#spec.minReadySeconds;
    spec.selector = selector;
    spec.template = template;
    const obj: KubeObject = {
      apiVersion: "apps/v1",
      kind: "ReplicaSet",
      metadata: {
        name,
        namespace: d.metadata.namespace ?? "default",
        labels,
        annotations: {},
        ownerReferences: [{
          apiVersion: "apps/v1",
          kind: "Deployment",
          name: this.#name,
          uid: d.metadata.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        }],
      },
      spec,
    };
    const rs: _Rs = { source: undefined, obj, name, uid: "", created: Infinity };
    const replicas = this.#newRSNewReplicas([...this.#oldRSs, rs], rs);
    spec.replicas = replicas;
    this.#setNewReplicaSetAnnotations(rs, false);
    if (replicas > 0) {
      this.#event(name, `Scaled up replica set ${name} from 0 to ${replicas}`);
    }
    this.#setDeploymentRevision(String(this.#newRevision));
    if (this.#hasProgressDeadline()) {
      _setCondition(
        this.#status,
        _condition(
          PROGRESSING,
          "True",
          "NewReplicaSetCreated",
          `Created new replica set "${name}"`,
          this.#now,
        ),
      );
    }
    this.#newRS = rs;
    this.#created = rs;
    return true;
  }

  /** `NewRSNewReplicas`: how far the new ReplicaSet may grow now. */
  #newRSNewReplicas(allRSs: readonly _Rs[], newRS: _Rs): number {
    if (!this.#rolling) return this.#replicas;
    const current = _sum(allRSs, _replicas);
    const maxTotal = this.#replicas + this.#maxSurge();
    if (current >= maxTotal) return _replicas(newRS);
    const up = Math.min(maxTotal - current, this.#replicas - _replicas(newRS));
    return _replicas(newRS) + up;
  }

  // --- writes ---

  #touch(rs: _Rs): void {
    if (rs !== this.#created && !this.#touched.includes(rs)) this.#touched.push(rs);
  }

  #event(replicaSet: string, message: string): void {
    this.#events.push({ type: "Normal", reason: "ScalingReplicaSet", message, replicaSet });
  }

  /** `scaleReplicaSetAndRecordEvent` */
  #scaleAndRecord(rs: _Rs, newScale: number): boolean {
    if (_replicas(rs) === newScale) return false;
    return this.#scale(rs, newScale);
  }

  /** `scaleReplicaSet`: set replicas and the replica annotations; true when the size changed. */
  #scale(rs: _Rs, newScale: number): boolean {
    const oldScale = _replicas(rs);
    const sizeChanges = oldScale !== newScale;
    if (!sizeChanges && !this.#replicasAnnotationsNeedUpdate(rs)) return false;
    _spec(rs).replicas = newScale;
    this.#setReplicasAnnotations(rs);
    this.#touch(rs);
    if (!sizeChanges) return false;
    const direction = oldScale < newScale ? "up" : "down";
    this.#event(
      rs.name,
      `Scaled ${direction} replica set ${rs.name} from ${oldScale} to ${newScale}`,
    );
    return true;
  }

  // --- paused and scaling (sync.go) ---

  #checkPausedConditions(): void {
    if (!this.#hasProgressDeadline()) return;
    const cond = _getCondition(this.#status, PROGRESSING);
    if (cond?.reason === "ProgressDeadlineExceeded") return;
    const pausedCond = cond?.reason === "DeploymentPaused";
    if (this.#spec.paused && !pausedCond) {
      _setCondition(
        this.#status,
        _condition(PROGRESSING, "Unknown", "DeploymentPaused", "Deployment is paused", this.#now),
      );
    } else if (!this.#spec.paused && pausedCond) {
      _setCondition(
        this.#status,
        _condition(PROGRESSING, "Unknown", "DeploymentResumed", "Deployment is resumed", this.#now),
      );
    }
  }

  /** `isScalingEvent`: an active ReplicaSet was last scaled for another `spec.replicas`. */
  #isScalingEvent(): boolean {
    return _active(this.#allWithNew()).some((rs) => {
      const desired = _intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION);
      return desired !== undefined && desired !== this.#replicas;
    });
  }

  #allWithNew(): _Rs[] {
    return this.#newRS ? [...this.#oldRSs, this.#newRS] : [...this.#oldRSs];
  }

  /** `sync`: scale, prune history when paused, status. */
  #sync(): void {
    this.#scaleProportionally();
    if (this.#spec.paused) this.#cleanupDeployment();
    this.#status = this.#calculateStatus();
  }

  /** `scale`: one active ReplicaSet takes all; otherwise spread the change by size. */
  #scaleProportionally(): void {
    const activeOrLatest = this.#findActiveOrLatest();
    if (activeOrLatest) {
      if (_replicas(activeOrLatest) !== this.#replicas) {
        this.#scaleAndRecord(activeOrLatest, this.#replicas);
      }
      return;
    }
    if (this.#isSaturated(this.#newRS)) {
      for (const old of _active(this.#oldNewestFirst())) this.#scaleAndRecord(old, 0);
      return;
    }
    if (!this.#rolling) return;
    const allRSs = _active(this.#allWithNew());
    const allowed = this.#replicas > 0 ? this.#replicas + this.#maxSurge() : 0;
    const toAdd = allowed - _sum(allRSs, _replicas);
    if (toAdd > 0) {
      allRSs.sort((a, b) => _replicas(b) - _replicas(a) || _byCreation(b, a));
    } else if (toAdd < 0) {
      allRSs.sort((a, b) => _replicas(b) - _replicas(a) || _byCreation(a, b));
    }
    let added = 0;
    const sizes = allRSs.map((rs) => {
      if (toAdd === 0) return _replicas(rs);
      const proportion = this.#proportion(rs, toAdd, added);
      added += proportion;
      return _replicas(rs) + proportion;
    });
    allRSs.forEach((rs, i) => {
      let size = sizes[i] ?? 0;
      if (i === 0 && toAdd !== 0) size = Math.max(0, size + toAdd - added);
      this.#scale(rs, size);
    });
  }

  #oldNewestFirst(): _Rs[] {
    return [...this.#oldRSs].sort((a, b) => _byCreation(b, a));
  }

  /** `FindActiveOrLatest`: the only active ReplicaSet, or the newest when none is active. */
  #findActiveOrLatest(): _Rs | undefined {
    const olds = this.#oldNewestFirst();
    if (!this.#newRS && olds.length === 0) return undefined;
    const active = _active(this.#newRS ? [...olds, this.#newRS] : olds);
    if (active.length === 0) return this.#newRS ?? olds[0];
    return active.length === 1 ? active[0] : undefined;
  }

  /** `IsSaturated`: the new ReplicaSet holds, was sized for, and has available all replicas. */
  #isSaturated(rs: _Rs | undefined): boolean {
    if (!rs) return false;
    return _replicas(rs) === this.#replicas &&
      _intAnnotation(rs, DESIRED_REPLICAS_ANNOTATION) === this.#replicas &&
      _status(rs, "availableReplicas") === this.#replicas;
  }

  /** `GetProportion` */
  #proportion(rs: _Rs, toAdd: number, added: number): number {
    if (_replicas(rs) === 0 || toAdd === 0 || toAdd === added) return 0;
    const fraction = this.#fraction(rs);
    const allowed = toAdd - added;
    return toAdd > 0 ? Math.min(fraction, allowed) : Math.max(fraction, allowed);
  }

  /** `getReplicaSetFraction`: this ReplicaSet's share of the new size, minus its current size. */
  #fraction(rs: _Rs): number {
    const replicas = _replicas(rs);
    if (this.#replicas === 0) return -replicas;
    const deploymentReplicas = this.#replicas + this.#maxSurge();
    const annotated = _intAnnotation(rs, MAX_REPLICAS_ANNOTATION) ?? (this.#stored.replicas ?? 0);
    if (annotated <= 0) return 0;
    return _round((replicas * deploymentReplicas) / annotated) - replicas;
  }

  /** `cleanupDeployment`: delete the oldest idle ReplicaSets beyond revisionHistoryLimit. */
  #cleanupDeployment(): void {
    const limit = this.#spec.revisionHistoryLimit;
    if (limit === undefined || limit === MAX_INT32) return;
    const cleanable = this.#oldRSs.filter((rs) => !rs.obj.metadata.deletionTimestamp);
    const diff = cleanable.length - limit;
    if (diff <= 0) return;
    cleanable.sort(_byRevision);
    for (const rs of cleanable.slice(0, diff)) {
      const busy = _status(rs, "replicas") !== 0 || _replicas(rs) !== 0 ||
        (rs.obj.metadata.generation ?? 0) > _status(rs, "observedGeneration") ||
        this.#touched.includes(rs);
      if (!busy) this.#deletes.push(rs.name);
    }
  }

  // --- RollingUpdate (rolling.go) ---

  #rolloutRolling(): void {
    if (!this.#newRS && !this.#createNewReplicaSet()) return;
    if (this.#reconcileNewReplicaSet() || this.#reconcileOldReplicaSets()) {
      this.#syncRolloutStatus();
      return;
    }
    if (this.#deploymentComplete(this.#status)) this.#cleanupDeployment();
    this.#syncRolloutStatus();
  }

  #reconcileNewReplicaSet(): boolean {
    const newRS = this.#newRS;
    if (!newRS || _replicas(newRS) === this.#replicas) return false;
    if (_replicas(newRS) > this.#replicas) return this.#scaleAndRecord(newRS, this.#replicas);
    return this.#scaleAndRecord(newRS, this.#newRSNewReplicas(this.#allWithNew(), newRS));
  }

  /**
   * `reconcileOldReplicaSets`: scale old ReplicaSets down as far as availability allows,
   * counting the new ReplicaSet's unavailable pods against the budget.
   */
  #reconcileOldReplicaSets(): boolean {
    const newRS = this.#newRS;
    const oldRSs = _active(this.#oldRSs);
    if (!newRS || _sum(oldRSs, _replicas) === 0) return false;
    const allPods = _sum(this.#allWithNew(), _replicas);
    const minAvailable = this.#replicas - this.#maxUnavailable();
    const newUnavailable = _replicas(newRS) - _status(newRS, "availableReplicas");
    const maxScaledDown = allPods - minAvailable - newUnavailable;
    if (maxScaledDown <= 0) return false;
    const cleaned = this.#cleanupUnhealthyReplicas(oldRSs, maxScaledDown);
    if (cleaned === undefined) return false;
    const scaledDown = this.#scaleDownOldReplicaSets([...oldRSs, newRS], oldRSs);
    return cleaned + scaledDown > 0;
  }

  /**
   * `cleanupUnhealthyReplicas`: scale old ReplicaSets down by their unavailable replicas, oldest
   * first, up to `maxCleanup`. Undefined (stop, as Kubernetes does on this error) when a
   * ReplicaSet reports more available replicas than it wants: its status lags behind.
   */
  #cleanupUnhealthyReplicas(oldRSs: _Rs[], maxCleanup: number): number | undefined {
    oldRSs.sort(_byCreation);
    let total = 0;
    for (const rs of oldRSs) {
      if (total >= maxCleanup) break;
      const replicas = _replicas(rs);
      const available = _status(rs, "availableReplicas");
      if (replicas === 0 || replicas === available) continue;
      const count = Math.min(maxCleanup - total, replicas - available);
      if (count < 0) return undefined;
      this.#scaleAndRecord(rs, replicas - count);
      total += count;
    }
    return total;
  }

  /** `scaleDownOldReplicaSetsForRollingUpdate`: keep at least `replicas - maxUnavailable` available. */
  #scaleDownOldReplicaSets(allRSs: readonly _Rs[], oldRSs: _Rs[]): number {
    const minAvailable = this.#replicas - this.#maxUnavailable();
    const available = _sum(allRSs, (rs) => _status(rs, "availableReplicas"));
    if (available <= minAvailable) return 0;
    oldRSs.sort(_byCreation);
    const target = available - minAvailable;
    let total = 0;
    for (const rs of oldRSs) {
      if (total >= target) break;
      const replicas = _replicas(rs);
      if (replicas === 0) continue;
      const count = Math.min(replicas, target - total);
      this.#scaleAndRecord(rs, replicas - count);
      total += count;
    }
    return total;
  }

  // --- Recreate (recreate.go) ---

  #rolloutRecreate(): void {
    let scaledDown = false;
    for (const rs of _active(this.#oldRSs)) {
      if (this.#scaleAndRecord(rs, 0)) scaledDown = true;
    }
    if (scaledDown || this.#oldPodsRunning()) {
      this.#syncRolloutStatus();
      return;
    }
    if (!this.#newRS && !this.#createNewReplicaSet()) return;
    if (this.#newRS) this.#scaleAndRecord(this.#newRS, this.#replicas);
    if (this.#deploymentComplete(this.#status)) this.#cleanupDeployment();
    this.#syncRolloutStatus();
  }

  /** `oldPodsRunning`: an old ReplicaSet reports pods, or one of its pods is not finished. */
  #oldPodsRunning(): boolean {
    if (_sum(this.#oldRSs, (rs) => _status(rs, "replicas")) > 0) return true;
    const oldUids = new Set(this.#oldRSs.map((rs) => rs.uid));
    return (this.#pods ?? []).some((pod) => {
      const owner = _controllerUid(pod);
      if (owner === undefined || !oldUids.has(owner)) return false;
      const phase = _field(pod, "status", "phase");
      return phase !== "Failed" && phase !== "Succeeded";
    });
  }

  // --- status (sync.go calculateStatus, progress.go) ---

  /** `calculateStatus`: counts from the ReplicaSets, the Available condition. */
  #calculateStatus(): DeploymentStatus {
    const all = this.#allWithNew();
    const available = _sum(all, (rs) => _status(rs, "availableReplicas"));
    const counts: [keyof DeploymentStatus, number][] = [
      ["observedGeneration", this.#d.metadata.generation ?? 0],
      ["replicas", _sum(all, (rs) => _status(rs, "replicas"))],
      ["updatedReplicas", this.#newRS ? _status(this.#newRS, "replicas") : 0],
      ["readyReplicas", _sum(all, (rs) => _status(rs, "readyReplicas"))],
      ["availableReplicas", available],
      ["unavailableReplicas", Math.max(0, _sum(all, _replicas) - available)],
    ];
    // Zero counts are left out, as Kubernetes serializes them (omitempty).
    const st: DeploymentStatus = Object.fromEntries(counts.filter(([, n]) => n !== 0));
    if (this.#status.conditions) st.conditions = this.#status.conditions.map((c) => ({ ...c }));
    if (this.#status.collisionCount !== undefined) st.collisionCount = this.#status.collisionCount;
    if (available >= this.#replicas - this.#maxUnavailable()) {
      _setCondition(
        st,
        _condition(
          AVAILABLE,
          "True",
          "MinimumReplicasAvailable",
          "Deployment has minimum availability.",
          this.#now,
        ),
      );
    } else {
      _setCondition(
        st,
        _condition(
          AVAILABLE,
          "False",
          "MinimumReplicasUnavailable",
          "Deployment does not have minimum availability.",
          this.#now,
        ),
      );
    }
    return st;
  }

  /** `DeploymentComplete`: all replicas updated and available, no old ones left. */
  #deploymentComplete(st: DeploymentStatus): boolean {
    const n = this.#replicas;
    return (st.updatedReplicas ?? 0) === n && (st.replicas ?? 0) === n &&
      (st.availableReplicas ?? 0) === n &&
      (st.observedGeneration ?? 0) >= (this.#d.metadata.generation ?? 0);
  }

  /** `DeploymentProgressing`: more updated/ready/available pods, or fewer old ones, than stored. */
  #deploymentProgressing(st: DeploymentStatus): boolean {
    const old = this.#stored;
    const oldOld = (old.replicas ?? 0) - (old.updatedReplicas ?? 0);
    const newOld = (st.replicas ?? 0) - (st.updatedReplicas ?? 0);
    return (st.updatedReplicas ?? 0) > (old.updatedReplicas ?? 0) || newOld < oldOld ||
      (st.readyReplicas ?? 0) > (old.readyReplicas ?? 0) ||
      (st.availableReplicas ?? 0) > (old.availableReplicas ?? 0);
  }

  /** `DeploymentTimedOut`: no progress reported for progressDeadlineSeconds. */
  #deploymentTimedOut(st: DeploymentStatus): boolean {
    const cond = _getCondition(st, PROGRESSING);
    if (!cond || cond.reason === "NewReplicaSetAvailable") return false;
    if (cond.reason === "ProgressDeadlineExceeded") return true;
    const from = Date.parse(cond.lastUpdateTime ?? "");
    if (Number.isNaN(from)) return false;
    return from + (this.#spec.progressDeadlineSeconds ?? 0) * 1000 < this.#nowMs;
  }

  /** `syncRolloutStatus`: the status plus the Progressing condition and replica failures. */
  #syncRolloutStatus(): void {
    const st = this.#calculateStatus();
    const hasDeadline = this.#hasProgressDeadline();
    if (!hasDeadline) _removeCondition(st, PROGRESSING);
    const current = _getCondition(this.#status, PROGRESSING);
    const newRS = this.#newRS;
    const subject = newRS ? `ReplicaSet "${newRS.name}"` : `Deployment "${this.#name}"`;
    const complete = (st.replicas ?? 0) === (st.updatedReplicas ?? 0) &&
      current?.reason === "NewReplicaSetAvailable";
    if (hasDeadline && !complete) {
      if (this.#deploymentComplete(st)) {
        _setCondition(
          st,
          _condition(
            PROGRESSING,
            "True",
            "NewReplicaSetAvailable",
            `${subject} has successfully progressed.`,
            this.#now,
          ),
        );
      } else if (this.#deploymentProgressing(st)) {
        // Progress refreshes lastUpdateTime even when the reason stays the same.
        const cond = _condition(
          PROGRESSING,
          "True",
          "ReplicaSetUpdated",
          `${subject} is progressing.`,
          this.#now,
        );
        if (current?.status === "True" && current.lastTransitionTime !== undefined) {
          cond.lastTransitionTime = current.lastTransitionTime;
        }
        _removeCondition(st, PROGRESSING);
        _setCondition(st, cond);
      } else if (this.#deploymentTimedOut(st)) {
        _setCondition(
          st,
          _condition(
            PROGRESSING,
            "False",
            "ProgressDeadlineExceeded",
            `${subject} has timed out progressing.`,
            this.#now,
          ),
        );
      }
    }
    const failure = this.#replicaFailure();
    if (failure) _setCondition(st, failure);
    else _removeCondition(st, REPLICA_FAILURE);
    this.#status = st;
    this.#requeueAfterMs = this.#progressCheckAfter(st);
  }

  /** `getReplicaFailures`: a ReplicaFailure condition of the new ReplicaSet, else of any. */
  #replicaFailure(): DeploymentCondition | undefined {
    const failureOf = (rs: _Rs | undefined): DeploymentCondition | undefined => {
      const conds = _field(rs?.obj, "status", "conditions");
      const c = Array.isArray(conds)
        ? conds.find((c) => isPlainObject(c) && c.type === REPLICA_FAILURE)
        : undefined;
      if (!c) return undefined;
      const cond: DeploymentCondition = { type: REPLICA_FAILURE, status: String(c.status) };
      if (typeof c.lastTransitionTime === "string") {
        cond.lastUpdateTime = c.lastTransitionTime;
        cond.lastTransitionTime = c.lastTransitionTime;
      }
      if (typeof c.reason === "string") cond.reason = c.reason;
      if (typeof c.message === "string") cond.message = c.message;
      return cond;
    };
    return failureOf(this.#newRS) ??
      this.#allWithNew().map(failureOf).find((c) => c !== undefined);
  }

  /**
   * `requeueStuckDeployment`: when the rollout could still time out, the time until its
   * deadline plus a second (Kubernetes' margin for clock skew).
   */
  #progressCheckAfter(st: DeploymentStatus): number | undefined {
    const cond = _getCondition(st, PROGRESSING);
    if (!this.#hasProgressDeadline() || !cond || this.#deploymentComplete(st)) return undefined;
    // These reasons never turn into a timeout by the passing of time alone.
    if (cond.reason === "ProgressDeadlineExceeded" || cond.reason === "NewReplicaSetAvailable") {
      return undefined;
    }
    const from = Date.parse(cond.lastUpdateTime ?? "");
    if (Number.isNaN(from)) return undefined;
    const after = from + (this.#spec.progressDeadlineSeconds ?? 0) * 1000 - this.#nowMs;
    return Math.max(0, after) + 1000;
  }
}
