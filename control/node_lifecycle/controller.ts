/**
 * {@linkcode NodeLifecycleController}: kube-controller-manager's node lifecycle controller and
 * NoExecute taint manager, in small. One idempotent `reconcile(nodeName)` converges a node and
 * the pods bound to it:
 *
 * 1. A node silent for longer than its grace period (no Lease renewal, no Ready heartbeat)
 *    gets its Ready, MemoryPressure, DiskPressure and PIDPressure conditions set to Unknown
 *    (reason `NodeStatusUnknown`, "Kubelet stopped posting node status.").
 * 2. Its taints follow its conditions: `node.kubernetes.io/unreachable` (Ready Unknown) or
 *    `node.kubernetes.io/not-ready` (Ready False) as NoSchedule and NoExecute, the pressure
 *    taints and `unschedulable` as NoSchedule; they go when the condition clears.
 * 3. When the node stops being Ready, a `NodeNotReady` Event is recorded on it and its pods'
 *    Ready conditions are set to False (each with a `NodeNotReady` Event).
 * 4. Pods on a node with NoExecute taints are deleted (gracefully, `TaintManagerEviction`
 *    Event, `DisruptionTarget` condition) once a taint they do not tolerate is there, or when
 *    their toleration's `tolerationSeconds` since the taint's `timeAdded` runs out. A pod with
 *    no toleration for `not-ready`/`unreachable` is given the API server's default one
 *    (`defaultTolerationSeconds`, 300 s); a DaemonSet's pods tolerate them forever.
 *
 * Everything is derived from the stored Nodes, Leases and Pods and the clock, so a new
 * instance carries on where the last one stopped (eviction deadlines come from the taints'
 * `timeAdded`). The one exception is on purpose and Kubernetes': a node is never declared
 * silent before a full grace period has passed since this instance started, so a control
 * plane that was down does not mark every node Unknown the moment it is back.
 *
 * Informer events only queue the node's name. The controller keeps one timer, for the
 * earliest deadline it knows of (a node's grace running out, a pod's toleration running out);
 * with nothing due it holds no timer and does nothing.
 *
 * The pure rules are in `taints.ts`.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import { isPlainObject, type KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects, timestamp } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import type { Informer, InformerEvent } from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import {
  type Condition,
  conditionOf,
  conditionsOf,
  desiredTaints,
  effectiveTolerations,
  evictionTime,
  lastProbe,
  parseTime,
  podNotReadyConditions,
  reconcileTaints,
  type Taint,
  taintsOf,
  unknownConditions,
} from "./taints.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Namespace of the nodes' heartbeat Leases. */
export const NODE_LEASE_NAMESPACE = "kube-node-lease";
/** Index of the pod informer by `spec.nodeName` (see {@linkcode podNodeName}). */
export const POD_NODE_NAME_INDEX = "spec.nodeName";

/** The condition the taint manager puts on a pod it deletes. */
const DISRUPTION: Condition = {
  type: "DisruptionTarget",
  status: "True",
  reason: "DeletionByTaintManager",
  message: "Taint manager: deleting due to NoExecute taint",
};

/** The values of {@linkcode POD_NODE_NAME_INDEX}: the node a pod is bound to, if any. */
export function podNodeName(pod: KubeObject): string[] {
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  return typeof spec.nodeName === "string" && spec.nodeName !== "" ? [spec.nodeName] : [];
}

