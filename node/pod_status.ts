/**
 * A pod's status from what the runtime shows, as kubelet's `generateAPIPodStatus`: the phase
 * (`getPhase`), the PodReadyToStartContainers/Initialized/Ready/ContainersReady/PodScheduled
 * conditions (`generate.go`), IPs, start time, QoS class and the init and app container
 * statuses in spec order.
 *
 * Pure: the pod worker gathers the runtime's view, the probe results and the reasons it could
 * not start containers, and reports what this returns.
 *
 * @module
 */

import type { z } from "zod";
import { isSidecar, podQosClass } from "../storage/kinds/_pod_rules.ts";
import type {
  ContainerStatus as ApiContainerStatusSchema,
  ContainerValue,
  PodSpecValue,
  PodStatus as PodStatusSchema,
} from "../storage/kinds/_pod_spec.ts";
import type { KubeObject } from "../storage/object.ts";
import type { ContainerStatus, SandboxStatus } from "./runtime.ts";
import type { ProbeResults } from "./probes.ts";

/** core/v1 PodStatus as this module produces it. */
export type PodStatus = z.output<typeof PodStatusSchema>;
/** core/v1 ContainerStatus */
export type ApiContainerStatus = z.output<typeof ApiContainerStatusSchema>;
type ContainerState = NonNullable<ApiContainerStatus["state"]>;
type Terminated = NonNullable<ContainerState["terminated"]>;
type Condition = NonNullable<PodStatus["conditions"]>[number];
type Phase = NonNullable<PodStatus["phase"]>;

/** Why a container is waiting instead of running (`ErrImagePull`, `CrashLoopBackOff`, …). */
export interface ContainerWaiting {
  reason: string;
  message: string;
}

/** Extra facts for {@linkcode podStatus}. */
export interface PodStatusOptions {
  /** the node's IP (status.hostIP); the previous one is kept when absent */
  hostIP?: string;
  /** the pod is finished for good (deleted and its containers stopped): the phase is terminal */
  terminal?: boolean;
  /**
   * why the pod has no sandbox yet (its volumes cannot be mounted): the reason and message of
   * its `PodReadyToStartContainers` condition
   */
  notReadyToStart?: { reason: string; message: string };
}

