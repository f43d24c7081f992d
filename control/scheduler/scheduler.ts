/**
 * The scheduler loop: binds each pending pod to a node.
 *
 * It keeps an informer-style cache fed by a list and a watch of pods, nodes, namespaces,
 * PersistentVolumeClaims, PersistentVolumes and StorageClasses: the {@linkcode Snapshot} (nodes
 * and the pods bound to them, and the storage objects VolumeBinding reads) and the pending pods
 * it is responsible for (`spec.nodeName` empty, `spec.schedulerName` its own, no
 * `deletionTimestamp`, no `schedulingGates`). Level-based: watch events only update the cache and enqueue pod keys;
 * `reconcile(key)` plans the pod against the cache with {@linkcode schedulePod} and acts:
 *
 * - a node was found: `bind(pod, node, resourceVersion)`. The pod then counts against that
 *   node in the cache at once ("assumed", as in kube-scheduler), so the next pod sees it before
 *   the watch does. A bind that fails with `Conflict` (the pod changed, or another writer bound
 *   it) re-reads the pod from the store and plans again.
 * - no node fits: the pod's `PodScheduled` condition becomes `False`, reason `Unschedulable`,
 *   with the `0/N nodes are available: …` message (written through the status subresource with
 *   a resourceVersion precondition, and only when it differs), and a `FailedScheduling`
 *   Warning Event is recorded (the same message again bumps the count of the same Event).
 *   For a pod with claims, the claims, their classes and volumes are first read from the store:
 *   when the cache was merely behind (the pod's watch event came before its claim's), it plans
 *   again instead. The pod then waits: it is retried when a node, a bound pod, a PersistentVolume or a
 *   StorageClass changes (at most once per `retryMs`), when one of its claims changes, when its
 *   own spec or labels change, and every `resyncMs` regardless.
 * - a node was found, but the pod's unbound WaitForFirstConsumer claims still need volumes:
 *   the node is written into each claim's `volume.kubernetes.io/selected-node` (an update with
 *   a resourceVersion precondition; a `Conflict` re-reads the claim and plans again) and the
 *   pod is not bound. It waits, without condition or Event, for its claims: a change of one of
 *   them (found through an index of the pending pods by claim) plans it again, as do the
 *   deletion of a node and every `resyncMs`. Once the claims are bound, VolumeBinding leaves
 *   only their volumes' node and the pod is bound as usual; while they are unbound but already
 *   name a node, the pod keeps waiting.
 *
 * @example
 * ```ts
 * const scheduler = new Scheduler({ store, types: RESOURCE_TYPES, bind: bindThroughBinding });
 * await scheduler.start();
 * // … pending pods get a node …
 * await scheduler.stop();
 * ```
 *
 * @module
 */

import { systemClock } from "../../storage/clock.ts";
import type { Pod } from "../../storage/kinds/pod.ts";
import { cloneJson, type KubeObject } from "../../storage/object.ts";
import {
  ANN_SELECTED_NODE,
  claimClassName,
  claimVolumeName,
  podClaimNames,
} from "../../storage/persistent_volumes.ts";
import { type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store, StoreEvent, StoreWatch } from "../../storage/store.ts";
import { bindPod } from "../api/binding.ts";
import { Objects, timestamp } from "../api/objects.ts";
import { EventRecorder } from "../events.ts";
import { WorkQueue } from "../work_queue.ts";
import { schedulePod } from "./schedule.ts";
import { Snapshot } from "./snapshot.ts";
import { claimsToSelect } from "./volume_binding.ts";
import { claimKey } from "./volumes.ts";

/** The scheduler name pods get by default (`spec.schedulerName`). */
export const DEFAULT_SCHEDULER_NAME = "default-scheduler";

/** How many times one reconcile plans again after losing a bind race. */
const MAX_BIND_ATTEMPTS = 5;
const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/**
 * Binds `pod` to `nodeName`. Must fail with `ApiError` Conflict when the stored pod's
 * resourceVersion is not `expectedResourceVersion` or the pod already has a node, and with
 * NotFound when the pod is gone; a successful bind sets `spec.nodeName` (and, as the
 * `pods/binding` subresource does, the `PodScheduled=True` condition).
 */
export type BindFunction = (
  pod: KubeObject,
  nodeName: string,
  expectedResourceVersion: string,
) => Promise<void>;

