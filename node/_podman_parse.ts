/**
 * Reading podman's JSON output (`pod ps`, `ps`, `container inspect`) into the runtime's
 * {@linkcode SandboxStatus} and {@linkcode ContainerStatus}. Pure functions over plain objects,
 * so they are tested without podman.
 *
 * @module
 */

import { type ContainerStatus, LABELS, type SandboxStatus } from "./runtime.ts";

/** One entry of `podman pod ps --format json` (the fields we read). */
export interface PodmanPod {
  Id: string;
  Name: string;
  Status: string;
  Created: string;
  InfraId: string;
  Labels?: Record<string, string> | null;
  /** empty for host-network pods */
  Networks?: string[] | null;
  /** every container of the pod, its infra container included */
  Containers?: Array<{ Id: string }> | null;
}

/** One entry of `podman ps -a --format json` (the fields we read). */
export interface PodmanPsContainer {
  Id: string;
  IsInfra: boolean;
  State: string;
  Pid: number;
  Labels?: Record<string, string> | null;
  /** empty for host-network pods */
  Networks?: string[] | null;
}

/** One entry of `podman container inspect --format json` (the fields we read). */
export interface PodmanInspect {
  Id: string;
  Name?: string;
  Created: string;
  Image: string;
  ImageName: string;
  State: {
    Status: string;
    Running: boolean;
    OOMKilled: boolean;
    Pid: number;
    ExitCode: number;
    Error?: string;
    StartedAt: string;
    FinishedAt: string;
  };
  Config: { Labels?: Record<string, string> | null };
  /** `NetworkMode` is "host" for a host-network pod's containers */
  HostConfig?: { NetworkMode?: string; NanoCpus?: number; Memory?: number };
  NetworkSettings?: {
    IPAddress?: string;
    Networks?: Record<string, { IPAddress?: string }> | null;
  };
}

/**
 * Parses podman JSON that is either a list or, for one object (`podman pod inspect`), the
 * object itself; empty output is an empty list.
 */
export function parseJsonList<T>(text: string): T[] {
  const trimmed = text.trim();
  if (trimmed === "" || trimmed === "null") return [];
  const value: unknown = JSON.parse(trimmed);
  return (Array.isArray(value) ? value : [value]) as T[];
}

/** Maps a podman container state to the runtime's four. */
export function containerState(podmanState: string): ContainerStatus["state"] {
  switch (podmanState.toLowerCase()) {
    case "configured":
    case "created":
    case "initialized":
      return "created";
    case "running":
    case "paused":
    case "stopping":
      return "running";
    case "exited":
    case "stopped":
      return "exited";
    default:
      return "unknown";
  }
}

/** A podman timestamp as a Date; undefined for Go's zero time or an unreadable value. */
export function podmanTime(text: string | undefined): Date | undefined {
  if (!text || text.startsWith("0001-01-01")) return undefined;
  const date = new Date(text);
  return Number.isNaN(date.getTime()) ? undefined : date;
}

/** The sandbox status of a podman pod, given its infra container's inspect output. */
export function sandboxStatus(pod: PodmanPod, infra: PodmanInspect | undefined): SandboxStatus {
  const labels = pod.Labels ?? {};
  const running = infra?.State.Running === true;
  return {
    id: pod.Id,
    podUid: labels[LABELS.podUid] ?? "",
    podName: labels[LABELS.podName] ?? "",
    podNamespace: labels[LABELS.podNamespace] ?? "",
    ip: running && infra ? infraIp(infra) : "",
    state: running ? "ready" : "notready",
    createdAt: podmanTime(pod.Created) ?? new Date(0),
  };
}

/** The IP of a sandbox's infra container on its (first) network; "" when it has none. */
export function infraIp(infra: PodmanInspect): string {
  const settings = infra.NetworkSettings;
  if (settings?.IPAddress) return settings.IPAddress;
  for (const network of Object.values(settings?.Networks ?? {})) {
    if (network.IPAddress) return network.IPAddress;
  }
  return "";
}

/**
 * The container status of an inspected container; undefined when it lacks our labels (not
 * made by this runtime, or a pod's infra container).
 */
export function containerStatus(inspect: PodmanInspect): ContainerStatus | undefined {
  const labels = inspect.Config.Labels ?? {};
  const podUid = labels[LABELS.podUid];
  const name = labels[LABELS.container];
  if (podUid === undefined || name === undefined) return undefined;
  const state = containerState(inspect.State.Status);
  const startedAt = podmanTime(inspect.State.StartedAt);
  let finishedAt = state === "exited" ? podmanTime(inspect.State.FinishedAt) : undefined;
  // runc records the exit of a very short-lived process a little before its start.
  if (startedAt && finishedAt && finishedAt < startedAt) finishedAt = startedAt;
  const status: ContainerStatus = {
    id: inspect.Id,
    podUid,
    name,
    kind: labels[LABELS.containerKind] === "init" ? "init" : "app",
    attempt: Number.parseInt(labels[LABELS.attempt] ?? "0", 10) || 0,
    specHash: labels[LABELS.specHash] ?? "",
    image: inspect.ImageName,
    imageId: inspect.Image.startsWith("sha256:") ? inspect.Image : `sha256:${inspect.Image}`,
    state,
    createdAt: podmanTime(inspect.Created) ?? new Date(0),
  };
  if (startedAt) status.startedAt = startedAt;
  if (state === "exited") {
    const code = inspect.State.ExitCode;
    status.exitCode = code;
    status.reason = inspect.State.OOMKilled ? "OOMKilled" : code === 0 ? "Completed" : "Error";
    if (finishedAt) status.finishedAt = finishedAt;
  }
  if (inspect.State.Error) status.message = inspect.State.Error;
  return status;
}

/** Sorts containers by attempt, then by creation time: newest attempt last. */
export function byAttempt(a: ContainerStatus, b: ContainerStatus): number {
  return a.attempt - b.attempt || a.createdAt.getTime() - b.createdAt.getTime();
}
