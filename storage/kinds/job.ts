/**
 * batch/v1 Job: runs pods from a template until enough of them succeed.
 *
 * Defaults as Kubernetes (`SetDefaults_Job`): completions and parallelism 1 when both are
 * unset, else parallelism 1; backoffLimit 6 (MaxInt32 with backoffLimitPerIndex);
 * completionMode NonIndexed; suspend and manualSelector false; podReplacementPolicy
 * TerminatingOrFailed (Failed with a podFailurePolicy); the Job's labels copied from the
 * template when it has none. The template's restartPolicy is not special-cased: the pod
 * default (Always) is then rejected, so a Job must say OnFailure or Never.
 *
 * On create, unless `manualSelector` is true, the selector and the template labels are
 * generated from the Job's uid and name (`batch.kubernetes.io/controller-uid`,
 * `batch.kubernetes.io/job-name` and the legacy `controller-uid`, `job-name`).
 *
 * @module
 */

import { z } from "zod";
import { humanDuration } from "../duration.ts";
import { formatLabelSelector, type LabelSelectorSpec } from "../labels.ts";
import { cloneJson, type KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import {
  invalidValue,
  notSupportedValue,
  requiredValue,
  type StatusCause,
  tooMany,
} from "../status.ts";
import {
  causesFor,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  duplicateValue,
  invalid,
  qualifiedNameErrors,
  tooLong,
} from "../validation.ts";
import {
  at,
  Condition,
  jsonEqual,
  LabelSelector,
  num,
  objects,
  str,
  stringMap,
  validateLabelSelector,
} from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, Time } from "./_meta.ts";
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
  WorkloadTemplate,
} from "./_workload.ts";

/** The template label and selector key that ties pods to their Job. */
export const CONTROLLER_UID_LABEL = "batch.kubernetes.io/controller-uid";
/** The template label naming the Job. */
export const JOB_NAME_LABEL = "batch.kubernetes.io/job-name";
/** The pre-1.27 form of {@linkcode CONTROLLER_UID_LABEL}, still set and checked. */
export const LEGACY_CONTROLLER_UID_LABEL = "controller-uid";
/** The pre-1.27 form of {@linkcode JOB_NAME_LABEL}. */
export const LEGACY_JOB_NAME_LABEL = "job-name";

const MAX_INT32 = 2147483647;
const MAX_PARALLELISM_INDEXED = 100_000;
const MAX_FAILED_INDEXES_INDEXED = 100_000;
const COMPLETIONS_SOFT_LIMIT = 100_000;
const PARALLELISM_LIMIT_HIGH_COMPLETIONS = 10_000;
const MAX_FAILED_INDEXES_HIGH_COMPLETIONS = 10_000;
const MAX_POD_FAILURE_POLICY_RULES = 20;
const MAX_ON_EXIT_CODES_VALUES = 255;
const MAX_ON_POD_CONDITIONS_PATTERNS = 20;
const MAX_MANAGED_BY_LENGTH = 63;
const MAX_SUCCEEDED_INDEXES_LENGTH = 64 * 1024;
const MAX_SUCCESS_POLICY_RULES = 20;

const POD_FAILURE_ACTIONS = ["Count", "FailIndex", "FailJob", "Ignore"] as const;
const EXIT_CODES_OPERATORS = ["In", "NotIn"] as const;
const CONDITION_STATUSES = ["False", "True", "Unknown"] as const;
const POD_REPLACEMENT_POLICIES = ["Failed", "TerminatingOrFailed"] as const;

const PodFailurePolicyRule = z.strictObject({
  action: z.string().optional(),
  onExitCodes: z
    .strictObject({
      containerName: z.string().optional(),
      operator: z.string().optional(),
      values: z.array(z.int32()).optional(),
    })
    .optional(),
  onPodConditions: z
    .array(z.strictObject({ type: z.string(), status: z.string().default("True") }))
    .optional(),
});

