/**
 * core/v1 Pod: one or more containers scheduled together on a node.
 *
 * Defaults as Kubernetes (schema + `normalize`): restartPolicy `Always`, dnsPolicy
 * `ClusterFirst`, terminationGracePeriodSeconds 30, schedulerName `default-scheduler`,
 * container terminationMessagePath/Policy, imagePullPolicy from the image tag, port protocol
 * `TCP`, requests from limits, `status.phase: Pending` and the QoS class.
 *
 * @module
 */

import { z } from "zod";
import { timestampSince } from "../duration.ts";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import type { StatusCause } from "../status.ts";
import { at, fieldGetter, objects, str } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";
import {
  normalizePodSpec,
  PodSpec,
  type PodSpecValue,
  PodStatus,
  validatePodSpec,
} from "./_pod_spec.ts";
import { podQosClass } from "./_pod_rules.ts";
import { podUpdateCauses } from "./_pod_update.ts";

export { podQosClass };

/** The full Pod object. */
export const PodSchema = objectSchema({
  spec: PodSpec.prefault({ containers: [] }),
  status: PodStatus.optional(),
});

/** A Pod as stored. */
export type Pod = z.output<typeof PodSchema>;

function normalizePod(obj: KubeObject): void {
  const spec = obj.spec as PodSpecValue;
  normalizePodSpec(spec);
  for (const c of [...(spec.initContainers ?? []), ...spec.containers]) {
    const limits = c.resources.limits;
    if (!limits) continue;
    const requests = { ...(c.resources.requests ?? {}) };
    for (const [name, q] of Object.entries(limits)) {
      if (!(name in requests)) requests[name] = q;
    }
    c.resources.requests = requests;
  }
  const status = (obj.status ?? {}) as NonNullable<Pod["status"]>;
  status.phase ??= "Pending";
  status.qosClass ??= podQosClass(spec);
  obj.status = status;
}

function validatePod(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = obj.spec as PodSpecValue;
  const causes = validatePodSpec(spec, "spec", true);
  if (old) causes.push(...podUpdateCauses(spec, old.spec as PodSpecValue));
  return causes;
}

function isRestartable(c: Record<string, unknown> | undefined): boolean {
  return c?.restartPolicy === "Always";
}

function conditionTrue(obj: KubeObject, type: string): boolean {
  return objects(obj, "status", "conditions").some((c) => c.type === type && c.status === "True");
}

function terminatedAt(s: Record<string, unknown>): number {
  const t = Date.parse(str(s, "lastState", "terminated", "finishedAt"));
  return Number.isNaN(t) ? 0 : t;
}

/** The Ready, Status and Restarts cells of a pod (kube's `printPod`). */
export function podSummary(obj: KubeObject, now: Date): {
  ready: string;
  status: string;
  restarts: string;
} {
  let restarts = 0;
  let sidecarRestarts = 0;
  const initSpecs = objects(obj, "spec", "initContainers");
  const total = objects(obj, "spec", "containers").length +
    initSpecs.filter((c) => isRestartable(c)).length;
  let ready = 0;
  let lastRestart = 0;
  let lastSidecarRestart = 0;
  const phase = str(obj, "status", "phase");
  let reason = str(obj, "status", "reason") || phase;
  for (const c of objects(obj, "status", "conditions")) {
    if (c.type === "PodScheduled" && c.reason === "SchedulingGated") reason = "SchedulingGated";
  }
  const initByName = new Map(initSpecs.map((c) => [str(c, "name"), c]));
  const initStatuses = objects(obj, "status", "initContainerStatuses");
  let initializing = false;
  for (const [i, cs] of initStatuses.entries()) {
    const count = typeof cs.restartCount === "number" ? cs.restartCount : 0;
    restarts += count;
    lastRestart = Math.max(lastRestart, terminatedAt(cs));
    const restartable = isRestartable(initByName.get(str(cs, "name")));
    if (restartable) {
      sidecarRestarts += count;
      lastSidecarRestart = Math.max(lastSidecarRestart, terminatedAt(cs));
    }
    const terminated = at(cs, "state", "terminated");
    const waitingReason = str(cs, "state", "waiting", "reason");
    if (terminated !== undefined && at(cs, "state", "terminated", "exitCode") === 0) continue;
    if (restartable && cs.started === true) {
      if (cs.ready === true) ready++;
      continue;
    }
    if (terminated !== undefined) {
      const r = str(cs, "state", "terminated", "reason");
      const signal = at(cs, "state", "terminated", "signal");
      if (r) reason = `Init:${r}`;
      else if (typeof signal === "number" && signal !== 0) reason = `Init:Signal:${signal}`;
      else reason = `Init:ExitCode:${String(at(cs, "state", "terminated", "exitCode") ?? 0)}`;
    } else if (waitingReason && waitingReason !== "PodInitializing") {
      reason = `Init:${waitingReason}`;
    } else {
      reason = `Init:${i}/${initSpecs.length}`;
    }
    initializing = true;
    break;
  }
  if (!initializing || conditionTrue(obj, "Initialized")) {
    restarts = sidecarRestarts;
    lastRestart = lastSidecarRestart;
    let hasRunning = false;
    const statuses = objects(obj, "status", "containerStatuses");
    for (let i = statuses.length - 1; i >= 0; i--) {
      const cs = statuses[i] ?? {};
      restarts += typeof cs.restartCount === "number" ? cs.restartCount : 0;
      lastRestart = Math.max(lastRestart, terminatedAt(cs));
      const waitingReason = str(cs, "state", "waiting", "reason");
      const terminated = at(cs, "state", "terminated");
      const terminatedReason = str(cs, "state", "terminated", "reason");
      if (waitingReason) reason = waitingReason;
      else if (terminated !== undefined && terminatedReason) reason = terminatedReason;
      else if (terminated !== undefined) {
        const signal = at(cs, "state", "terminated", "signal");
        reason = typeof signal === "number" && signal !== 0
          ? `Signal:${signal}`
          : `ExitCode:${String(at(cs, "state", "terminated", "exitCode") ?? 0)}`;
      } else if (cs.ready === true && at(cs, "state", "running") !== undefined) {
        hasRunning = true;
        ready++;
      }
    }
    if (reason === "Completed" && hasRunning) {
      reason = conditionTrue(obj, "Ready") ? "Running" : "NotReady";
    }
  }
  if (obj.metadata.deletionTimestamp && str(obj, "status", "reason") === "NodeLost") {
    reason = "Unknown";
  } else if (obj.metadata.deletionTimestamp && phase !== "Succeeded" && phase !== "Failed") {
    reason = "Terminating";
  }
  const restartsCell = restarts !== 0 && lastRestart !== 0
    ? `${restarts} (${timestampSince(new Date(lastRestart).toISOString(), now)} ago)`
    : String(restarts);
  return { ready: `${ready}/${total}`, status: reason, restarts: restartsCell };
}

