/**
 * {@linkcode PersistentVolumeController}: the binder of claims and volumes (Kubernetes'
 * persistentvolume-controller). It reconciles claims (`claim:<namespace>/<name>`) and volumes
 * (`volume:<name>`) from one queue; what each should become is decided by the pure functions of
 * `binder.ts`, and this class writes the difference:
 *
 * - binding writes the volume first (`spec.claimRef`, `status.phase: Bound`) with the
 *   resourceVersion it planned against, so two claims racing for one volume cannot both get it:
 *   the loser's write fails with Conflict, and it plans again from the store (not its cache);
 *   then the claim (`spec.volumeName`, annotations, status);
 * - statuses go through the status subresource, only when they differ, with resourceVersion
 *   preconditions; Events only when the controller has something new to say about an object
 *   (an idle cluster costs no writes);
 * - a volume whose claim seems gone is checked against the store before it is `Released`; a
 *   claim is planned again from the store before it is `Lost` or gets a Warning.
 *
 * Events queue keys: claims and the volumes they name or that name them; volumes and their
 * claims, plus, for a volume that turned `Available`, the unbound claims of its class; the
 * unbound claims of a StorageClass that changed; every unbound claim when a node comes, goes,
 * or changes readiness, schedulability or labels.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import { cloneJson, type KubeObject } from "../../storage/object.ts";
import {
  claimClassName,
  claimVolumeName,
  phaseOf,
  volumeClaimRef,
  volumeClassName,
} from "../../storage/persistent_volumes.ts";
import { requireKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects, sameJson, timestamp } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import type { Informer, InformerEvent } from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import { claimKey, claimKeyOf, parseKey, volumeKey } from "./_keys.ts";
import {
  claimBoundTo,
  type ClaimPlan,
  claimStatusWithoutVolume,
  type ClaimWorld,
  type EventSpec,
  nodeStorageChanged,
  planClaim,
  planVolume,
  volumeBoundTo,
  volumeStatus,
  volumeUnbound,
} from "./binder.ts";

export { claimKey, volumeKey };

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;
/** Plans of one claim per reconcile: a lost race plans again from the store, this often. */
const MAX_PLANS = 4;

/** Options of {@linkcode PersistentVolumeController}. */
export interface PersistentVolumeControllerOptions {
  store: Store;
  /** informer of `/core/persistentvolumes/` */
  volumes: Informer;
  /** informer of `/core/persistentvolumeclaims/` */
  claims: Informer;
  /** informer of `/storage.k8s.io/storageclasses/` */
  classes: Informer;
  /** informer of `/core/nodes/` */
  nodes: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The binder of claims and volumes; see the module documentation. */
export class PersistentVolumeController extends QueueController {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #volumes: Informer;
  readonly #claims: Informer;
  readonly #classes: Informer;
  readonly #nodes: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #volumeType = requireKind("v1", "PersistentVolume");
  readonly #claimType = requireKind("v1", "PersistentVolumeClaim");
  readonly #classType = requireKind("storage.k8s.io/v1", "StorageClass");
  /** object uid → the last Event recorded about it (said once, until there is news) */
  readonly #said = new Map<string, string>();

