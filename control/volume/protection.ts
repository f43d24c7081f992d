/**
 * {@linkcode StorageProtectionController}: lets claims and volumes that are being deleted go
 * once nothing uses them (Kubernetes' pvc-protection and pv-protection controllers). Admission
 * gives every claim the `kubernetes.io/pvc-protection` finalizer and every volume
 * `kubernetes.io/pv-protection`; this controller removes them:
 *
 * - from a claim being deleted once no pod of its namespace that a node may run (scheduled, not
 *   Succeeded or Failed) names it, which is checked against the store before the finalizer goes
 *   (the pod cache may not have seen a new pod yet). Pods that are not scheduled do not count,
 *   as in Kubernetes: the scheduler does not place a pod whose claim is being deleted, so such a
 *   pod would otherwise hold the claim forever;
 * - from a volume being deleted once it is not `Bound` (the binder releases it when its claim
 *   is gone), as the store says.
 *
 * Keys are those of the binder (`claim:<namespace>/<name>`, `volume:<name>`): claims and volumes
 * being deleted, and the claims a pod names when it goes, finishes, or changes node.
 *
 * @module
 */

import type { Clock } from "../../storage/clock.ts";
import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import {
  phaseOf,
  podClaimNames,
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
} from "../../storage/persistent_volumes.ts";
import { requireKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import type { Informer, InformerEvent } from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import { claimKey, claimKeyOf, parseKey, volumeKey } from "./_keys.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

function record(value: unknown): Record<string, unknown> {
  return isPlainObject(value) ? value : {};
}

/** True when a node runs or may run `pod`: it is scheduled and not Succeeded or Failed. */
export function podMayRun(pod: KubeObject): boolean {
  const nodeName = record(pod.spec).nodeName;
  const phase = record(pod.status).phase;
  return typeof nodeName === "string" && nodeName !== "" && phase !== "Succeeded" &&
    phase !== "Failed";
}

/** True when one of `pods` that a node may run names `claim` in its volumes. */
export function claimInUse(claim: KubeObject, pods: Iterable<KubeObject>): boolean {
  for (const pod of pods) {
    if (pod.metadata.namespace !== claim.metadata.namespace || !podMayRun(pod)) continue;
    if (podClaimNames(pod).includes(claim.metadata.name ?? "")) return true;
  }
  return false;
}

/** True when `obj` is being deleted and still carries `finalizer`. */
export function heldBy(obj: KubeObject, finalizer: string): boolean {
  return obj.metadata.deletionTimestamp !== undefined &&
    (obj.metadata.finalizers ?? []).includes(finalizer);
}

/** `obj` without `finalizer` (no `finalizers` field when none is left). */
export function withoutFinalizer(obj: KubeObject, finalizer: string): KubeObject {
  const next = cloneJson(obj);
  const rest = (next.metadata.finalizers ?? []).filter((f) => f !== finalizer);
  if (rest.length > 0) next.metadata.finalizers = rest;
  else delete next.metadata.finalizers;
  return next;
}

/** Options of {@linkcode StorageProtectionController}. */
export interface StorageProtectionControllerOptions {
  store: Store;
  /** informer of `/core/persistentvolumeclaims/` */
  claims: Informer;
  /** informer of `/core/persistentvolumes/` */
  volumes: Informer;
  /** informer of `/core/pods/`, indexed by namespace ({@linkcode POD_NAMESPACE_INDEX}) */
  pods: Informer;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** Removes the protection finalizers of unused claims and volumes; see the module docs. */
export class StorageProtectionController extends QueueController {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #claims: Informer;
  readonly #volumes: Informer;
  readonly #pods: Informer;
  readonly #claimType = requireKind("v1", "PersistentVolumeClaim");
  readonly #volumeType = requireKind("v1", "PersistentVolume");
  readonly #podType = requireKind("v1", "Pod");

  constructor(options: StorageProtectionControllerOptions) {
    super("storage protection controller", options);
    this.#store = options.store;
    this.#objects = new Objects(options.store);
    this.#claims = options.claims;
    this.#volumes = options.volumes;
    this.#pods = options.pods;
    this.#claims.onEvent((ev) => {
      if (ev.type !== "delete" && heldBy(ev.object, PVC_PROTECTION_FINALIZER)) {
        this.queue.add(claimKeyOf(ev.object));
      }
    });
    this.#volumes.onEvent((ev) => {
      if (ev.type !== "delete" && heldBy(ev.object, PV_PROTECTION_FINALIZER)) {
        this.queue.add(volumeKey(ev.object.metadata.name ?? ""));
      }
    });
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /** Converge one claim (`claim:<namespace>/<name>`) or volume (`volume:<name>`). */
  override async reconcile(key: string): Promise<boolean> {
    const what = parseKey(key);
    if (!what) return false;
    if (what.kind === "claim") {
      const claim = this.#claims.get(storeKey(this.#claimType, what.namespace, what.name));
      if (!claim || !heldBy(claim, PVC_PROTECTION_FINALIZER)) return false;
      if (claimInUse(claim, this.#pods.byIndex(POD_NAMESPACE_INDEX, what.namespace))) return false;
      // the cache may lag behind a pod that was just made: ask the store
      const pods = await this.#store.list(storePrefix(this.#podType, what.namespace));
      if (claimInUse(claim, pods.items)) return false;
      await this.#release(this.#claimType, claim, PVC_PROTECTION_FINALIZER);
      return false;
    }
    const volume = this.#volumes.get(storeKey(this.#volumeType, undefined, what.name));
    if (!volume || !heldBy(volume, PV_PROTECTION_FINALIZER) || phaseOf(volume) === "Bound") {
      return false;
    }
    const live = await this.#store.get(storeKey(this.#volumeType, undefined, what.name));
    if (!live || phaseOf(live) === "Bound" || !heldBy(live, PV_PROTECTION_FINALIZER)) return false;
    await this.#release(this.#volumeType, live, PV_PROTECTION_FINALIZER);
    return false;
  }

  /** Removes `finalizer` from `obj` if `obj` is still the stored version. */
  async #release(rt: ResourceType, obj: KubeObject, finalizer: string): Promise<void> {
    try {
      await this.#objects.update(
        rt,
        obj.metadata.namespace,
        obj.metadata.name ?? "",
        withoutFinalizer(obj, finalizer),
        WRITE,
      );
    } catch (e) {
      // changed or gone meanwhile: the cache's event for it queues it again
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }

  /** A pod that stops using its claims (gone, finished, moved) may free a claim being deleted. */
  #onPod(ev: InformerEvent): void {
    if (ev.type === "add") return;
    if (ev.type === "update" && podMayRun(ev.object) === podMayRun(ev.old)) return;
    const namespace = ev.object.metadata.namespace ?? "";
    for (const name of podClaimNames(ev.object)) {
      const claim = this.#claims.get(storeKey(this.#claimType, namespace, name));
      if (claim && heldBy(claim, PVC_PROTECTION_FINALIZER)) {
        this.queue.add(claimKey(namespace, name));
      }
    }
  }
}
