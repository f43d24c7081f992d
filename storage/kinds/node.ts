/**
 * core/v1 Node: a machine that runs pods. Cluster-scoped; `status.allocatable` defaults to
 * `status.capacity`.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { at, Condition, objects, OpenObject, ResourceList, str } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, Time } from "./_meta.ts";

const Taint = z.strictObject({
  key: z.string(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]),
  timeAdded: Time.optional(),
});

const NodeSystemInfo = z.strictObject({
  machineID: z.string().optional(),
  systemUUID: z.string().optional(),
  bootID: z.string().optional(),
  kernelVersion: z.string().optional(),
  osImage: z.string().optional(),
  containerRuntimeVersion: z.string().optional(),
  kubeletVersion: z.string().optional(),
  kubeProxyVersion: z.string().optional(),
  operatingSystem: z.string().optional(),
  architecture: z.string().optional(),
  swap: OpenObject.optional(),
});

/** The full Node object. */
export const NodeSchema = objectSchema({
  spec: z
    .strictObject({
      podCIDR: z.string().optional(),
      podCIDRs: z.array(z.string()).optional(),
      providerID: z.string().optional(),
      unschedulable: z.boolean().optional(),
      taints: z.array(Taint).optional(),
      configSource: OpenObject.optional(),
      externalID: z.string().optional(),
    })
    .prefault({}),
  status: z
    .strictObject({
      capacity: ResourceList.optional(),
      allocatable: ResourceList.optional(),
      phase: z.string().optional(),
      conditions: z.array(Condition).optional(),
      addresses: z.array(z.strictObject({ type: z.string(), address: z.string() })).optional(),
      daemonEndpoints: z
        .strictObject({
          kubeletEndpoint: z.strictObject({ Port: z.int32() }).optional(),
        })
        .optional(),
      nodeInfo: NodeSystemInfo.optional(),
      images: z
        .array(
          z.strictObject({
            names: z.array(z.string()).optional(),
            sizeBytes: z.int().optional(),
          }),
        )
        .optional(),
      volumesInUse: z.array(z.string()).optional(),
      volumesAttached: z
        .array(z.strictObject({ name: z.string(), devicePath: z.string() }))
        .optional(),
      config: OpenObject.optional(),
      runtimeHandlers: z.array(OpenObject).optional(),
      features: OpenObject.optional(),
    })
    .optional(),
});

/** A Node as stored. */
export type Node = z.output<typeof NodeSchema>;

/** `Ready`, `NotReady` or `Unknown`, plus `SchedulingDisabled` (the Status column). */
export function nodeStatus(obj: KubeObject): string {
  const status: string[] = [];
  const ready = objects(obj, "status", "conditions").findLast((c) => c.type === "Ready");
  if (ready) status.push(ready.status === "True" ? "Ready" : "NotReady");
  else status.push("Unknown");
  if (at(obj, "spec", "unschedulable") === true) status.push("SchedulingDisabled");
  return status.join(",");
}

/** Roles from `node-role.kubernetes.io/<role>` and `kubernetes.io/role` labels, sorted. */
export function nodeRoles(obj: KubeObject): string {
  const roles = new Set<string>();
  for (const [k, v] of Object.entries(obj.metadata.labels ?? {})) {
    if (k.startsWith("node-role.kubernetes.io/")) {
      const role = k.slice("node-role.kubernetes.io/".length);
      if (role) roles.add(role);
    } else if (k === "kubernetes.io/role" && v !== "") roles.add(v);
  }
  return roles.size === 0 ? "<none>" : [...roles].sort().join(",");
}

function address(obj: KubeObject, type: string): string {
  const found = objects(obj, "status", "addresses").find((a) => a.type === type);
  return found && typeof found.address === "string" ? found.address : "<none>";
}

function infoOrUnknown(obj: KubeObject, key: string): string {
  return str(obj, "status", "nodeInfo", key) || "<unknown>";
}

function normalizeNode(obj: KubeObject): void {
  const status = obj.status as Record<string, unknown> | undefined;
  if (status && status.capacity !== undefined && status.allocatable === undefined) {
    status.allocatable = { ...(status.capacity as Record<string, unknown>) };
  }
}

/** core/v1 nodes */
export const nodes: ResourceType = {
  group: "",
  version: "v1",
  kind: "Node",
  plural: "nodes",
  singular: "node",
  namespaced: false,
  nameRule: "dns1123-subdomain",
  shortNames: ["no"],
  categories: [],
  subresources: ["status"],
  schema: NodeSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column("Status", "string", 0, "The status of the node", nodeStatus),
    column("Roles", "string", 0, "The roles of the node", nodeRoles),
    ageColumn,
    column(
      "Version",
      "string",
      0,
      "Deprecated. Kubelet Version reported by the node.",
      (o) => str(o, "status", "nodeInfo", "kubeletVersion"),
    ),
    column(
      "Internal-IP",
      "string",
      1,
      "List of addresses reachable to the node.",
      (o) => address(o, "InternalIP"),
    ),
    column(
      "External-IP",
      "string",
      1,
      "List of addresses reachable to the node.",
      (o) => address(o, "ExternalIP"),
    ),
    column(
      "OS-Image",
      "string",
      1,
      "OS Image reported by the node from /etc/os-release (e.g. Debian GNU/Linux 7 (wheezy)).",
      (o) => infoOrUnknown(o, "osImage"),
    ),
    column(
      "Kernel-Version",
      "string",
      1,
      "Kernel Version reported by the node from 'uname -r' (e.g. 3.16.0-0.bpo.4-amd64).",
      (o) => infoOrUnknown(o, "kernelVersion"),
    ),
    column(
      "Container-Runtime",
      "string",
      1,
      "ContainerRuntime Version reported by the node through runtime remote API (e.g. containerd://1.4.2).",
      (o) => infoOrUnknown(o, "containerRuntimeVersion"),
    ),
  ],
  fieldSelectors: {
    "spec.unschedulable": (o) => (at(o, "spec", "unschedulable") === true ? "true" : "false"),
  },
  normalize: normalizeNode,
};
