/**
 * Fixtures for the scheduler's tests: Node and Pod objects shaped as the API stores them.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";

/** Options of {@linkcode testNode}. */
export interface TestNodeOptions {
  cpu?: string;
  memory?: string;
  pods?: string;
  labels?: Record<string, string>;
  taints?: { key: string; value?: string; effect: string }[];
  unschedulable?: boolean;
  /** the Ready condition's status; `undefined` leaves the condition out */
  ready?: "True" | "False" | "Unknown" | undefined;
  images?: { names: string[]; sizeBytes: number }[];
}

/** A Ready node with 4 cpu, 8Gi and 110 pods allocatable unless told otherwise. */
export function testNode(name: string, options: TestNodeOptions = {}): KubeObject {
  const ready = "ready" in options ? options.ready : "True";
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { "kubernetes.io/hostname": name, ...options.labels } },
    spec: {
      ...(options.taints ? { taints: options.taints } : {}),
      ...(options.unschedulable ? { unschedulable: true } : {}),
    },
    status: {
      allocatable: {
        cpu: options.cpu ?? "4",
        memory: options.memory ?? "8Gi",
        pods: options.pods ?? "110",
      },
      conditions: ready === undefined ? [] : [{ type: "Ready", status: ready }],
      images: options.images ?? [],
    },
  };
}

/** Options of {@linkcode testPod}. */
export interface TestPodOptions {
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  nodeName?: string;
  cpu?: string;
  memory?: string;
  image?: string;
  hostPort?: number;
  /** uid of a controlling ReplicaSet */
  owner?: string;
  /** extra `spec` fields (nodeSelector, affinity, tolerations, …) */
  spec?: Record<string, unknown>;
  phase?: string;
}

/** A pod with one container; requests only what the options give. */
export function testPod(name: string, options: TestPodOptions = {}): KubeObject {
  const requests: Record<string, string> = {};
  if (options.cpu) requests.cpu = options.cpu;
  if (options.memory) requests.memory = options.memory;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      uid: options.uid ?? `uid-${name}`,
      labels: options.labels ?? {},
      ...(options.owner
        ? {
          ownerReferences: [{
            apiVersion: "apps/v1",
            kind: "ReplicaSet",
            name: "rs",
            uid: options.owner,
            controller: true,
          }],
        }
        : {}),
    },
    spec: {
      schedulerName: "default-scheduler",
      containers: [{
        name: "main",
        image: options.image ?? "busybox",
        resources: { requests },
        ...(options.hostPort
          ? { ports: [{ containerPort: 80, hostPort: options.hostPort, protocol: "TCP" }] }
          : {}),
      }],
      ...(options.nodeName ? { nodeName: options.nodeName } : {}),
      ...options.spec,
    },
    status: { phase: options.phase ?? "Pending" },
  };
}
