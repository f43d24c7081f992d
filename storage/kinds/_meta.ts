/**
 * metav1.ObjectMeta, the full-object schema builder every kind uses, and the Name and Age
 * columns every table starts with.
 *
 * @module
 */

import { z } from "zod";
import { timestampSince } from "../duration.ts";
import type { KubeObject } from "../object.ts";
import type { TableColumn } from "../resource.ts";

/** metav1.Time: an RFC 3339 timestamp such as `2024-05-01T10:00:00Z`. */
export const Time = z.string();

/** metav1.MicroTime: an RFC 3339 timestamp with microseconds. */
export const MicroTime = z.string();

/** metav1.OwnerReference */
export const OwnerReference = z.strictObject({
  apiVersion: z.string(),
  kind: z.string(),
  name: z.string(),
  uid: z.string(),
  controller: z.boolean().optional(),
  blockOwnerDeletion: z.boolean().optional(),
});

/** metav1.ManagedFieldsEntry (server-side apply bookkeeping). */
export const ManagedFieldsEntry = z.strictObject({
  manager: z.string().optional(),
  operation: z.string().optional(),
  apiVersion: z.string().optional(),
  time: Time.optional(),
  fieldsType: z.string().optional(),
  fieldsV1: z.looseObject({}).optional(),
  subresource: z.string().optional(),
});

/** A map of strings (labels, annotations, selectors, data). */
export const StringMap = z.record(z.string(), z.string());

/** metav1.ObjectMeta: every field a client may send. */
export const ObjectMeta = z.strictObject({
  name: z.string().optional(),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  selfLink: z.string().optional(),
  uid: z.string().optional(),
  resourceVersion: z.string().optional(),
  generation: z.int().optional(),
  creationTimestamp: Time.optional(),
  deletionTimestamp: Time.optional(),
  deletionGracePeriodSeconds: z.int().optional(),
  labels: StringMap.optional(),
  annotations: StringMap.optional(),
  ownerReferences: z.array(OwnerReference).optional(),
  finalizers: z.array(z.string()).optional(),
  managedFields: z.array(ManagedFieldsEntry).optional(),
});

/**
 * The full-object schema of a kind: `apiVersion`, `kind`, `metadata` (defaulting to `{}` so a
 * missing name is reported as `metadata.name: Required value`) and the kind's own fields.
 */
export function objectSchema<T extends z.core.$ZodLooseShape>(fields: T) {
  return z.strictObject({
    apiVersion: z.string(),
    kind: z.string(),
    metadata: ObjectMeta.prefault({}),
    ...fields,
  });
}

/** The Name column (first in every table). */
export const nameColumn: TableColumn = {
  name: "Name",
  type: "string",
  format: "name",
  priority: 0,
  description:
    "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names",
  cell: (obj: KubeObject) => obj.metadata.name ?? "",
};

/** The Age column: time since `metadata.creationTimestamp`. */
export const ageColumn: TableColumn = {
  name: "Age",
  type: "string",
  priority: 0,
  description:
    "CreationTimestamp is a timestamp representing the server time when this object was created. It is not guaranteed to be set in happens-before order across separate operations. Clients may not set this value. It is represented in RFC3339 form and is in UTC.\n\nPopulated by the system. Read-only. Null for lists. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata",
  cell: (obj: KubeObject, now: Date) => timestampSince(obj.metadata.creationTimestamp, now),
};

/** A column whose cell is computed from the object (helper for per-kind tables). */
export function column(
  name: string,
  type: TableColumn["type"],
  priority: number,
  description: string,
  cell: TableColumn["cell"],
): TableColumn {
  return { name, type, priority, description, cell };
}
