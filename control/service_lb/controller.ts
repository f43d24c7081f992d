/**
 * {@linkcode ServiceLoadBalancerController}: the edge cluster's load balancer "provider". A
 * Service of type LoadBalancer is a NodePort Service reached at the nodes' own addresses, so this
 * controller publishes those addresses in `status.loadBalancer.ingress` (rules in `ingress.ts`)
 * and clears them when the Service stops being a LoadBalancer.
 *
 * Events only queue Service keys: a Service's own changes, and, for every LoadBalancer Service,
 * a node coming, going, or changing readiness, exclusion label or addresses. `reconcile(key)`
 * writes the status subresource only when the ingress list differs, and records an
 * `UpdatedIngressIP` Event on the Service when it does (as k3s' ServiceLB).
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
import { type Informer, type InformerEvent, queueKey, splitQueueKey } from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import {
  desiredLoadBalancerStatus,
  loadBalancerStatusEqual,
  nodeLoadBalancerChanged,
} from "./ingress.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/** Options of {@linkcode ServiceLoadBalancerController}. */
export interface ServiceLoadBalancerControllerOptions {
  store: Store;
  /** informer of `/core/services/` */
  services: Informer;
  /** informer of `/core/nodes/` */
  nodes: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The LoadBalancer status controller; see the module documentation. */
export class ServiceLoadBalancerController extends QueueController {
  readonly #objects: Objects;
  readonly #services: Informer;
  readonly #nodes: Informer;
  readonly #events: EventRecorder;
  readonly #serviceType: ResourceType;

  constructor(options: ServiceLoadBalancerControllerOptions) {
    super("service-lb controller", options);
    this.#objects = new Objects(options.store);
    this.#services = options.services;
    this.#nodes = options.nodes;
    this.#events = options.events;
    this.#serviceType = findKind("v1", "Service")!;
    this.#services.onEvent((ev) => {
      if (ev.type !== "delete") this.queue.add(queueKey(ev.object));
    });
    this.#nodes.onEvent((ev) => this.#onNode(ev));
  }

  /** Converge the load balancer status of one Service (`namespace/name`). */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    const service = this.#services.get(storeKey(this.#serviceType, namespace, name));
    if (!service) return false;
    const desired = desiredLoadBalancerStatus(service, this.#nodes.list());
    if (!desired || loadBalancerStatusEqual(service, desired)) return false;
    const status = { ...(service.status as Record<string, unknown> | undefined) };
    try {
      await this.#objects.update(
        this.#serviceType,
        namespace,
        name,
        { ...service, status: { ...status, loadBalancer: desired } },
        { ...WRITE, subresource: "status" },
      );
    } catch (e) {
      // the informer is behind: its event for the newer Service queues it again
      if (e instanceof ApiError && (e.code === 404 || e.code === 409)) return false;
      throw e;
    }
    const ips = (desired.ingress ?? []).map((i) => i.ip).join(", ");
    void this.#events.record(
      service,
      "Normal",
      "UpdatedIngressIP",
      `LoadBalancer Ingress IP addresses updated: ${ips === "" ? "<none>" : ips}`,
    );
    return false;
  }

  #onNode(ev: InformerEvent): void {
    if (ev.type === "update" && !nodeLoadBalancerChanged(ev.old, ev.object)) return;
    for (const service of this.#services.list()) {
      if ((service.spec as { type?: string } | undefined)?.type === "LoadBalancer") {
        this.queue.add(queueKey(service));
      }
    }
  }
}
