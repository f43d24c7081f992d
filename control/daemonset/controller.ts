/**
 * {@linkcode DaemonSetController}: runs one pod of each DaemonSet on every node that should run
 * it, as kube-controller-manager's daemon controller does. Events (from the DaemonSet, Node and
 * Pod informers) only put the DaemonSet's `namespace/name` on the work queue; one idempotent
 * `reconcile(key)`, as Kubernetes' `syncDaemonSet`:
 *
 * 1. Reads the DaemonSet (gone or being deleted: nothing to do) and hashes its pod template;
 *    the hash is written to the {@linkcode REVISION_HASH_ANNOTATION} annotation (Kubernetes
 *    keeps it in a ControllerRevision, which is not served here) and labels the pods it makes.
 * 2. Claims its pods: owned pods that match the selector, adopting matching orphans of its
 *    namespace and releasing owned pods that no longer match.
 * 3. When the expectations of earlier syncs are met: creates a pod on each node that should run
 *    one and has none (slow-start batches, at most {@linkcode BURST_REPLICAS}), deletes pods on
 *    nodes that should not run them, all but the oldest where a node has several, Succeeded
 *    pods, and Failed pods with a per-node back-off; pods for nodes that no longer exist are
 *    deleted at once. Then, for a RollingUpdate, deletes the out-of-date pods that
 *    `maxUnavailable` allows (the next sync creates their replacements); OnDelete only
 *    replaces pods someone deleted.
 * 4. Writes the status (status subresource, resourceVersion precondition) when it changed, and
 *    queues the key again when a pod becomes available after `minReadySeconds`.
 *
 * Pods are placed as since Kubernetes 1.12: each gets a required node affinity
 * `matchFields: metadata.name In [node]` and the default scheduler binds it. The rules are
 * pure functions in `nodes.ts`.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import {
  labelSelectorFromSpec,
  type LabelSelectorSpec,
  matchesLabelSelector,
} from "../../storage/labels.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
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
import { MERGE_PATCH, STRATEGIC_MERGE_PATCH } from "../patch/apply_patch.ts";
import { QueueController } from "../queue_controller.ts";
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import {
  controllerRefOf,
  releasePatch,
  SLOW_START_INITIAL_BATCH_SIZE,
  slowStartBatch,
} from "../replicaset/replicas.ts";
import {
  BURST_REPLICAS,
  daemonSetRef,
  daemonSetStatus,
  newDaemonPod,
  type NodePlacement,
  nodeShouldRunDaemonPod,
  placements,
  planManage,
  podsByNode,
  REVISION_HASH_ANNOTATION,
  rollingUpdateDeletions,
  targetNodeName,
  templateHash,
} from "./nodes.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Options of {@linkcode DaemonSetController}. */
export interface DaemonSetControllerOptions {
  store: Store;
  /** informer of `/apps/daemonsets/` */
  daemonSets: Informer;
  /** informer of `/core/nodes/` */
  nodes: Informer;
  /** informer of `/core/pods/`, with {@linkcode CONTROLLER_INDEX} and {@linkcode POD_NAMESPACE_INDEX} */
  pods: Informer;
  /** records as `daemonset-controller` */
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
  /** first wait before a node's Failed daemon pod is replaced again (default 1 s) */
  failedPodBackoffMs?: number;
  /** the longest such wait, reached by doubling (default 15 min) */
  maxFailedPodBackoffMs?: number;
}

/** The daemon controller; see the module documentation. */
export class DaemonSetController extends QueueController {
  readonly #objects: Objects;
  readonly #daemonSets: Informer;
  readonly #nodes: Informer;
  readonly #pods: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #expectations: _Expectations;
  readonly #backoff: _Backoff;
  readonly #dsType: ResourceType;
  readonly #podType: ResourceType;

