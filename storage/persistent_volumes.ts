/**
 * The names and small readings of PersistentVolumes, PersistentVolumeClaims and StorageClasses
 * that the control plane (binder, scheduler, admission) and the node agent (local-path
 * provisioner, volume mounts) share: annotation and finalizer names, the provisioner's name,
 * and accessors over plain objects. No npm imports: the agent runs with `--no-npm`.
 *
 * @example
 * ```ts
 * claimClassName(claim); // "local-path" (or "" for a claim that wants a class-less volume)
 * volumeHostPath(pv); // "/var/lib/edge/volumes/pvc-1f…_default_data"
 * ```
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "./object.ts";

/** The StorageClass every cluster has after boot, the default one. */
export const DEFAULT_STORAGE_CLASS = "local-path";
/** The provisioner name of the agent's local-path provisioner. */
export const LOCAL_PATH_PROVISIONER = "edge.io/local-path";
/** The provisioner name of classes whose volumes are made by hand (no dynamic provisioning). */
export const NO_PROVISIONER = "kubernetes.io/no-provisioner";

/** StorageClass annotation that marks the default class (value `"true"`). */
export const ANN_DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class";
/** The beta form of the default-class annotation, still honoured by Kubernetes. */
export const ANN_BETA_DEFAULT_CLASS = "storageclass.beta.kubernetes.io/is-default-class";
/** Claim annotation: the node the scheduler chose for a WaitForFirstConsumer claim. */
export const ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node";
/** Claim annotation: the provisioner asked to make a volume for the claim. */
export const ANN_STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner";
/** The beta form of {@linkcode ANN_STORAGE_PROVISIONER}, set alongside it as Kubernetes does. */
export const ANN_BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
/** Claim annotation of the beta era naming the class (used when `storageClassName` is unset). */
export const ANN_BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class";
/** Claim annotation: the binder finished binding (`"yes"`). */
export const ANN_BIND_COMPLETED = "pv.kubernetes.io/bind-completed";
/** Claim and volume annotation: the binder (not the user) chose the other side (`"yes"`). */
export const ANN_BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller";
/** Volume annotation: the provisioner that made it. */
export const ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";

/** Finalizer that keeps a claim while a pod uses it. */
export const PVC_PROTECTION_FINALIZER = "kubernetes.io/pvc-protection";
/** Finalizer that keeps a volume while it is bound. */
export const PV_PROTECTION_FINALIZER = "kubernetes.io/pv-protection";

/**
 * Finalizer the provisioner puts on the volumes it makes, so a volume deleted by hand stays until
 * the provisioner has removed its data (the name Kubernetes' external provisioner uses).
 */
export const PROVISIONER_FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer";

/** The node label a local volume's node affinity names. */
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

/** The name of the volume provisioned for a claim: `pvc-<claim uid>`, as Kubernetes names it. */
export function provisionedVolumeName(claimUid: string): string {
  return `pvc-${claimUid}`;
}

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

function stringAt(obj: Record<string, unknown>, key: string): string | undefined {
  const v = obj[key];
  return typeof v === "string" ? v : undefined;
}

/** An annotation of `obj`, or undefined. */
export function annotation(obj: KubeObject, key: string): string | undefined {
  return obj.metadata.annotations?.[key];
}

/**
 * The class a claim asks for: `spec.storageClassName`, else the beta annotation, else "" (a
 * claim that only binds volumes without a class). Admission fills in the default class on
 * create, so a stored claim without either really wants a class-less volume.
 */
export function claimClassName(claim: KubeObject): string {
  const spec = record(claim.spec);
  return stringAt(spec, "storageClassName") ?? annotation(claim, ANN_BETA_STORAGE_CLASS) ?? "";
}

/** The class of a volume: `spec.storageClassName`, or "". */
export function volumeClassName(volume: KubeObject): string {
  return stringAt(record(volume.spec), "storageClassName") ?? "";
}

/** `spec.volumeName` of a claim, or "". */
export function claimVolumeName(claim: KubeObject): string {
  return stringAt(record(claim.spec), "volumeName") ?? "";
}

/** The claim a volume is (being) bound to: `spec.claimRef`, or undefined. */
export function volumeClaimRef(
  volume: KubeObject,
): { namespace: string; name: string; uid?: string } | undefined {
  const ref = record(volume.spec).claimRef;
  if (!isPlainObject(ref)) return undefined;
  const out: { namespace: string; name: string; uid?: string } = {
    namespace: stringAt(ref, "namespace") ?? "",
    name: stringAt(ref, "name") ?? "",
  };
  const uid = stringAt(ref, "uid");
  if (uid) out.uid = uid;
  return out;
}

/** `status.phase` of a claim or volume, or "". */
export function phaseOf(obj: KubeObject): string {
  return stringAt(record(obj.status), "phase") ?? "";
}

/** The directory on its node that holds a `local` or `hostPath` volume's data, or undefined. */
export function volumeHostPath(volume: KubeObject): string | undefined {
  const spec = record(volume.spec);
  return stringAt(record(spec.local), "path") ?? stringAt(record(spec.hostPath), "path");
}

/** `spec.persistentVolumeReclaimPolicy` of a volume (`Retain` when unset, as for static ones). */
export function reclaimPolicyOf(volume: KubeObject): string {
  return stringAt(record(volume.spec), "persistentVolumeReclaimPolicy") ?? "Retain";
}

/** True when a StorageClass carries the default-class annotation (either form) set to true. */
export function isDefaultClass(storageClass: KubeObject): boolean {
  const a = storageClass.metadata.annotations ?? {};
  return a[ANN_DEFAULT_CLASS] === "true" || a[ANN_BETA_DEFAULT_CLASS] === "true";
}

/** The claims a pod's volumes name, in the pod's namespace, in spec order, without repeats. */
export function podClaimNames(pod: KubeObject): string[] {
  const volumes = record(pod.spec).volumes;
  const names: string[] = [];
  for (const v of Array.isArray(volumes) ? volumes : []) {
    const claim = isPlainObject(v) ? record(v.persistentVolumeClaim) : {};
    const name = stringAt(claim, "claimName");
    if (name && !names.includes(name)) names.push(name);
  }
  return names;
}
