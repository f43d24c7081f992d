/**
 * apps/v1 DaemonSet: runs one pod from a template on every eligible node.
 *
 * Defaults as Kubernetes (`SetDefaults_DaemonSet`): updateStrategy RollingUpdate with
 * maxUnavailable 1 and maxSurge 0, revisionHistoryLimit 10, plus the pod template defaults.
 *
 * @module
 */

import { z } from "zod";
import { formatLabels, formatLabelSelector, type LabelSelectorSpec } from "../labels.ts";
import { isPlainObject, type KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { invalidValue, notSupportedValue, requiredValue, type StatusCause } from "../status.ts";
import { forbidden, invalid } from "../validation.ts";
import {
  at,
  IntOrString,
  jsonEqual,
  LabelSelector,
  num,
  objects,
  stringMap,
  validateLabelSelector,
} from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";
import {
  normalizePodSpec,
  type PodSpecValue,
  validatePodSpec,
  validateTemplateMeta,
} from "./_pod_spec.ts";
import {
  selectorMatchesLabels,
  selectorMismatch,
  templateColumns,
  WorkloadConditions,
  WorkloadTemplate,
} from "./_workload.ts";

/** The full DaemonSet object. */
export const DaemonSetSchema = objectSchema({
  spec: z
    .strictObject({
      selector: LabelSelector.optional(),
      template: WorkloadTemplate,
      updateStrategy: z
        .strictObject({
          type: z.enum(["RollingUpdate", "OnDelete"]).optional(),
          rollingUpdate: z
            .strictObject({
              maxUnavailable: IntOrString.optional(),
              maxSurge: IntOrString.optional(),
            })
            .optional(),
        })
        .prefault({}),
      minReadySeconds: z.int32().optional(),
      revisionHistoryLimit: z.int32().default(10),
    })
    .prefault({}),
  status: z
    .strictObject({
      currentNumberScheduled: z.int32().default(0),
      numberMisscheduled: z.int32().default(0),
      desiredNumberScheduled: z.int32().default(0),
      numberReady: z.int32().default(0),
      observedGeneration: z.int().optional(),
      updatedNumberScheduled: z.int32().optional(),
      numberAvailable: z.int32().optional(),
      numberUnavailable: z.int32().optional(),
      collisionCount: z.int32().optional(),
      conditions: WorkloadConditions,
    })
    .optional(),
});

/** A DaemonSet as stored. */
export type DaemonSet = z.output<typeof DaemonSetSchema>;

type DaemonSetSpec = DaemonSet["spec"];

function normalizeDaemonSet(obj: KubeObject): void {
  const spec = obj.spec as DaemonSetSpec;
  const strategy = spec.updateStrategy;
  strategy.type ??= "RollingUpdate";
  if (strategy.type === "RollingUpdate") {
    const ru = strategy.rollingUpdate ?? {};
    ru.maxUnavailable ??= 1;
    ru.maxSurge ??= 0;
    strategy.rollingUpdate = ru;
  }
  normalizePodSpec(spec.template.spec as PodSpecValue);
}

const PERCENT_RE = /^[0-9]+%$/;
const PERCENT_MESSAGE =
  "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

/** `ValidatePositiveIntOrPercent` followed by `IsNotMoreThan100Percent`. */
function validateIntOrPercent(v: number | string | undefined, path: string): StatusCause[] {
  if (v === undefined) return [];
  if (typeof v === "number") {
    return v < 0 ? [invalidValue(path, v, "must be greater than or equal to 0")] : [];
  }
  if (!PERCENT_RE.test(v)) return [invalid(path, v, PERCENT_MESSAGE)];
  return Number(v.slice(0, -1)) > 100 ? [invalid(path, v, "must not be greater than 100%")] : [];
}

/** `getIntOrPercentValue`: a percentage's number, an integer as is, 0 otherwise. */
function intOrPercentValue(v: number | string | undefined): number {
  if (typeof v === "number") return v;
  return typeof v === "string" && PERCENT_RE.test(v) ? Number(v.slice(0, -1)) : 0;
}

/** `ValidateDaemonSetUpdateStrategy` for a defaulted strategy. */
function validateUpdateStrategy(strategy: DaemonSetSpec["updateStrategy"]): StatusCause[] {
  const path = "spec.updateStrategy";
  if (strategy.type !== "RollingUpdate") return [];
  const ru = strategy.rollingUpdate;
  if (!ru) return [requiredValue(`${path}.rollingUpdate`)];
  const p = `${path}.rollingUpdate`;
  const causes = [
    ...validateIntOrPercent(ru.maxUnavailable, `${p}.maxUnavailable`),
    ...validateIntOrPercent(ru.maxSurge, `${p}.maxSurge`),
  ];
  const hasUnavailable = intOrPercentValue(ru.maxUnavailable) !== 0;
  const hasSurge = intOrPercentValue(ru.maxSurge) !== 0;
  if (hasUnavailable && hasSurge) {
    causes.push(
      invalid(`${p}.maxSurge`, ru.maxSurge, "may not be set when maxUnavailable is non-zero"),
    );
  } else if (!hasUnavailable && !hasSurge) {
    causes.push(requiredValue(`${p}.maxUnavailable`, "cannot be 0 when maxSurge is 0"));
  }
  return causes;
}

/**
 * `ValidateDaemonSetSpec` (and, on update, the apps/v1 selector immutability): selector valid,
 * non-empty and matching the template labels; template valid with `restartPolicy: Always` and
 * no `activeDeadlineSeconds`; non-negative minReadySeconds and revisionHistoryLimit; a valid
 * update strategy.
 */
function validateDaemonSet(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = obj.spec as DaemonSetSpec;
  const causes: StatusCause[] = [];
  const selector = spec.selector;
  const templateLabels = stringMap(spec.template, "metadata", "labels");
  causes.push(...validateLabelSelector(selector, "spec.selector"));
  if (selectorMatchesLabels(selector, templateLabels) === false) {
    causes.push(selectorMismatch(templateLabels));
  }
  if (isPlainObject(selector)) {
    const size = Object.keys(stringMap(selector, "matchLabels")).length +
      objects(selector, "matchExpressions").length;
    if (size === 0) {
      causes.push(invalid("spec.selector", selector, "empty selector is invalid for daemonset"));
    }
  }
  causes.push(...validateTemplateMeta(spec.template.metadata, "spec.template.metadata"));
  const podSpec = spec.template.spec as PodSpecValue;
  causes.push(...validatePodSpec(podSpec, "spec.template.spec", false));
  if (podSpec.restartPolicy !== "Always") {
    causes.push(
      notSupportedValue("spec.template.spec.restartPolicy", podSpec.restartPolicy, ["Always"]),
    );
  }
  if (podSpec.activeDeadlineSeconds !== undefined) {
    causes.push(
      forbidden(
        "spec.template.spec.activeDeadlineSeconds",
        "activeDeadlineSeconds in DaemonSet is not Supported",
      ),
    );
  }
  const minReady = spec.minReadySeconds ?? 0;
  if (minReady < 0) {
    causes.push(
      invalidValue("spec.minReadySeconds", minReady, "must be greater than or equal to 0"),
    );
  }
  causes.push(...validateUpdateStrategy(spec.updateStrategy));
  if (spec.revisionHistoryLimit < 0) {
    causes.push(
      invalidValue(
        "spec.revisionHistoryLimit",
        spec.revisionHistoryLimit,
        "must be greater than or equal to 0",
      ),
    );
  }
  if (old && !jsonEqual(selector, at(old, "spec", "selector"))) {
    causes.push(invalid("spec.selector", selector, "field is immutable"));
  }
  return causes;
}

/** apps/v1 daemonsets */
export const daemonSets: ResourceType = {
  group: "apps",
  version: "v1",
  kind: "DaemonSet",
  plural: "daemonsets",
  singular: "daemonset",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["ds"],
  categories: ["all"],
  subresources: ["status"],
  schema: DaemonSetSchema,
  statusFields: ["status"],
  tracksGeneration: true,
  columns: [
    nameColumn,
    column(
      "Desired",
      "integer",
      0,
      "The total number of nodes that should be running the daemon pod (including nodes correctly running the daemon pod). More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
      (o) => num(o, "status", "desiredNumberScheduled"),
    ),
    column(
      "Current",
      "integer",
      0,
      "The number of nodes that are running at least 1 daemon pod and are supposed to run the daemon pod. More info: https://kubernetes.io/docs/concepts/workloads/controllers/daemonset/",
      (o) => num(o, "status", "currentNumberScheduled"),
    ),
    column(
      "Ready",
      "integer",
      0,
      "numberReady is the number of nodes that should be running the daemon pod and have one or more of the daemon pod running with a Ready Condition.",
      (o) => num(o, "status", "numberReady"),
    ),
    column(
      "Up-to-date",
      "integer",
      0,
      "The total number of nodes that are running updated daemon pod",
      (o) => num(o, "status", "updatedNumberScheduled"),
    ),
    column(
      "Available",
      "integer",
      0,
      "The number of nodes that should be running the daemon pod and have one or more of the daemon pod running and available (ready for at least spec.minReadySeconds)",
      (o) => num(o, "status", "numberAvailable"),
    ),
    column(
      "Node Selector",
      "string",
      0,
      "NodeSelector is a selector which must be true for the pod to fit on a node. Selector which must match a node's labels for the pod to be scheduled on that node. More info: https://kubernetes.io/docs/concepts/configuration/assign-pod-node/",
      (o) => formatLabels(stringMap(o, "spec", "template", "spec", "nodeSelector")),
    ),
    ageColumn,
    ...templateColumns(
      "A label query over pods that are managed by the daemon set. Must match in order to be controlled. It must match the pod template's labels. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
      (o) => formatLabelSelector(at(o, "spec", "selector") as LabelSelectorSpec | undefined),
    ),
  ],
  fieldSelectors: {},
  normalize: normalizeDaemonSet,
  validate: validateDaemonSet,
};