  constructor(options: DaemonSetControllerOptions) {
    super("daemonset controller", options);
    this.#objects = new Objects(options.store);
    this.#daemonSets = options.daemonSets;
    this.#nodes = options.nodes;
    this.#pods = options.pods;
    this.#events = options.events;
    this.#clock = options.clock ?? systemClock;
    this.#dsType = findKind("apps/v1", "DaemonSet")!;
    this.#podType = findKind("v1", "Pod")!;
    this.#expectations = new _Expectations(this.#clock);
    this.#backoff = new _Backoff(
      options.failedPodBackoffMs ?? 1000,
      options.maxFailedPodBackoffMs ?? 15 * 60 * 1000,
    );
    this.#daemonSets.onEvent((ev) => this.#onDaemonSet(ev));
    this.#nodes.onEvent((ev) => this.#onNode(ev));
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /** Converge one DaemonSet (`namespace/name`); true when it must be looked at again. */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    let ds = this.#daemonSets.get(storeKey(this.#dsType, namespace, name));
    if (!ds) {
      this.#expectations.delete(key);
      return false;
    }
    // its pods go with it (garbage collector); its status cannot be trusted any more
    if (ds.metadata.deletionTimestamp) return false;
    const hash = templateHash(ds);
    if (ds.metadata.annotations?.[REVISION_HASH_ANNOTATION] !== hash) {
      const annotated = await this.#annotate(ds, hash);
      if (!annotated) return false;
      ds = annotated;
    }
    const nodes = placements(
      ds,
      this.#nodes.list().sort((a, b) => _compare(a.metadata.name, b.metadata.name)),
    );
    const byNode = podsByNode(await this.#claimPods(ds));

    const observe = this.#expectations.satisfied(key);
    let error: unknown;
    if (observe) {
      error = await this.#manage(key, ds, nodes, byNode, hash);
      if (
        error === undefined && this.#expectations.satisfied(key) && _isRollingUpdate(ds)
      ) {
        const now = this.#clock.now();
        const deletions = rollingUpdateDeletions(ds, nodes, byNode, hash, now);
        error = await this.#syncNodes(key, ds, hash, [], deletions, []);
      }
    }

    const { status, changed, requeueAfterMs } = daemonSetStatus(
      ds,
      nodes,
      byNode,
      hash,
      this.#clock.now(),
      observe,
    );
    if (changed) {
      try {
        await this.#objects.update(this.#dsType, namespace, name, { ...ds, status }, {
          ...WRITE,
          subresource: "status",
        });
      } catch (e) {
        // a newer DaemonSet is on its way through the informer, which enqueues it again
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
    if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
    if (error !== undefined) throw error;
    return false;
  }

