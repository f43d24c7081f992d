/**
 * {@linkcode EndpointsController}: keeps the Endpoints of every Service with a selector equal to
 * what its pods say, as kube-controller-manager's endpoints controller does. Events only put the
 * Service's `namespace/name` on the work queue: a Service's own changes, a pod's (for every
 * Service of its namespace that selects its old or new labels, when the change shows in
 * Endpoints at all), and an Endpoints object's (when its Service exists, so a managed object
 * that was edited or deleted by hand is put back). `reconcile(key)` computes the desired object
 * (`endpoints.ts`) and creates or updates the stored one only when it differs.
 *
 * When a Service is gone, its Endpoints go with it (as in Kubernetes, whoever wrote them).
 * Endpoints that never had a Service are left alone: Kubernetes also deletes those once, when
 * the controller starts (`checkLeftoverEndpoints`), which would race with anyone who writes an
 * Endpoints object before its selector-less Service; we do not.
 *
 * @module
 */

import type { Clock } from "../../storage/clock.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import {
  errorMessage,
  type Informer,
  type InformerEvent,
  queueKey,
  splitQueueKey,
} from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import { writeDesired } from "../write_desired.ts";
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import {
  endpointsEqual,
  endpointsFor,
  podEndpointsChanged,
  selectsLabels,
  withDesired,
} from "./endpoints.ts";

/** Index of the Service informer by namespace. */
export const SERVICE_NAMESPACE_INDEX = "namespace";

/** Options of {@linkcode EndpointsController}. */
export interface EndpointsControllerOptions {
  store: Store;
  /** informer of `/core/services/`, with {@linkcode SERVICE_NAMESPACE_INDEX} */
  services: Informer;
  /** informer of `/core/pods/`, with the replicaset controller's `POD_NAMESPACE_INDEX` */
  pods: Informer;
  /** informer of `/core/endpoints/` */
  endpoints: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The endpoints controller; see the module documentation. */
export class EndpointsController extends QueueController {
  readonly #objects: Objects;
  readonly #services: Informer;
  readonly #pods: Informer;
  readonly #endpoints: Informer;
  readonly #events: EventRecorder;
  readonly #serviceType: ResourceType;
  readonly #endpointsType: ResourceType;

  constructor(options: EndpointsControllerOptions) {
    super("endpoints controller", options);
    this.#objects = new Objects(options.store);
    this.#services = options.services;
    this.#pods = options.pods;
    this.#endpoints = options.endpoints;
    this.#events = options.events;
    this.#serviceType = findKind("v1", "Service")!;
    this.#endpointsType = findKind("v1", "Endpoints")!;
    this.#services.onEvent((ev) => this.queue.add(queueKey(ev.object)));
    this.#pods.onEvent((ev) => this.#onPod(ev));
    this.#endpoints.onEvent((ev) => this.#onEndpoints(ev));
  }

  /** Converge the Endpoints of one Service (`namespace/name`); true to look again later. */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    const service = this.#services.get(storeKey(this.#serviceType, namespace, name));
    if (!service) {
      try {
        await this.#objects.delete(this.#endpointsType, namespace, name, { dryRun: false });
      } catch (e) {
        if (!(e instanceof ApiError && e.code === 404)) throw e;
      }
      return false;
    }
    const desired = endpointsFor(service, this.#pods.byIndex(POD_NAMESPACE_INDEX, namespace));
    if (!desired) return false;
    const current = this.#endpoints.get(storeKey(this.#endpointsType, namespace, name));
    if (current && endpointsEqual(current, desired)) return false;
    try {
      const next = current ? withDesired(current, desired) : desired;
      const outcome = await writeDesired(
        this.#objects,
        this.#endpointsType,
        namespace,
        current,
        next,
      );
      if (outcome === "stale") return true;
    } catch (e) {
      const [reason, verb] = current
        ? ["FailedToUpdateEndpoint", "update"]
        : ["FailedToCreateEndpoint", "create"];
      void this.#events.record(
        current ?? service,
        "Warning",
        reason,
        `Failed to ${verb} endpoint ${namespace}/${name}: ${errorMessage(e)}`,
      );
      throw e;
    }
    return false;
  }

  #onPod(ev: InformerEvent): void {
    const pod = ev.object;
    if (ev.type === "update" && !podEndpointsChanged(ev.old, pod)) return;
    const labels = [pod.metadata.labels];
    if (ev.type === "update") labels.push(ev.old.metadata.labels);
    const namespace = pod.metadata.namespace ?? "";
    for (const service of this.#services.byIndex(SERVICE_NAMESPACE_INDEX, namespace)) {
      if (labels.some((l) => selectsLabels(service, l))) this.queue.add(queueKey(service));
    }
  }

  #onEndpoints(ev: InformerEvent): void {
    const { namespace, name } = ev.object.metadata;
    if (this.#services.get(storeKey(this.#serviceType, namespace, name!))) {
      this.queue.add(queueKey(ev.object));
    }
  }
}
