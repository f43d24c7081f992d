/**
 * {@linkcode ReplicaSetController}: keeps `spec.replicas` pods of each ReplicaSet, as
 * kube-controller-manager's replicaset controller does. Events (from the ReplicaSet and Pod
 * informers) only put the ReplicaSet's `namespace/name` on the work queue; `reconcile(key)`
 * claims the pods (adopting matching orphans, releasing owned pods that no longer match),
 * creates the missing pods in slow-start batches or deletes the least valuable surplus, and
 * writes the status. Expectations keep a slow watch from causing double creates or deletes.
 *
 * The pure rules (ranking, status, claims) are in `replicas.ts`.
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
  errorMessage,
  type Informer,
  type InformerEvent,
  queueKey,
  splitQueueKey,
} from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import {
  claimPods,
  controllerRefOf,
  manageReplicasDiff,
  podFromTemplate,
  replicaSetStatus,
  SLOW_START_INITIAL_BATCH_SIZE,
  slowStartBatch,
} from "./replicas.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Index of the pod informer by namespace (pods are claimed among their namespace's). */
export const POD_NAMESPACE_INDEX = "namespace";

/** Options of {@linkcode ReplicaSetController}. */
export interface ReplicaSetControllerOptions {
  store: Store;
  /** informer of `/apps/replicasets/` */
  replicaSets: Informer;
  /** informer of `/core/pods/`, with {@linkcode POD_NAMESPACE_INDEX} */
  pods: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The replicaset controller; see the module documentation. */
export class ReplicaSetController extends QueueController {
  readonly #objects: Objects;
  readonly #replicaSets: Informer;
  readonly #pods: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #expectations: ControllerExpectations;
  readonly #rsType: ResourceType;
  readonly #podType: ResourceType;

  constructor(options: ReplicaSetControllerOptions) {
    super("replicaset controller", options);
    this.#objects = new Objects(options.store);
    this.#replicaSets = options.replicaSets;
    this.#pods = options.pods;
    this.#events = options.events;
    this.#clock = options.clock ?? systemClock;
    this.#rsType = findKind("apps/v1", "ReplicaSet")!;
    this.#podType = findKind("v1", "Pod")!;
    this.#expectations = new ControllerExpectations({ clock: this.#clock });
    this.#replicaSets.onEvent((ev) => this.#onReplicaSet(ev));
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /** Converge one ReplicaSet (`namespace/name`); true when it must be looked at again. */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    const rs = this.#replicaSets.get(storeKey(this.#rsType, namespace, name));
    if (!rs) {
      this.#expectations.delete(key);
      return false;
    }
    const claims = claimPods(rs, this.#pods.byIndex(POD_NAMESPACE_INDEX, namespace));
    if (claims.adopt.length > 0 && !(await this.#canAdopt(rs))) {
      const adopting = new Set(claims.adopt.map((p) => p.uid));
      claims.active = claims.active.filter((pod) => !adopting.has(pod.metadata.uid ?? ""));
      claims.adopt = [];
    }
    for (const patch of [...claims.adopt, ...claims.release]) {
      try {
        await this.#objects.patch(
          this.#podType,
          patch.namespace,
          patch.name,
          patch.contentType,
          patch.patch,
          WRITE,
        );
      } catch (e) {
        // gone or taken meanwhile: the pod's own event brings us back
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
        claims.active = claims.active.filter((pod) => pod.metadata.uid !== patch.uid);
      }
    }
    let error: unknown;
    if (this.#expectations.satisfied(key)) {
      error = await this.#manageReplicas(key, rs, claims.active);
    }
    const now = this.#clock.now();
    const { status, changed, requeueAfterMs } = replicaSetStatus(
      rs,
      claims.active,
      now,
      error !== undefined ? { error } : {},
    );
    if (changed) {
      try {
        await this.#objects.update(this.#rsType, namespace, name, { ...rs, status }, {
          ...WRITE,
          subresource: "status",
        });
      } catch (e) {
        // a newer ReplicaSet is on its way through the informer, which enqueues it again
        if (!(e instanceof ApiError && (e.code === 404 || e.code === 409))) throw e;
      }
    }
    if (requeueAfterMs !== undefined) this.queue.addAfter(key, requeueAfterMs);
    if (error !== undefined) throw error;
    return false;
  }

