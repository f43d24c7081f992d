/**
 * The scheduler loop: binds each pending pod to a node.
 *
 * It keeps an informer-style cache fed by a list and a watch of pods, nodes and namespaces: the
 * {@linkcode Snapshot} (nodes and the pods bound to them) and the pending pods it is responsible
 * for (`spec.nodeName` empty, `spec.schedulerName` its own, no `deletionTimestamp`, no
 * `schedulingGates`). Level-based: watch events only update the cache and enqueue pod keys;
 * `reconcile(key)` plans the pod against the cache with {@linkcode schedulePod} and acts:
 *
 * - a node was found: `bind(pod, node, resourceVersion)`. The pod then counts against that
 *   node in the cache at once ("assumed", as in kube-scheduler), so the next pod sees it before
 *   the watch does. A bind that fails with `Conflict` (the pod changed, or another writer bound
 *   it) re-reads the pod from the store and plans again.
 * - no node fits: the pod's `PodScheduled` condition becomes `False`, reason `Unschedulable`,
 *   with the `0/N nodes are available: …` message (written through the status subresource with
 *   a resourceVersion precondition, and only when it differs), and a `FailedScheduling`
 *   Warning Event is recorded (the same message again bumps the count of the same Event). The
 *   pod then waits: it is retried when a node or a bound pod changes (at most once per
 *   `retryMs`), when its own spec or labels change, and every `resyncMs` regardless.
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
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store, StoreEvent, StoreWatch } from "../../storage/store.ts";
import { Objects, timestamp } from "../api/objects.ts";
import { EventRecorder } from "../events.ts";
import { WorkQueue } from "../work_queue.ts";
import { schedulePod } from "./schedule.ts";
import { Snapshot } from "./snapshot.ts";

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
  /** the kinds served; Pod, Node, Namespace and Event must be among them */
  types: readonly ResourceType[];
  /** writes go through this (default: `new Objects(store)`) */
  objects?: Objects;
  /** how a pod is bound (default: {@linkcode bindByUpdate}) */
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

function requireType(types: readonly ResourceType[], kind: string): ResourceType {
  const rt = types.find((t) => t.group === "" && t.kind === kind);
  if (!rt) throw new Error(`Cannot start the scheduler: the ${kind} resource type is missing`);
  return rt;
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
 * A {@linkcode BindFunction} that writes `spec.nodeName` with an update (resourceVersion
 * precondition), then sets `PodScheduled=True` through the status subresource: the in-process
 * stand-in for `POST pods/{name}/binding`.
 */
export function bindByUpdate(
  objects: Objects,
  pods: ResourceType,
  now: () => Date = () => new Date(),
): BindFunction {
  return async function bind(pod, nodeName, expectedResourceVersion) {
    const { namespace, name = "" } = pod.metadata;
    const assigned = specOf(pod).nodeName;
    if (assigned) {
      throw ApiError.conflict(
        { group: "", resource: "pods" },
        name,
        `pod ${name} is already assigned to node "${assigned}"`,
      );
    }
    const next = cloneJson(pod);
    next.spec = { ...specOf(pod), nodeName };
    next.metadata.resourceVersion = expectedResourceVersion;
    let bound = (await objects.update(pods, namespace, name, next, WRITE)).object;
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const conditions = conditionsOf(bound).filter((c) => c.type !== "PodScheduled");
      conditions.push({
        type: "PodScheduled",
        status: "True",
        lastTransitionTime: timestamp(now()),
      });
      const withStatus = { ...bound, status: { ...(bound.status as object), conditions } };
      try {
        await objects.update(pods, namespace, name, withStatus, {
          ...WRITE,
          subresource: "status",
        });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === "Conflict")) throw e;
        bound = await objects.get(pods, namespace, name);
        if (specOf(bound).nodeName !== nodeName) return;
      }
    }
  };
}