/** The full Job object. */
export const JobSchema = objectSchema({
  spec: z
    .strictObject({
      parallelism: z.int32().optional(),
      completions: z.int32().optional(),
      activeDeadlineSeconds: z.int().optional(),
      podFailurePolicy: z
        .strictObject({ rules: z.array(PodFailurePolicyRule).optional() })
        .optional(),
      successPolicy: z
        .strictObject({
          rules: z
            .array(
              z.strictObject({
                succeededIndexes: z.string().optional(),
                succeededCount: z.int32().optional(),
              }),
            )
            .optional(),
        })
        .optional(),
      backoffLimit: z.int32().optional(),
      backoffLimitPerIndex: z.int32().optional(),
      maxFailedIndexes: z.int32().optional(),
      selector: LabelSelector.optional(),
      manualSelector: z.boolean().default(false),
      template: WorkloadTemplate,
      ttlSecondsAfterFinished: z.int32().optional(),
      completionMode: z.enum(["NonIndexed", "Indexed"]).default("NonIndexed"),
      suspend: z.boolean().default(false),
      podReplacementPolicy: z.string().optional(),
      managedBy: z.string().optional(),
    })
    .prefault({}),
  status: z
    .strictObject({
      conditions: z.array(Condition).optional(),
      startTime: Time.optional(),
      completionTime: Time.optional(),
      active: z.int32().optional(),
      succeeded: z.int32().optional(),
      failed: z.int32().optional(),
      terminating: z.int32().optional(),
      completedIndexes: z.string().optional(),
      failedIndexes: z.string().optional(),
      uncountedTerminatedPods: z
        .strictObject({
          succeeded: z.array(z.string()).optional(),
          failed: z.array(z.string()).optional(),
        })
        .optional(),
      ready: z.int32().optional(),
    })
    .optional(),
});

/** A Job as stored. */
export type Job = z.output<typeof JobSchema>;

type JobSpec = Job["spec"];

/** `generateSelectorIfNeeded`: the selector and template labels made from uid and name. */
function prepareJobForCreate(obj: KubeObject): void {
  const spec = obj.spec as JobSpec;
  if (spec.manualSelector) return;
  const name = obj.metadata.name ?? "";
  const uid = obj.metadata.uid ?? "";
  const meta = spec.template.metadata ??= {};
  const labels = meta.labels ??= {};
  // a label the user set is kept: a conflicting one is rejected by validation
  for (const key of [LEGACY_JOB_NAME_LABEL, JOB_NAME_LABEL]) labels[key] ??= name;
  for (const key of [LEGACY_CONTROLLER_UID_LABEL, CONTROLLER_UID_LABEL]) labels[key] ??= uid;
  const selector = spec.selector ??= {};
  const matchLabels = selector.matchLabels ??= {};
  matchLabels[CONTROLLER_UID_LABEL] ??= uid;
}

function normalizeJob(obj: KubeObject): void {
  const spec = obj.spec as JobSpec;
  if (spec.completions === undefined && spec.parallelism === undefined) spec.completions = 1;
  spec.parallelism ??= 1;
  spec.backoffLimit ??= spec.backoffLimitPerIndex === undefined ? 6 : MAX_INT32;
  const templateLabels = spec.template.metadata?.labels ?? {};
  if (
    Object.keys(templateLabels).length > 0 && Object.keys(obj.metadata.labels ?? {}).length === 0
  ) {
    obj.metadata.labels = { ...templateLabels };
  }
  spec.podReplacementPolicy ??= spec.podFailurePolicy ? "Failed" : "TerminatingOrFailed";
  normalizePodSpec(spec.template.spec as PodSpecValue);
}

// --- causes Kubernetes words beyond the shared helpers ---------------------------------------

/** `field.Invalid` with an omitted value: `Invalid value: <detail>`. */
function invalidOmitted(field: string, detail: string): StatusCause {
  return { reason: "FieldValueInvalid", field, message: `Invalid value: ${detail}` };
}

/** `field.TooMany`: `Too many: 21: must have at most 20 items`. */
/** Go's `%q` of a string slice: `["a" "b"]`. */
function quotedList(values: readonly string[]): string {
  return `[${values.map((v) => JSON.stringify(v)).join(" ")}]`;
}

function nonNegative(value: number | undefined, field: string): StatusCause[] {
  return value !== undefined && value < 0
    ? [invalidValue(field, value, "must be greater than or equal to 0")]
    : [];
}

