/**
 * storage.k8s.io/v1 StorageClass: how volumes of a class are made (`provisioner`,
 * `parameters`) and kept (`reclaimPolicy`), and when a claim of the class is bound
 * (`volumeBindingMode`). Cluster-scoped; no spec or status, the fields sit at the top level.
 * The class annotated `storageclass.kubernetes.io/is-default-class: "true"` is the default.
 *
 * Defaults as Kubernetes (`SetDefaults_StorageClass`): `reclaimPolicy: Delete`,
 * `volumeBindingMode: Immediate`. Validation as `ValidateStorageClass`/
 * `ValidateStorageClassUpdate`: `provisioner` is a required qualified name, at most 512
 * parameters (256 KiB in all) with non-empty keys, valid `allowedTopologies`; `provisioner`,
 * `parameters`, `reclaimPolicy` and `volumeBindingMode` are immutable.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import { isDefaultClass } from "../persistent_volumes.ts";
import type { ResourceType } from "../resource.ts";
import { requiredValue, type StatusCause, tooMany } from "../status.ts";
import {
  byteLength,
  causesFor,
  duplicateValue,
  forbidden,
  invalid,
  qualifiedNameErrors,
  tooLong,
} from "../validation.ts";
import { jsonEqual, objects, str, stringMap, strings } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";

/** Most parameters a class may have. */
export const MAX_PARAMETERS = 512;
/** Largest total size of a class's parameter keys and values (256 KiB). */
export const MAX_PARAMETERS_SIZE = 256 * 1024;

/** The reclaim policies a class may give its volumes. */
export const CLASS_RECLAIM_POLICIES = ["Delete", "Retain"] as const;

/** When a claim of the class is bound: at once, or once a pod using it is scheduled. */
export const VOLUME_BINDING_MODES = ["Immediate", "WaitForFirstConsumer"] as const;

/** core/v1 TopologySelectorTerm */
const TopologySelectorTerm = z.strictObject({
  matchLabelExpressions: z
    .array(z.strictObject({ key: z.string(), values: z.array(z.string()) }))
    .optional(),
});

/** The full StorageClass object. */
export const StorageClassSchema = objectSchema({
  provisioner: z.string(),
  parameters: StringMap.optional(),
  reclaimPolicy: z.enum(CLASS_RECLAIM_POLICIES).default("Delete"),
  mountOptions: z.array(z.string()).optional(),
  allowVolumeExpansion: z.boolean().optional(),
  volumeBindingMode: z.enum(VOLUME_BINDING_MODES).default("Immediate"),
  allowedTopologies: z.array(TopologySelectorTerm).optional(),
});

/** A StorageClass as stored. */
export type StorageClass = z.output<typeof StorageClassSchema>;

function parameterCauses(params: Record<string, string>): StatusCause[] {
  const entries = Object.entries(params);
  if (entries.length > MAX_PARAMETERS) {
    return [tooMany("parameters", entries.length, MAX_PARAMETERS)];
  }
  const causes: StatusCause[] = [];
  let size = 0;
  for (const [k, v] of entries) {
    if (k === "") causes.push(invalid("parameters", k, "field can not be empty."));
    size += byteLength(k) + byteLength(v);
  }
  if (size > MAX_PARAMETERS_SIZE) causes.push(tooLong("parameters", MAX_PARAMETERS_SIZE));
  return causes;
}

/** Causes for `allowedTopologies` (`validateAllowedTopologies`). */
function topologyCauses(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, term] of objects(obj, "allowedTopologies").entries()) {
    const keys = new Set<string>();
    for (const [j, req] of objects(term, "matchLabelExpressions").entries()) {
      const path = `allowedTopologies[${i}].matchLabelExpressions[${j}]`;
      const key = str(req, "key");
      const values = strings(req, "values");
      if (values.length === 0) {
        causes.push(requiredValue(`${path}.values`, "must specify as least one value"));
      }
      const seen = new Set<string>();
      for (const [k, value] of values.entries()) {
        if (seen.has(value)) causes.push(duplicateValue(`${path}.values[${k}]`, value));
        seen.add(value);
      }
      causes.push(...causesFor(`${path}.key`, key, qualifiedNameErrors(key)));
      if (keys.has(key)) causes.push(duplicateValue(`${path}.key`, key));
      keys.add(key);
    }
  }
  return causes;
}

function updateCauses(obj: KubeObject, old: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  if (!jsonEqual(obj.parameters, old.parameters)) {
    causes.push(forbidden("parameters", "updates to parameters are forbidden."));
  }
  if (obj.provisioner !== old.provisioner) {
    causes.push(forbidden("provisioner", "updates to provisioner are forbidden."));
  }
  if (obj.reclaimPolicy !== old.reclaimPolicy) {
    causes.push(forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden."));
  }
  if (obj.volumeBindingMode !== old.volumeBindingMode) {
    causes.push(invalid("volumeBindingMode", obj.volumeBindingMode, "field is immutable"));
  }
  return causes;
}

function validateStorageClass(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const provisioner = str(obj, "provisioner");
  if (provisioner === "") causes.push(requiredValue("provisioner"));
  else {
    const lower = provisioner.toLowerCase();
    causes.push(...causesFor("provisioner", lower, qualifiedNameErrors(lower)));
  }
  causes.push(...parameterCauses(stringMap(obj, "parameters")));
  causes.push(...topologyCauses(obj));
  if (old) causes.push(...updateCauses(obj, old));
  return causes;
}

/** storage.k8s.io/v1 storageclasses */
export const storageClasses: ResourceType = {
  group: "storage.k8s.io",
  version: "v1",
  kind: "StorageClass",
  plural: "storageclasses",
  singular: "storageclass",
  namespaced: false,
  nameRule: "dns1123-subdomain",
  shortNames: ["sc"],
  categories: [],
  subresources: [],
  schema: StorageClassSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    {
      ...nameColumn,
      cell: (o) => `${o.metadata.name ?? ""}${isDefaultClass(o) ? " (default)" : ""}`,
    },
    column(
      "Provisioner",
      "string",
      0,
      "provisioner indicates the type of the provisioner.",
      (o) => str(o, "provisioner"),
    ),
    column(
      "ReclaimPolicy",
      "string",
      0,
      "reclaimPolicy controls the reclaimPolicy for dynamically provisioned PersistentVolumes of this storage class. Defaults to Delete.",
      (o) => str(o, "reclaimPolicy") || "Delete",
    ),
    column(
      "VolumeBindingMode",
      "string",
      0,
      "volumeBindingMode indicates how PersistentVolumeClaims should be provisioned and bound.  When unset, VolumeBindingImmediate is used. This field is only honored by servers that enable the VolumeScheduling feature.",
      (o) => str(o, "volumeBindingMode") || "Immediate",
    ),
    column(
      "AllowVolumeExpansion",
      "string",
      0,
      "allowVolumeExpansion shows whether the storage class allow volume expand.",
      (o) => o.allowVolumeExpansion === true,
    ),
    ageColumn,
  ],
  fieldSelectors: {},
  validate: validateStorageClass,
};
