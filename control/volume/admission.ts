/**
 * What the API server does to storage objects as they are created (Kubernetes' admission
 * plugins `DefaultStorageClass` and `StorageObjectInUseProtection`), and the default
 * StorageClass every cluster has from its first boot.
 *
 * - A PersistentVolumeClaim created without `spec.storageClassName` (and without the beta
 *   class annotation) gets the default class: the StorageClass annotated
 *   `storageclass.kubernetes.io/is-default-class: "true"`; with several, the newest, then the
 *   name first in order; with none it stays without a class. An explicit `""` means "no class"
 *   and is kept.
 * - Every claim gets the `kubernetes.io/pvc-protection` finalizer, every PersistentVolume
 *   `kubernetes.io/pv-protection` (the protection controller removes them once unused).
 *
 * @example
 * ```ts
 * const unregister = registerStorageAdmission(store); // before the API serves
 * await ensureDefaultStorageClass(new Objects(store));
 * ```
 *
 * @module
 */

import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  ANN_BETA_STORAGE_CLASS,
  ANN_DEFAULT_CLASS,
  DEFAULT_STORAGE_CLASS,
  isDefaultClass,
  LOCAL_PATH_PROVISIONER,
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
} from "../../storage/persistent_volumes.ts";
import { requireKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { type Admission, type Objects, registerAdmission } from "../api/objects.ts";

/**
 * The default StorageClass among `classes` (those annotated default; several: the newest
 * `creationTimestamp`, then the name first in order), or undefined.
 */
export function defaultStorageClass(classes: readonly KubeObject[]): KubeObject | undefined {
  let best: KubeObject | undefined;
  for (const sc of classes) {
    if (!isDefaultClass(sc)) continue;
    if (!best) {
      best = sc;
      continue;
    }
    const a = Date.parse(sc.metadata.creationTimestamp ?? "") || 0;
    const b = Date.parse(best.metadata.creationTimestamp ?? "") || 0;
    if (a > b || (a === b && (sc.metadata.name ?? "") < (best.metadata.name ?? ""))) best = sc;
  }
  return best;
}

/** True when a claim names a class itself (the field, even `""`, or the beta annotation). */
function claimNamesClass(claim: KubeObject): boolean {
  const spec = isPlainObject(claim.spec) ? claim.spec : {};
  return (spec.storageClassName !== undefined && spec.storageClassName !== null) ||
    claim.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] !== undefined;
}

function addFinalizer(obj: KubeObject, finalizer: string): void {
  const finalizers = obj.metadata.finalizers ?? [];
  if (!finalizers.includes(finalizer)) obj.metadata.finalizers = [...finalizers, finalizer];
}

const NOTHING_TO_UNDO = () => {};

/** The admission of PersistentVolumeClaims (default class, protection finalizer). */
export function claimAdmission(store: Store): Admission {
  const classes = storePrefix(requireKind("storage.k8s.io/v1", "StorageClass"));
  return {
    async beforeCreate(claim) {
      if (!claimNamesClass(claim)) {
        const chosen = defaultStorageClass((await store.list(classes)).items);
        if (chosen?.metadata.name) {
          claim.spec = {
            ...(isPlainObject(claim.spec) ? claim.spec : {}),
            storageClassName: chosen.metadata.name,
          };
        }
      }
      addFinalizer(claim, PVC_PROTECTION_FINALIZER);
      return NOTHING_TO_UNDO;
    },
  };
}

/** The admission of PersistentVolumes (protection finalizer). */
export function volumeAdmission(): Admission {
  return {
    beforeCreate(volume) {
      addFinalizer(volume, PV_PROTECTION_FINALIZER);
      return Promise.resolve(NOTHING_TO_UNDO);
    },
  };
}

/**
 * Registers the claim and volume admissions for `store`, so every `Objects` over it (the API
 * server's and in-process writers alike) applies them. Call before the API serves and before
 * the controllers start. Returns the function that removes them again.
 */
export function registerStorageAdmission(store: Store): () => void {
  const unregisterClaims = registerAdmission(
    store,
    requireKind("v1", "PersistentVolumeClaim"),
    claimAdmission(store),
  );
  try {
    const unregisterVolumes = registerAdmission(
      store,
      requireKind("v1", "PersistentVolume"),
      volumeAdmission(),
    );
    return () => {
      unregisterVolumes();
      unregisterClaims();
    };
  } catch (e) {
    unregisterClaims();
    throw e;
  }
}

/** The StorageClass `local-path` the cluster has from its first boot. */
export function defaultStorageClassManifest(): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: DEFAULT_STORAGE_CLASS, annotations: { [ANN_DEFAULT_CLASS]: "true" } },
    provisioner: LOCAL_PATH_PROVISIONER,
    reclaimPolicy: "Delete",
    volumeBindingMode: "WaitForFirstConsumer",
  };
}

/**
 * Creates StorageClass `local-path` (the default class, provisioned by the agents' local-path
 * provisioner) unless a class of that name exists; an existing one is never changed. True when
 * it was created.
 */
export async function ensureDefaultStorageClass(objects: Objects): Promise<boolean> {
  try {
    await objects.create(
      requireKind("storage.k8s.io/v1", "StorageClass"),
      undefined,
      defaultStorageClassManifest(),
      { fieldValidation: "Strict", dryRun: false },
    );
    return true;
  } catch (e) {
    if (e instanceof ApiError && e.reason === "AlreadyExists") return false;
    throw e;
  }
}