/** Options of {@linkcode NodeLifecycleController}. */
export interface NodeLifecycleControllerOptions {
  store: Store;
  /** informer of `/core/nodes/` */
  nodes: Informer;
  /** informer of `/coordination.k8s.io/leases/` (only `kube-node-lease` is looked at) */
  leases: Informer;
  /** informer of `/core/pods/`, with {@linkcode POD_NODE_NAME_INDEX} */
  pods: Informer;
  /** records as `node-controller` in Kubernetes */
  events: EventRecorder;
  clock?: Clock;
  /** silence after which a node's conditions become Unknown (default 40 s) */
  gracePeriodMs?: number;
  /** the same for a node that never posted a Ready condition, from its creation (default 60 s) */
  startupGracePeriodMs?: number;
  /**
   * `tolerationSeconds` of the `not-ready`/`unreachable` NoExecute tolerations a pod without
   * its own is given (the DefaultTolerationSeconds admission plugin's; default 300)
   */
  defaultTolerationSeconds?: number;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The node lifecycle controller; see the module documentation. */
export class NodeLifecycleController extends QueueController {
  readonly #objects: Objects;
  readonly #nodes: Informer;
  readonly #leases: Informer;
  readonly #pods: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #gracePeriodMs: number;
  readonly #startupGracePeriodMs: number;
  readonly #defaultTolerationSeconds: number;
  readonly #nodeType: ResourceType;
  readonly #leaseType: ResourceType;
  readonly #podType: ResourceType;
  #startedAt: number;
  /** node → the Ready status the last reconcile saw (to record NodeNotReady once) */
  readonly #readySeen = new Map<string, string>();
  /** node → pod key → the pod's eviction deadline (to record a cancelled eviction) */
  readonly #evictions = new Map<string, Map<string, number>>();
  /** node → taint identity → when a NoExecute taint without `timeAdded` was first seen */
  readonly #taintSeen = new Map<string, Map<string, number>>();
  /** node → when it must be looked at again */
  readonly #deadlines = new Map<string, number>();
  #timer: { at: number; abort: AbortController } | undefined;
  #stopped = false;

  constructor(options: NodeLifecycleControllerOptions) {
    super("node lifecycle controller", options);
    this.#clock = options.clock ?? systemClock;
    this.#objects = new Objects(options.store, () => new Date(this.#clock.now()));
    this.#nodes = options.nodes;
    this.#leases = options.leases;
    this.#pods = options.pods;
    this.#events = options.events;
    this.#gracePeriodMs = options.gracePeriodMs ?? 40_000;
    this.#startupGracePeriodMs = options.startupGracePeriodMs ?? 60_000;
    this.#defaultTolerationSeconds = options.defaultTolerationSeconds ?? 300;
    this.#nodeType = findKind("v1", "Node")!;
    this.#leaseType = findKind("coordination.k8s.io/v1", "Lease")!;
    this.#podType = findKind("v1", "Pod")!;
    this.#startedAt = this.#clock.now();
    this.#nodes.onEvent((ev) => this.queue.add(ev.object.metadata.name ?? ""));
    this.#leases.onEvent((ev) => {
      if (ev.object.metadata.namespace === NODE_LEASE_NAMESPACE) {
        this.queue.add(ev.object.metadata.name ?? "");
      }
    });
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /**
   * Starts the worker (the informers are started by whoever shares them). Nodes are given a
   * full grace period from now before they can be declared silent.
   */
  override start(): void {
    this.#startedAt = this.#clock.now();
    super.start();
  }

  /** Stops the worker and the deadline timer. */
  override async stop(): Promise<void> {
    this.#stopped = true;
    this.#timer?.abort.abort();
    this.#timer = undefined;
    await super.stop();
  }

  /** The earliest time this controller will look at a node again by itself, if any. */
  get nextDeadline(): number | undefined {
    return this.#timer?.at;
  }

