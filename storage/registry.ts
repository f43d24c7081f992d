/**
 * The kinds we serve and how names resolve to them: by API coordinates (URLs), by
 * `apiVersion` + `kind` (manifests) and by the words a CLI user types (`po`, `deploy.apps`).
 *
 * @example
 * ```ts
 * resolveResource("deploy")?.kind; // "Deployment"
 * findKind("v1", "ConfigMap")?.plural; // "configmaps"
 * ```
 *
 * @module
 */

import { configMaps } from "./kinds/config_map.ts";
import { daemonSets } from "./kinds/daemon_set.ts";
import { deployments } from "./kinds/deployment.ts";
import { endpointSlices } from "./kinds/endpoint_slice.ts";
import { endpoints } from "./kinds/endpoints.ts";
import { events } from "./kinds/event.ts";
import { jobs } from "./kinds/job.ts";
import { leases } from "./kinds/lease.ts";
import { namespaces } from "./kinds/namespace.ts";
import { nodes } from "./kinds/node.ts";
import { persistentVolumes } from "./kinds/persistent_volume.ts";
import { persistentVolumeClaims } from "./kinds/persistent_volume_claim.ts";
import { pods } from "./kinds/pod.ts";
import { replicaSets } from "./kinds/replica_set.ts";
import { secrets } from "./kinds/secret.ts";
import { services } from "./kinds/service.ts";
import { serviceAccounts } from "./kinds/service_account.ts";
import { storageClasses } from "./kinds/storage_class.ts";
import { apiVersionOf, type ResourceType } from "./resource.ts";

/** Every kind we serve, core group first. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  namespaces,
  nodes,
  pods,
  services,
  endpoints,
  configMaps,
  secrets,
  serviceAccounts,
  events,
  persistentVolumes,
  persistentVolumeClaims,
  deployments,
  replicaSets,
  daemonSets,
  jobs,
  leases,
  endpointSlices,
  storageClasses,
];

/** The kind served at `/{group}/{version}/{plural}` (group "" for the core group). */
export function findResource(
  group: string,
  version: string,
  plural: string,
): ResourceType | undefined {
  return RESOURCE_TYPES.find((rt) =>
    rt.group === group && rt.version === version && rt.plural === plural
  );
}

/** The kind of a manifest: `findKind("apps/v1", "Deployment")`. */
export function findKind(apiVersion: string, kind: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((rt) => apiVersionOf(rt) === apiVersion && rt.kind === kind);
}

function matchesWord(rt: ResourceType, word: string): boolean {
  return rt.plural === word || rt.singular === word || rt.shortNames.includes(word) ||
    rt.kind.toLowerCase() === word;
}

/**
 * The kind of `apiVersion` + `kind` that code relies on being served; throws when it is not
 * (a programming error, not bad input).
 */
export function requireKind(apiVersion: string, kind: string): ResourceType {
  const rt = findKind(apiVersion, kind);
  if (!rt) throw new Error(`The ${kind} kind (${apiVersion}) is not served`);
  return rt;
}

/**
 * The kind a CLI word names, case-insensitively: plural (`pods`), singular (`pod`), short name
 * (`po`), Kind (`Pod`), or qualified by group (`deployments.apps`, `deploy.apps`) or by
 * version and group (`deployments.v1.apps`).
 */
export function resolveResource(name: string): ResourceType | undefined {
  const word = name.trim().toLowerCase();
  if (word === "") return undefined;
  const plain = RESOURCE_TYPES.find((rt) => matchesWord(rt, word));
  if (plain) return plain;
  const dot = word.indexOf(".");
  if (dot <= 0) return undefined;
  const head = word.slice(0, dot);
  const rest = word.slice(dot + 1);
  return RESOURCE_TYPES.find((rt) =>
    matchesWord(rt, head) &&
    (rt.group === rest || (rt.group !== "" && rest === `${rt.version}.${rt.group}`) ||
      (rt.group === "" &&
        (rest === rt.version || rest === "core" || rest === `${rt.version}.core`)))
  );
}
