/**
 * What an update of a Pod may change in its spec, as kube-apiserver's `ValidatePodUpdate`: the
 * containers' and init containers' images, `activeDeadlineSeconds` (set, or lowered),
 * `tolerations` (additions; an existing one may change only its `tolerationSeconds`),
 * `terminationGracePeriodSeconds` from a negative value to 1, and `schedulingGates` (removals);
 * while the pod is gated, `nodeSelector` may gain entries and its node affinity may be narrowed
 * (required terms set when there were none, or given more expressions; preferred terms set
 * freely). Anything else is refused with
 * Kubernetes' own message, followed by the paths that changed.
 *
 * @module
 */

import { cloneJson, isPlainObject } from "../object.ts";
import type { StatusCause } from "../status.ts";
import { forbidden, invalid } from "../validation.ts";
import { jsonEqual } from "./_common.ts";
import type { PodSpecValue } from "./_pod_spec.ts";

/** Kubernetes' message for a pod update that changes more than it may. */
export const POD_UPDATE_FORBIDDEN =
  "pod updates may not change fields other than `spec.containers[*].image`," +
  "`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only " +
  "additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be " +
  "set to 1 if it was previously negative)";

/** How many changed paths the message lists at most. */
const MAX_PATHS = 10;

/** The causes for updating a pod whose spec was `oldSpec` to `spec` (both defaulted). */
export function podUpdateCauses(spec: PodSpecValue, oldSpec: PodSpecValue): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const key of ["containers", "initContainers"] as const) {
    if ((spec[key] ?? []).length !== (oldSpec[key] ?? []).length) {
      causes.push(forbidden(`spec.${key}`, "pod updates may not add or remove containers"));
    }
  }
  if (causes.length > 0) return causes;

  const oldDeadline = oldSpec.activeDeadlineSeconds;
  const deadline = spec.activeDeadlineSeconds;
  if (oldDeadline !== undefined && deadline === undefined) {
    causes.push(
      // kube prints its nil pointer as the string "null"
      invalid(
        "spec.activeDeadlineSeconds",
        "null",
        "must not update from a positive integer to nil value",
      ),
    );
  } else if (oldDeadline !== undefined && deadline !== undefined && deadline > oldDeadline) {
    causes.push(
      invalid(
        "spec.activeDeadlineSeconds",
        deadline,
        "must be less than or equal to previous value",
      ),
    );
  }
  if (!onlyAddedTolerations(spec.tolerations ?? [], oldSpec.tolerations ?? [])) {
    causes.push(
      forbidden(
        "spec.tolerations",
        "existing toleration can not be modified except its tolerationSeconds",
      ),
    );
  }
  const oldGates = (oldSpec.schedulingGates ?? []).map((g) => g.name);
  for (const [i, gate] of (spec.schedulingGates ?? []).entries()) {
    if (!oldGates.includes(gate.name)) {
      causes.push(
        forbidden(
          `spec.schedulingGates[${i}]`,
          `only deletion is allowed, but found new scheduling gate '${gate.name}'`,
        ),
      );
    }
  }
  const gated = oldGates.length > 0;
  for (const [key, value] of Object.entries(oldSpec.nodeSelector ?? {})) {
    if (gated && spec.nodeSelector?.[key] !== value) {
      causes.push(
        invalid(
          "spec.nodeSelector",
          spec.nodeSelector ?? null,
          "only additions to spec.nodeSelector are allowed (no mutations or deletions)",
        ),
      );
      break;
    }
  }

  if (gated) causes.push(...nodeAffinityCauses(spec, oldSpec));

  // What is left once every field the update may change is taken from the old spec must not
  // differ from the old spec.
  const munged = cloneJson(spec) as Record<string, unknown> & PodSpecValue;
  for (const key of ["containers", "initContainers"] as const) {
    const old = oldSpec[key];
    const now = munged[key];
    if (old && now) now.forEach((c, i) => c.image = old[i]!.image);
  }
  setOrDelete(munged, "activeDeadlineSeconds", oldSpec.activeDeadlineSeconds);
  setOrDelete(munged, "tolerations", oldSpec.tolerations);
  setOrDelete(munged, "schedulingGates", oldSpec.schedulingGates);
  if (gated) {
    setOrDelete(munged, "nodeSelector", oldSpec.nodeSelector);
    const nodeAffinity = oldSpec.affinity?.nodeAffinity;
    const affinity = (munged.affinity ?? {}) as Record<string, unknown>;
    setOrDelete(affinity, "nodeAffinity", nodeAffinity);
    if (Object.keys(affinity).length > 0 || oldSpec.affinity) munged.affinity = affinity;
    else delete munged.affinity;
  }
  const oldGrace = oldSpec.terminationGracePeriodSeconds;
  if (oldGrace !== undefined && oldGrace < 0 && spec.terminationGracePeriodSeconds === 1) {
    munged.terminationGracePeriodSeconds = oldGrace;
  }
  const oldJson = json(oldSpec);
  if (!jsonEqual(json(munged), oldJson)) {
    const paths = changedPaths(json(munged), oldJson, "spec");
    const shown = paths.slice(0, MAX_PATHS).join(", ") +
      (paths.length > MAX_PATHS ? `, and ${paths.length - MAX_PATHS} more` : "");
    causes.push(forbidden("spec", `${POD_UPDATE_FORBIDDEN}\n  changed: ${shown}`));
  }
  return causes;
}