function podIP(obj: KubeObject): string {
  return str(obj, "status", "podIPs", 0, "ip") || "<none>";
}

function readinessGates(obj: KubeObject): string {
  const gates = objects(obj, "spec", "readinessGates");
  if (gates.length === 0) return "<none>";
  const conditions = objects(obj, "status", "conditions");
  let trueCount = 0;
  for (const g of gates) {
    const c = conditions.find((c) => c.type === g.conditionType);
    if (c?.status === "True") trueCount++;
  }
  return `${trueCount}/${gates.length}`;
}

/** core/v1 pods */
export const pods: ResourceType = {
  group: "",
  version: "v1",
  kind: "Pod",
  plural: "pods",
  singular: "pod",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["po"],
  categories: ["all"],
  subresources: ["status", "binding", "log"],
  schema: PodSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Ready",
      "string",
      0,
      "The aggregate readiness state of this pod for accepting traffic.",
      (o, now) => podSummary(o, now).ready,
    ),
    column(
      "Status",
      "string",
      0,
      "The aggregate status of the containers in this pod.",
      (o, now) => podSummary(o, now).status,
    ),
    column(
      "Restarts",
      "string",
      0,
      "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
      (o, now) => podSummary(o, now).restarts,
    ),
    ageColumn,
    column(
      "IP",
      "string",
      1,
      "podIP address allocated to the pod. Routable at least within the cluster.",
      podIP,
    ),
    column(
      "Node",
      "string",
      1,
      "NodeName indicates in which node this pod is scheduled.",
      (o) => str(o, "spec", "nodeName") || "<none>",
    ),
    column(
      "Nominated Node",
      "string",
      1,
      "nominatedNodeName is set only when this pod preempts other pods on the node.",
      (o) => str(o, "status", "nominatedNodeName") || "<none>",
    ),
    column(
      "Readiness Gates",
      "string",
      1,
      "If specified, all readiness gates will be evaluated for pod readiness.",
      readinessGates,
    ),
  ],
  fieldSelectors: {
    "spec.nodeName": fieldGetter("spec", "nodeName"),
    "spec.restartPolicy": fieldGetter("spec", "restartPolicy"),
    "spec.schedulerName": fieldGetter("spec", "schedulerName"),
    "spec.serviceAccountName": fieldGetter("spec", "serviceAccountName"),
    "spec.hostNetwork": (o) => (at(o, "spec", "hostNetwork") === true ? "true" : "false"),
    "status.phase": fieldGetter("status", "phase"),
    "status.podIP": (o) => str(o, "status", "podIPs", 0, "ip") || str(o, "status", "podIP"),
    "status.nominatedNodeName": fieldGetter("status", "nominatedNodeName"),
  },
  normalize: normalizePod,
  validate: validatePod,
};
