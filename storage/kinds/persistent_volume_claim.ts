/**
 * core/v1 PersistentVolumeClaim: a request for storage that the binder satisfies with one
 * PersistentVolume. Namespaced, with a status subresource.
 *
 * Defaults as Kubernetes: `volumeMode: Filesystem`, `status.phase: Pending`; a created claim's
 * status is reset to `{phase: Pending}`. Validation as `ValidatePersistentVolumeClaim`: at
 * least one access mode, `resources.requests.storage` set and greater than zero, a valid
 * selector and class name. Volumes cannot be populated from a data source here, so
 * `dataSource` and `dataSourceRef` are refused.
 *
 * The spec is immutable after creation (`ValidatePersistentVolumeClaimUpdate`) except that
 * `volumeName` may be set once (the binder does it) and `storageClassName` may be set once
 * while the claim is unbound and names no class (a default class assigned after the fact) or
 * to the value of the beta class annotation it replaces.
 * Volume expansion is not supported, so `resources.requests` cannot change either.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import { isPlainObject } from "../object.ts";
import { ANN_BETA_STORAGE_CLASS } from "../persistent_volumes.ts";
import type { ResourceType } from "../resource.ts";
import { requiredValue, type StatusCause } from "../status.ts";
import { causesFor, dns1123SubdomainErrors, forbidden, invalid } from "../validation.ts";
import {
  at,
  Condition,
  jsonEqual,
  LabelSelector,
  OpenObject,
  ResourceList,
  str,
  validateLabelSelector,
} from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";
import {
  accessModesText,
  positiveQuantityCauses,
  quantityText,
  storageClassNameCauses,
  validateAccessModes,
  VOLUME_MODES,
} from "./persistent_volume.ts";

/** The phases of a claim. */
export const CLAIM_PHASES = ["Pending", "Bound", "Lost"] as const;

/** The full PersistentVolumeClaim object. */
export const PersistentVolumeClaimSchema = objectSchema({
  spec: z
    .strictObject({
      // required: optional here so that a missing one reads `Required value` (see validate)
      accessModes: z.array(z.string()).optional(),
      selector: LabelSelector.optional(),
      resources: z
        .strictObject({ limits: ResourceList.optional(), requests: ResourceList.optional() })
        .optional(),
      volumeName: z.string().optional(),
      storageClassName: z.string().optional(),
      volumeMode: z.enum(VOLUME_MODES).default("Filesystem"),
      dataSource: z
        .strictObject({ apiGroup: z.string().optional(), kind: z.string(), name: z.string() })
        .optional(),
      dataSourceRef: z
        .strictObject({
          apiGroup: z.string().optional(),
          kind: z.string(),
          name: z.string(),
          namespace: z.string().optional(),
        })
        .optional(),
      volumeAttributesClassName: z.string().optional(),
    })
    .prefault({}),
  status: z
    .strictObject({
      phase: z.enum(CLAIM_PHASES).optional(),
      accessModes: z.array(z.string()).optional(),
      capacity: ResourceList.optional(),
      conditions: z.array(Condition).optional(),
      allocatedResources: ResourceList.optional(),
      allocatedResourceStatuses: StringMap.optional(),
      currentVolumeAttributesClassName: z.string().optional(),
      modifyVolumeStatus: OpenObject.optional(),
    })
    .optional(),
});

/** A PersistentVolumeClaim as stored. */
export type PersistentVolumeClaim = z.output<typeof PersistentVolumeClaimSchema>;

/** core/v1 PersistentVolumeClaimSpec as stored. */
export type PersistentVolumeClaimSpec = PersistentVolumeClaim["spec"];

/** core/v1 PersistentVolumeClaimStatus */
export type PersistentVolumeClaimStatus = NonNullable<PersistentVolumeClaim["status"]>;

const NO_DATA_SOURCE = "volumes cannot be populated from a data source in this cluster";

function validateSpec(spec: Record<string, unknown>): StatusCause[] {
  const causes = validateAccessModes(
    spec.accessModes as string[] | undefined,
    "spec.accessModes",
    "at least 1 access mode is required",
  );
  if (spec.selector !== undefined) {
    causes.push(...validateLabelSelector(spec.selector, "spec.selector"));
  }
  const requests = at(spec, "resources", "requests");
  const storage = isPlainObject(requests) ? requests.storage : undefined;
  if (storage === undefined) causes.push(requiredValue("spec.resources[storage]"));
  else causes.push(...positiveQuantityCauses(storage, "spec.resources[storage]"));
  causes.push(...storageClassNameCauses(spec.storageClassName, "spec.storageClassName"));
  const volumeName = str(spec, "volumeName");
  if (volumeName !== "") {
    causes.push(...causesFor("spec.volumeName", volumeName, dns1123SubdomainErrors(volumeName)));
  }
  for (const key of ["dataSource", "dataSourceRef"]) {
    if (spec[key] !== undefined) causes.push(forbidden(`spec.${key}`, NO_DATA_SOURCE));
  }
  return causes;
}

