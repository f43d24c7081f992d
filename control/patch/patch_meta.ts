/**
 * Patch strategies and merge keys of the kinds we serve, transcribed from the `patchStrategy`
 * and `patchMergeKey` struct tags of k8s.io/api (core/v1, apps/v1, batch/v1, discovery/v1).
 *
 * Lists absent here have no patch strategy and are replaced by a strategic merge patch
 * (`+listType=atomic` in k8s.io/api), notably: PodSpec `tolerations` and `readinessGates`,
 * Container `envFrom`, `resizePolicy` and `args`/`command`, NodeSpec `taints`, Endpoints
 * `subsets`, EndpointSlice `endpoints` and `ports`, NamespaceSpec `finalizers`, and every
 * status list not named below.
 *
 * @example
 * ```ts
 * const meta = patchMetaFor("apps/v1", "Deployment");
 * applyStrategicMergePatch(deployment, patch, meta);
 * ```
 *
 * @module
 */

import type { PatchMeta } from "./strategic_merge_patch.ts";

function mergeBy(mergeKey: string, items?: PatchMeta): PatchMeta {
  return items ? { strategy: "merge", mergeKey, items } : { strategy: "merge", mergeKey };
}

const conditionsByType = mergeBy("type");

/** metav1.ObjectMeta */
const objectMeta: PatchMeta = {
  fields: {
    finalizers: { strategy: "merge" },
    ownerReferences: mergeBy("uid"),
  },
};

/** core/v1 Container (and EphemeralContainerCommon, which has the same tags). */
const container: PatchMeta = {
  fields: {
    ports: mergeBy("containerPort"),
    env: mergeBy("name"),
    volumeMounts: mergeBy("mountPath"),
    volumeDevices: mergeBy("devicePath"),
  },
};

/** core/v1 PodSpec */
const podSpec: PatchMeta = {
  fields: {
    volumes: { strategy: "merge,retainKeys", mergeKey: "name" },
    initContainers: mergeBy("name", container),
    containers: mergeBy("name", container),
    ephemeralContainers: mergeBy("name", container),
    imagePullSecrets: mergeBy("name"),
    hostAliases: mergeBy("ip"),
    topologySpreadConstraints: mergeBy("topologyKey"),
    schedulingGates: mergeBy("name"),
    resourceClaims: { strategy: "merge,retainKeys", mergeKey: "name" },
  },
};

/** core/v1 PodStatus */
const podStatus: PatchMeta = {
  fields: {
    conditions: conditionsByType,
    podIPs: mergeBy("ip"),
    hostIPs: mergeBy("ip"),
    resourceClaimStatuses: { strategy: "merge,retainKeys", mergeKey: "name" },
  },
};

/** core/v1 PodTemplateSpec */
const podTemplateSpec: PatchMeta = { fields: { metadata: objectMeta, spec: podSpec } };

/** Any `status` whose only strategic list is `conditions` merged by type. */
const conditionsStatus: PatchMeta = { fields: { conditions: conditionsByType } };

/** A kind with ObjectMeta and nothing else strategic (ConfigMap, Secret, Event, Lease, …). */
const metadataOnly: PatchMeta = { fields: { metadata: objectMeta } };

/** A workload whose `spec.template` is a PodTemplateSpec and whose status has conditions. */
function workload(specFields: Record<string, PatchMeta> = {}): PatchMeta {
  return {
    fields: {
      metadata: objectMeta,
      spec: { fields: { ...specFields, template: podTemplateSpec } },
      status: conditionsStatus,
    },
  };
}

const KINDS: ReadonlyMap<string, PatchMeta> = new Map([
  ["v1/Pod", { fields: { metadata: objectMeta, spec: podSpec, status: podStatus } }],
  ["v1/PodTemplate", { fields: { metadata: objectMeta, template: podTemplateSpec } }],
  ["v1/ReplicationController", workload()],
  ["v1/Service", {
    fields: {
      metadata: objectMeta,
      spec: { fields: { ports: mergeBy("port") } },
      status: conditionsStatus,
    },
  }],
  ["v1/Node", {
    fields: {
      metadata: objectMeta,
      spec: { fields: { podCIDRs: { strategy: "merge" } } },
      status: { fields: { conditions: conditionsByType, addresses: mergeBy("type") } },
    },
  }],
  ["v1/Namespace", { fields: { metadata: objectMeta, status: conditionsStatus } }],
  ["v1/ConfigMap", metadataOnly],
  ["v1/Secret", metadataOnly],
  ["v1/Endpoints", metadataOnly],
  ["v1/Event", metadataOnly],
  ["v1/ServiceAccount", { fields: { metadata: objectMeta, secrets: mergeBy("name") } }],
  ["events.k8s.io/v1/Event", metadataOnly],
  ["coordination.k8s.io/v1/Lease", metadataOnly],
  ["discovery.k8s.io/v1/EndpointSlice", metadataOnly],
  ["apps/v1/Deployment", workload({ strategy: { strategy: "retainKeys" } })],
  ["apps/v1/ReplicaSet", workload()],
  ["apps/v1/StatefulSet", workload()],
  ["apps/v1/DaemonSet", workload()],
  ["batch/v1/Job", workload()],
  ["batch/v1/CronJob", {
    fields: {
      metadata: objectMeta,
      spec: {
        fields: {
          jobTemplate: {
            fields: { metadata: objectMeta, spec: { fields: { template: podTemplateSpec } } },
          },
        },
      },
    },
  }],
]);

const UNKNOWN: PatchMeta = {};

/**
 * The strategic-merge-patch metadata of a kind. Unknown kinds get empty metadata, with which
 * a strategic merge patch behaves like a JSON merge patch (maps merge, lists are replaced)
 * plus the `$patch`/`$retainKeys` directives.
 */
export function patchMetaFor(apiVersion: string, kind: string): PatchMeta {
  return KINDS.get(`${apiVersion}/${kind}`) ?? UNKNOWN;
}