function immutable(value: unknown, old: unknown, field: string): StatusCause[] {
  return jsonEqual(value, old) ? [] : [invalid(field, value ?? null, "field is immutable")];
}

// --- pieces of ValidateJob ----------------------------------------------------------------

/** `ValidateHasLabel` on the pod template's labels. */
function hasLabel(labels: Record<string, string>, key: string, expected: string): StatusCause[] {
  const field = `spec.template.metadata.labels[${key}]`;
  if (!Object.hasOwn(labels, key)) return [requiredValue(field, `must be '${expected}'`)];
  return labels[key] === expected ? [] : [invalid(field, labels, `must be '${expected}'`)];
}

/**
 * `validateGeneratedSelector`: with a generated selector, the template carries the uid and name
 * labels and the selector selects them.
 */
function validateGeneratedSelector(
  obj: KubeObject,
  uid: string,
  requirePrefixedLabels: boolean,
): StatusCause[] {
  const spec = obj.spec as JobSpec;
  if (spec.manualSelector || spec.selector === undefined) return [];
  const causes: StatusCause[] = [];
  if (uid === "") causes.push(requiredValue("metadata.uid"));
  const name = obj.metadata.name ?? "";
  const labels = spec.template.metadata?.labels ?? {};
  causes.push(...hasLabel(labels, LEGACY_CONTROLLER_UID_LABEL, uid));
  causes.push(...hasLabel(labels, LEGACY_JOB_NAME_LABEL, name));
  const expected: Record<string, string> = {};
  if (requirePrefixedLabels) {
    causes.push(...hasLabel(labels, CONTROLLER_UID_LABEL, uid));
    causes.push(...hasLabel(labels, JOB_NAME_LABEL, name));
    expected[CONTROLLER_UID_LABEL] = uid;
    expected[JOB_NAME_LABEL] = name;
  }
  expected[LEGACY_CONTROLLER_UID_LABEL] = uid;
  expected[LEGACY_JOB_NAME_LABEL] = name;
  if (selectorMatchesLabels(spec.selector, expected) === false) {
    causes.push(invalid("spec.selector", spec.selector, "`selector` not auto-generated"));
  }
  return causes;
}

