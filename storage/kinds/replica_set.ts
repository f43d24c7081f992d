/**
 * apps/v1 ReplicaSet: keeps a number of pods from a template running. Defaults: replicas 1,
 * plus the pod template defaults.
 *
 * @module
 */

import { z } from "zod";
import { formatLabelSelector, type LabelSelectorSpec } from "../labels.ts";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import type { StatusCause } from "../status.ts";
import { at, LabelSelector, num } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";
import { normalizePodSpec, type PodSpecValue } from "./_pod_spec.ts";
import {
  templateColumns,
  validateWorkloadSpec,
  WorkloadConditions,
  WorkloadTemplate,
} from "./_workload.ts";

/** The full ReplicaSet object. */
export const ReplicaSetSchema = objectSchema({
  spec: z
    .strictObject({
      replicas: z.int32().min(0).default(1),
      minReadySeconds: z.int32().optional(),
      selector: LabelSelector.optional(),
      template: WorkloadTemplate,
    })
    .prefault({}),
  status: z
    .strictObject({
      replicas: z.int32().default(0),
      fullyLabeledReplicas: z.int32().optional(),
      readyReplicas: z.int32().optional(),
      availableReplicas: z.int32().optional(),
      terminatingReplicas: z.int32().optional(),
      observedGeneration: z.int().optional(),
      conditions: WorkloadConditions,
    })
    .optional(),
});

/** A ReplicaSet as stored. */
export type ReplicaSet = z.output<typeof ReplicaSetSchema>;

function normalizeReplicaSet(obj: KubeObject): void {
  normalizePodSpec((obj.spec as ReplicaSet["spec"]).template.spec as PodSpecValue);
}

function validateReplicaSet(obj: KubeObject, old?: KubeObject): StatusCause[] {
  return validateWorkloadSpec(obj, old);
}

/** apps/v1 replicasets */
export const replicaSets: ResourceType = {
  group: "apps",
  version: "v1",
  kind: "ReplicaSet",
  plural: "replicasets",
  singular: "replicaset",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["rs"],
  categories: ["all"],
  subresources: ["status", "scale"],
  schema: ReplicaSetSchema,
  statusFields: ["status"],
  tracksGeneration: true,
  columns: [
    nameColumn,
    column(
      "Desired",
      "integer",
      0,
      "Replicas is the number of desired pods.",
      (o) => num(o, "spec", "replicas"),
    ),
    column(
      "Current",
      "integer",
      0,
      "Replicas is the most recently observed number of non-terminating pods.",
      (o) => num(o, "status", "replicas"),
    ),
    column(
      "Ready",
      "integer",
      0,
      "The number of non-terminating pods targeted by this ReplicaSet with a Ready Condition.",
      (o) => num(o, "status", "readyReplicas"),
    ),
    ageColumn,
    ...templateColumns(
      "Selector is a label query over pods that should match the replica count.",
      (o) => formatLabelSelector(at(o, "spec", "selector") as LabelSelectorSpec | undefined),
    ),
  ],
  fieldSelectors: {
    "status.replicas": (o) => String(num(o, "status", "replicas")),
  },
  normalize: normalizeReplicaSet,
  validate: validateReplicaSet,
};