  /** Writes the template hash annotation; the DaemonSet as written, or undefined when gone. */
  async #annotate(ds: KubeObject, hash: string): Promise<KubeObject | undefined> {
    try {
      const { object } = await this.#objects.patch(
        this.#dsType,
        ds.metadata.namespace,
        ds.metadata.name!,
        MERGE_PATCH,
        { metadata: { annotations: { [REVISION_HASH_ANNOTATION]: hash } } },
        WRITE,
      );
      // replaced by a namesake meanwhile: its own event brings it here
      return object.metadata.uid === ds.metadata.uid ? object : undefined;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return undefined;
      throw e;
    }
  }

  /**
   * The DaemonSet's pods (`ClaimPods`): the owned ones that match its selector, plus matching
   * orphans of its namespace, adopted; owned pods that no longer match are released.
   */
  async #claimPods(ds: KubeObject): Promise<KubeObject[]> {
    const selector = labelSelectorFromSpec(_selectorOf(ds));
    const matches = (pod: KubeObject) => matchesLabelSelector(selector, pod.metadata.labels);
    const claimed: KubeObject[] = [];
    for (const pod of this.#pods.byIndex(CONTROLLER_INDEX, ds.metadata.uid ?? "")) {
      if (pod.metadata.namespace !== ds.metadata.namespace) continue;
      if (matches(pod)) {
        claimed.push(pod);
        continue;
      }
      const release = releasePatch(ds, pod);
      await this.#patchPod(pod, release.patch, [404, 409, 422]);
    }
    const orphans = this.#pods.byIndex(POD_NAMESPACE_INDEX, ds.metadata.namespace ?? "").filter(
      (pod) => !controllerRefOf(pod) && !pod.metadata.deletionTimestamp && matches(pod),
    );
    if (orphans.length > 0 && await this.#canAdopt(ds)) {
      for (const pod of orphans) {
        const metadata: Record<string, unknown> = {
          ownerReferences: [daemonSetRef(ds)],
          uid: pod.metadata.uid,
        };
        // pinned: if another controller adopted it first, the write fails with Conflict
        if (pod.metadata.resourceVersion) metadata.resourceVersion = pod.metadata.resourceVersion;
        const adopted = await this.#patchPod(pod, { metadata }, [404, 409]);
        if (adopted) claimed.push(adopted);
      }
    }
    return claimed;
  }

  /** Strategic-merge-patches `pod`; undefined when it failed with one of `tolerated`. */
  async #patchPod(
    pod: KubeObject,
    patch: Record<string, unknown>,
    tolerated: number[],
  ): Promise<KubeObject | undefined> {
    try {
      const { object } = await this.#objects.patch(
        this.#podType,
        pod.metadata.namespace,
        pod.metadata.name!,
        STRATEGIC_MERGE_PATCH,
        patch,
        WRITE,
      );
      return object;
    } catch (e) {
      // gone or changed meanwhile: the pod's own event brings us back
      if (e instanceof ApiError && tolerated.includes(e.code)) return undefined;
      throw e;
    }
  }

  /**
   * Whether `ds` may adopt orphans: re-read from the store, it is the same object and not being
   * deleted (`RecheckDeletionTimestamp`).
   */
  async #canAdopt(ds: KubeObject): Promise<boolean> {
    try {
      const fresh = await this.#objects.get(this.#dsType, ds.metadata.namespace, ds.metadata.name!);
      return fresh.metadata.uid === ds.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    }
  }

  /** Creates and deletes pods so each node runs what it should; returns the first error. */
  async #manage(
    key: string,
    ds: KubeObject,
    nodes: readonly NodePlacement[],
    byNode: ReadonlyMap<string, readonly KubeObject[]>,
    hash: string,
  ): Promise<unknown> {
    const plan = planManage(nodes, byNode);
    const toDelete = [...plan.delete];
    for (const { pod, node } of plan.succeeded) {
      void this.#events.record(
        ds,
        "Normal",
        "SucceededDaemonPod",
        `Found succeeded daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${node}, will try to delete it`,
      );
      toDelete.push(pod);
    }
    const now = this.#clock.now();
    for (const { pod, node } of plan.failed) {
      // a pod the kubelet keeps rejecting must not be replaced in a hot loop
      const backoffKey = _backoffKey(ds, node);
      const wait = this.#backoff.remaining(backoffKey, now);
      if (wait > 0) {
        this.queue.addAfter(key, wait);
        continue;
      }
      this.#backoff.next(backoffKey, now);
      void this.#events.record(
        ds,
        "Warning",
        "FailedDaemonPod",
        `Found failed daemon pod ${pod.metadata.namespace}/${pod.metadata.name} on node ${node}, will try to kill it`,
      );
      toDelete.push(pod);
    }
    return await this.#syncNodes(key, ds, hash, plan.createOn, toDelete, plan.forceDelete);
  }

  /**
   * Creates a pod on each of `createOn` and deletes `graceful` and `force` (the latter with no
   * grace period), at most {@linkcode BURST_REPLICAS} of each, setting expectations first
   * (`syncNodes`). Returns the first error.
   */
  async #syncNodes(
    key: string,
    ds: KubeObject,
    hash: string,
    createOn: readonly string[],
    graceful: readonly KubeObject[],
    force: readonly KubeObject[],
  ): Promise<unknown> {
    const creates = createOn.slice(0, BURST_REPLICAS);
    const deletes = [
      ...force.map((pod) => ({ pod, force: true })),
      ...graceful.map((pod) => ({ pod, force: false })),
    ].slice(0, BURST_REPLICAS);
    if (creates.length === 0 && deletes.length === 0) return undefined;
    this.#expectations.expect(key, creates.length, deletes.map((d) => d.pod.metadata.uid ?? ""));

    let next = 0;
    const created = await slowStartBatch(
      creates.length,
      SLOW_START_INITIAL_BATCH_SIZE,
      () => this.#createPod(ds, creates[next++]!, hash),
    );
    // creations that failed or were never tried will not be observed
    this.#expectations.creationObserved(key, creates.length - created.successes);

    const deleted = await Promise.allSettled(deletes.map(async ({ pod, force }) => {
      try {
        await this.#objects.delete(this.#podType, pod.metadata.namespace, pod.metadata.name!, {
          dryRun: false,
          preconditions: { uid: pod.metadata.uid! },
          ...(force ? { gracePeriodSeconds: 0 } : {}),
        });
        void this.#events.record(
          ds,
          "Normal",
          "SuccessfulDelete",
          `Deleted pod: ${pod.metadata.name}`,
        );
      } catch (e) {
        this.#expectations.deletionObserved(key, pod.metadata.uid ?? "");
        if (e instanceof ApiError && e.code === 404) return;
        void this.#events.record(
          ds,
          "Warning",
          "FailedDelete",
          `Error deleting: ${errorMessage(e)}`,
        );
        throw e;
      }
    }));
    const failed = deleted.find((r): r is PromiseRejectedResult => r.status === "rejected");
    return created.error ?? failed?.reason;
  }

  async #createPod(ds: KubeObject, node: string, hash: string): Promise<void> {
    try {
      const { object } = await this.#objects.create(
        this.#podType,
        ds.metadata.namespace,
        newDaemonPod(ds, node, hash),
        WRITE,
      );
      void this.#events.record(
        ds,
        "Normal",
        "SuccessfulCreate",
        `Created pod: ${object.metadata.name}`,
      );
    } catch (e) {
      void this.#events.record(ds, "Warning", "FailedCreate", `Error creating: ${errorMessage(e)}`);
      throw e;
    }
  }

  #onDaemonSet(ev: InformerEvent): void {
    const key = queueKey(ev.object);
    const replaced = ev.type === "update" && ev.old.metadata.uid !== ev.object.metadata.uid;
    if (ev.type === "delete" || replaced) {
      // a namesake made later starts clean
      this.#expectations.delete(key);
      const old = ev.type === "update" ? ev.old : ev.object;
      this.#backoff.forget(`${old.metadata.uid}/`);
    }
    this.queue.add(key);
  }

  #onNode(ev: InformerEvent): void {
    const node = ev.object;
    for (const ds of this.#daemonSets.list()) {
      const now = nodeShouldRunDaemonPod(node, ds);
      let wake: boolean;
      if (ev.type === "add") {
        wake = now.shouldRun;
      } else if (ev.type === "update") {
        const before = nodeShouldRunDaemonPod(ev.old, ds);
        wake = before.shouldRun !== now.shouldRun ||
          before.shouldContinueRunning !== now.shouldContinueRunning;
      } else {
        // its pods must go, and it no longer counts as desired
        wake = now.shouldRun || now.shouldContinueRunning ||
          this.#pods.byIndex(CONTROLLER_INDEX, ds.metadata.uid ?? "").some((pod) =>
            targetNodeName(pod) === node.metadata.name
          );
      }
      if (wake) this.queue.add(queueKey(ds));
    }
  }

  #onPod(ev: InformerEvent): void {
    const pod = ev.object;
    const owner = this.#ownerKey(pod);
    if (owner) {
      const deleting = ev.type === "delete" ||
        (pod.metadata.deletionTimestamp !== undefined &&
          (ev.type === "add" || !ev.old.metadata.deletionTimestamp));
      // a pod being deleted no longer counts, as if deleted
      if (deleting) this.#expectations.deletionObserved(owner, pod.metadata.uid ?? "");
      else if (ev.type === "add") this.#expectations.creationObserved(owner);
      this.queue.add(owner);
    }
    if (ev.type === "update") {
      const oldOwner = this.#ownerKey(ev.old);
      if (oldOwner && oldOwner !== owner) this.queue.add(oldOwner);
    }
    // an orphan may be adopted by a DaemonSet of its namespace whose selector it matches
    if (!controllerRefOf(pod) && ev.type !== "delete") {
      for (const ds of this.#daemonSets.list()) {
        if (ds.metadata.namespace === pod.metadata.namespace && _selects(ds, pod)) {
          this.queue.add(queueKey(ds));
        }
      }
    }
  }

  /** `namespace/name` of the DaemonSet controlling `pod`, if one does. */
  #ownerKey(pod: KubeObject): string | undefined {
    const ref = controllerRefOf(pod);
    if (!ref || ref.kind !== "DaemonSet") return undefined;
    const ds = this.#daemonSets.get(storeKey(this.#dsType, pod.metadata.namespace, ref.name));
    return ds && ds.metadata.uid === ref.uid ? queueKey(ds) : undefined;
  }
}