/** Kubernetes' timestamp format: RFC 3339 in UTC, whole seconds. */
export function apiTime(ms: number | Date): string {
  const d = typeof ms === "number" ? new Date(ms) : ms;
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** The runtime's instances of `name` of one kind, oldest attempt first. */
export function instancesOf(
  containers: readonly ContainerStatus[],
  name: string,
  kind: "init" | "app",
): ContainerStatus[] {
  return containers
    .filter((c) => c.name === name && c.kind === kind)
    .sort((a, b) => a.attempt - b.attempt || a.createdAt.getTime() - b.createdAt.getTime());
}

function terminatedState(c: ContainerStatus): Terminated {
  const exitCode = c.exitCode ?? 0;
  const t: Terminated = {
    exitCode,
    reason: c.reason ?? (exitCode === 0 ? "Completed" : "Error"),
    containerID: `podman://${c.id}`,
  };
  if (c.message) t.message = c.message;
  if (c.startedAt) t.startedAt = apiTime(c.startedAt);
  if (c.finishedAt) t.finishedAt = apiTime(c.finishedAt);
  return t;
}

function containerStatus(
  spec: ContainerValue,
  kind: "init" | "app",
  containers: readonly ContainerStatus[],
  probes: ProbeResults,
  waiting: ContainerWaiting | undefined,
  defaultReason: string,
): ApiContainerStatus {
  const instances = instancesOf(containers, spec.name, kind);
  const newest = instances.at(-1);
  const previous = instances.at(-2);
  // a sidecar runs beside the app containers: probed, and never "completed"
  const runsToCompletion = kind === "init" && !isSidecar(spec);
  const status: ApiContainerStatus = {
    name: spec.name,
    state: { waiting: { reason: defaultReason } },
    ready: false,
    restartCount: newest?.attempt ?? 0,
    image: newest?.image ?? spec.image ?? "",
    imageID: newest?.imageId ?? "",
    started: false,
  };
  if (newest) status.containerID = `podman://${newest.id}`;
  if (previous?.state === "exited") status.lastState = { terminated: terminatedState(previous) };
  if (newest?.state === "running") {
    status.state = { running: newest.startedAt ? { startedAt: apiTime(newest.startedAt) } : {} };
    status.started = runsToCompletion || probes.started(spec.name);
    status.ready = !runsToCompletion && probes.ready(spec.name);
    return status;
  }
  if (newest?.state === "exited") {
    const terminated = terminatedState(newest);
    if (waiting && !(runsToCompletion && terminated.exitCode === 0)) {
      status.lastState = { terminated };
      status.state = { waiting: { ...waiting } };
      return status;
    }
    status.state = { terminated };
    status.ready = runsToCompletion && terminated.exitCode === 0;
    return status;
  }
  if (waiting) status.state = { waiting: { ...waiting } };
  return status;
}

/**
 * kubelet's `getPhase`: Pending while init containers run or app containers wait, Running
 * while one runs (or may be restarted), Succeeded/Failed once all have stopped for good.
 */
export function podPhase(
  spec: PodSpecValue,
  init: readonly ApiContainerStatus[],
  app: readonly ApiContainerStatus[],
  terminal: boolean,
): Phase {
  let pendingInit = 0;
  let failedInit = 0;
  for (const c of spec.initContainers ?? []) {
    if (isSidecar(c)) continue;
    const s = init.find((x) => x.name === c.name);
    if (!s?.state) pendingInit++;
    else if (s.state.running) pendingInit++;
    else if (s.state.terminated) {
      if (s.state.terminated.exitCode !== 0) failedInit++;
    } else if (s.lastState?.terminated) {
      if (s.lastState.terminated.exitCode !== 0) failedInit++;
    } else pendingInit++;
  }
  let unknown = 0, running = 0, waiting = 0, stopped = 0, succeeded = 0;
  // sidecars: running ones count (not yet started ones keep the pod initializing), stopped
  // ones are ignored
  for (const c of (spec.initContainers ?? []).filter(isSidecar)) {
    const s = init.find((x) => x.name === c.name);
    if (!s?.state) {
      pendingInit++;
      unknown++;
    } else if (s.state.running) {
      if (s.started !== true) pendingInit++;
      running++;
    } else if (s.state.waiting && !s.lastState?.terminated) {
      pendingInit++;
      waiting++;
    }
  }
  for (const c of spec.containers) {
    const s = app.find((x) => x.name === c.name);
    if (!s?.state) unknown++;
    else if (s.state.running) running++;
    else if (s.state.terminated) {
      stopped++;
      if (s.state.terminated.exitCode === 0) succeeded++;
    } else if (s.lastState?.terminated) stopped++;
    else waiting++;
  }
  if (failedInit > 0 && spec.restartPolicy === "Never") return "Failed";
  if (terminal && running === 0 && (failedInit > 0 || pendingInit > 0)) return "Failed";
  // once an app container has run, a restarting sidecar does not make the pod Pending again
  const appStarted = app.some((s) =>
    s.state?.running !== undefined || s.state?.terminated !== undefined ||
    s.lastState?.terminated !== undefined
  );
  if ((pendingInit > 0 && !appStarted) || waiting > 0) return terminal ? "Failed" : "Pending";
  if (running > 0 && unknown === 0) return "Running";
  if (running === 0 && stopped > 0 && unknown === 0) {
    if (terminal) return stopped === succeeded ? "Succeeded" : "Failed";
    if (spec.restartPolicy === "Always") return "Running";
    if (stopped === succeeded) return "Succeeded";
    if (spec.restartPolicy === "Never") return "Failed";
    return "Running";
  }
  return "Pending";
}

function goList(names: string[]): string {
  return `[${names.join(" ")}]`;
}

function initializedCondition(
  spec: PodSpecValue,
  init: readonly ApiContainerStatus[],
  app: readonly ApiContainerStatus[],
  phase: Phase,
): Pick<Condition, "status" | "reason" | "message"> {
  const incomplete = (spec.initContainers ?? [])
    .filter((c) => {
      const s = init.find((x) => x.name === c.name);
      return isSidecar(c) ? s?.started !== true : s?.state?.terminated?.exitCode !== 0;
    })
    .map((c) => c.name);
  if (phase === "Succeeded") return { status: "True", reason: "PodCompleted" };
  const anyAppStarted = app.some((s) =>
    s.state?.running !== undefined || s.state?.terminated !== undefined ||
    s.lastState?.terminated !== undefined
  );
  if (anyAppStarted || incomplete.length === 0) return { status: "True" };
  return {
    status: "False",
    reason: "ContainersNotInitialized",
    message: `containers with incomplete status: ${goList(incomplete)}`,
  };
}

function containersReadyCondition(
  spec: PodSpecValue,
  init: readonly ApiContainerStatus[],
  app: readonly ApiContainerStatus[],
  phase: Phase,
): Pick<Condition, "status" | "reason" | "message"> {
  if (phase === "Succeeded") return { status: "False", reason: "PodCompleted" };
  if (phase === "Failed") return { status: "False", reason: "PodFailed" };
  const unready = [
    ...(spec.initContainers ?? []).filter(isSidecar)
      .filter((c) => init.find((s) => s.name === c.name)?.ready !== true),
    ...spec.containers.filter((c) => app.find((s) => s.name === c.name)?.ready !== true),
  ].map((c) => c.name);
  if (unready.length === 0) return { status: "True" };
  return {
    status: "False",
    reason: "ContainersNotReady",
    message: `containers with unready status: ${goList(unready)}`,
  };
}

function readyCondition(
  spec: PodSpecValue,
  containersReady: Pick<Condition, "status" | "reason" | "message">,
  previous: readonly Condition[],
): Pick<Condition, "status" | "reason" | "message"> {
  if (containersReady.status !== "True") return containersReady;
  const messages: string[] = [];
  for (const gate of spec.readinessGates ?? []) {
    const c = previous.find((p) => p.type === gate.conditionType);
    if (!c) {
      messages.push(
        `corresponding condition of pod readiness gate "${gate.conditionType}" does not exist.`,
      );
    } else if (c.status !== "True") {
      messages.push(
        `the status of pod readiness gate "${gate.conditionType}" is not "True", but ${c.status}`,
      );
    }
  }
  if (messages.length === 0) return { status: "True" };
  return { status: "False", reason: "ReadinessGatesNotReady", message: messages.join(", ") };
}

/**
 * kubelet's `PodReadyToStartContainers`: True once the pod has a sandbox (network and all),
 * False before, with the reason it cannot get one when there is one, and after termination.
 */
function readyToStartCondition(
  sandbox: SandboxStatus | undefined,
  options: PodStatusOptions,
): Pick<Condition, "status" | "reason" | "message"> {
  if (sandbox && options.terminal !== true) return { status: "True" };
  const blocked = options.terminal === true ? undefined : options.notReadyToStart;
  return blocked ? { status: "False", ...blocked } : { status: "False" };
}

const KUBELET_CONDITIONS = new Set([
  "PodReadyToStartContainers",
  "PodScheduled",
  "Initialized",
  "ContainersReady",
  "Ready",
]);

function condition(
  type: string,
  value: Pick<Condition, "status" | "reason" | "message">,
  previous: readonly Condition[],
  now: number,
): Condition {
  const before = previous.find((c) => c.type === type);
  const c: Condition = {
    type,
    status: value.status,
    lastTransitionTime: before?.status === value.status && before.lastTransitionTime
      ? before.lastTransitionTime
      : apiTime(now),
  };
  if (value.reason) c.reason = value.reason;
  if (value.message) c.message = value.message;
  return c;
}

/**
 * The status to report for `pod`, given its sandbox (undefined when it has none), every
 * container instance the runtime has for it, the probe results, the time, and why containers
 * could not be started (by container name; shown as their waiting state).
 *
 * Kept from the pod's previous status: startTime, qosClass, podIP when the sandbox is gone,
 * conditions' lastTransitionTime while their status is unchanged, conditions kubelet does not
 * own, and a terminal phase (a Succeeded or Failed pod never runs again).
 */
export function podStatus(
  pod: KubeObject,
  sandbox: SandboxStatus | undefined,
  containers: readonly ContainerStatus[],
  probes: ProbeResults,
  now: number,
  podErrors: ReadonlyMap<string, ContainerWaiting>,
  options: PodStatusOptions = {},
): PodStatus {
  const spec = pod.spec as PodSpecValue;
  const previous = (pod.status ?? {}) as PodStatus;
  const hasInit = (spec.initContainers ?? []).length > 0;
  const defaultReason = hasInit ? "PodInitializing" : "ContainerCreating";
  const init = (spec.initContainers ?? []).map((c) =>
    containerStatus(c, "init", containers, probes, podErrors.get(c.name), defaultReason)
  );
  const app = spec.containers.map((c) =>
    containerStatus(c, "app", containers, probes, podErrors.get(c.name), defaultReason)
  );
  const wasTerminal = previous.phase === "Succeeded" || previous.phase === "Failed";
  const phase = wasTerminal && previous.phase
    ? previous.phase
    : podPhase(spec, init, app, options.terminal === true);
  const prevConditions = previous.conditions ?? [];
  const containersReady = containersReadyCondition(spec, init, app, phase);
  const conditions: Condition[] = [
    condition(
      "PodReadyToStartContainers",
      readyToStartCondition(sandbox, options),
      prevConditions,
      now,
    ),
    condition("Initialized", initializedCondition(spec, init, app, phase), prevConditions, now),
    condition("Ready", readyCondition(spec, containersReady, prevConditions), prevConditions, now),
    condition("ContainersReady", containersReady, prevConditions, now),
    condition("PodScheduled", { status: "True" }, prevConditions, now),
    ...prevConditions.filter((c) => !KUBELET_CONDITIONS.has(c.type)),
  ];
  const hostIP = options.hostIP ?? previous.hostIP;
  const podIP = spec.hostNetwork === true ? hostIP : sandbox?.ip || previous.podIP;
  const status: PodStatus = {
    phase,
    conditions,
    startTime: previous.startTime ?? apiTime(now),
    qosClass: previous.qosClass ?? podQosClass(spec),
    containerStatuses: app,
  };
  if (hostIP) {
    status.hostIP = hostIP;
    status.hostIPs = [{ ip: hostIP }];
  }
  if (podIP) {
    status.podIP = podIP;
    status.podIPs = [{ ip: podIP }];
  }
  if (hasInit) status.initContainerStatuses = init;
  return status;
}

/**
 * The status of a pod the node refused to run (kubelet's `rejectPod`): phase Failed, the
 * reason (`SysctlForbidden`) and `Pod was rejected: <message>`, its scheduling condition and
 * start time kept, no container statuses.
 */
export function rejectedStatus(
  pod: KubeObject,
  rejection: { reason: string; message: string },
  now: number,
  hostIP?: string,
): PodStatus {
  const previous = (pod.status ?? {}) as PodStatus;
  const prevConditions = previous.conditions ?? [];
  const status: PodStatus = {
    phase: "Failed",
    reason: rejection.reason,
    message: `Pod was rejected: ${rejection.message}`,
    conditions: [
      condition("PodScheduled", { status: "True" }, prevConditions, now),
      ...prevConditions.filter((c) => !KUBELET_CONDITIONS.has(c.type)),
    ],
    startTime: previous.startTime ?? apiTime(now),
    qosClass: previous.qosClass ?? podQosClass(pod.spec as PodSpecValue),
  };
  const ip = hostIP ?? previous.hostIP;
  if (ip) {
    status.hostIP = ip;
    status.hostIPs = [{ ip }];
  }
  return status;
}
