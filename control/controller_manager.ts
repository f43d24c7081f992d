/**
 * {@linkcode ControllerManager}: the workload controllers (ReplicaSet, Deployment, DaemonSet,
 * Job, node lifecycle), the service controllers (Endpoints, EndpointSlice mirroring,
 * LoadBalancer status), the storage controllers (the PersistentVolume binder, claim and volume
 * protection) and the informers they share (one watch per kind for all of them), started and
 * stopped together, as kube-controller-manager.
 * The control plane runs it only while it holds the leader Lease (`leader.ts`).
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import { findKind } from "../storage/registry.ts";
import { storePrefix } from "../storage/resource.ts";
import type { Store } from "../storage/store.ts";
import { EventRecorder } from "./events.ts";
import { DaemonSetController } from "./daemonset/controller.ts";
import { DeploymentController } from "./deployment/controller.ts";
import { EndpointsController, SERVICE_NAMESPACE_INDEX } from "./endpoints/controller.ts";
import {
  byMirrorKey,
  EndpointSliceMirrorController,
  SLICE_MIRROR_INDEX,
} from "./endpoint_slice/controller.ts";
import { JobController } from "./job/controller.ts";
import {
  NodeLifecycleController,
  POD_NODE_NAME_INDEX,
  podNodeName,
} from "./node_lifecycle/controller.ts";
import { byController, byUid, CONTROLLER_INDEX, Informer, UID_INDEX } from "./informer.ts";
import { POD_NAMESPACE_INDEX, ReplicaSetController } from "./replicaset/controller.ts";
import { ServiceLoadBalancerController } from "./service_lb/controller.ts";
import { PersistentVolumeController } from "./volume/controller.ts";
import { StorageProtectionController } from "./volume/protection.ts";

/** Options of {@linkcode ControllerManager}. */
export interface ControllerManagerOptions {
  store: Store;
  clock?: Clock;
  /** silence after which a node's conditions become Unknown (default 40 s) */
  nodeMonitorGracePeriodMs?: number;
  /** tolerationSeconds pods get for not-ready/unreachable NoExecute taints (default 300) */
  defaultTolerationSeconds?: number;
}

/** Starts and stops the shared informers and the controllers that use them. */
export class ControllerManager {
  readonly #informers: Informer[];
  readonly #controllers: Array<{ start(): void; stop(): Promise<void> }>;

  constructor(options: ControllerManagerOptions) {
    const { store } = options;
    const clock = options.clock ?? systemClock;
    const informer = (apiVersion: string, kind: string) =>
      new Informer({ store, prefix: storePrefix(findKind(apiVersion, kind)!), name: kind, clock });
    const pods = informer("v1", "Pod");
    pods.addIndex(POD_NAMESPACE_INDEX, (pod) => [pod.metadata.namespace ?? ""]);
    pods.addIndex(CONTROLLER_INDEX, byController);
    const replicaSets = informer("apps/v1", "ReplicaSet");
    replicaSets.addIndex(CONTROLLER_INDEX, byController);
    replicaSets.addIndex(UID_INDEX, byUid);
    pods.addIndex(POD_NODE_NAME_INDEX, podNodeName);
    const deployments = informer("apps/v1", "Deployment");
    const nodes = informer("v1", "Node");
    const leases = informer("coordination.k8s.io/v1", "Lease");
    const daemonSets = informer("apps/v1", "DaemonSet");
    const jobs = informer("batch/v1", "Job");
    const services = informer("v1", "Service");
    services.addIndex(SERVICE_NAMESPACE_INDEX, (svc) => [svc.metadata.namespace ?? ""]);
    const endpoints = informer("v1", "Endpoints");
    const endpointSlices = informer("discovery.k8s.io/v1", "EndpointSlice");
    endpointSlices.addIndex(SLICE_MIRROR_INDEX, byMirrorKey);
    const volumes = informer("v1", "PersistentVolume");
    const claims = informer("v1", "PersistentVolumeClaim");
    const storageClasses = informer("storage.k8s.io/v1", "StorageClass");
    this.#informers = [
      pods,
      replicaSets,
      deployments,
      nodes,
      leases,
      daemonSets,
      jobs,
      services,
      endpoints,
      endpointSlices,
      volumes,
      claims,
      storageClasses,
    ];
    const events = (component: string) => new EventRecorder({ store, component, clock });
    this.#controllers = [
      new ReplicaSetController({
        store,
        replicaSets,
        pods,
        clock,
        events: events("replicaset-controller"),
      }),
      new DeploymentController({
        store,
        deployments,
        replicaSets,
        pods,
        clock,
        events: events("deployment-controller"),
      }),
      new DaemonSetController({
        store,
        daemonSets,
        nodes,
        pods,
        clock,
        events: events("daemonset-controller"),
      }),
      new JobController({ store, jobs, pods, clock, events: events("job-controller") }),
      new NodeLifecycleController({
        store,
        nodes,
        leases,
        pods,
        clock,
        events: events("node-controller"),
        ...(options.nodeMonitorGracePeriodMs !== undefined
          ? { gracePeriodMs: options.nodeMonitorGracePeriodMs }
          : {}),
        ...(options.defaultTolerationSeconds !== undefined
          ? { defaultTolerationSeconds: options.defaultTolerationSeconds }
          : {}),
      }),
      new EndpointsController({
        store,
        services,
        pods,
        endpoints,
        clock,
        events: events("endpoint-controller"),
      }),
      new EndpointSliceMirrorController({
        store,
        endpoints,
        services,
        slices: endpointSlices,
        clock,
        events: events("endpointslice-mirroring-controller"),
      }),
      new ServiceLoadBalancerController({
        store,
        services,
        nodes,
        clock,
        events: events("service-lb-controller"),
      }),
      new PersistentVolumeController({
        store,
        volumes,
        claims,
        classes: storageClasses,
        nodes,
        clock,
        events: events("persistentvolume-controller"),
      }),
      new StorageProtectionController({ store, claims, volumes, pods, clock }),
    ];
  }

  /** Lists every kind (handlers enqueue what they see), then starts the controllers' workers. */
  async start(): Promise<void> {
    await Promise.all(this.#informers.map((i) => i.start()));
    for (const controller of this.#controllers) controller.start();
  }

  async stop(): Promise<void> {
    await Promise.all(this.#controllers.map((c) => c.stop()));
    await Promise.all(this.#informers.map((i) => i.stop()));
  }
}
