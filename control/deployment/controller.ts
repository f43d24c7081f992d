/**
 * {@linkcode DeploymentController}: rolls Deployments out through their ReplicaSets, as
 * kube-controller-manager's deployment controller does. Events from the Deployment, ReplicaSet
 * and Pod informers only enqueue the Deployment's `namespace/name`; `reconcile(key)` asks the
 * pure planner (`plan.ts`) for one sync's writes and carries them out in Kubernetes' order,
 * each a compare-and-swap on the resourceVersion read. A lost race ends the sync; the next one
 * plans again from what is stored.
 *
 * @module
 */

import { type Clock, systemClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import {
  CONTROLLER_INDEX,
  controllerOf,
  type Informer,
  type InformerEvent,
  queueKey,
  splitQueueKey,
  UID_INDEX,
} from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import { planDeployment, REVISION_ANNOTATION } from "./plan.ts";
import { equalIgnoreHash } from "./template_hash.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Options of {@linkcode DeploymentController}. */
export interface DeploymentControllerOptions {
  store: Store;
  /** informer of `/apps/deployments/` */
  deployments: Informer;
  /** informer of `/apps/replicasets/`, with {@linkcode CONTROLLER_INDEX} and {@linkcode UID_INDEX} */
  replicaSets: Informer;
  /** informer of `/core/pods/`, with {@linkcode CONTROLLER_INDEX} */
  pods: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed sync (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The deployment controller; see the module documentation. */
export class DeploymentController extends QueueController {
  readonly #objects: Objects;
  readonly #deployments: Informer;
  readonly #replicaSets: Informer;
  readonly #pods: Informer;
  readonly #events: EventRecorder;
  readonly #clock: Clock;
  readonly #deploymentType: ResourceType;
  readonly #rsType: ResourceType;

  constructor(options: DeploymentControllerOptions) {
    super("deployment controller", options);
    this.#objects = new Objects(options.store);
    this.#deployments = options.deployments;
    this.#replicaSets = options.replicaSets;
    this.#pods = options.pods;
    this.#events = options.events;
    this.#clock = options.clock ?? systemClock;
    this.#deploymentType = findKind("apps/v1", "Deployment")!;
    this.#rsType = findKind("apps/v1", "ReplicaSet")!;
    this.#deployments.onEvent((ev) => this.queue.add(queueKey(ev.object)));
    this.#replicaSets.onEvent((ev) => this.#onReplicaSet(ev));
    this.#pods.onEvent((ev) => this.#onPod(ev));
  }

  /** One sync of a Deployment (`namespace/name`); true when it must be looked at again. */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    const deployment = this.#deployments.get(storeKey(this.#deploymentType, namespace, name));
    if (!deployment) return false;
    const uid = deployment.metadata.uid ?? "";
    const replicaSets = this.#replicaSets.byIndex(CONTROLLER_INDEX, uid);
    const pods = replicaSets.flatMap((rs) =>
      this.#pods.byIndex(CONTROLLER_INDEX, rs.metadata.uid ?? "")
    );
    const plan = planDeployment({ deployment, replicaSets, pods, now: this.#clock.now() });
    const written = new Set<string>();
    try {
      if (plan.createReplicaSet) {
        const created = await this.#createReplicaSet(deployment, plan.createReplicaSet);
        if (!created) return true;
        written.add(plan.createReplicaSet.metadata.name!);
      }
      for (const rs of plan.updateReplicaSets) {
        await this.#objects.update(this.#rsType, namespace, rs.metadata.name!, rs, WRITE);
        written.add(rs.metadata.name!);
      }
      let current = deployment;
      if (
        plan.revision !== undefined &&
        deployment.metadata.annotations?.[REVISION_ANNOTATION] !== plan.revision
      ) {
        const annotations = {
          ...deployment.metadata.annotations,
          [REVISION_ANNOTATION]: plan.revision,
        };
        const next = { ...deployment, metadata: { ...deployment.metadata, annotations } };
        current = (await this.#objects.update(this.#deploymentType, namespace, name, next, WRITE))
          .object;
      }
      if (plan.statusChanged) {
        await this.#objects.update(
          this.#deploymentType,
          namespace,
          name,
          { ...current, status: plan.status },
          { ...WRITE, subresource: "status" },
        );
      }
      for (const rsName of plan.deleteReplicaSets) {
        try {
          await this.#objects.delete(this.#rsType, namespace, rsName, { dryRun: false });
        } catch (e) {
          if (!(e instanceof ApiError && e.code === 404)) throw e;
        }
      }
    } catch (e) {
      // someone else wrote first: the informer brings the newer objects and a new sync
      if (e instanceof ApiError && (e.code === 409 || e.code === 404)) return true;
      throw e;
    } finally {
      for (const ev of plan.events) {
        if (written.has(ev.replicaSet)) {
          void this.#events.record(deployment, ev.type, ev.reason, ev.message);
        }
      }
    }
    if (plan.requeueAfterMs !== undefined) this.queue.addAfter(key, plan.requeueAfterMs);
    return false;
  }

  /**
   * Creates the new ReplicaSet; false when a ReplicaSet of that name with another template is
   * in the way (a hash collision: `status.collisionCount` goes up and the next sync picks
   * another name) or this controller's earlier create is not in the informer yet.
   */
  async #createReplicaSet(deployment: KubeObject, rs: KubeObject): Promise<boolean> {
    const { namespace } = deployment.metadata;
    try {
      await this.#objects.create(this.#rsType, namespace, rs, WRITE);
      return true;
    } catch (e) {
      if (!(e instanceof ApiError && e.reason === "AlreadyExists")) throw e;
    }
    const existing = await this.#objects.get(this.#rsType, namespace, rs.metadata.name!);
    const ours = controllerOf(existing) === deployment.metadata.uid &&
      equalIgnoreHash(
        (existing.spec as { template?: unknown }).template,
        (deployment.spec as { template?: unknown }).template,
      );
    if (ours) return false;
    const status = { ...(deployment.status as Record<string, unknown> ?? {}) };
    status.collisionCount = Number(status.collisionCount ?? 0) + 1;
    await this.#objects.update(
      this.#deploymentType,
      namespace,
      deployment.metadata.name!,
      { ...deployment, status },
      { ...WRITE, subresource: "status" },
    );
    return false;
  }

  #onReplicaSet(ev: InformerEvent): void {
    const owner = this.#deploymentKey(ev.object);
    if (owner) this.queue.add(owner);
    if (ev.type === "update") {
      const old = this.#deploymentKey(ev.old);
      if (old && old !== owner) this.queue.add(old);
    }
  }

  /** Pods matter only to Recreate (no new pods while old ones run): their ending. */
  #onPod(ev: InformerEvent): void {
    if (ev.type === "add") return;
    if (ev.type === "update" && phaseOf(ev.object) === phaseOf(ev.old)) return;
    const rsUid = controllerOf(ev.object);
    const [rs] = rsUid ? this.#replicaSets.byIndex(UID_INDEX, rsUid) : [];
    const owner = rs && this.#deploymentKey(rs);
    if (owner) this.queue.add(owner);
  }

  /** `namespace/name` of the Deployment controlling `rs`, if one does. */
  #deploymentKey(rs: KubeObject): string | undefined {
    const ref = rs.metadata.ownerReferences?.find((r) => r.controller === true);
    if (!ref || ref.kind !== "Deployment") return undefined;
    return `${rs.metadata.namespace}/${ref.name}`;
  }
}

function phaseOf(pod: KubeObject): unknown {
  return (pod.status as { phase?: string } | undefined)?.phase;
}