/** The spec fields changed by an update that are not allowed to change (see the module doc). */
function forbiddenChanges(obj: KubeObject, old: KubeObject): string[] {
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  const oldSpec = isPlainObject(old.spec) ? old.spec : {};
  const unbound = str(oldSpec, "volumeName") === "";
  const beta = old.metadata.annotations?.[ANN_BETA_STORAGE_CLASS];
  // a class may be named once: while unbound and classless (a default class assigned after
  // the fact), or as the value of the beta annotation it replaces
  const classAllowed = oldSpec.storageClassName === undefined &&
    (beta === undefined ? unbound : spec.storageClassName === beta &&
      obj.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] === beta);
  const keys = [...new Set([...Object.keys(oldSpec), ...Object.keys(spec)])];
  return keys.filter((key) => {
    if (jsonEqual(spec[key], oldSpec[key])) return false;
    if (key === "volumeName" && unbound) return false;
    if (key === "storageClassName" && classAllowed) return false;
    return true;
  });
}

function updateCauses(obj: KubeObject, old: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const changed = forbiddenChanges(obj, old);
  if (changed.length > 0) {
    let detail =
      `spec is immutable after creation except volumeName, which is set once when the claim is bound (changed: ${
        changed.join(", ")
      })`;
    if (changed.includes("resources")) {
      detail += "; resources cannot change because this cluster does not support volume expansion";
    }
    causes.push(forbidden("spec", detail));
  }
  const beta = obj.metadata.annotations?.[ANN_BETA_STORAGE_CLASS];
  const oldBeta = old.metadata.annotations?.[ANN_BETA_STORAGE_CLASS];
  if (beta !== oldBeta) {
    causes.push(
      invalid(`metadata.annotations[${ANN_BETA_STORAGE_CLASS}]`, beta ?? "", "field is immutable"),
    );
  }
  return causes;
}

function validatePersistentVolumeClaim(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const causes = validateSpec(isPlainObject(obj.spec) ? obj.spec : {});
  if (old) causes.push(...updateCauses(obj, old));
  return causes;
}

function prepareForCreate(obj: KubeObject): void {
  obj.status = { phase: "Pending" };
}

function normalizePersistentVolumeClaim(obj: KubeObject): void {
  const status = isPlainObject(obj.status) ? obj.status : {};
  status.phase ??= "Pending";
  obj.status = status;
}

/** The class a claim asks for as kubectl shows it: the beta annotation, else the spec's. */
export function claimClassText(obj: KubeObject): string {
  return obj.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? str(obj, "spec", "storageClassName");
}

function bound(obj: KubeObject): boolean {
  return str(obj, "spec", "volumeName") !== "";
}

/** core/v1 persistentvolumeclaims */
export const persistentVolumeClaims: ResourceType = {
  group: "",
  version: "v1",
  kind: "PersistentVolumeClaim",
  plural: "persistentvolumeclaims",
  singular: "persistentvolumeclaim",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["pvc"],
  categories: [],
  subresources: ["status"],
  schema: PersistentVolumeClaimSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Status",
      "string",
      0,
      "phase represents the current phase of PersistentVolumeClaim.",
      (o) => (o.metadata.deletionTimestamp ? "Terminating" : str(o, "status", "phase")),
    ),
    column(
      "Volume",
      "string",
      0,
      "volumeName is the binding reference to the PersistentVolume backing this claim.",
      (o) => str(o, "spec", "volumeName"),
    ),
    column(
      "Capacity",
      "string",
      0,
      "capacity represents the actual resources of the underlying volume.",
      (o) => (bound(o) ? quantityText(at(o, "status", "capacity", "storage")) : ""),
    ),
    column(
      "Access Modes",
      "string",
      0,
      "accessModes contains the actual access modes the volume backing the PVC has.",
      (o) => {
        const modes = at(o, "status", "accessModes");
        return bound(o) && Array.isArray(modes) ? accessModesText(modes) : "";
      },
    ),
    column("StorageClass", "string", 0, "StorageClass of the pvc", claimClassText),
    column(
      "VolumeAttributesClass",
      "string",
      0,
      "VolumeAttributesClass of the pvc",
      (o) => str(o, "spec", "volumeAttributesClassName") || "<unset>",
    ),
    ageColumn,
    column(
      "VolumeMode",
      "string",
      1,
      "volumeMode defines what type of volume is required by the claim. Value of Filesystem is implied when not included in claim spec.",
      (o) => str(o, "spec", "volumeMode") || "<unset>",
    ),
  ],
  fieldSelectors: {},
  prepareForCreate,
  normalize: normalizePersistentVolumeClaim,
  validate: validatePersistentVolumeClaim,
};