/** Options of {@linkcode Scheduler}. */
export interface SchedulerOptions {
  store: Store;
  /**
   * the kinds served; Pod, Node, Namespace, Event, PersistentVolumeClaim, PersistentVolume and
   * StorageClass must be among them
   */
  types: readonly ResourceType[];
  /** writes go through this (default: `new Objects(store)`) */
  objects?: Objects;
  /** how a pod is bound (default: {@linkcode bindThroughBinding}) */
  bind?: BindFunction;
  /** pods whose `spec.schedulerName` is this are ours (default `default-scheduler`) */
  schedulerName?: string;
  /**
   * delay before retrying after an error, and the least time between two retries of the
   * unschedulable pods caused by cluster changes (default 1 s)
   */
  retryMs?: number;
  /** period of retrying every unschedulable pod whatever happened (default 60 s) */
  resyncMs?: number;
  /** the time stamped on conditions and Events (default: the system clock) */
  now?: () => Date;
}

function requireType(types: readonly ResourceType[], kind: string, group = ""): ResourceType {
  const rt = types.find((t) => t.group === group && t.kind === kind);
  if (!rt) throw new Error(`Cannot start the scheduler: the ${kind} resource type is missing`);
  return rt;
}

function version(obj: KubeObject | undefined): number {
  return Number(obj?.metadata.resourceVersion ?? 0);
}

function keyOf(obj: KubeObject): string {
  return `${obj.metadata.namespace ?? ""}/${obj.metadata.name ?? ""}`;
}

function specOf(obj: KubeObject): Pod["spec"] {
  return (obj as unknown as Pod).spec ?? { containers: [] };
}

/** What scheduling depends on in the pod itself: when unchanged, retrying cannot help. */
function schedulingInputs(obj: KubeObject): string {
  return JSON.stringify([obj.spec, obj.metadata.labels ?? {}]);
}

function conditionsOf(obj: KubeObject): NonNullable<NonNullable<Pod["status"]>["conditions"]> {
  return (obj as unknown as Pod).status?.conditions ?? [];
}

/**
 * The {@linkcode BindFunction} of `POST pods/{name}/binding` ({@linkcode bindPod}): one write of
 * `spec.nodeName` and `PodScheduled=True`, refused with Conflict when the pod changed since
 * `expectedResourceVersion` or is bound already. A plain update cannot bind: no pod update may
 * change `spec.nodeName`.
 */
export function bindThroughBinding(objects: Objects, pods: ResourceType): BindFunction {
  return async function bind(pod, nodeName, expectedResourceVersion) {
    const { namespace = "", name = "" } = pod.metadata;
    await bindPod(objects, pods, namespace, name, nodeName, expectedResourceVersion);
  };
}

