/**
 * What the pod-template workloads share (Deployment, ReplicaSet, DaemonSet, Job): a selector
 * that must match the pod template, the template checks, and the Containers/Images/Selector
 * cells.
 *
 * @module
 */

import { z } from "zod";
import { labelSelectorFromSpec, type LabelSelectorSpec, matchesLabelSelector } from "../labels.ts";
import type { KubeObject } from "../object.ts";
import { isPlainObject } from "../object.ts";
import { invalidValue, requiredValue, type StatusCause } from "../status.ts";
import type { TableColumn } from "../resource.ts";
import { invalid } from "../validation.ts";
import { column } from "./_meta.ts";
import {
  at,
  Condition,
  jsonEqual,
  objects,
  str,
  stringMap,
  validateLabelSelector,
} from "./_common.ts";
import {
  type PodSpecValue,
  PodTemplateSpec,
  validatePodSpec,
  validateTemplateMeta,
  validateTemplateRestartPolicy,
} from "./_pod_spec.ts";

/** The pod template of a workload, defaulting to `{}` so missing parts are reported. */
export const WorkloadTemplate = PodTemplateSpec.prefault({});

/** Status conditions of a workload (Deployment/ReplicaSet). */
export const WorkloadConditions = z.array(Condition).optional();

/**
 * Causes for `spec.selector` and `spec.template` of a Deployment or ReplicaSet: selector
 * present, non-empty, valid and matching the template labels; template valid with
 * `restartPolicy: Always`; selector immutable on update (apps/v1).
 */
export function validateWorkloadSpec(obj: KubeObject, old: KubeObject | undefined): StatusCause[] {
  const causes: StatusCause[] = [];
  const selector = at(obj, "spec", "selector");
  const template = at(obj, "spec", "template");
  const templateLabels = stringMap(template, "metadata", "labels");
  if (selector === undefined) {
    causes.push(requiredValue("spec.selector"));
  } else {
    causes.push(...validateLabelSelector(selector, "spec.selector"));
    const sel = isPlainObject(selector) ? selector : {};
    const size = Object.keys(stringMap(sel, "matchLabels")).length +
      objects(sel, "matchExpressions").length;
    if (size === 0) {
      causes.push(invalid("spec.selector", selector, "empty selector is invalid for deployment"));
    } else {
      const matches = selectorMatchesLabels(sel, templateLabels);
      if (matches === undefined) {
        causes.push(invalid("spec.selector", selector, "invalid label selector"));
      } else if (!matches) causes.push(selectorMismatch(templateLabels));
    }
  }
  causes.push(...validateTemplateMeta(at(template, "metadata"), "spec.template.metadata"));
  const spec = at(template, "spec") as PodSpecValue;
  causes.push(...validatePodSpec(spec, "spec.template.spec", false));
  causes.push(...validateTemplateRestartPolicy(spec, "spec.template.spec"));
  if (old && !jsonEqual(selector, at(old, "spec", "selector"))) {
    causes.push(invalid("spec.selector", selector, "field is immutable"));
  }
  const minReady = at(obj, "spec", "minReadySeconds");
  if (typeof minReady === "number" && minReady < 0) {
    causes.push(
      invalidValue("spec.minReadySeconds", minReady, "must be greater than or equal to 0"),
    );
  }
  return causes;
}

/**
 * Whether a `metav1.LabelSelector` selects `labels` (`LabelSelectorAsSelector` + `Matches`): an
 * absent selector selects nothing; `undefined` when the selector cannot be parsed (its causes
 * come from `validateLabelSelector`).
 */
export function selectorMatchesLabels(
  selector: unknown,
  labels: Record<string, string>,
): boolean | undefined {
  try {
    return matchesLabelSelector(
      labelSelectorFromSpec(selector as LabelSelectorSpec | undefined),
      labels,
    );
  } catch {
    return undefined;
  }
}

/** The cause for a selector that does not select the pod template's labels. */
export function selectorMismatch(templateLabels: Record<string, string>): StatusCause {
  return invalid(
    "spec.template.metadata.labels",
    templateLabels,
    "`selector` does not match template `labels`",
  );
}

/** The Containers and Images cells: names and images of the template's containers. */
export function containerCells(obj: KubeObject): { names: string; images: string } {
  const containers = objects(obj, "spec", "template", "spec", "containers");
  return {
    names: containers.map((c) => str(c, "name")).join(","),
    images: containers.map((c) => str(c, "image")).join(","),
  };
}

/**
 * The wide columns both workloads print after Age: Containers, Images and Selector
 * (`selectorHelp` is the kind's own description of its selector).
 */
export function templateColumns(
  selectorHelp: string,
  selector: (obj: KubeObject) => string,
): TableColumn[] {
  return [
    column(
      "Containers",
      "string",
      1,
      "Names of each container in the template.",
      (o) => containerCells(o).names,
    ),
    column(
      "Images",
      "string",
      1,
      "Images referenced by each container in the template.",
      (o) => containerCells(o).images,
    ),
    column("Selector", "string", 1, selectorHelp, selector),
  ];
}