/** `IsDomainPrefixedPath` (spec.managedBy). */
function validateDomainPrefixedPath(value: string, field: string): StatusCause[] {
  if (value === "") return [requiredValue(field)];
  const slash = value.indexOf("/");
  const host = slash < 0 ? "" : value.slice(0, slash);
  const path = slash < 0 ? "" : value.slice(slash + 1);
  if (host === "" || path === "") {
    return [invalid(field, value, 'must be a domain-prefixed path (such as "acme.io/foo")')];
  }
  const causes = causesFor(field, host, dns1123SubdomainErrors(host));
  if (!/^[A-Za-z0-9/\-._~%!$&'()*+,;=:]+$/.test(path)) {
    causes.push(
      invalid(
        field,
        path,
        "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
      ),
    );
  }
  return causes;
}

/** `parseIndexInterval`: `"3"` or `"3-5"`, each below `completions`, increasing. */
function parseIndexInterval(interval: string, completions: number): [number, number] {
  const limits = interval.split("-");
  if (limits.length > 2) {
    throw new Error(
      `the fragment ${
        JSON.stringify(interval)
      } violates the requirement that an index interval can have at most two parts separated by '-'`,
    );
  }
  const parse = (s: string): number => {
    if (!/^[+-]?[0-9]+$/.test(s)) {
      throw new Error(`cannot convert string to integer for index: ${JSON.stringify(s)}`);
    }
    const n = Number(s);
    if (n >= completions) throw new Error(`too large index: ${JSON.stringify(s)}`);
    return n;
  };
  const x = parse(limits[0] ?? "");
  if (limits.length === 1) return [x, x];
  const y = parse(limits[1] ?? "");
  if (x >= y) throw new Error(`non-increasing order, previous: ${x}, current: ${y}`);
  return [x, y];
}

/** `validateIndexesFormat`: the number of indexes in `"1,3-5,7"`; throws with Kubernetes' words. */
function countIndexes(indexes: string, completions: number): number {
  if (indexes === "") return 0;
  let last: number | undefined;
  let total = 0;
  for (const interval of indexes.split(",")) {
    const [x, y] = parseIndexInterval(interval, completions);
    if (last !== undefined && last >= x) {
      throw new Error(`non-increasing order, previous: ${last}, current: ${x}`);
    }
    total += y - x + 1;
    last = y;
  }
  return total;
}

function validatePodFailurePolicy(spec: JobSpec): StatusCause[] {
  const rules = spec.podFailurePolicy?.rules ?? [];
  const rulesPath = "spec.podFailurePolicy.rules";
  const causes: StatusCause[] = [];
  if (rules.length > MAX_POD_FAILURE_POLICY_RULES) {
    causes.push(tooMany(rulesPath, rules.length, MAX_POD_FAILURE_POLICY_RULES));
  }
  const podSpec = spec.template.spec as PodSpecValue;
  const containerNames = new Set(
    [...podSpec.containers, ...(podSpec.initContainers ?? [])].map((c) => c.name),
  );
  for (const [i, rule] of rules.entries()) {
    const rulePath = `${rulesPath}[${i}]`;
    const actionPath = `${rulePath}.action`;
    if (!rule.action) {
      causes.push(requiredValue(actionPath, `valid values: ${quotedList(POD_FAILURE_ACTIONS)}`));
    } else if (rule.action === "FailIndex") {
      if (spec.backoffLimitPerIndex === undefined) {
        causes.push(
          invalid(actionPath, rule.action, "requires the backoffLimitPerIndex to be set"),
        );
      }
    } else if (!(POD_FAILURE_ACTIONS as readonly string[]).includes(rule.action)) {
      causes.push(notSupportedValue(actionPath, rule.action, POD_FAILURE_ACTIONS));
    }
    const onExitCodes = rule.onExitCodes;
    if (onExitCodes) {
      const p = `${rulePath}.onExitCodes`;
      const op = onExitCodes.operator ?? "";
      if (op === "") {
        causes.push(
          requiredValue(`${p}.operator`, `valid values: ${quotedList(EXIT_CODES_OPERATORS)}`),
        );
      } else if (!(EXIT_CODES_OPERATORS as readonly string[]).includes(op)) {
        causes.push(notSupportedValue(`${p}.operator`, op, EXIT_CODES_OPERATORS));
      }
      const container = onExitCodes.containerName;
      if (container !== undefined && !containerNames.has(container)) {
        causes.push(
          invalid(
            `${p}.containerName`,
            container,
            "must be one of the container or initContainer names in the pod template",
          ),
        );
      }
      const values = onExitCodes.values ?? [];
      if (values.length === 0) {
        causes.push(
          invalid(`${p}.values`, onExitCodes.values ?? null, "at least one value is required"),
        );
      } else if (values.length > MAX_ON_EXIT_CODES_VALUES) {
        causes.push(tooMany(`${p}.values`, values.length, MAX_ON_EXIT_CODES_VALUES));
      }
      const seen = new Set<number>();
      let ordered = true;
      for (const [j, v] of values.entries()) {
        const vp = `${p}.values[${j}]`;
        if (op === "In" && v === 0) {
          causes.push(invalid(vp, v, "must not be 0 for the In operator"));
        }
        if (seen.has(v)) causes.push(duplicateValue(vp, v));
        seen.add(v);
        if (j > 0 && (values[j - 1] ?? 0) > v) ordered = false;
      }
      if (!ordered) causes.push(invalid(`${p}.values`, values, "must be ordered"));
    }
    const patterns = rule.onPodConditions ?? [];
    if (patterns.length > 0) {
      const p = `${rulePath}.onPodConditions`;
      if (patterns.length > MAX_ON_POD_CONDITIONS_PATTERNS) {
        causes.push(tooMany(p, patterns.length, MAX_ON_POD_CONDITIONS_PATTERNS));
      }
      for (const [j, pattern] of patterns.entries()) {
        const pp = `${p}[${j}]`;
        causes.push(...causesFor(`${pp}.type`, pattern.type, qualifiedNameErrors(pattern.type)));
        if (pattern.status === "") {
          causes.push(
            requiredValue(`${pp}.status`, `valid values: ${quotedList(CONDITION_STATUSES)}`),
          );
        } else if (!(CONDITION_STATUSES as readonly string[]).includes(pattern.status)) {
          causes.push(notSupportedValue(`${pp}.status`, pattern.status, CONDITION_STATUSES));
        }
      }
    }
    if (onExitCodes && patterns.length > 0) {
      causes.push(
        invalidOmitted(
          rulePath,
          "specifying both OnExitCodes and OnPodConditions is not supported",
        ),
      );
    }
    if (!onExitCodes && patterns.length === 0) {
      causes.push(
        invalidOmitted(rulePath, "specifying one of OnExitCodes and OnPodConditions is required"),
      );
    }
  }
  return causes;
}

function validateSuccessPolicy(spec: JobSpec): StatusCause[] {
  const policy = spec.successPolicy;
  if (!policy) return [];
  if (spec.completionMode !== "Indexed") {
    return [invalid("spec.successPolicy", policy, "requires indexed completion mode")];
  }
  const rulesPath = "spec.successPolicy.rules";
  const rules = policy.rules ?? [];
  const completions = spec.completions ?? 0;
  const causes: StatusCause[] = [];
  if (rules.length === 0) {
    causes.push(
      requiredValue(
        rulesPath,
        "at least one rules must be specified when the successPolicy is specified",
      ),
    );
  }
  if (rules.length > MAX_SUCCESS_POLICY_RULES) {
    causes.push(tooMany(rulesPath, rules.length, MAX_SUCCESS_POLICY_RULES));
  }
  for (const [i, rule] of rules.entries()) {
    const rulePath = `${rulesPath}[${i}]`;
    if (rule.succeededCount === undefined && rule.succeededIndexes === undefined) {
      causes.push(
        requiredValue(
          rulePath,
          "at least one of succeededCount or succeededIndexes must be specified",
        ),
      );
    }
    let total = 0;
    if (rule.succeededIndexes !== undefined) {
      const p = `${rulePath}.succeededIndexes`;
      if (rule.succeededIndexes.length > MAX_SUCCEEDED_INDEXES_LENGTH) {
        causes.push(tooLong(p, MAX_SUCCEEDED_INDEXES_LENGTH));
      }
      try {
        total = countIndexes(rule.succeededIndexes, completions);
      } catch (e) {
        causes.push(
          invalid(
            p,
            rule.succeededIndexes,
            `error parsing succeededIndexes: ${(e as Error).message}`,
          ),
        );
      }
    }
    const count = rule.succeededCount;
    if (count !== undefined) {
      const p = `${rulePath}.succeededCount`;
      causes.push(...nonNegative(count, p));
      if (count > completions) {
        causes.push(
          invalidValue(
            p,
            count,
            `must be less than or equal to ${completions} (the number of specified completions)`,
          ),
        );
      }
      if (rule.succeededIndexes !== undefined && count > total) {
        causes.push(
          invalidValue(
            p,
            count,
            `must be less than or equal to ${total} (the number of indexes in the specified succeededIndexes field)`,
          ),
        );
      }
    }
  }
  return causes;
}

/** `validateJobSpec`: counts, completion mode, policies and the pod template. */
function validateJobSpec(spec: JobSpec): StatusCause[] {
  const causes = [
    ...nonNegative(spec.parallelism, "spec.parallelism"),
    ...nonNegative(spec.completions, "spec.completions"),
    ...nonNegative(spec.activeDeadlineSeconds, "spec.activeDeadlineSeconds"),
    ...nonNegative(spec.backoffLimit, "spec.backoffLimit"),
    ...nonNegative(spec.ttlSecondsAfterFinished, "spec.ttlSecondsAfterFinished"),
    ...nonNegative(spec.backoffLimitPerIndex, "spec.backoffLimitPerIndex"),
  ];
  const { parallelism, completions, maxFailedIndexes, backoffLimitPerIndex } = spec;
  if (maxFailedIndexes !== undefined) {
    causes.push(...nonNegative(maxFailedIndexes, "spec.maxFailedIndexes"));
    if (backoffLimitPerIndex === undefined) {
      causes.push(requiredValue("spec.backoffLimitPerIndex", "when maxFailedIndexes is specified"));
    }
  }
  if (spec.managedBy !== undefined) {
    causes.push(...validateDomainPrefixedPath(spec.managedBy, "spec.managedBy"));
    if (spec.managedBy.length > MAX_MANAGED_BY_LENGTH) {
      causes.push(tooLong("spec.managedBy", MAX_MANAGED_BY_LENGTH));
    }
  }
  if (spec.completionMode === "Indexed") {
    if (completions === undefined) {
      causes.push(requiredValue("spec.completions", "when completion mode is Indexed"));
    }
    if (parallelism !== undefined && parallelism > MAX_PARALLELISM_INDEXED) {
      causes.push(
        invalidValue(
          "spec.parallelism",
          parallelism,
          `must be less than or equal to ${MAX_PARALLELISM_INDEXED} when completion mode is Indexed`,
        ),
      );
    }
    if (
      completions !== undefined && maxFailedIndexes !== undefined && maxFailedIndexes > completions
    ) {
      causes.push(
        invalidValue(
          "spec.maxFailedIndexes",
          maxFailedIndexes,
          "must be less than or equal to completions",
        ),
      );
    }
    if (maxFailedIndexes !== undefined && maxFailedIndexes > MAX_FAILED_INDEXES_INDEXED) {
      causes.push(
        invalidValue(
          "spec.maxFailedIndexes",
          maxFailedIndexes,
          `must be less than or equal to ${MAX_FAILED_INDEXES_INDEXED}`,
        ),
      );
    }
    if (
      completions !== undefined && completions > COMPLETIONS_SOFT_LIMIT &&
      backoffLimitPerIndex !== undefined
    ) {
      const why =
        `when completions are above ${COMPLETIONS_SOFT_LIMIT} and used with backoff limit per index`;
      if (maxFailedIndexes === undefined) {
        causes.push(
          requiredValue(
            "spec.maxFailedIndexes",
            `must be specified when completions is above ${COMPLETIONS_SOFT_LIMIT}`,
          ),
        );
      }
      if (parallelism !== undefined && parallelism > PARALLELISM_LIMIT_HIGH_COMPLETIONS) {
        causes.push(
          invalidValue(
            "spec.parallelism",
            parallelism,
            `must be less than or equal to ${PARALLELISM_LIMIT_HIGH_COMPLETIONS} ${why}`,
          ),
        );
      }
      if (
        maxFailedIndexes !== undefined && maxFailedIndexes > MAX_FAILED_INDEXES_HIGH_COMPLETIONS
      ) {
        causes.push(
          invalidValue(
            "spec.maxFailedIndexes",
            maxFailedIndexes,
            `must be less than or equal to ${MAX_FAILED_INDEXES_HIGH_COMPLETIONS} ${why}`,
          ),
        );
      }
    }
  } else {
    if (backoffLimitPerIndex !== undefined) {
      causes.push(
        invalidValue(
          "spec.backoffLimitPerIndex",
          backoffLimitPerIndex,
          "requires indexed completion mode",
        ),
      );
    }
    if (maxFailedIndexes !== undefined) {
      causes.push(
        invalidValue("spec.maxFailedIndexes", maxFailedIndexes, "requires indexed completion mode"),
      );
    }
  }
  if (spec.podFailurePolicy) causes.push(...validatePodFailurePolicy(spec));
  causes.push(...validateSuccessPolicy(spec));
  const replacement = spec.podReplacementPolicy;
  if (replacement !== undefined) {
    const allowed: readonly string[] = spec.podFailurePolicy
      ? ["Failed"]
      : POD_REPLACEMENT_POLICIES;
    if (!allowed.includes(replacement)) {
      causes.push(notSupportedValue("spec.podReplacementPolicy", replacement, allowed));
    }
  }
  causes.push(...validateTemplateMeta(spec.template.metadata, "spec.template.metadata"));
  const podSpec = spec.template.spec as PodSpecValue;
  causes.push(...validatePodSpec(podSpec, "spec.template.spec", false));
  const restartPolicy = podSpec.restartPolicy;
  const restartPath = "spec.template.spec.restartPolicy";
  if (restartPolicy === "Always") {
    causes.push(requiredValue(restartPath, 'valid values: "OnFailure", "Never"'));
  } else if (restartPolicy !== "OnFailure" && restartPolicy !== "Never") {
    causes.push(notSupportedValue(restartPath, restartPolicy, ["OnFailure", "Never"]));
  } else if (spec.podFailurePolicy && restartPolicy !== "Never") {
    causes.push(
      invalid(
        restartPath,
        restartPolicy,
        'only "Never" is supported when podFailurePolicy is specified',
      ),
    );
  }
  return causes;
}

/**
 * The template an update is compared with (`validatePodTemplateUpdate`): a suspended Job that
 * never started may change its scheduling directives (node affinity, node selector,
 * tolerations, scheduling gates) and its template labels and annotations.
 */
function comparableOldTemplate(
  template: JobSpec["template"],
  oldTemplate: JobSpec["template"],
  mutableScheduling: boolean,
): unknown {
  if (!mutableScheduling) return oldTemplate;
  const copy = cloneJson(oldTemplate);
  const affinity = template.spec.affinity;
  const oldAffinity = copy.spec.affinity;
  if (affinity === undefined && oldAffinity !== undefined) {
    delete oldAffinity.nodeAffinity;
    if (Object.keys(oldAffinity).length === 0) delete copy.spec.affinity;
  } else if (affinity !== undefined && oldAffinity === undefined) {
    copy.spec.affinity = affinity.nodeAffinity ? { nodeAffinity: affinity.nodeAffinity } : {};
  } else if (affinity !== undefined && oldAffinity !== undefined) {
    if (affinity.nodeAffinity) oldAffinity.nodeAffinity = affinity.nodeAffinity;
    else delete oldAffinity.nodeAffinity;
  }
  for (const key of ["nodeSelector", "tolerations", "schedulingGates"] as const) {
    const value = template.spec[key];
    if (value === undefined) delete copy.spec[key];
    else (copy.spec as Record<string, unknown>)[key] = value;
  }
  const meta = copy.metadata ??= {};
  for (const key of ["labels", "annotations"] as const) {
    const value = template.metadata?.[key];
    if (value === undefined) delete meta[key];
    else meta[key] = value;
  }
  return copy;
}

/** `ValidateJobSpecUpdate` (beyond the spec checks themselves). */
function validateJobSpecUpdate(spec: JobSpec, old: KubeObject): StatusCause[] {
  const oldSpec = old.spec as JobSpec;
  const causes: StatusCause[] = [];
  if (spec.completionMode !== "Indexed") {
    causes.push(...immutable(spec.completions, oldSpec.completions, "spec.completions"));
  } else if (
    !jsonEqual(spec.completions, oldSpec.completions) && spec.completions !== undefined &&
    spec.completions !== spec.parallelism
  ) {
    // elastic Indexed Jobs: completions may change together with parallelism
    causes.push(
      invalidValue(
        "spec.completions",
        spec.completions,
        "can only be modified in tandem with spec.parallelism",
      ),
    );
  }
  causes.push(...immutable(spec.selector, oldSpec.selector, "spec.selector"));
  const mutableScheduling = oldSpec.suspend && at(old, "status", "startTime") === undefined;
  const template = { metadata: spec.template.metadata ?? {}, spec: spec.template.spec };
  const oldTemplate = comparableOldTemplate(spec.template, oldSpec.template, mutableScheduling);
  const oldComparable = {
    metadata: (oldTemplate as JobSpec["template"]).metadata ?? {},
    spec: (oldTemplate as JobSpec["template"]).spec,
  };
  if (!jsonEqual(template, oldComparable)) {
    causes.push(invalid("spec.template", spec.template, "field is immutable"));
  }
  causes.push(...immutable(spec.completionMode, oldSpec.completionMode, "spec.completionMode"));
  causes.push(
    ...immutable(spec.podFailurePolicy, oldSpec.podFailurePolicy, "spec.podFailurePolicy"),
  );
  causes.push(
    ...immutable(
      spec.backoffLimitPerIndex,
      oldSpec.backoffLimitPerIndex,
      "spec.backoffLimitPerIndex",
    ),
  );
  causes.push(...immutable(spec.managedBy, oldSpec.managedBy, "spec.managedBy"));
  causes.push(...immutable(spec.successPolicy, oldSpec.successPolicy, "spec.successPolicy"));
  return causes;
}

/** `ValidateJob` and, with `old`, `ValidateJobUpdate`. */
function validateJob(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = obj.spec as JobSpec;
  const name = obj.metadata.name ?? "";
  const uid = obj.metadata.uid || old?.metadata.uid || "";
  // an existing Job made before the prefixed labels keeps validating without them
  const oldLabels = stringMap(old, "spec", "template", "metadata", "labels");
  const requirePrefixed = !old ||
    (Object.hasOwn(oldLabels, JOB_NAME_LABEL) && Object.hasOwn(oldLabels, CONTROLLER_UID_LABEL));
  const causes = validateGeneratedSelector(obj, uid, requirePrefixed);
  if (
    spec.completionMode === "Indexed" && spec.completions !== undefined && spec.completions > 0
  ) {
    const hostname = `${name}-${spec.completions - 1}`;
    if (dns1123LabelErrors(hostname).length > 0) {
      causes.push(
        invalid(
          "metadata.name",
          name,
          `will not able to create pod with invalid DNS label: ${hostname}`,
        ),
      );
    }
  }
  causes.push(...validateJobSpec(spec));
  if (spec.selector === undefined) causes.push(requiredValue("spec.selector"));
  else causes.push(...validateLabelSelector(spec.selector, "spec.selector"));
  const templateLabels = spec.template.metadata?.labels ?? {};
  if (selectorMatchesLabels(spec.selector, templateLabels) === false) {
    causes.push(selectorMismatch(templateLabels));
  }
  if (old) causes.push(...validateJobSpecUpdate(spec, old));
  return causes;
}

// --- table ---------------------------------------------------------------------------------

/** `hasJobCondition`: the first condition of this type has status True. */
function hasCondition(obj: KubeObject, type: string): boolean {
  return objects(obj, "status", "conditions").find((c) => c.type === type)?.status === "True";
}

/** The Status cell, as kubectl's `printJob`. */
function jobStatus(obj: KubeObject): string {
  if (hasCondition(obj, "Complete")) return "Complete";
  if (hasCondition(obj, "Failed")) return "Failed";
  if (obj.metadata.deletionTimestamp) return "Terminating";
  if (hasCondition(obj, "Suspended")) return "Suspended";
  if (hasCondition(obj, "FailureTarget")) return "FailureTarget";
  return "Running";
}

/** The Completions cell: `1/3`, or `0/1 of 4` for a work queue (no completions). */
function completionsCell(obj: KubeObject): string {
  const succeeded = num(obj, "status", "succeeded");
  const completions = at(obj, "spec", "completions");
  if (typeof completions === "number") return `${succeeded}/${completions}`;
  const parallelism = num(obj, "spec", "parallelism");
  return parallelism > 1 ? `${succeeded}/1 of ${parallelism}` : `${succeeded}/1`;
}

/** The Duration cell: start to completion, or start to now while running; "" before start. */
function durationCell(obj: KubeObject, now: Date): string {
  const start = Date.parse(str(obj, "status", "startTime"));
  if (Number.isNaN(start)) return "";
  const completion = Date.parse(str(obj, "status", "completionTime"));
  return humanDuration((Number.isNaN(completion) ? now.getTime() : completion) - start);
}

/** batch/v1 jobs */
export const jobs: ResourceType = {
  group: "batch",
  version: "v1",
  kind: "Job",
  plural: "jobs",
  singular: "job",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: [],
  categories: ["all"],
  subresources: ["status"],
  schema: JobSchema,
  statusFields: ["status"],
  tracksGeneration: true,
  columns: [
    nameColumn,
    column("Status", "string", 0, "Status of the job.", jobStatus),
    column(
      "Completions",
      "string",
      0,
      "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.",
      completionsCell,
    ),
    column("Duration", "string", 0, "Time required to complete the job.", durationCell),
    ageColumn,
    ...templateColumns(
      "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors",
      (o) => formatLabelSelector(at(o, "spec", "selector") as LabelSelectorSpec | undefined),
    ),
  ],
  fieldSelectors: {
    "status.successful": (o) => String(num(o, "status", "succeeded")),
  },
  prepareForCreate: prepareJobForCreate,
  normalize: normalizeJob,
  validate: validateJob,
};