/** The prefix the DaemonSet informer mirrors. */
export function daemonSetPrefix(): string {
  return storePrefix(findKind("apps/v1", "DaemonSet")!);
}

/**
 * Creations and deletions one DaemonSet waits for (`SetExpectations(key, add, del)`): two
 * {@linkcode ControllerExpectations}, so a sync that both creates and deletes waits for both,
 * deletions tracked by uid.
 */
class _Expectations {
  readonly #creations: ControllerExpectations;
  readonly #deletions: ControllerExpectations;

  constructor(clock: Clock) {
    this.#creations = new ControllerExpectations({ clock });
    this.#deletions = new ControllerExpectations({ clock });
  }

  expect(key: string, creations: number, deletions: readonly string[]): void {
    this.#creations.expectCreations(key, creations);
    this.#deletions.expectDeletions(key, deletions);
  }

  creationObserved(key: string, count = 1): void {
    this.#creations.creationObserved(key, count);
  }

  deletionObserved(key: string, uid: string): void {
    this.#deletions.deletionObserved(key, uid);
  }

  satisfied(key: string): boolean {
    return this.#creations.satisfied(key) && this.#deletions.satisfied(key);
  }

  delete(key: string): void {
    this.#creations.delete(key);
    this.#deletions.delete(key);
  }
}