  /** Converge one node and its pods; always false (deadlines are kept by the controller). */
  override async reconcile(name: string): Promise<boolean> {
    let node = this.#nodes.get(storeKey(this.#nodeType, undefined, name));
    if (!node) {
      this.#forget(name);
      return false;
    }
    const now = this.#clock.now();
    const nowTime = timestamp(new Date(now));
    const deadlines: number[] = [];

    // 1. a node silent for longer than its grace period: conditions Unknown
    const lease = this.#leases.get(storeKey(this.#leaseType, NODE_LEASE_NAMESPACE, name));
    const { probe, graceMs } = lastProbe(node, {
      lease,
      observedSince: this.#startedAt,
      gracePeriodMs: this.#gracePeriodMs,
      startupGracePeriodMs: this.#startupGracePeriodMs,
    });
    const unknown = unknownConditions(node, nowTime);
    if (unknown && now >= probe + graceMs) {
      const status = isPlainObject(node.status) ? node.status : {};
      node = await this.#write(node, { ...node, status: { ...status, conditions: unknown } }, true);
      if (!node) return false;
    } else if (unknown) {
      deadlines.push(probe + graceMs);
    }

    // 2. taints from conditions
    const taints = reconcileTaints(taintsOf(node), desiredTaints(node), nowTime);
    if (taints) {
      const spec = isPlainObject(node.spec) ? node.spec : {};
      node = await this.#write(node, { ...node, spec: { ...spec, taints } }, false);
      if (!node) return false;
    }

    // 3. a node that stopped being Ready: an Event, and its pods not ready
    const pods = this.#pods.byIndex(POD_NODE_NAME_INDEX, name);
    const errors: unknown[] = [];
    const ready = conditionOf(node, "Ready");
    if (ready) {
      if (this.#readySeen.get(name) === "True" && ready.status !== "True") {
        void this.#events.record(
          node,
          "Normal",
          "NodeNotReady",
          `Node ${name} status is now: NodeNotReady`,
        );
      }
      this.#readySeen.set(name, ready.status);
      if (ready.status !== "True") {
        for (const pod of pods) {
          await this.#markNotReady(pod, ready, nowTime).catch((e) => errors.push(e));
        }
      }
    } else {
      this.#readySeen.delete(name);
    }

    // 4. NoExecute taints: evict the pods that do not tolerate them (any longer)
    const since = this.#taintStart(name, taintsOf(node), now);
    const before = this.#evictions.get(name) ?? new Map<string, number>();
    const scheduled = new Map<string, number>();
    for (const pod of pods) {
      if (pod.metadata.deletionTimestamp) continue;
      const key = `${pod.metadata.namespace}/${pod.metadata.name}`;
      const tolerations = effectiveTolerations(pod, this.#defaultTolerationSeconds);
      const at = evictionTime(taintsOf(node), tolerations, since);
      if (at !== undefined && at <= now) {
        await this.#evict(pod).catch((e) => errors.push(e));
      } else if (at !== undefined) {
        scheduled.set(key, at);
        deadlines.push(at);
      } else if (before.has(key)) {
        void this.#events.record(
          pod,
          "Normal",
          "TaintManagerEviction",
          `Cancelling deletion of Pod ${key}`,
        );
      }
    }
    if (scheduled.size > 0) this.#evictions.set(name, scheduled);
    else this.#evictions.delete(name);