  constructor(options: PersistentVolumeControllerOptions) {
    super("persistentvolume controller", options);
    this.#store = options.store;
    this.#objects = new Objects(options.store);
    this.#volumes = options.volumes;
    this.#claims = options.claims;
    this.#classes = options.classes;
    this.#nodes = options.nodes;
    this.#events = options.events;
    this.#clock = options.clock ?? systemClock;
    this.#claims.onEvent((ev) => this.#onClaim(ev));
    this.#volumes.onEvent((ev) => this.#onVolume(ev));
    this.#classes.onEvent((ev) => this.#queueUnboundClaims(ev.object.metadata.name));
    this.#nodes.onEvent((ev) => {
      if (ev.type !== "update" || nodeStorageChanged(ev.old, ev.object)) {
        this.#queueUnboundClaims(undefined);
      }
    });
  }

  /** Converge one claim (`claim:<namespace>/<name>`) or volume (`volume:<name>`). */
  override async reconcile(key: string): Promise<boolean> {
    const what = parseKey(key);
    if (!what) return false;
    if (what.kind === "claim") return await this.#syncClaim(what.namespace, what.name);
    return await this.#syncVolume(what.name);
  }

  async #syncClaim(namespace: string, name: string): Promise<boolean> {
    const key = storeKey(this.#claimType, namespace, name);
    let claim = this.#claims.get(key);
    if (!claim) return false;
    let world = this.#cachedWorld();
    let plan = planClaim(claim, world);
    if (plan.action === "lost" || (plan.action === "pending" && plan.event?.type === "Warning")) {
      // a problem is confirmed against the store before it is reported: the cache may not
      // have seen a volume yet (one made along with the claim, or the one it is bound to)
      world = await this.#liveWorld();
      plan = planClaim(claim, world);
    }
    for (let plans = 1;; plans++) {
      if (await this.#carryOut(claim, plan)) return false;
      // a write lost a race: plan again from the store
      if (plans >= MAX_PLANS) return true;
      const live = await this.#store.get(key);
      if (!live) return false;
      claim = live;
      world = await this.#liveWorld();
      plan = planClaim(claim, world);
    }
  }

  /** Does what `plan` says; false when a write lost a race (Conflict, or the object is gone). */
  async #carryOut(claim: KubeObject, plan: ClaimPlan): Promise<boolean> {
    switch (plan.action) {
      case "bind": {
        let volume = plan.volume;
        const boundVolume = volumeBoundTo(volume, claim, this.#now());
        if (!sameJson(boundVolume, volume)) {
          const stored = await this.#write(this.#volumeType, boundVolume, { allowStatus: true });
          if (!stored) return false;
          volume = stored;
        }
        const boundClaim = claimBoundTo(claim, volume);
        if (!sameJson(boundClaim, claim)) {
          if (!await this.#write(this.#claimType, boundClaim, { allowStatus: true })) return false;
        }
        await this.#say(claim, undefined);
        return true;
      }
      case "pending":
      case "lost": {
        const status = claimStatusWithoutVolume(claim, plan.action === "lost" ? "Lost" : "Pending");
        if (!sameJson(status, claim.status)) {
          const next = { ...claim, status };
          if (!await this.#write(this.#claimType, next, { subresource: "status" })) return false;
        }
        await this.#say(claim, plan.event);
        return true;
      }
      case "provision": {
        const next = cloneJson(claim);
        next.metadata.annotations = { ...next.metadata.annotations, ...plan.annotations };
        next.status = claimStatusWithoutVolume(claim, "Pending");
        if (!sameJson(next, claim)) {
          if (!await this.#write(this.#claimType, next, { allowStatus: true })) return false;
        }
        await this.#say(claim, plan.event);
        return true;
      }
    }
  }

  async #syncVolume(name: string): Promise<boolean> {
    const volume = this.#volumes.get(storeKey(this.#volumeType, undefined, name));
    if (!volume) return false;
    const plan = planVolume(volume, await this.#claimOf(volume));
    switch (plan.action) {
      case "syncClaim":
        this.queue.add(claimKey(plan.namespace, plan.name));
        return false;
      case "unbind":
        await this.#write(this.#volumeType, volumeUnbound(volume, this.#now()), {
          allowStatus: true,
        });
        await this.#say(volume, undefined);
        return false;
      case "phase": {
        const status = volumeStatus(volume, plan.phase, this.#now(), plan.message);
        if (!sameJson(status, volume.status)) {
          const next = { ...volume, status };
          if (!await this.#write(this.#volumeType, next, { subresource: "status" })) return false;
        }
        await this.#say(volume, plan.event);
        return false;
      }
    }
  }

  /**
   * The claim a volume's `claimRef` names, as it is: from the cache when it agrees, else from
   * the store (a claim the cache has not seen yet must not get its volume released). A volume
   * already Released or Failed is not looked up again.
   */
  async #claimOf(volume: KubeObject): Promise<KubeObject | undefined> {
    const ref = volumeClaimRef(volume);
    if (ref?.uid === undefined) return undefined;
    const key = storeKey(this.#claimType, ref.namespace, ref.name);
    const cached = this.#claims.get(key);
    if (cached?.metadata.uid === ref.uid) return cached;
    const phase = phaseOf(volume);
    if (phase === "Released" || phase === "Failed") return cached;
    return (await this.#store.get(key)) ?? undefined;
  }

  /**
   * Writes `obj` (its resourceVersion is the precondition); the stored object, or undefined
   * when the write lost a race (Conflict) or the object is gone.
   */
  async #write(
    rt: ResourceType,
    obj: KubeObject,
    options: { subresource?: "status"; allowStatus?: boolean },
  ): Promise<KubeObject | undefined> {
    try {
      const result = await this.#objects.update(
        rt,
        obj.metadata.namespace,
        obj.metadata.name ?? "",
        obj,
        { ...WRITE, ...options },
      );
      return result.object;
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return undefined;
      // `Objects` validates against the stored object before it checks the resourceVersion: a
      // stale write may be refused as Invalid (a claim's volumeName set meanwhile) rather than
      // as a Conflict
      if (e instanceof ApiError && e.code === 422 && await this.#changed(rt, obj)) {
        return undefined;
      }
      throw e;
    }
  }

  /** True when the stored `obj` is gone or of another resourceVersion than `obj`. */
  async #changed(rt: ResourceType, obj: KubeObject): Promise<boolean> {
    const stored = await this.#store.get(
      storeKey(rt, obj.metadata.namespace, obj.metadata.name ?? ""),
    );
    return stored?.metadata.resourceVersion !== obj.metadata.resourceVersion;
  }

  /** Records `event` about `obj` unless it was the last thing said about it. */
  async #say(obj: KubeObject, event: EventSpec | undefined): Promise<void> {
    const uid = obj.metadata.uid ?? "";
    if (!event) {
      this.#said.delete(uid);
      return;
    }
    const said = `${event.type}/${event.reason}/${event.message}`;
    if (this.#said.get(uid) === said) return;
    this.#said.set(uid, said);
    await this.#events.record(obj, event.type, event.reason, event.message);
  }

  #now(): string {
    return timestamp(new Date(this.#clock.now()));
  }

  #cachedWorld(): ClaimWorld {
    return this.#world(this.#volumes.list());
  }

  async #liveWorld(): Promise<ClaimWorld> {
    return this.#world((await this.#store.list(storePrefix(this.#volumeType))).items);
  }

  #world(volumes: KubeObject[]): ClaimWorld {
    return {
      volumes,
      claims: this.#claims.list(),
      nodes: this.#nodes.list(),
      storageClass: (name) => this.#classes.get(storeKey(this.#classType, undefined, name)),
    };
  }

  #onClaim(ev: InformerEvent): void {
    const claim = ev.object;
    if (ev.type === "delete") this.#said.delete(claim.metadata.uid ?? "");
    else this.queue.add(claimKeyOf(claim));
    const names = new Set<string>();
    for (const c of ev.type === "update" ? [claim, ev.old] : [claim]) {
      const volumeName = claimVolumeName(c);
      if (volumeName !== "") names.add(volumeName);
    }
    for (const volume of this.#volumes.list()) {
      const ref = volumeClaimRef(volume);
      if (ref?.namespace === claim.metadata.namespace && ref?.name === claim.metadata.name) {
        names.add(volume.metadata.name ?? "");
      }
    }
    for (const name of names) this.queue.add(volumeKey(name));
  }

  #onVolume(ev: InformerEvent): void {
    const volume = ev.object;
    const name = volume.metadata.name ?? "";
    if (ev.type === "delete") this.#said.delete(volume.metadata.uid ?? "");
    else this.queue.add(volumeKey(name));
    for (const v of ev.type === "update" ? [volume, ev.old] : [volume]) {
      const ref = volumeClaimRef(v);
      if (ref) this.queue.add(claimKey(ref.namespace, ref.name));
    }
    const free = ev.type !== "delete" && !volumeClaimRef(volume) &&
      phaseOf(volume) === "Available";
    for (const claim of this.#claims.list()) {
      const claimed = claimVolumeName(claim);
      if (
        claimed === name ||
        (free && claimed === "" && claimClassName(claim) === volumeClassName(volume))
      ) {
        this.queue.add(claimKeyOf(claim));
      }
    }
  }

  /** Queues the claims without a volume (of class `className`, or all). */
  #queueUnboundClaims(className: string | undefined): void {
    for (const claim of this.#claims.list()) {
      if (claimVolumeName(claim) !== "") continue;
      if (className !== undefined && claimClassName(claim) !== className) continue;
      this.queue.add(claimKeyOf(claim));
    }
  }
}
