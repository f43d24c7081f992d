/**
 * Fixtures for the scheduler's tests: Node, Pod, PersistentVolumeClaim, PersistentVolume and
 * StorageClass objects shaped as the API stores them.
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import {
  ANN_BIND_COMPLETED,
  ANN_SELECTED_NODE,
  HOSTNAME_LABEL,
  LOCAL_PATH_PROVISIONER,
} from "../../storage/persistent_volumes.ts";

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
  /** PersistentVolumeClaims mounted by the pod, one volume each */
  claims?: string[];
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
      ...(options.claims
        ? {
          volumes: options.claims.map((claimName, i) => ({
            name: `vol-${i}`,
            persistentVolumeClaim: { claimName },
          })),
        }
        : {}),
      ...options.spec,
    },
    status: { phase: options.phase ?? "Pending" },
  };
}

/** Options of {@linkcode testClaim}. */
export interface TestClaimOptions {
  namespace?: string;
  /** `spec.storageClassName` (default `local-path`); `null` leaves it out */
  storageClassName?: string | null;
  /** the requested storage (default `1Gi`) */
  storage?: string;
  /** `spec.volumeName`; with `bound` the claim is bound to it */
  volumeName?: string;
  /** bound to `volumeName` (bind-completed annotation, phase Bound) */
  bound?: boolean;
  /** the `volume.kubernetes.io/selected-node` annotation */
  selectedNode?: string;
  /** carries a `deletionTimestamp` */
  deleting?: boolean;
  resourceVersion?: string;
}

/** A ReadWriteOnce claim; Pending unless `bound`. */
export function testClaim(name: string, options: TestClaimOptions = {}): KubeObject {
  const annotations: Record<string, string> = {};
  if (options.bound) annotations[ANN_BIND_COMPLETED] = "yes";
  if (options.selectedNode) annotations[ANN_SELECTED_NODE] = options.selectedNode;
  const className = options.storageClassName === undefined
    ? "local-path"
    : options.storageClassName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: options.namespace ?? "default",
      uid: `uid-${name}`,
      annotations,
      ...(options.deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}),
      ...(options.resourceVersion ? { resourceVersion: options.resourceVersion } : {}),
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: options.storage ?? "1Gi" } },
      ...(className !== null ? { storageClassName: className } : {}),
      ...(options.volumeName ? { volumeName: options.volumeName } : {}),
    },
    status: { phase: options.bound ? "Bound" : "Pending" },
  };
}

/** Options of {@linkcode testVolume}. */
export interface TestVolumeOptions {
  /** `spec.capacity.storage` (default `1Gi`) */
  storage?: string;
  /** `spec.storageClassName` (default `local-path`) */
  storageClassName?: string;
  /** a local volume on this node (node affinity on its hostname); else a hostPath volume */
  node?: string;
  /** the claim it is bound to (`claimRef`, phase Bound); else Available */
  claim?: { namespace?: string; name: string };
}

/** A ReadWriteOnce PersistentVolume with Retain reclaim. */
export function testVolume(name: string, options: TestVolumeOptions = {}): KubeObject {
  const node = options.node;
  const claim = options.claim;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      capacity: { storage: options.storage ?? "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      storageClassName: options.storageClassName ?? "local-path",
      volumeMode: "Filesystem",
      ...(node
        ? {
          local: { path: `/srv/volumes/${name}` },
          nodeAffinity: {
            required: {
              nodeSelectorTerms: [{
                matchExpressions: [{ key: HOSTNAME_LABEL, operator: "In", values: [node] }],
              }],
            },
          },
        }
        : { hostPath: { path: `/srv/volumes/${name}` } }),
      ...(claim
        ? {
          claimRef: {
            kind: "PersistentVolumeClaim",
            apiVersion: "v1",
            namespace: claim.namespace ?? "default",
            name: claim.name,
            uid: `uid-${claim.name}`,
          },
        }
        : {}),
    },
    status: { phase: claim ? "Bound" : "Available" },
  };
}

/** Options of {@linkcode testClass}. */
export interface TestClassOptions {
  /** default `edge.io/local-path` */
  provisioner?: string;
  /** default `WaitForFirstConsumer` */
  volumeBindingMode?: string;
  allowedTopologies?: { matchLabelExpressions: { key: string; values: string[] }[] }[];
}

/** A StorageClass (by default a WaitForFirstConsumer class of our local-path provisioner). */
export function testClass(name: string, options: TestClassOptions = {}): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name },
    provisioner: options.provisioner ?? LOCAL_PATH_PROVISIONER,
    reclaimPolicy: "Delete",
    volumeBindingMode: options.volumeBindingMode ?? "WaitForFirstConsumer",
    ...(options.allowedTopologies ? { allowedTopologies: options.allowedTopologies } : {}),
  };
}
