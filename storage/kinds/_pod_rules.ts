/**
 * The Pod rules the node agent shares with the API, kept free of zod (and of every schema)
 * so that `mod.ts agent` does not load them: the default `imagePullPolicy`, the QoS class,
 * which init containers are sidecars, and the sysctl name rules.
 *
 * @module
 */

import { scaledValue } from "../quantity.ts";
import type { ContainerValue, PodSpecValue } from "./_pod_spec.ts";

/**
 * `imagePullPolicy`'s default: `Always` when the tag is `latest` or absent (and no digest),
 * else `IfNotPresent` (Kubernetes' `SetDefaults_Container`).
 */
export function defaultPullPolicy(image: string): "Always" | "IfNotPresent" {
  const at = image.indexOf("@");
  const hasDigest = at >= 0;
  const named = hasDigest ? image.slice(0, at) : image;
  const lastSlash = named.lastIndexOf("/");
  const colon = named.lastIndexOf(":");
  const tag = colon > lastSlash ? named.slice(colon + 1) : hasDigest ? "" : "latest";
  return tag === "latest" ? "Always" : "IfNotPresent";
}

/**
 * Whether an init container is a sidecar (`restartPolicy: Always`, Kubernetes' "restartable
 * init container"): started in order like the others, but kept running beside the app
 * containers instead of run to completion.
 */
export function isSidecar(c: Pick<ContainerValue, "restartPolicy">): boolean {
  return c.restartPolicy === "Always";
}

/** The QoS class of a pod spec (`GetPodQOS`): Guaranteed, Burstable or BestEffort. */
export function podQosClass(spec: PodSpecValue): "Guaranteed" | "Burstable" | "BestEffort" {
  // in nano units, the finest precision Kubernetes keeps: the sums compare exactly
  const requests = new Map<string, bigint>();
  const limits = new Map<string, bigint>();
  let guaranteed = true;
  const all: ContainerValue[] = [...(spec.initContainers ?? []), ...spec.containers];
  for (const c of all) {
    for (const [name, q] of Object.entries(c.resources.requests ?? {})) {
      if (name !== "cpu" && name !== "memory") continue;
      const v = scaledValue(q, 9);
      if (v > 0n) requests.set(name, (requests.get(name) ?? 0n) + v);
    }
    const found = new Set<string>();
    for (const [name, q] of Object.entries(c.resources.limits ?? {})) {
      if (name !== "cpu" && name !== "memory") continue;
      const v = scaledValue(q, 9);
      if (v > 0n) {
        found.add(name);
        limits.set(name, (limits.get(name) ?? 0n) + v);
      }
    }
    if (!found.has("cpu") || !found.has("memory")) guaranteed = false;
  }
  if (requests.size === 0 && limits.size === 0) return "BestEffort";
  if (guaranteed) {
    for (const [name, req] of requests) {
      if (limits.get(name) !== req) {
        guaranteed = false;
        break;
      }
    }
  }
  return guaranteed && requests.size === limits.size ? "Guaranteed" : "Burstable";
}

const SYSCTL_SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
/** Kubernetes' `SysctlContainSlashFmt`, anchored, as its validation message prints it. */
export const SYSCTL_NAME_REGEX = `^(${SYSCTL_SEGMENT}[\\./])*${SYSCTL_SEGMENT}$`;
const SYSCTL_NAME = new RegExp(SYSCTL_NAME_REGEX);
/** A sysctl name is at most this long. */
export const SYSCTL_MAX_LENGTH = 253;

/** Whether `name` is a valid sysctl name (`IsValidSysctlName`): dots or slashes between segments. */
export function isValidSysctlName(name: string): boolean {
  return name.length <= SYSCTL_MAX_LENGTH && SYSCTL_NAME.test(name);
}

/**
 * A sysctl name with dots between its segments, as `/proc/sys` paths read and podman takes it
 * (`NormalizeName`): a name whose first separator is a slash has its slashes and dots swapped
 * (`net/ipv4/conf/eth0.100/rp_filter` → `net.ipv4.conf.eth0/100.rp_filter`).
 */
export function sysctlDotted(name: string): string {
  const first = name.search(/[./]/);
  if (first < 0 || name[first] === ".") return name;
  return name.replace(/[./]/g, (c) => (c === "/" ? "." : "/"));
}

/**
 * The kernel namespace a (dotted) sysctl belongs to, as kubelet knows it: `ipc` for
 * `kernel.shm*`, `kernel.msg*`, `kernel.sem` and `fs.mqueue.*`, `net` for `net.*`, else
 * undefined (a node-level sysctl no pod may set).
 */
export function sysctlNamespace(name: string): "ipc" | "net" | undefined {
  if (
    name === "kernel.sem" || name.startsWith("kernel.shm") || name.startsWith("kernel.msg") ||
    name.startsWith("fs.mqueue.")
  ) return "ipc";
  if (name.startsWith("net.")) return "net";
  return undefined;
}
