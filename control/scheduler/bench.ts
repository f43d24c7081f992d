/**
 * `benchmarkSchedule`: scheduling throughput of {@linkcode schedulePod} over simulated nodes and
 * pods, without a store or the API (the placement logic alone).
 *
 * The cluster: `nodes` Ready nodes with 8 cpu, 32Gi and 110 pods allocatable, spread over 3
 * zones, some already holding the benchmark image. The workload: `pods` pods in ReplicaSets of
 * 10 replicas, each requesting 100m cpu and 128Mi; one ReplicaSet in four also prefers to avoid
 * its own replicas per node (preferred pod anti-affinity on `kubernetes.io/hostname`). Each
 * placed pod is added to the snapshot before the next is scheduled, as the scheduler's
 * "assume" step does.
 *
 * @example
 * ```ts
 * const podsPerSecond = benchmarkSchedule(1000, 5000);
 * ```
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import { schedulePod } from "./schedule.ts";
import { Snapshot } from "./snapshot.ts";

const IMAGE = "registry.local/bench:1";
const REPLICAS = 10;

function benchNode(i: number): KubeObject {
  const name = `node-${String(i).padStart(5, "0")}`;
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name,
      labels: {
        "kubernetes.io/hostname": name,
        "topology.kubernetes.io/zone": `zone-${i % 3}`,
      },
    },
    spec: {},
    status: {
      allocatable: { cpu: "8", memory: "32Gi", pods: "110" },
      conditions: [{ type: "Ready", status: "True" }],
      images: i % 4 === 0 ? [{ names: [IMAGE], sizeBytes: 200 * 1024 * 1024 }] : [],
    },
  };
}

function benchPod(i: number): KubeObject {
  const group = Math.floor(i / REPLICAS);
  const app = `app-${group}`;
  const spec: Record<string, unknown> = {
    schedulerName: "default-scheduler",
    containers: [{
      name: "main",
      image: IMAGE,
      resources: { requests: { cpu: "100m", memory: "128Mi" } },
    }],
  };
  if (group % 4 === 0) {
    spec.affinity = {
      podAntiAffinity: {
        preferredDuringSchedulingIgnoredDuringExecution: [{
          weight: 100,
          podAffinityTerm: {
            labelSelector: { matchLabels: { app } },
            topologyKey: "kubernetes.io/hostname",
          },
        }],
      },
    };
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${app}-${i % REPLICAS}`,
      namespace: "bench",
      uid: `pod-uid-${i}`,
      labels: { app },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: app,
        uid: `rs-uid-${group}`,
        controller: true,
      }],
    },
    spec,
  };
}

/**
 * Schedule `pods` simulated pods onto `nodes` simulated nodes one after another and return
 * the throughput in pods per second. Throws when a pod finds no node (the cluster is sized so
 * that does not happen while `pods` ≤ 80 × `nodes`).
 */
export function benchmarkSchedule(nodes: number, pods: number): number {
  if (!Number.isInteger(nodes) || nodes < 1 || !Number.isInteger(pods) || pods < 1) {
    throw new RangeError(
      `Cannot benchmark scheduling ${pods} pods onto ${nodes} nodes: both must be positive integers`,
    );
  }
  const snapshot = Snapshot.of(Array.from({ length: nodes }, (_, i) => benchNode(i)));
  const workload = Array.from({ length: pods }, (_, i) => benchPod(i));
  const started = performance.now();
  for (const pod of workload) {
    const result = schedulePod(pod, snapshot);
    if (!("node" in result)) {
      throw new Error(`Cannot place pod '${pod.metadata.name}': ${result.unschedulable}`);
    }
    snapshot.setPod({ ...pod, spec: { ...(pod.spec as object), nodeName: result.node } });
  }
  const seconds = (performance.now() - started) / 1000;
  return pods / Math.max(seconds, 1e-9);
}
