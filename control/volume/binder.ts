/**
 * The PersistentVolume controller's decisions, as pure functions over plain objects (Kubernetes'
 * `syncClaim` and `syncVolume` in `pv_controller.go`): what a claim and a volume should become,
 * given what the controller sees. `controller.ts` reads the world, calls these, and writes the
 * difference.
 *
 * A claim ({@linkcode planClaim}):
 * - bound (`pv.kubernetes.io/bind-completed`): its volume must exist and name it (else `Lost`,
 *   with a `ClaimLost` or `ClaimMisbound` Warning); the binding is kept complete;
 * - pre-bound by its user (`spec.volumeName` set, not yet bound): binds when the volume is free
 *   and fits (`VolumeMismatch` Warning when it does not), else waits;
 * - unbound: binds the volume {@linkcode findBestVolume} picks (for a WaitForFirstConsumer class
 *   only once the scheduler chose a node, and only a volume that node reaches); else, per class,
 *   asks the local-path provisioner (the `storage-provisioner` and `selected-node` annotations;
 *   an `Immediate` class gets the node chosen here: {@linkcode chooseProvisioningNode}), waits
 *   for the first consumer, or reports why nothing fits (`FailedBinding`).
 *
 * A volume ({@linkcode planVolume}): `Available` without a claim (or reserved by name only),
 * `Bound` to a claim that names it, reclaimed (`Released`, or `Failed` without a deleter) once
 * its claim is gone, and unbound again when the controller reserved it for a claim that got
 * another volume.
 *
 * @module
 */

import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  ANN_BETA_STORAGE_PROVISIONER,
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  annotation,
  claimClassName,
  claimVolumeName,
  HOSTNAME_LABEL,
  LOCAL_PATH_PROVISIONER,
  phaseOf,
  provisionedVolumeName,
  reclaimPolicyOf,
  volumeClaimRef,
  volumeClassName,
} from "../../storage/persistent_volumes.ts";
import { sameJson } from "../api/objects.ts";
import {
  checkVolumeSatisfiesClaim,
  explainNoMatch,
  findBestVolume,
  isVolumeBoundToClaim,
  type Mismatch,
  type NodeLike,
  volumeNodeAffinityMatches,
} from "./matching.ts";

