/**
 * The Pod rules the node agent shares with the API, kept free of zod (and of every schema)
 * so that `mod.ts agent` does not load them: the default `imagePullPolicy`, the QoS class and
 * which init containers are sidecars.
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