/**
 * Per-key exponential back-off (client-go's `flowcontrol.Backoff`): the first {@linkcode next}
 * waits `initialMs`, each following one twice the last up to `maxMs`; an entry untouched for
 * twice `maxMs` starts over.
 */
class _Backoff {
  readonly #entries = new Map<string, { delayMs: number; lastMs: number }>();

  constructor(readonly initialMs: number, readonly maxMs: number) {}

  /** Milliseconds left of `key`'s back-off at `now`; 0 when it may act. */
  remaining(key: string, now: number): number {
    const entry = this.#entries.get(key);
    return entry ? Math.max(entry.lastMs + entry.delayMs - now, 0) : 0;
  }

  /** Starts `key`'s next, longer back-off at `now`. */
  next(key: string, now: number): void {
    for (const [k, e] of this.#entries) {
      if (now - e.lastMs > 2 * this.maxMs) this.#entries.delete(k);
    }
    const entry = this.#entries.get(key);
    const delayMs = entry ? Math.min(2 * entry.delayMs, this.maxMs) : this.initialMs;
    this.#entries.set(key, { delayMs, lastMs: now });
  }

  /** Forgets the back-offs of keys starting with `prefix`. */
  forget(prefix: string): void {
    for (const k of this.#entries.keys()) if (k.startsWith(prefix)) this.#entries.delete(k);
  }
}

/** `failedPodsBackoffKey`: per DaemonSet, generation it last acted on, and node. */
function _backoffKey(ds: KubeObject, node: string): string {
  const observed = (ds.status as { observedGeneration?: number } | undefined)?.observedGeneration;
  return `${ds.metadata.uid}/${observed ?? 0}/${node}`;
}

function _isRollingUpdate(ds: KubeObject): boolean {
  const spec = ds.spec as { updateStrategy?: { type?: string } } | undefined;
  return (spec?.updateStrategy?.type ?? "RollingUpdate") === "RollingUpdate";
}

function _selectorOf(ds: KubeObject): LabelSelectorSpec | undefined {
  return (ds.spec as { selector?: LabelSelectorSpec } | undefined)?.selector;
}

/** Whether `ds`'s selector matches `pod`'s labels (false for a malformed selector). */
function _selects(ds: KubeObject, pod: KubeObject): boolean {
  try {
    return matchesLabelSelector(labelSelectorFromSpec(_selectorOf(ds)), pod.metadata.labels);
  } catch {
    return false;
  }
}

function _compare(a: string | undefined, b: string | undefined): number {
  return (a ?? "") < (b ?? "") ? -1 : (a ?? "") > (b ?? "") ? 1 : 0;
}