    this.#schedule(name, deadlines.length > 0 ? Math.min(...deadlines) : undefined);
    if (errors.length > 0) throw errors[0];
    return false;
  }

  /**
   * Writes `next` over `node` (its status, or the rest), with `node`'s resourceVersion as
   * precondition. Undefined when the node changed or went meanwhile: its informer event
   * brings it back to the queue.
   */
  async #write(
    node: KubeObject,
    next: KubeObject,
    status: boolean,
  ): Promise<KubeObject | undefined> {
    try {
      const { object } = await this.#objects.update(
        this.#nodeType,
        undefined,
        node.metadata.name!,
        next,
        status ? { ...WRITE, subresource: "status" } : WRITE,
      );
      return object;
    } catch (e) {
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return undefined;
      throw e;
    }
  }

  /** `MarkPodsNotReady` for one pod. */
  async #markNotReady(pod: KubeObject, nodeReady: Condition, now: string): Promise<void> {
    const conditions = podNotReadyConditions(pod, nodeReady, now);
    if (!conditions) return;
    const status = isPlainObject(pod.status) ? pod.status : {};
    try {
      await this.#objects.update(
        this.#podType,
        pod.metadata.namespace,
        pod.metadata.name!,
        { ...pod, status: { ...status, conditions } },
        { ...WRITE, subresource: "status" },
      );
    } catch (e) {
      // gone, or changed meanwhile: the pod's event brings the node back to the queue
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
    void this.#events.record(pod, "Warning", "NodeNotReady", "Node is not ready");
  }

  /**
   * The taint manager's deletion (`addConditionAndDeletePod`): an Event, then, on the pod as
   * stored now, the DisruptionTarget condition and a graceful delete.
   */
  async #evict(pod: KubeObject): Promise<void> {
    const { namespace, name, uid } = pod.metadata;
    void this.#events.record(
      pod,
      "Normal",
      "TaintManagerEviction",
      `Marking for deletion Pod ${namespace}/${name}`,
    );
    try {
      const fresh = await this.#objects.get(this.#podType, namespace, name!);
      if (fresh.metadata.uid !== uid || fresh.metadata.deletionTimestamp) return;
      const conditions = conditionsOf(fresh);
      const old = conditions.find((c) => c.type === "DisruptionTarget");
      if (
        old?.status !== "True" || old.reason !== DISRUPTION.reason ||
        old.message !== DISRUPTION.message
      ) {
        const target = {
          ...DISRUPTION,
          lastTransitionTime: timestamp(new Date(this.#clock.now())),
        };
        const status = isPlainObject(fresh.status) ? fresh.status : {};
        await this.#objects.update(
          this.#podType,
          namespace,
          name!,
          {
            ...fresh,
            status: { ...status, conditions: [...conditions.filter((c) => c !== old), target] },
          },
          { ...WRITE, subresource: "status" },
        );
      }
      await this.#objects.delete(this.#podType, namespace, name!, {
        dryRun: false,
        preconditions: { uid: uid! },
      });
    } catch (e) {
      // gone meanwhile: nothing left to do; changed meanwhile: its event brings us back
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return;
      throw e;
    }
  }

  /**
   * When each NoExecute taint of node `name` started: its `timeAdded`, or when this instance
   * first saw it (a taint someone added without one).
   */
  #taintStart(name: string, taints: readonly Taint[], now: number): (taint: Taint) => number {
    const identity = (t: Taint) => `${t.key}=${t.value ?? ""}:${t.effect}`;
    const before = this.#taintSeen.get(name);
    const seen = new Map<string, number>();
    for (const t of taints) {
      if (t.effect !== "NoExecute" || parseTime(t.timeAdded) !== undefined) continue;
      seen.set(identity(t), before?.get(identity(t)) ?? now);
    }
    if (seen.size > 0) this.#taintSeen.set(name, seen);
    else this.#taintSeen.delete(name);
    return (t) => parseTime(t.timeAdded) ?? seen.get(identity(t)) ?? now;
  }

  #onPod(ev: InformerEvent): void {
    for (const node of podNodeName(ev.object)) this.queue.add(node);
    if (ev.type === "update") {
      for (const node of podNodeName(ev.old)) {
        if (node !== podNodeName(ev.object)[0]) this.queue.add(node);
      }
    }
  }

  #forget(name: string): void {
    this.#readySeen.delete(name);
    this.#evictions.delete(name);
    this.#taintSeen.delete(name);
    this.#schedule(name, undefined);
  }

  /** Sets (or clears) node `name`'s deadline and keeps the one timer on the earliest. */
  #schedule(name: string, at: number | undefined): void {
    if (at === undefined) this.#deadlines.delete(name);
    else this.#deadlines.set(name, at);
    this.#arm();
  }

  #arm(): void {
    if (this.#stopped) return;
    const earliest = this.#deadlines.size > 0 ? Math.min(...this.#deadlines.values()) : undefined;
    if (earliest === this.#timer?.at) return;
    this.#timer?.abort.abort();
    this.#timer = undefined;
    if (earliest === undefined) return;
    const abort = new AbortController();
    this.#timer = { at: earliest, abort };
    this.#clock.sleep(earliest - this.#clock.now(), abort.signal).then(() => {
      if (abort.signal.aborted) return;
      this.#timer = undefined;
      const now = this.#clock.now();
      for (const [name, at] of this.#deadlines) {
        if (at > now) continue;
        this.#deadlines.delete(name);
        this.queue.add(name);
      }
      this.#arm();
    });
  }
}