/** An Event to record about the object a plan is for. */
export interface EventSpec {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

/** What {@linkcode planClaim} sees of the cluster. */
export interface ClaimWorld {
  /** every volume */
  volumes: readonly KubeObject[];
  /** every claim (to spread provisioning requests over nodes) */
  claims: readonly KubeObject[];
  /** every node */
  nodes: readonly KubeObject[];
  /** the StorageClass of that name, if it exists */
  storageClass(name: string): KubeObject | undefined;
}

/** What to do with a claim. */
export type ClaimPlan =
  /** bind the claim and `volume` (or keep their binding complete and their status right) */
  | { action: "bind"; volume: KubeObject }
  /** the claim stays `Pending`, with this Event when there is something to say */
  | { action: "pending"; event?: EventSpec }
  /** the claim is `Lost`: its volume is gone or bound to another claim */
  | { action: "lost"; event: EventSpec }
  /** ask the provisioner: set these annotations; the claim stays `Pending` */
  | { action: "provision"; annotations: Record<string, string>; event: EventSpec };

/** What to do with a volume. */
export type VolumePlan =
  /** set `status.phase` (and `status.message`), recording `event` */
  | { action: "phase"; phase: string; message?: string; event?: EventSpec }
  /** the controller reserved the volume for a claim that got another one: free it again */
  | { action: "unbind" }
  /** the claim has not caught up with the volume: reconcile the claim (nothing to write here) */
  | { action: "syncClaim"; namespace: string; name: string };

/** `volumeBindingMode` values. */
const WAIT_FOR_FIRST_CONSUMER = "WaitForFirstConsumer";

/** The Event text of a claim waiting for the local-path provisioner (Kubernetes' wording). */
export function externalProvisioningMessage(provisioner: string): string {
  return `Waiting for a volume to be created either by the external provisioner '${provisioner}' ` +
    "or manually by the system administrator. If volume creation is delayed, please verify " +
    "that the provisioner is running and correctly registered.";
}

/** The status message of a Delete volume no deleter handles (and its Event). */
export function noDeleterMessage(volumeName: string): string {
  return `error getting deleter volume plugin for volume "${volumeName}": ` +
    "no deletable volume plugin matched";
}

/** Kubernetes' words for why a pre-bound volume does not satisfy its claim. */
const MISMATCH_TEXT: Record<Mismatch, string> = {
  "being deleted": "the volume is marked for deletion",
  "not available": "the volume is not available",
  "bound to another claim": "the volume is bound to another claim",
  "storage class": "storageClassName does not match",
  "access modes": "incompatible accessMode",
  "volume mode": "incompatible volumeMode",
  "selector": "the volume's labels do not match the claim's selector",
  "too small": "requested PV is too small",
  "node affinity": "the volume's node affinity does not match",
};

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function stringField(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === "string" ? v : undefined;
}

/** True when a Node is Ready and not cordoned (`spec.unschedulable`). */
export function nodeSchedulable(node: KubeObject): boolean {
  if (record(node.spec).unschedulable === true) return false;
  const conditions = record(node.status).conditions;
  return Array.isArray(conditions) &&
    conditions.some((c) => isPlainObject(c) && c.type === "Ready" && c.status === "True");
}

/**
 * The node volume node affinity is checked against: the Node's name and labels, or, for a
 * node not (yet) known, its name as `kubernetes.io/hostname` (the label local volumes name).
 */
export function nodeLike(name: string, node: KubeObject | undefined): NodeLike {
  return { name, labels: node?.metadata.labels ?? { [HOSTNAME_LABEL]: name } };
}

/** True when a node changed in a way the binder cares about: readiness, cordon or labels. */
export function nodeStorageChanged(old: KubeObject, next: KubeObject): boolean {
  return nodeSchedulable(old) !== nodeSchedulable(next) ||
    !sameJson(old.metadata.labels ?? {}, next.metadata.labels ?? {});
}

function hasNodeAffinity(volume: KubeObject): boolean {
  return Array.isArray(record(record(record(volume.spec).nodeAffinity).required).nodeSelectorTerms);
}

/**
 * True when a StorageClass's `allowedTopologies` admit `node` (any term whose every label
 * expression the node's labels satisfy); a class without them admits every node.
 */
export function topologyAllows(storageClass: KubeObject, node: KubeObject): boolean {
  const terms = storageClass.allowedTopologies;
  if (!Array.isArray(terms) || terms.length === 0) return true;
  const labels = node.metadata.labels ?? {};
  return terms.some((term) => {
    const exprs = record(term).matchLabelExpressions;
    return Array.isArray(exprs) && exprs.every((e) => {
      const key = stringField(record(e), "key") ?? "";
      const values = record(e).values;
      return key in labels && Array.isArray(values) && values.includes(labels[key]);
    });
  });
}

/**
 * The node an `Immediate` claim's volume is made on: among Ready, schedulable nodes (that the
 * class's `allowedTopologies` admit), the one
 * with the fewest local volumes (volumes whose node affinity it satisfies, plus provisioning
 * requests for it whose volume does not exist yet); ties go to the name first in order.
 */
export function chooseProvisioningNode(
  nodes: readonly KubeObject[],
  volumes: readonly KubeObject[],
  claims: readonly KubeObject[],
  storageClass?: KubeObject,
): string | undefined {
  const existing = new Set(volumes.map((v) => v.metadata.name));
  let best: string | undefined;
  let bestCount = Infinity;
  for (const node of nodes) {
    const name = node.metadata.name;
    if (!name || !nodeSchedulable(node)) continue;
    if (storageClass && !topologyAllows(storageClass, node)) continue;
    const like = nodeLike(name, node);
    let count = 0;
    for (const volume of volumes) {
      if (hasNodeAffinity(volume) && volumeNodeAffinityMatches(volume, like)) count++;
    }
    for (const claim of claims) {
      if (
        claimVolumeName(claim) === "" && annotation(claim, ANN_SELECTED_NODE) === name &&
        annotation(claim, ANN_STORAGE_PROVISIONER) !== undefined &&
        !existing.has(provisionedVolumeName(claim.metadata.uid ?? ""))
      ) count++;
    }
    if (count < bestCount || (count === bestCount && name < best!)) {
      best = name;
      bestCount = count;
    }
  }
  return best;
}

function warning(reason: string, message: string): EventSpec {
  return { type: "Warning", reason, message };
}

function normal(reason: string, message: string): EventSpec {
  return { type: "Normal", reason, message };
}

/** What should happen to `claim`; see the module documentation. */
export function planClaim(claim: KubeObject, world: ClaimWorld): ClaimPlan {
  const volumeName = claimVolumeName(claim);
  const volume = volumeName === ""
    ? undefined
    : world.volumes.find((v) => v.metadata.name === volumeName);
  if (annotation(claim, ANN_BIND_COMPLETED) !== undefined) {
    if (volumeName === "") {
      return {
        action: "lost",
        event: warning(
          "ClaimLost",
          "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!",
        ),
      };
    }
    if (!volume) {
      return {
        action: "lost",
        event: warning(
          "ClaimLost",
          "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
        ),
      };
    }
    if (!volumeClaimRef(volume) || isVolumeBoundToClaim(volume, claim)) {
      return { action: "bind", volume };
    }
    return {
      action: "lost",
      event: warning(
        "ClaimMisbound",
        "Two claims are bound to the same volume, this one is bound incorrectly",
      ),
    };
  }
  if (volumeName !== "") {
    // pre-bound by the user: wait for the volume, and for it to be free
    if (!volume) return { action: "pending" };
    if (isVolumeBoundToClaim(volume, claim)) return { action: "bind", volume };
    if (volumeClaimRef(volume)) return { action: "pending" };
    const mismatch = checkVolumeSatisfiesClaim(claim, volume);
    if (mismatch) {
      return {
        action: "pending",
        event: warning(
          "VolumeMismatch",
          `Cannot bind to requested volume "${volumeName}": ${MISMATCH_TEXT[mismatch]}`,
        ),
      };
    }
    return { action: "bind", volume };
  }
  return planUnboundClaim(claim, world);
}

function planUnboundClaim(claim: KubeObject, world: ClaimWorld): ClaimPlan {
  const className = claimClassName(claim);
  const storageClass = className === "" ? undefined : world.storageClass(className);
  const classSpec = record(storageClass);
  const delayBinding = stringField(classSpec, "volumeBindingMode") === WAIT_FOR_FIRST_CONSUMER;
  const selected = annotation(claim, ANN_SELECTED_NODE);
  const node = delayBinding && selected
    ? nodeLike(selected, world.nodes.find((n) => n.metadata.name === selected))
    : undefined;
  const volume = findBestVolume(claim, world.volumes, { delayBinding, ...(node ? { node } : {}) });
  if (volume) return { action: "bind", volume };
  if (delayBinding && !selected) {
    return {
      action: "pending",
      event: normal(
        "WaitForFirstConsumer",
        "waiting for first consumer to be created before binding",
      ),
    };
  }
  if (storageClass && stringField(classSpec, "provisioner") === LOCAL_PATH_PROVISIONER) {
    if (claim.metadata.deletionTimestamp) return { action: "pending" };
    const target = selected ??
      chooseProvisioningNode(world.nodes, world.volumes, world.claims, storageClass);
    if (!target) {
      return {
        action: "pending",
        event: warning(
          "ProvisioningFailed",
          `no Ready, schedulable node to make a volume on for provisioner '${LOCAL_PATH_PROVISIONER}'`,
        ),
      };
    }
    return {
      action: "provision",
      annotations: {
        [ANN_SELECTED_NODE]: target,
        [ANN_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
        [ANN_BETA_STORAGE_PROVISIONER]: LOCAL_PATH_PROVISIONER,
      },
      event: normal("ExternalProvisioning", externalProvisioningMessage(LOCAL_PATH_PROVISIONER)),
    };
  }
  if (world.volumes.some((v) => awaitingAvailable(v, className))) {
    // a new volume of the class is not Available yet: when it is, the claim is looked at
    // again, and then either binds or hears why not
    return { action: "pending" };
  }
  let message = explainNoMatch(claim, world.volumes, node ? { node } : {});
  if (className !== "" && !storageClass) {
    message += `; storageclass.storage.k8s.io "${className}" not found`;
  }
  return { action: "pending", event: warning("FailedBinding", message) };
}

/** True for a volume of class `className` just made, that the controller will make Available. */
function awaitingAvailable(volume: KubeObject, className: string): boolean {
  const phase = phaseOf(volume);
  return (phase === "Pending" || phase === "") && !volumeClaimRef(volume) &&
    !volume.metadata.deletionTimestamp && volumeClassName(volume) === className;
}

/**
 * What should happen to `volume`, given the claim its `claimRef` names as it is now (looked up
 * in the store, not only a cache; `undefined` when it does not exist). A claim of another uid
 * (deleted and made again under the same name) counts as gone.
 */
export function planVolume(volume: KubeObject, claim: KubeObject | undefined): VolumePlan {
  const ref = volumeClaimRef(volume);
  if (!ref || ref.uid === undefined) return { action: "phase", phase: "Available" };
  if (!claim || claim.metadata.uid !== ref.uid) return reclaim(volume);
  const volumeName = claimVolumeName(claim);
  if (volumeName === "") {
    return { action: "syncClaim", namespace: ref.namespace, name: ref.name };
  }
  if (volumeName === volume.metadata.name) return { action: "phase", phase: "Bound" };
  // the claim is bound to another volume
  if (
    annotation(volume, ANN_PROVISIONED_BY) === LOCAL_PATH_PROVISIONER &&
    reclaimPolicyOf(volume) === "Delete"
  ) return reclaim(volume);
  if (annotation(volume, ANN_BOUND_BY_CONTROLLER) !== undefined) return { action: "unbind" };
  return { action: "phase", phase: "Available" };
}

/** A volume whose claim is gone: `Released`, then its reclaim policy. */
function reclaim(volume: KubeObject): VolumePlan {
  const name = volume.metadata.name ?? "";
  const current = phaseOf(volume);
  // as Kubernetes: a Failed volume stays Failed, so the user sees what went wrong
  const released = current === "Failed" ? current : "Released";
  switch (reclaimPolicyOf(volume)) {
    case "Delete":
      if (annotation(volume, ANN_PROVISIONED_BY) === LOCAL_PATH_PROVISIONER) {
        // the agent of the volume's node removes the data, then the volume
        return { action: "phase", phase: released };
      }
      return {
        action: "phase",
        phase: "Failed",
        message: noDeleterMessage(name),
        event: warning("VolumeFailedDelete", noDeleterMessage(name)),
      };
    case "Recycle":
      return {
        action: "phase",
        phase: "Failed",
        message: "No recycler plugin found for the volume!",
        event: warning("VolumeFailedRecycle", "No recycler plugin found for the volume!"),
      };
    default:
      return { action: "phase", phase: released };
  }
}

/** The `spec.claimRef` that binds a volume to `claim`. */
export function claimRefOf(claim: KubeObject): Record<string, string> {
  const { namespace = "", name = "", uid = "", resourceVersion = "" } = claim.metadata;
  return {
    kind: "PersistentVolumeClaim",
    apiVersion: "v1",
    namespace,
    name,
    uid,
    resourceVersion,
  };
}

function withAnnotation(obj: KubeObject, key: string, value: string): void {
  obj.metadata.annotations = { ...obj.metadata.annotations, [key]: value };
}

/**
 * `volume` bound to `claim`: `spec.claimRef` naming the claim with its uid (kept as it is when
 * it already does, so a newer claim resourceVersion is no change), `bound-by-controller` when
 * the controller chose the volume, and `status.phase: Bound` (`now` is the transition time).
 */
export function volumeBoundTo(volume: KubeObject, claim: KubeObject, now: string): KubeObject {
  const next = cloneJson(volume);
  const ref = volumeClaimRef(volume);
  const boundAlready = isVolumeBoundToClaim(volume, claim);
  if (!boundAlready || ref?.uid === undefined) {
    next.spec = { ...record(next.spec), claimRef: claimRefOf(claim) };
  }
  if (!boundAlready) withAnnotation(next, ANN_BOUND_BY_CONTROLLER, "yes");
  next.status = volumeStatus(volume, "Bound", now);
  return next;
}

/** `volume` free again: no `claimRef`, no `bound-by-controller`, `Available`. */
export function volumeUnbound(volume: KubeObject, now: string): KubeObject {
  const next = cloneJson(volume);
  const spec = { ...record(next.spec) };
  delete spec.claimRef;
  next.spec = spec;
  if (next.metadata.annotations) {
    const annotations = { ...next.metadata.annotations };
    delete annotations[ANN_BOUND_BY_CONTROLLER];
    if (Object.keys(annotations).length > 0) next.metadata.annotations = annotations;
    else delete next.metadata.annotations;
  }
  next.status = volumeStatus(volume, "Available", now);
  return next;
}

/**
 * The status of `volume` in `phase` (with `message`, else none); a changed phase gets
 * `lastPhaseTransitionTime` `now`.
 */
export function volumeStatus(
  volume: KubeObject,
  phase: string,
  now: string,
  message?: string,
): Record<string, unknown> {
  const status: Record<string, unknown> = { ...record(volume.status), phase };
  if (phaseOf(volume) !== phase) status.lastPhaseTransitionTime = now;
  delete status.reason;
  if (message === undefined) delete status.message;
  else status.message = message;
  return status;
}

/**
 * `claim` bound to `volume`: `spec.volumeName`, `bind-completed` (and `bound-by-controller` when
 * the controller chose the volume), and status `Bound` with the volume's access modes and
 * capacity.
 */
export function claimBoundTo(claim: KubeObject, volume: KubeObject): KubeObject {
  const next = cloneJson(claim);
  const volumeName = volume.metadata.name ?? "";
  if (claimVolumeName(claim) !== volumeName) {
    if (claimVolumeName(claim) === "" && annotation(claim, ANN_BOUND_BY_CONTROLLER) === undefined) {
      withAnnotation(next, ANN_BOUND_BY_CONTROLLER, "yes");
    }
    next.spec = { ...record(next.spec), volumeName };
  }
  if (annotation(claim, ANN_BIND_COMPLETED) === undefined) {
    withAnnotation(next, ANN_BIND_COMPLETED, "yes");
  }
  const spec = record(volume.spec);
  const status: Record<string, unknown> = { ...record(claim.status), phase: "Bound" };
  if (spec.accessModes !== undefined) status.accessModes = cloneJson(spec.accessModes);
  else delete status.accessModes;
  if (spec.capacity !== undefined) status.capacity = cloneJson(spec.capacity);
  else delete status.capacity;
  next.status = status;
  return next;
}

/** The status of a claim that has no volume (`Pending` or `Lost`): no access modes, no capacity. */
export function claimStatusWithoutVolume(
  claim: KubeObject,
  phase: "Pending" | "Lost",
): Record<string, unknown> {
  const status: Record<string, unknown> = { ...record(claim.status), phase };
  delete status.accessModes;
  delete status.capacity;
  return status;
}