/** Binds pending pods to nodes; see the module doc. */
export class Scheduler {
  readonly #store: Store;
  readonly #objects: Objects;
  readonly #pods: ResourceType;
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
    this.#now = options.now ?? (() => new Date());
    this.#bind = options.bind ?? bindByUpdate(this.#objects, this.#pods, this.#now);
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
   * tried again after `retryMs` (bind races lost too often, or a status write conflicted).
   */
  async reconcile(key: string): Promise<boolean> {
    for (let attempt = 0; attempt < MAX_BIND_ATTEMPTS; attempt++) {
      const pod = this.#pending.get(key);
      if (!pod) return false;
      const result = schedulePod(pod, this.#snapshot);
      if ("unschedulable" in result) {
        return await this.#markUnschedulable(key, pod, result.unschedulable);
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

  // ---- the cache ----

  async #relist(prefix: string, observe: (ev: StoreEvent) => void): Promise<number> {
    const listed = await this.#store.list(prefix);
    const present = new Set(listed.items.map((o) => o.metadata.name ?? ""));
    if (prefix === "/core/pods/") {
      const keys = new Set(listed.items.map(keyOf));
      for (const key of [...this.#versions.keys()]) {
        if (!keys.has(key)) this.#forgetPod(key);
      }
    } else if (prefix === "/core/nodes/") {
      for (const node of this.#snapshot.nodes()) {
        if (!present.has(node.name)) this.#snapshot.deleteNode(node.name);
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
    if (ev.type === "DELETED") this.#snapshot.deleteNode(name);
    else this.#snapshot.setNode(ev.object);
    this.#kick();
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
      this.#pending.delete(key);
      this.#unschedulable.delete(key);
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
      this.#pending.delete(key);
      this.#unschedulable.delete(key);
      return;
    }
    this.#pending.set(key, obj);
    const waitingWith = this.#unschedulable.get(key);
    if (waitingWith !== undefined && waitingWith === schedulingInputs(obj)) return;
    this.#unschedulable.delete(key);
    this.#queue.add(key);
  }

  /** Forget a deleted pod; true when it counted against a node. */
  #forgetPod(key: string): boolean {
    const bound = this.#snapshot.pod(key) !== undefined;
    this.#versions.delete(key);
    this.#pending.delete(key);
    this.#unschedulable.delete(key);
    this.#snapshot.deletePod(key);
    return bound;
  }

  /** Re-read a pod after a lost bind race so the next plan starts from fresh state. */
  async #refresh(key: string, pod: KubeObject): Promise<void> {
    const fresh = await this.#store.get(
      storeKey(this.#pods, pod.metadata.namespace, pod.metadata.name ?? ""),
    );
    if (!fresh || fresh.metadata.uid !== pod.metadata.uid) {
      this.#pending.delete(key);
      return;
    }
    this.#versions.set(key, Number(fresh.metadata.resourceVersion ?? 0));
    this.#applyPod(key, fresh);
  }

  /** Count a just-bound pod against its node before the watch reports it. */
  #assume(key: string, pod: KubeObject, nodeName: string): void {
    const bound = cloneJson(pod);
    bound.spec = { ...specOf(pod), nodeName };
    this.#pending.delete(key);
    this.#unschedulable.delete(key);
    this.#snapshot.setPod(bound);
    this.#kick();
  }

  // ---- unschedulable pods ----

  async #markUnschedulable(key: string, pod: KubeObject, message: string): Promise<boolean> {
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
      this.#retryUnschedulable();
    }, this.#retryMs);
  }

  #retryUnschedulable(): void {
    const keys = [...this.#unschedulable.keys()];
    this.#unschedulable.clear();
    for (const key of keys) this.#queue.add(key);
  }

  #scheduleResync(): void {
    if (this.#stopped) return;
    const t = setTimeout(() => {
      this.#timers.delete(t);
      this.#retryUnschedulable();
      this.#scheduleResync();
    }, this.#resyncMs);
    this.#timers.add(t);
  }
}
