/**
 * Test fixtures for the storage controllers: PersistentVolumes, claims, StorageClasses and
 * Nodes as plain objects (not used by production code).
 *
 * @module
 */

import type { KubeObject } from "../../storage/object.ts";
import { HOSTNAME_LABEL } from "../../storage/persistent_volumes.ts";

/** What {@linkcode volume} makes. */
export interface VolumeFixture {
  size?: string;
  storageClass?: string;
  accessModes?: string[];
  volumeMode?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  reclaimPolicy?: string;
  /** `status.phase` (default Available; `null` for none) */
  phase?: string | null;
  claimRef?: { namespace: string; name: string; uid?: string };
  /** a `local` volume on this node (else a hostPath volume) */
  node?: string;
  deleting?: boolean;
  uid?: string;
  resourceVersion?: string;
}

/** A PersistentVolume (1Gi, RWO, hostPath `/srv/<name>`, Available unless told). */
export function volume(name: string, f: VolumeFixture = {}): KubeObject {
  const spec: Record<string, unknown> = {
    capacity: { storage: f.size ?? "1Gi" },
    accessModes: f.accessModes ?? ["ReadWriteOnce"],
    persistentVolumeReclaimPolicy: f.reclaimPolicy ?? "Retain",
    volumeMode: f.volumeMode ?? "Filesystem",
  };
  if (f.storageClass !== undefined) spec.storageClassName = f.storageClass;
  if (f.claimRef) spec.claimRef = { kind: "PersistentVolumeClaim", ...f.claimRef };
  if (f.node) {
    spec.local = { path: `/srv/${name}` };
    spec.nodeAffinity = {
      required: {
        nodeSelectorTerms: [{
          matchExpressions: [{ key: HOSTNAME_LABEL, operator: "In", values: [f.node] }],
        }],
      },
    };
  } else {
    spec.hostPath = { path: `/srv/${name}` };
  }
  const obj: KubeObject = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name,
      uid: f.uid ?? `uid-${name}`,
      resourceVersion: f.resourceVersion ?? "1",
      ...(f.labels ? { labels: f.labels } : {}),
      ...(f.annotations ? { annotations: f.annotations } : {}),
      ...(f.deleting ? { deletionTimestamp: "2026-11-22T10:00:00Z" } : {}),
    },
    spec,
  };
  if (f.phase !== null) obj.status = { phase: f.phase ?? "Available" };
  return obj;
}

/** What {@linkcode claim} makes. */
export interface ClaimFixture {
  namespace?: string;
  size?: string;
  /** `spec.storageClassName` (absent unless given) */
  storageClass?: string;
  accessModes?: string[];
  volumeMode?: string;
  selector?: Record<string, unknown>;
  volumeName?: string;
  annotations?: Record<string, string>;
  phase?: string;
  uid?: string;
  resourceVersion?: string;
}

/** A PersistentVolumeClaim (1Gi, RWO, in `default`, Pending unless told). */
export function claim(name: string, f: ClaimFixture = {}): KubeObject {
  const spec: Record<string, unknown> = {
    accessModes: f.accessModes ?? ["ReadWriteOnce"],
    resources: { requests: { storage: f.size ?? "1Gi" } },
    volumeMode: f.volumeMode ?? "Filesystem",
  };
  if (f.storageClass !== undefined) spec.storageClassName = f.storageClass;
  if (f.selector) spec.selector = f.selector;
  if (f.volumeName) spec.volumeName = f.volumeName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: f.namespace ?? "default",
      uid: f.uid ?? `uid-${name}`,
      resourceVersion: f.resourceVersion ?? "1",
      ...(f.annotations ? { annotations: f.annotations } : {}),
    },
    spec,
    status: { phase: f.phase ?? "Pending" },
  };
}

/** A StorageClass. */
export function storageClass(
  name: string,
  provisioner: string,
  bindingMode: "Immediate" | "WaitForFirstConsumer" = "Immediate",
  annotations?: Record<string, string>,
): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name, ...(annotations ? { annotations } : {}) },
    provisioner,
    reclaimPolicy: "Delete",
    volumeBindingMode: bindingMode,
  };
}

/** A Node with the hostname label and a Ready condition (`True` unless told). */
export function node(
  name: string,
  f: { ready?: string; unschedulable?: boolean; labels?: Record<string, string> } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: { [HOSTNAME_LABEL]: name, ...f.labels } },
    spec: f.unschedulable ? { unschedulable: true } : {},
    status: { conditions: [{ type: "Ready", status: f.ready ?? "True" }] },
  };
}

/** `obj` as a client sends it: without uid, resourceVersion and status. */
export function manifest(obj: KubeObject): KubeObject {
  const { uid: _uid, resourceVersion: _rv, ...metadata } = obj.metadata;
  const { status: _status, ...rest } = obj;
  return { ...rest, metadata };
}
