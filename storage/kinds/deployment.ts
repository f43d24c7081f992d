/**
 * apps/v1 Deployment: declarative rollouts of a pod template through ReplicaSets.
 *
 * Defaults as Kubernetes: replicas 1, strategy RollingUpdate with maxSurge/maxUnavailable
 * 25%, revisionHistoryLimit 10, progressDeadlineSeconds 600, plus the pod template defaults.
 *
 * @module
 */

import { z } from "zod";
import { labelSelectorFromSpec, type LabelSelectorSpec, labelSelectorString } from "../labels.ts";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { invalidValue, type StatusCause } from "../status.ts";
import { forbidden, invalid } from "../validation.ts";
import { at, IntOrString, LabelSelector, num } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";
import { normalizePodSpec, type PodSpecValue } from "./_pod_spec.ts";
import {
  templateColumns,
  validateWorkloadSpec,
  WorkloadConditions,
  WorkloadTemplate,
} from "./_workload.ts";

/** The full Deployment object. */
export const DeploymentSchema = objectSchema({
  spec: z
    .strictObject({
      replicas: z.int32().min(0).default(1),
      selector: LabelSelector.optional(),
      template: WorkloadTemplate,
      strategy: z
        .strictObject({
          type: z.enum(["Recreate", "RollingUpdate"]).optional(),
          rollingUpdate: z
            .strictObject({
              maxUnavailable: IntOrString.optional(),
              maxSurge: IntOrString.optional(),
            })
            .optional(),
        })
        .prefault({}),
      minReadySeconds: z.int32().optional(),
      revisionHistoryLimit: z.int32().min(0).default(10),
      paused: z.boolean().optional(),
      progressDeadlineSeconds: z.int32().default(600),
    })
    .prefault({}),
  status: z
    .strictObject({
      observedGeneration: z.int().optional(),
      replicas: z.int32().optional(),
      updatedReplicas: z.int32().optional(),
      readyReplicas: z.int32().optional(),
      availableReplicas: z.int32().optional(),
      unavailableReplicas: z.int32().optional(),
      terminatingReplicas: z.int32().optional(),
      conditions: WorkloadConditions,
      collisionCount: z.int32().optional(),
    })
    .optional(),
});

/** A Deployment as stored. */
export type Deployment = z.output<typeof DeploymentSchema>;

type DeploymentSpec = Deployment["spec"];

function normalizeDeployment(obj: KubeObject): void {
  const spec = obj.spec as DeploymentSpec;
  spec.strategy.type ??= "RollingUpdate";
  if (spec.strategy.type === "RollingUpdate") {
    const ru = spec.strategy.rollingUpdate ?? {};
    ru.maxUnavailable ??= "25%";
    ru.maxSurge ??= "25%";
    spec.strategy.rollingUpdate = ru;
  }
  normalizePodSpec(spec.template.spec as PodSpecValue);
}

/** The value an int-or-percent stands for when checking for zero (`getIntOrPercentValue`). */
function intOrPercentValue(v: number | string | undefined): number {
  if (typeof v === "number") return v;
  if (typeof v === "string" && /^[0-9]+%$/.test(v)) return Number(v.slice(0, -1));
  return NaN;
}

function validateIntOrPercent(v: number | string | undefined, path: string): StatusCause[] {
  if (v === undefined) return [];
  if (typeof v === "string") {
    if (!/^[0-9]+%$/.test(v)) {
      return [invalid(path, v, "must be an integer or percentage (e.g '5%')")];
    }
    return [];
  }
  return v < 0 ? [invalidValue(path, v, "must be greater than or equal to 0")] : [];
}

function validateDeployment(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = obj.spec as DeploymentSpec;
  const causes = validateWorkloadSpec(obj, old);
  const strategy = spec.strategy;
  const ru = strategy.rollingUpdate;
  if (strategy.type === "Recreate" && ru !== undefined) {
    causes.push(
      forbidden(
        "spec.strategy.rollingUpdate",
        "may not be specified when strategy `type` is 'Recreate'",
      ),
    );
  }
  if (strategy.type === "RollingUpdate" && ru) {
    const p = "spec.strategy.rollingUpdate";
    causes.push(...validateIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`));
    causes.push(...validateIntOrPercent(ru.maxSurge, `${p}.maxSurge`));
    if (intOrPercentValue(ru.maxUnavailable) === 0 && intOrPercentValue(ru.maxSurge) === 0) {
      causes.push(
        invalid(`${p}.maxUnavailable`, ru.maxUnavailable, "may not be 0 when `maxSurge` is 0"),
      );
    }
    if (typeof ru.maxUnavailable === "string" && intOrPercentValue(ru.maxUnavailable) > 100) {
      causes.push(
        invalid(`${p}.maxUnavailable`, ru.maxUnavailable, "must not be greater than 100%"),
      );
    }
  }
  const minReady = spec.minReadySeconds ?? 0;
  if (spec.progressDeadlineSeconds <= minReady) {
    causes.push(
      invalidValue(
        "spec.progressDeadlineSeconds",
        spec.progressDeadlineSeconds,
        "must be greater than minReadySeconds",
      ),
    );
  }
  return causes;
}

function selectorCell(obj: KubeObject): string {
  try {
    return labelSelectorString(
      labelSelectorFromSpec(at(obj, "spec", "selector") as LabelSelectorSpec),
    );
  } catch {
    return "<invalid>";
  }
}

/** apps/v1 deployments */
export const deployments: ResourceType = {
  group: "apps",
  version: "v1",
  kind: "Deployment",
  plural: "deployments",
  singular: "deployment",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["deploy"],
  categories: ["all"],
  subresources: ["status", "scale"],
  schema: DeploymentSchema,
  statusFields: ["status"],
  tracksGeneration: true,
  columns: [
    nameColumn,
    column(
      "Ready",
      "string",
      0,
      "Number of the pod with ready state",
      (o) => `${num(o, "status", "readyReplicas")}/${num(o, "spec", "replicas")}`,
    ),
    column(
      "Up-to-date",
      "string",
      0,
      "Total number of non-terminating pods targeted by this deployment that have the desired template spec.",
      (o) => num(o, "status", "updatedReplicas"),
    ),
    column(
      "Available",
      "string",
      0,
      "Total number of available non-terminating pods (ready for at least minReadySeconds) targeted by this deployment.",
      (o) => num(o, "status", "availableReplicas"),
    ),
    ageColumn,
    ...templateColumns(
      "Label selector for pods. Existing ReplicaSets whose pods are selected by this will be the ones affected by this deployment.",
      selectorCell,
    ),
  ],
  fieldSelectors: {},
  normalize: normalizeDeployment,
  validate: validateDeployment,
};