  /**
   * Whether `rs` may adopt orphans: re-read from the store, it is the same object and not
   * being deleted (the informer's copy may be stale; kube's `RecheckDeletionTimestamp`).
   */
  async #canAdopt(rs: KubeObject): Promise<boolean> {
    try {
      const fresh = await this.#objects.get(this.#rsType, rs.metadata.namespace, rs.metadata.name!);
      return fresh.metadata.uid === rs.metadata.uid && !fresh.metadata.deletionTimestamp;
    } catch (e) {
      if (e instanceof ApiError && e.code === 404) return false;
      throw e;
    }
  }

  /** Creates or deletes pods toward `spec.replicas`; returns the first error, if any. */
  async #manageReplicas(
    key: string,
    rs: KubeObject,
    active: KubeObject[],
  ): Promise<unknown> {
    const diff = manageReplicasDiff(rs, active, { now: this.#clock.now() });
    if (diff.action === "create") {
      this.#expectations.expectCreations(key, diff.count);
      const { successes, error } = await slowStartBatch(
        diff.count,
        SLOW_START_INITIAL_BATCH_SIZE,
        async () => {
          try {
            const { object } = await this.#objects.create(
              this.#podType,
              rs.metadata.namespace,
              podFromTemplate(rs),
              WRITE,
            );
            void this.#events.record(
              rs,
              "Normal",
              "SuccessfulCreate",
              `Created pod: ${object.metadata.name}`,
            );
          } catch (e) {
            void this.#events.record(
              rs,
              "Warning",
              "FailedCreate",
              `Error creating: ${errorMessage(e)}`,
            );
            throw e;
          }
        },
      );
      // creations that failed or were never tried will not be observed
      for (let i = successes; i < diff.count; i++) this.#expectations.creationObserved(key);
      return error;
    }
    if (diff.action === "delete") {
      this.#expectations.expectDeletions(key, diff.pods.map((p) => p.metadata.uid ?? ""));
      const results = await Promise.allSettled(diff.pods.map(async (pod) => {
        try {
          await this.#objects.delete(this.#podType, pod.metadata.namespace, pod.metadata.name!, {
            dryRun: false,
            preconditions: { uid: pod.metadata.uid! },
          });
          void this.#events.record(
            rs,
            "Normal",
            "SuccessfulDelete",
            `Deleted pod: ${pod.metadata.name}`,
          );
        } catch (e) {
          this.#expectations.deletionObserved(key, pod.metadata.uid ?? "");
          if (e instanceof ApiError && e.code === 404) return;
          void this.#events.record(
            rs,
            "Warning",
            "FailedDelete",
            `Error deleting: ${errorMessage(e)}`,
          );
          throw e;
        }
      }));
      const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
      return failed?.reason;
    }
    return undefined;
  }

  #onReplicaSet(ev: InformerEvent): void {
    this.queue.add(queueKey(ev.object));
  }

  #onPod(ev: InformerEvent): void {
    const pod = ev.object;
    const owner = this.#ownerKey(pod);
    if (ev.type === "add" && owner) this.#expectations.creationObserved(owner);
    if (ev.type === "delete" && owner) {
      this.#expectations.deletionObserved(owner, pod.metadata.uid ?? "");
    }
    if (
      ev.type === "update" && pod.metadata.deletionTimestamp &&
      !ev.old.metadata.deletionTimestamp && owner
    ) {
      // a graceful deletion starts: the pod no longer counts, as if deleted
      this.#expectations.deletionObserved(owner, pod.metadata.uid ?? "");
    }
    if (owner) this.queue.add(owner);
    if (ev.type === "update") {
      const oldOwner = this.#ownerKey(ev.old);
      if (oldOwner && oldOwner !== owner) this.queue.add(oldOwner);
    }
    // an orphan may be adopted by a ReplicaSet of its namespace whose selector it matches
    if (!controllerRefOf(pod) && ev.type !== "delete") {
      for (const rs of this.#replicaSets.list()) {
        if (rs.metadata.namespace === pod.metadata.namespace && selects(rs, pod)) {
          this.queue.add(queueKey(rs));
        }
      }
    }
  }

  /** `namespace/name` of the ReplicaSet controlling `pod`, if one does. */
  #ownerKey(pod: KubeObject): string | undefined {
    const ref = controllerRefOf(pod);
    if (!ref || ref.kind !== "ReplicaSet") return undefined;
    const key = `${pod.metadata.namespace}/${ref.name}`;
    const [namespace, name] = splitQueueKey(key);
    const rs = this.#replicaSets.get(storeKey(this.#rsType, namespace, name));
    return rs && rs.metadata.uid === ref.uid ? key : undefined;
  }
}

/** The prefix the ReplicaSet informer mirrors. */
export function replicaSetPrefix(): string {
  return storePrefix(findKind("apps/v1", "ReplicaSet")!);
}

/** Whether `rs`'s selector matches `pod`'s labels (false for a malformed selector). */
function selects(rs: KubeObject, pod: KubeObject): boolean {
  try {
    const spec = (rs.spec ?? {}) as { selector?: LabelSelectorSpec };
    return matchesLabelSelector(labelSelectorFromSpec(spec.selector ?? {}), pod.metadata.labels);
  } catch {
    return false;
  }
}