type NodeSelectorTerms = NonNullable<
  NonNullable<
    NonNullable<NonNullable<PodSpecValue["affinity"]>["nodeAffinity"]>[
      "requiredDuringSchedulingIgnoredDuringExecution"
    ]
  >["nodeSelectorTerms"]
>;

/**
 * A gated pod's required node affinity may be set when it had no terms; otherwise each term
 * keeps its expressions and fields and may only gain more (KEP-3838).
 */
function nodeAffinityCauses(spec: PodSpecValue, oldSpec: PodSpecValue): StatusCause[] {
  const path = "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution";
  const terms = (s: PodSpecValue): NodeSelectorTerms =>
    s.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ??
      [];
  const old = terms(oldSpec);
  const now = terms(spec);
  if (old.length === 0) return [];
  if (now.length !== old.length) {
    return [
      invalid(
        `${path}.nodeSelectorTerms`,
        json(now),
        "no additions/deletions to non-empty NodeSelectorTerms list are allowed while pod is gated",
      ),
    ];
  }
  const causes: StatusCause[] = [];
  old.forEach((term, i) => {
    for (const key of ["matchExpressions", "matchFields"] as const) {
      const kept = (term[key] ?? []).every((o) =>
        (now[i]![key] ?? []).some((n) => jsonEqual(json(n), json(o)))
      );
      if (!kept) {
        causes.push(
          invalid(
            `${path}.nodeSelectorTerms[${i}].${key}`,
            json(now[i]![key] ?? []),
            "only additions are allowed (no mutations or deletions)",
          ),
        );
      }
    }
  });
  return causes;
}

/** Whether every old toleration is still there, changed at most in its `tolerationSeconds`. */
function onlyAddedTolerations(
  tolerations: NonNullable<PodSpecValue["tolerations"]>,
  old: NonNullable<PodSpecValue["tolerations"]>,
): boolean {
  return old.every((o) =>
    tolerations.some((t) => {
      const { tolerationSeconds: _a, ...rest } = t;
      const { tolerationSeconds: _b, ...oldRest } = o;
      return jsonEqual(json(rest), json(oldRest));
    })
  );
}

function setOrDelete(target: Record<string, unknown>, key: string, value: unknown): void {
  if (value === undefined) delete target[key];
  else target[key] = cloneJson(value);
}

/** `value` as JSON would carry it (no keys whose value is undefined). */
function json(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

/** The paths at which two JSON values differ, outermost first. */
function changedPaths(now: unknown, old: unknown, path: string): string[] {
  if (jsonEqual(now, old)) return [];
  if (Array.isArray(now) && Array.isArray(old) && now.length === old.length) {
    return now.flatMap((v, i) => changedPaths(v, old[i], `${path}[${i}]`));
  }
  if (isPlainObject(now) && isPlainObject(old)) {
    const keys = [...new Set([...Object.keys(old), ...Object.keys(now)])];
    return keys.flatMap((k) => changedPaths(now[k], old[k], `${path}.${k}`));
  }
  return [path];
}