/** Binds pending pods to nodes; see the module doc. */
export class Scheduler {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #pods: ResourceType;
  readonly #claims: ResourceType;
  readonly #volumeTypes: { volumes: ResourceType; classes: ResourceType };
  readonly #events: EventRecorder;
  readonly #bind: BindFunction;
  readonly #name: string;
  readonly #retryMs: number;
  readonly #resyncMs: number;
  readonly #now: () => Date;
  readonly #snapshot = new Snapshot();
  /** pods we must place, by `namespace/name` */
  readonly #pending = new Map<string, KubeObject>();
  /** the last resourceVersion seen per pod key: an event no newer than that changes nothing */
  readonly #versions = new Map<string, number>();
  /** unschedulable pods → their scheduling inputs at the failed attempt */
  readonly #unschedulable = new Map<string, string>();
  /** pods waiting for their claims to be bound → their scheduling inputs then */
  readonly #waiting = new Map<string, string>();
  /** pending pod → the `namespace/name` of the claims it names */
  readonly #podClaims = new Map<string, string[]>();
  /** claim `namespace/name` → the pending pods naming it */
  readonly #claimPods = new Map<string, Set<string>>();
  readonly #queue: WorkQueue;
  /** the resync timer and the watches' relist pauses */
  readonly #timers = new Set<ReturnType<typeof setTimeout>>();
  readonly #abort = new AbortController();
  readonly #watches = new Set<StoreWatch>();
  #flushTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #done: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    this.#store = options.store;
    this.#objects = options.objects ?? new Objects(options.store);
    this.#pods = requireType(options.types, "Pod");
    requireType(options.types, "Node");
    requireType(options.types, "Namespace");
    this.#claims = requireType(options.types, "PersistentVolumeClaim");
    this.#volumeTypes = {
      volumes: requireType(options.types, "PersistentVolume"),
      classes: requireType(options.types, "StorageClass", "storage.k8s.io"),
    };
    this.#now = options.now ?? (() => new Date());
    this.#bind = options.bind ?? bindThroughBinding(this.#objects, this.#pods);
    this.#name = options.schedulerName ?? DEFAULT_SCHEDULER_NAME;
    this.#events = new EventRecorder({
      store: options.store,
      component: this.#name,
      clock: { now: () => this.#now().getTime(), sleep: systemClock.sleep },
    });
    this.#retryMs = options.retryMs ?? 1000;
    this.#resyncMs = options.resyncMs ?? 60_000;
    this.#queue = new WorkQueue({
      reconcile: (key) => this.reconcile(key),
      onError: (key, e) => console.error(`scheduler: schedule ${key}:`, e),
      retryMs: this.#retryMs,
    });
  }

  /** Start: fill the cache from lists, follow the watches, schedule what is pending. */
  async start(): Promise<void> {
    const sources: [string, (ev: StoreEvent) => void][] = [
      ["/core/namespaces/", (ev) => this.#observeNamespace(ev)],
      ["/core/nodes/", (ev) => this.#observeNode(ev)],
      ["/core/pods/", (ev) => this.#observePod(ev)],
      [storePrefix(this.#claims), (ev) => this.#observeClaim(ev)],
      [storePrefix(this.#volumeTypes.volumes), (ev) => this.#observeVolume(ev)],
      [storePrefix(this.#volumeTypes.classes), (ev) => this.#observeClass(ev)],
    ];
    const revisions: number[] = [];
    for (const [prefix, observe] of sources) revisions.push(await this.#relist(prefix, observe));
    this.#scheduleResync();
    this.#queue.start();
    this.#done = Promise.all(
      sources.map(([prefix, observe], i) => this.#follow(prefix, revisions[i] ?? 0, observe)),
    ).then(() => {});
  }

  /** Stop the watches, the worker and every timer; resolves once all of them have ended. */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#abort.abort();
    for (const w of this.#watches) w.close();
    for (const t of this.#timers) clearTimeout(t);
    this.#timers.clear();
    if (this.#flushTimer !== undefined) clearTimeout(this.#flushTimer);
    this.#flushTimer = undefined;
    await Promise.all([this.#queue.stop(), this.#done]);
  }

  /**
   * Schedule the pending pod `namespace/name` if there is one; returns true when it must be
   * tried again after `retryMs` (bind or claim-update races lost too often, or a status write
   * conflicted).
   */
  async reconcile(key: string): Promise<boolean> {
    let caughtUp = false;
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const pod = this.#pending.get(key);
      if (!pod) return false;
      const result = schedulePod(pod, this.#snapshot);
      if ("unschedulable" in result) {
        if (!caughtUp) {
          caughtUp = true;
          if (await this.#catchUpVolumes(pod)) continue;
        }
        return await this.#markUnschedulable(key, pod, result.unschedulable);
      }
      if (result.waitForClaims) {
        if (!(await this.#selectNode(result.node, result.waitForClaims))) continue;
        this.#unschedulable.delete(key);
        this.#waiting.set(key, schedulingInputs(pod));
        return false;
      }
      try {
        await this.#bind(pod, result.node, pod.metadata.resourceVersion ?? "");
      } catch (e) {
        if (!(e instanceof ApiError) || (e.reason !== "Conflict" && e.reason !== "NotFound")) {
          throw e;
        }
        await this.#refresh(key, pod);
        continue;
      }
      this.#assume(key, pod, result.node);
      return false;
    }
    return true;
  }

  /**
   * Write `volume.kubernetes.io/selected-node: <node>` on each of `claims` that does not name
   * `node` yet. False when a write lost a race (or the claim is gone): the claim is re-read
   * into the cache and the pod must be planned again.
   */
  async #selectNode(node: string, claims: readonly KubeObject[]): Promise<boolean> {
    const volumes = this.#snapshot.volumes;
    for (const claim of claimsToSelect(claims, node)) {
      const { namespace = "", name = "" } = claim.metadata;
      const next = cloneJson(claim);
      next.metadata.annotations = { ...next.metadata.annotations, [ANN_SELECTED_NODE]: node };
      try {
        const written = await this.#objects.update(this.#claims, namespace, name, next, WRITE);
        volumes.setClaim(written.object);
      } catch (e) {
        if (!(e instanceof ApiError) || (e.reason !== "Conflict" && e.reason !== "NotFound")) {
          throw e;
        }
        const fresh = await this.#store.get(storeKey(this.#claims, namespace, name));
        if (fresh) volumes.setClaim(fresh);
        else volumes.deleteClaim(claimKey(namespace, name));
        return false;
      }
    }
    return true;
  }

  /**
   * Read the pod's claims, their classes and their volumes from the store into the cache;
   * true when the cache was behind (an object newer, gone, or missing from it).
   */
  async #catchUpVolumes(pod: KubeObject): Promise<boolean> {
    const volumes = this.#snapshot.volumes;
    const namespace = pod.metadata.namespace ?? "";
    let changed = false;
    /** The stored object `rt` `name`, put into the cache when the cache was behind. */
    const read = async (
      rt: ResourceType,
      name: string,
      held: KubeObject | undefined,
      put: (obj: KubeObject) => void,
      forget: () => void,
    ): Promise<KubeObject | undefined> => {
      if (name === "") return undefined;
      const key = storeKey(rt, rt.namespaced ? namespace : undefined, name);
      const fresh = (await this.#store.get(key)) ?? undefined;
      if (fresh && version(fresh) > version(held)) {
        put(fresh);
        changed = true;
      } else if (!fresh && held) {
        forget();
        changed = true;
      }
      return fresh;
    };
    const { volumes: pvs, classes } = this.#volumeTypes;
    for (const name of podClaimNames(pod)) {
      const claim = await read(
        this.#claims,
        name,
        volumes.claim(namespace, name),
        (o) => volumes.setClaim(o),
        () => volumes.deleteClaim(claimKey(namespace, name)),
      );
      if (!claim) continue;
      const className = claimClassName(claim);
      await read(
        classes,
        className,
        volumes.storageClass(className),
        (o) => volumes.setClass(o),
        () => volumes.deleteClass(className),
      );
      const volumeName = claimVolumeName(claim);
      await read(
        pvs,
        volumeName,
        volumes.volume(volumeName),
        (o) => volumes.setVolume(o),
        () => volumes.deleteVolume(volumeName),
      );
    }
    return changed;
  }

  // ---- the cache ----

  async #relist(prefix: string, observe: (ev: StoreEvent) => void): Promise<number> {
    const listed = await this.#store.list(prefix);
    const present = new Set(listed.items.map((o) => o.metadata.name ?? ""));
    const volumes = this.#snapshot.volumes;
    if (prefix === "/core/pods/") {
      const keys = new Set(listed.items.map(keyOf));
      for (const key of [...this.#versions.keys()]) {
        if (!keys.has(key)) this.#forgetPod(key);
      }
    } else if (prefix === "/core/nodes/") {
      for (const node of this.#snapshot.nodes()) {
        if (!present.has(node.name)) this.#snapshot.deleteNode(node.name);
      }
    } else if (prefix === storePrefix(this.#claims)) {
      const keys = new Set(listed.items.map(keyOf));
      for (const key of volumes.claimKeys()) {
        if (keys.has(key)) continue;
        volumes.deleteClaim(key);
        this.#requeueClaimPods(key);
      }
    } else if (prefix === storePrefix(this.#volumeTypes.volumes)) {
      for (const name of volumes.volumeNames()) {
        if (!present.has(name)) volumes.deleteVolume(name);
      }
    } else if (prefix === storePrefix(this.#volumeTypes.classes)) {
      for (const name of volumes.classNames()) {
        if (!present.has(name)) volumes.deleteClass(name);
      }
    }
    for (const object of listed.items) {
      observe({ type: "ADDED", key: "", revision: listed.revision, object });
    }
    this.#kick();
    return listed.revision;
  }

  async #follow(
    prefix: string,
    revision: number,
    observe: (ev: StoreEvent) => void,
  ): Promise<void> {
    let from = revision;
    while (!this.#stopped) {
      try {
        const watch = this.#store.watch(prefix, from);
        this.#watches.add(watch);
        if (this.#stopped) watch.close();
        try {
          for await (const ev of watch) {
            observe(ev);
            from = ev.revision;
          }
        } finally {
          this.#watches.delete(watch);
        }
        if (this.#stopped) return;
        console.error(`scheduler: watch of ${prefix} ended; relisting`);
      } catch (e) {
        if (this.#stopped) return;
        console.error(`scheduler: watch of ${prefix} failed; relisting:`, e);
      }
      await this.#pause(this.#retryMs);
      if (this.#stopped) return;
      try {
        from = await this.#relist(prefix, observe);
      } catch (e) {
        console.error(`scheduler: relist of ${prefix} failed:`, e);
      }
    }
  }

  #pause(ms: number): Promise<void> {
    const signal = this.#abort.signal;
    return new Promise((resolve) => {
      if (signal.aborted) return resolve();
      const done = () => {
        clearTimeout(t);
        this.#timers.delete(t);
        signal.removeEventListener("abort", done);
        resolve();
      };
      const t = setTimeout(done, ms);
      this.#timers.add(t);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  #observeNamespace(ev: StoreEvent): void {
    const name = ev.object.metadata.name ?? "";
    if (ev.type === "DELETED") this.#snapshot.deleteNamespace(name);
    else this.#snapshot.setNamespace(ev.object);
    this.#kick();
  }

  #observeNode(ev: StoreEvent): void {
    const name = ev.object.metadata.name ?? "";
    if (ev.type === "DELETED") {
      this.#snapshot.deleteNode(name);
      // a claim may have named it as its selected node: choose again
      this.#retry(this.#waiting);
    } else {
      this.#snapshot.setNode(ev.object);
    }
    this.#kick();
  }

  #observeClaim(ev: StoreEvent): void {
    const key = keyOf(ev.object);
    const volumes = this.#snapshot.volumes;
    if (ev.type === "DELETED") volumes.deleteClaim(key);
    else if (!volumes.setClaim(ev.object)) return;
    this.#requeueClaimPods(key);
  }

  #observeVolume(ev: StoreEvent): void {
    const name = ev.object.metadata.name ?? "";
    if (ev.type === "DELETED") this.#snapshot.volumes.deleteVolume(name);
    else if (!this.#snapshot.volumes.setVolume(ev.object)) return;
    this.#kick();
  }

  #observeClass(ev: StoreEvent): void {
    const name = ev.object.metadata.name ?? "";
    if (ev.type === "DELETED") this.#snapshot.volumes.deleteClass(name);
    else if (!this.#snapshot.volumes.setClass(ev.object)) return;
    this.#kick();
  }

  /** A claim changed: plan the pending pods that name it again. */
  #requeueClaimPods(claim: string): void {
    for (const key of this.#claimPods.get(claim) ?? []) {
      this.#unschedulable.delete(key);
      this.#waiting.delete(key);
      this.#queue.add(key);
    }
  }

  #observePod(ev: StoreEvent): void {
    const key = keyOf(ev.object);
    if (ev.type === "DELETED") {
      if (this.#forgetPod(key)) this.#kick();
      return;
    }
    const version = Number(ev.object.metadata.resourceVersion ?? 0);
    if (version <= (this.#versions.get(key) ?? 0)) return;
    this.#versions.set(key, version);
    this.#applyPod(key, ev.object);
  }

  /** Put a newer state of a pod into the cache. */
  #applyPod(key: string, obj: KubeObject): void {
    const spec = specOf(obj);
    if (spec.nodeName) {
      this.#dropPending(key);
      const before = this.#snapshot.pod(key);
      this.#snapshot.setPod(obj);
      const after = this.#snapshot.pod(key);
      const changed = !before || !after || before.nodeName !== after.nodeName ||
        JSON.stringify(before.labels) !== JSON.stringify(after.labels);
      if (changed) this.#kick();
      return;
    }
    if (this.#snapshot.pod(key)) {
      this.#snapshot.deletePod(key);
      this.#kick();
    }
    const ours = (spec.schedulerName ?? DEFAULT_SCHEDULER_NAME) === this.#name &&
      !obj.metadata.deletionTimestamp && (spec.schedulingGates ?? []).length === 0;
    if (!ours) {
      this.#dropPending(key);
      return;
    }
    this.#setPending(key, obj);
    const parkedWith = this.#unschedulable.get(key) ?? this.#waiting.get(key);
    if (parkedWith !== undefined && parkedWith === schedulingInputs(obj)) return;
    this.#unschedulable.delete(key);
    this.#waiting.delete(key);
    this.#queue.add(key);
  }

  /** Forget a deleted pod; true when it counted against a node. */
  #forgetPod(key: string): boolean {
    const bound = this.#snapshot.pod(key) !== undefined;
    this.#versions.delete(key);
    this.#dropPending(key);
    this.#snapshot.deletePod(key);
    return bound;
  }

  /** Hold a pod we must place, indexed by the claims it names. */
  #setPending(key: string, obj: KubeObject): void {
    this.#pending.set(key, obj);
    const namespace = obj.metadata.namespace ?? "";
    const claims = podClaimNames(obj).map((name) => claimKey(namespace, name));
    const old = this.#podClaims.get(key);
    if (old?.length === claims.length && old.every((c, i) => c === claims[i])) return;
    this.#unindex(key);
    if (claims.length === 0) return;
    this.#podClaims.set(key, claims);
    for (const claim of claims) {
      let pods = this.#claimPods.get(claim);
      if (!pods) this.#claimPods.set(claim, pods = new Set());
      pods.add(key);
    }
  }

  /** The pod is no longer ours to place (bound, gone, or not ours). */
  #dropPending(key: string): void {
    this.#pending.delete(key);
    this.#unschedulable.delete(key);
    this.#waiting.delete(key);
    this.#unindex(key);
  }

  #unindex(key: string): void {
    const claims = this.#podClaims.get(key);
    if (!claims) return;
    this.#podClaims.delete(key);
    for (const claim of claims) {
      const pods = this.#claimPods.get(claim);
      pods?.delete(key);
      if (pods?.size === 0) this.#claimPods.delete(claim);
    }
  }

  /** Re-read a pod after a lost bind race so the next plan starts from fresh state. */
  async #refresh(key: string, pod: KubeObject): Promise<void> {
    const fresh = await this.#store.get(
      storeKey(this.#pods, pod.metadata.namespace, pod.metadata.name ?? ""),
    );
    if (!fresh || fresh.metadata.uid !== pod.metadata.uid) {
      this.#dropPending(key);
      return;
    }
    this.#versions.set(key, Number(fresh.metadata.resourceVersion ?? 0));
    this.#applyPod(key, fresh);
  }

  /** Count a just-bound pod against its node before the watch reports it. */
  #assume(key: string, pod: KubeObject, nodeName: string): void {
    const bound = cloneJson(pod);
    bound.spec = { ...specOf(pod), nodeName };
    this.#dropPending(key);
    this.#snapshot.setPod(bound);
    this.#kick();
  }

  // ---- unschedulable pods ----

  async #markUnschedulable(key: string, pod: KubeObject, message: string): Promise<boolean> {
    this.#waiting.delete(key);
    this.#unschedulable.set(key, schedulingInputs(pod));
    await this.#recordEvent(pod, message);
    const conditions = conditionsOf(pod);
    const current = conditions.find((c) => c.type === "PodScheduled");
    if (
      current?.status === "False" && current.reason === "Unschedulable" &&
      current.message === message
    ) {
      return false;
    }
    const next = cloneJson(pod);
    next.status = {
      ...(pod.status as object),
      conditions: [
        ...conditions.filter((c) => c.type !== "PodScheduled"),
        {
          type: "PodScheduled",
          status: "False",
          reason: "Unschedulable",
          message,
          lastTransitionTime: current?.status === "False" && current.lastTransitionTime
            ? current.lastTransitionTime
            : timestamp(this.#now()),
        },
      ],
    };
    try {
      await this.#objects.update(
        this.#pods,
        pod.metadata.namespace,
        pod.metadata.name ?? "",
        next,
        {
          ...WRITE,
          subresource: "status",
        },
      );
    } catch (e) {
      if (e instanceof ApiError && e.reason === "NotFound") return false;
      if (e instanceof ApiError && e.reason === "Conflict") {
        this.#unschedulable.delete(key);
        return true;
      }
      throw e;
    }
    return false;
  }

  /** Record a FailedScheduling Event (best effort: a failure is logged, not retried). */
  async #recordEvent(pod: KubeObject, message: string): Promise<void> {
    await this.#events.record(pod, "Warning", "FailedScheduling", message);
  }

  /** The cluster changed: retry the unschedulable pods, at most once per `retryMs`. */
  #kick(): void {
    if (this.#stopped || this.#unschedulable.size === 0 || this.#flushTimer !== undefined) return;
    this.#flushTimer = setTimeout(() => {
      this.#flushTimer = undefined;
      this.#retry(this.#unschedulable);
    }, this.#retryMs);
  }

  /** Plan every pod of `parked` (the unschedulable or the waiting ones) again. */
  #retry(parked: Map<string, string>): void {
    const keys = [...parked.keys()];
    parked.clear();
    for (const key of keys) this.#queue.add(key);
  }

  #scheduleResync(): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#retry(this.#unschedulable);
      this.#retry(this.#waiting);
      this.#scheduleResync();
    }, this.#resyncMs);
    this.#timers.add(t);
  }
}
