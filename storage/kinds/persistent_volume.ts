/**
 * core/v1 PersistentVolume: a piece of storage on a node, bound to at most one claim.
 * Cluster-scoped, with a status subresource.
 *
 * Only the sources a node agent can mount are accepted: `hostPath` (a host directory) and
 * `local` (a directory on one node, which therefore requires `nodeAffinity`). Every other
 * Kubernetes source (`nfs`, `csi`, …) is recognised and refused with a cause naming it.
 *
 * Defaults as Kubernetes (`SetDefaults_PersistentVolume`): `persistentVolumeReclaimPolicy:
 * Retain`, `volumeMode: Filesystem`, `status.phase: Pending`; a created volume's status is
 * reset to `{phase: Pending}` (clients cannot set it on create). Validation as
 * `ValidatePersistentVolume`/`ValidatePersistentVolumeUpdate`: `capacity` must hold exactly
 * `storage`, greater than zero; at least one access mode, `ReadWriteOncePod` alone; exactly one
 * source; the source, `volumeMode` and a set `nodeAffinity` are immutable.
 *
 * @module
 */

import { z } from "zod";
import { ANN_BETA_STORAGE_CLASS } from "../persistent_volumes.ts";
import type { KubeObject } from "../object.ts";
import { isPlainObject } from "../object.ts";
import { scaledValue } from "../quantity.ts";
import type { ResourceType } from "../resource.ts";
import { notSupportedValue, requiredValue, type StatusCause } from "../status.ts";
import {
  causesFor,
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  forbidden,
  invalid,
  qualifiedNameErrors,
} from "../validation.ts";
import {
  at,
  jsonEqual,
  ObjectReference,
  objects,
  OpenObject,
  ResourceList,
  str,
} from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, Time } from "./_meta.ts";
import { HostPathVolumeSource, NodeSelectorTerm } from "./_pod_spec.ts";

/** The access modes a volume may offer and a claim may ask for, as Kubernetes sorts them. */
export const ACCESS_MODES = [
  "ReadOnlyMany",
  "ReadWriteMany",
  "ReadWriteOnce",
  "ReadWriteOncePod",
] as const;

/** A volume's or claim's access mode. */
export type AccessMode = (typeof ACCESS_MODES)[number];

/** `Filesystem` (a directory, the default) or `Block` (a raw device). */
export const VOLUME_MODES = ["Block", "Filesystem"] as const;

/** What happens to a volume when its claim is gone. */
export const RECLAIM_POLICIES = ["Delete", "Recycle", "Retain"] as const;

/** The phases of a volume's lifecycle. */
export const VOLUME_PHASES = ["Pending", "Available", "Bound", "Released", "Failed"] as const;

/**
 * Every member of core/v1 `PersistentVolumeSource`, in the order they are checked: the first
 * one set counts, each further one is "more than 1 volume type".
 */
const ALL_SOURCES = [
  "hostPath",
  "gcePersistentDisk",
  "awsElasticBlockStore",
  "glusterfs",
  "nfs",
  "rbd",
  "quobyte",
  "cinder",
  "cephfs",
  "flexVolume",
  "flocker",
  "azureFile",
  "vsphereVolume",
  "azureDisk",
  "photonPersistentDisk",
  "portworxVolume",
  "scaleIO",
  "local",
  "storageos",
  "csi",
  "iscsi",
  "fc",
] as const;

/** core/v1 VolumeNodeAffinity: the nodes a volume can be reached from. */
export const VolumeNodeAffinity = z.strictObject({
  required: z.strictObject({ nodeSelectorTerms: z.array(NodeSelectorTerm) }).optional(),
});

/** The full PersistentVolume object. */
export const PersistentVolumeSchema = objectSchema({
  spec: z
    .strictObject({
      // required: optional here so that a missing one reads `Required value` (see validate)
      capacity: ResourceList.optional(),
      accessModes: z.array(z.string()).optional(),
      claimRef: ObjectReference.optional(),
      persistentVolumeReclaimPolicy: z.enum(RECLAIM_POLICIES).default("Retain"),
      storageClassName: z.string().optional(),
      mountOptions: z.array(z.string()).optional(),
      volumeMode: z.enum(VOLUME_MODES).default("Filesystem"),
      nodeAffinity: VolumeNodeAffinity.optional(),
      volumeAttributesClassName: z.string().optional(),
      hostPath: HostPathVolumeSource.optional(),
      local: z.strictObject({ path: z.string(), fsType: z.string().optional() }).optional(),
      // recognised so that they are refused by name (see sourceCauses), never stored
      gcePersistentDisk: OpenObject.optional(),
      awsElasticBlockStore: OpenObject.optional(),
      glusterfs: OpenObject.optional(),
      nfs: OpenObject.optional(),
      rbd: OpenObject.optional(),
      quobyte: OpenObject.optional(),
      cinder: OpenObject.optional(),
      cephfs: OpenObject.optional(),
      flexVolume: OpenObject.optional(),
      flocker: OpenObject.optional(),
      azureFile: OpenObject.optional(),
      vsphereVolume: OpenObject.optional(),
      azureDisk: OpenObject.optional(),
      photonPersistentDisk: OpenObject.optional(),
      portworxVolume: OpenObject.optional(),
      scaleIO: OpenObject.optional(),
      storageos: OpenObject.optional(),
      csi: OpenObject.optional(),
      iscsi: OpenObject.optional(),
      fc: OpenObject.optional(),
    })
    .prefault({}),
  status: z
    .strictObject({
      phase: z.enum(VOLUME_PHASES).optional(),
      message: z.string().optional(),
      reason: z.string().optional(),
      lastPhaseTransitionTime: Time.optional(),
    })
    .optional(),
});

/** A PersistentVolume as stored. */
export type PersistentVolume = z.output<typeof PersistentVolumeSchema>;

/** core/v1 PersistentVolumeSpec as stored. */
export type PersistentVolumeSpec = PersistentVolume["spec"];

/** core/v1 PersistentVolumeStatus */
export type PersistentVolumeStatus = NonNullable<PersistentVolume["status"]>;

const ACCESS_MODE_ABBREVIATIONS: [AccessMode, string][] = [
  ["ReadWriteOnce", "RWO"],
  ["ReadOnlyMany", "ROX"],
  ["ReadWriteMany", "RWX"],
  ["ReadWriteOncePod", "RWOP"],
];

/**
 * Access modes as kubectl prints them (`GetAccessModesAsString`): abbreviated, in a fixed
 * order, without repeats. `["ReadWriteMany", "ReadWriteOnce"]` → `"RWO,RWX"`.
 */
export function accessModesText(modes: readonly unknown[]): string {
  return ACCESS_MODE_ABBREVIATIONS.filter(([mode]) => modes.includes(mode))
    .map(([, short]) => short)
    .join(",");
}

/**
 * Causes for an access mode list (`spec.accessModes` of a volume or a claim): at least one
 * (with `requiredDetail` as Kubernetes words it for the kind), each supported, and
 * `ReadWriteOncePod` never combined with another mode.
 */
export function validateAccessModes(
  modes: readonly string[] | undefined,
  path: string,
  requiredDetail = "",
): StatusCause[] {
  if (!modes || modes.length === 0) return [requiredValue(path, requiredDetail)];
  const causes: StatusCause[] = [];
  let rwop = false;
  let other = false;
  for (const mode of modes) {
    if (!(ACCESS_MODES as readonly string[]).includes(mode)) {
      causes.push(notSupportedValue(path, mode, ACCESS_MODES));
    } else if (mode === "ReadWriteOncePod") rwop = true;
    else other = true;
  }
  if (rwop && other) {
    causes.push(forbidden(path, "may not use ReadWriteOncePod with other access modes"));
  }
  return causes;
}

/** `Invalid value` unless the quantity is greater than zero (`ValidatePositiveQuantityValue`). */
export function positiveQuantityCauses(value: unknown, path: string): StatusCause[] {
  let positive = false;
  try {
    positive = scaledValue(value, 0) > 0n;
  } catch {
    // a malformed quantity is reported by the schema
    return [];
  }
  return positive ? [] : [invalid(path, String(value), "must be greater than zero")];
}

/** Causes for a class name (`ValidateClassName`): a DNS-1123 subdomain when set. */
export function storageClassNameCauses(name: unknown, path: string): StatusCause[] {
  if (typeof name !== "string" || name === "") return [];
  return causesFor(path, name, dns1123SubdomainErrors(name));
}

/** Causes for one node selector requirement on labels (`ValidateNodeSelectorRequirement`). */
function nodeSelectorRequirementCauses(req: Record<string, unknown>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const values = Array.isArray(req.values) ? req.values : [];
  switch (req.operator) {
    case "In":
    case "NotIn":
      if (values.length === 0) {
        causes.push(
          requiredValue(`${path}.values`, "must be specified when `operator` is 'In' or 'NotIn'"),
        );
      }
      break;
    case "Exists":
    case "DoesNotExist":
      if (values.length > 0) {
        causes.push(
          forbidden(
            `${path}.values`,
            "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
          ),
        );
      }
      break;
    default:
      if (values.length !== 1) {
        causes.push(
          requiredValue(
            `${path}.values`,
            "must be specified single value when `operator` is 'Lt' or 'Gt'",
          ),
        );
      }
  }
  const key = String(req.key ?? "");
  causes.push(...causesFor(`${path}.key`, key, qualifiedNameErrors(key)));
  return causes;
}

/** Causes for one node selector requirement on fields (`ValidateNodeFieldSelectorRequirement`). */
function nodeFieldRequirementCauses(req: Record<string, unknown>, path: string): StatusCause[] {
  const causes: StatusCause[] = [];
  const values = Array.isArray(req.values) ? req.values : [];
  if (req.operator === "In" || req.operator === "NotIn") {
    if (values.length !== 1) {
      causes.push(
        requiredValue(
          `${path}.values`,
          "must be only one value when `operator` is 'In' or 'NotIn' for node field selector",
        ),
      );
    }
  } else {
    causes.push(invalid(`${path}.operator`, req.operator, "not a valid selector operator"));
  }
  if (req.key !== "metadata.name") {
    causes.push(invalid(`${path}.key`, req.key, "not a valid field selector key"));
  } else {
    for (const [i, v] of values.entries()) {
      const name = String(v);
      causes.push(...causesFor(`${path}.values[${i}]`, name, dns1123SubdomainErrors(name)));
    }
  }
  return causes;
}

/** Causes for `spec.nodeAffinity` (`validateVolumeNodeAffinity`). */
function nodeAffinityCauses(affinity: unknown, path: string): StatusCause[] {
  if (!isPlainObject(affinity)) return [];
  const required = affinity.required;
  if (!isPlainObject(required)) {
    return [requiredValue(`${path}.required`, "must specify required node constraints")];
  }
  const termsPath = `${path}.required.nodeSelectorTerms`;
  const terms = objects(required, "nodeSelectorTerms");
  if (terms.length === 0) {
    return [requiredValue(termsPath, "must have at least one node selector term")];
  }
  const causes: StatusCause[] = [];
  for (const [i, term] of terms.entries()) {
    for (const [j, req] of objects(term, "matchExpressions").entries()) {
      causes.push(
        ...nodeSelectorRequirementCauses(req, `${termsPath}[${i}].matchExpressions[${j}]`),
      );
    }
    for (const [j, req] of objects(term, "matchFields").entries()) {
      causes.push(...nodeFieldRequirementCauses(req, `${termsPath}[${i}].matchFields[${j}]`));
    }
  }
  return causes;
}

/** `validatePathNoBacksteps`: no `..` element. */
function backstepCauses(path: string, field: string): StatusCause[] {
  return path.split("/").includes("..") ? [invalid(field, path, "must not contain '..'")] : [];
}

/** The source members a volume spec sets, in Kubernetes' order. */
function sourcesOf(spec: Record<string, unknown>): string[] {
  return ALL_SOURCES.filter((s) => spec[s] !== undefined);
}

/** Causes for the volume source: exactly one, supported, with a valid path. */
function sourceCauses(spec: Record<string, unknown>): StatusCause[] {
  const present = sourcesOf(spec);
  if (present.length === 0) return [requiredValue("spec", "must specify a volume type")];
  const causes: StatusCause[] = [];
  for (const [i, source] of present.entries()) {
    const path = `spec.${source}`;
    if (i > 0) {
      causes.push(forbidden(path, "may not specify more than 1 volume type"));
      continue;
    }
    if (source === "hostPath") {
      const p = str(spec, "hostPath", "path");
      if (p === "") causes.push(requiredValue(`${path}.path`));
      else causes.push(...backstepCauses(p, `${path}.path`));
    } else if (source === "local") {
      const p = str(spec, "local", "path");
      if (p === "") causes.push(requiredValue(`${path}.path`));
      else {
        if (!p.startsWith("/")) causes.push(invalid(`${path}.path`, p, "must be an absolute path"));
        causes.push(...backstepCauses(p, `${path}.path`));
      }
      if (!isPlainObject(spec.nodeAffinity)) {
        causes.push(requiredValue("spec.nodeAffinity", "Local volume requires node affinity"));
      }
    } else {
      causes.push(
        forbidden(
          path,
          `${source} volumes are not supported: the nodes of this cluster mount only hostPath and local volumes`,
        ),
      );
    }
  }
  return causes;
}

/** Causes for `spec.capacity` (`ValidatePersistentVolumeSpec`). */
function capacityCauses(capacity: unknown): StatusCause[] {
  const entries = isPlainObject(capacity) ? Object.entries(capacity) : [];
  if (entries.length === 0) return [requiredValue("spec.capacity")];
  const causes: StatusCause[] = [];
  if (!isPlainObject(capacity) || !("storage" in capacity) || entries.length > 1) {
    causes.push(notSupportedValue("spec.capacity", capacity, ["storage"]));
  }
  for (const [name, q] of entries) {
    causes.push(...positiveQuantityCauses(q, `spec.capacity[${name}]`));
  }
  return causes;
}

/** Causes for `spec.claimRef`: it names a claim (a valid namespace and name). */
function claimRefCauses(ref: unknown): StatusCause[] {
  if (!isPlainObject(ref)) return [];
  const causes: StatusCause[] = [];
  const name = str(ref, "name");
  if (name === "") causes.push(requiredValue("spec.claimRef.name"));
  else causes.push(...causesFor("spec.claimRef.name", name, dns1123SubdomainErrors(name)));
  const ns = str(ref, "namespace");
  if (ns !== "") causes.push(...causesFor("spec.claimRef.namespace", ns, dns1123LabelErrors(ns)));
  return causes;
}

/** Causes for changes Kubernetes forbids on update (`ValidatePersistentVolumeUpdate`). */
function updateCauses(
  spec: Record<string, unknown>,
  oldSpec: Record<string, unknown>,
): StatusCause[] {
  const causes: StatusCause[] = [];
  const source = (s: Record<string, unknown>) => ALL_SOURCES.map((k) => s[k]);
  if (!jsonEqual(source(spec), source(oldSpec))) {
    causes.push(
      forbidden(
        "spec.persistentvolumesource",
        "spec.persistentvolumesource is immutable after creation",
      ),
    );
  }
  if (spec.volumeMode !== oldSpec.volumeMode) {
    causes.push(invalid("spec.volumeMode", spec.volumeMode, "field is immutable"));
  }
  if (oldSpec.nodeAffinity !== undefined && !jsonEqual(spec.nodeAffinity, oldSpec.nodeAffinity)) {
    causes.push(invalid("spec.nodeAffinity", spec.nodeAffinity ?? null, "field is immutable"));
  }
  return causes;
}

function validatePersistentVolume(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  const causes: StatusCause[] = [
    ...validateAccessModes(spec.accessModes as string[] | undefined, "spec.accessModes"),
    ...capacityCauses(spec.capacity),
    ...claimRefCauses(spec.claimRef),
    ...storageClassNameCauses(spec.storageClassName, "spec.storageClassName"),
    ...nodeAffinityCauses(spec.nodeAffinity, "spec.nodeAffinity"),
    ...sourceCauses(spec),
  ];
  if (
    spec.persistentVolumeReclaimPolicy === "Recycle" && isPlainObject(spec.hostPath) &&
    str(spec, "hostPath", "path").replace(/\/+$/, "") === ""
  ) {
    causes.push(
      forbidden(
        "spec.persistentVolumeReclaimPolicy",
        "may not be 'recycle' for a hostPath mount of '/'",
      ),
    );
  }
  if (old && isPlainObject(old.spec)) causes.push(...updateCauses(spec, old.spec));
  return causes;
}

function prepareForCreate(obj: KubeObject): void {
  obj.status = { phase: "Pending" };
}

function normalizePersistentVolume(obj: KubeObject): void {
  const status = isPlainObject(obj.status) ? obj.status : {};
  status.phase ??= "Pending";
  obj.status = status;
}

/** The class of a volume as kubectl shows it: the beta annotation, else `spec.storageClassName`. */
export function volumeClassText(obj: KubeObject): string {
  return obj.metadata.annotations?.[ANN_BETA_STORAGE_CLASS] ?? str(obj, "spec", "storageClassName");
}

/** A quantity cell: the stored text, or `0` when unset (as Go prints a zero Quantity). */
export function quantityText(value: unknown): string {
  return typeof value === "string" || typeof value === "number" ? String(value) : "0";
}

function phaseText(obj: KubeObject): string {
  return obj.metadata.deletionTimestamp ? "Terminating" : str(obj, "status", "phase");
}

function claimText(obj: KubeObject): string {
  const ref = at(obj, "spec", "claimRef");
  return isPlainObject(ref) ? `${str(ref, "namespace")}/${str(ref, "name")}` : "";
}

function modes(obj: KubeObject, ...path: string[]): string {
  const v = at(obj, ...path);
  return Array.isArray(v) ? accessModesText(v) : "";
}

/** core/v1 persistentvolumes */
export const persistentVolumes: ResourceType = {
  group: "",
  version: "v1",
  kind: "PersistentVolume",
  plural: "persistentvolumes",
  singular: "persistentvolume",
  namespaced: false,
  nameRule: "dns1123-subdomain",
  shortNames: ["pv"],
  categories: [],
  subresources: ["status"],
  schema: PersistentVolumeSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Capacity",
      "string",
      0,
      "capacity is the description of the persistent volume's resources and capacity.",
      (o) => quantityText(at(o, "spec", "capacity", "storage")),
    ),
    column(
      "Access Modes",
      "string",
      0,
      "accessModes contains all ways the volume can be mounted.",
      (o) => modes(o, "spec", "accessModes"),
    ),
    column(
      "Reclaim Policy",
      "string",
      0,
      "persistentVolumeReclaimPolicy defines what happens to a persistent volume when released from its claim. Valid options are Retain (default for manually created PersistentVolumes), Delete (default for dynamically provisioned PersistentVolumes), and Recycle (deprecated).",
      (o) => str(o, "spec", "persistentVolumeReclaimPolicy"),
    ),
    column(
      "Status",
      "string",
      0,
      "phase indicates if a volume is available, bound to a claim, or released by a claim.",
      phaseText,
    ),
    column(
      "Claim",
      "string",
      0,
      "claimRef is part of a bi-directional binding between PersistentVolume and PersistentVolumeClaim. Expected to be non-nil when bound.",
      claimText,
    ),
    column("StorageClass", "string", 0, "StorageClass of the pv", volumeClassText),
    column(
      "VolumeAttributesClass",
      "string",
      0,
      "VolumeAttributesClass of the pv",
      (o) => str(o, "spec", "volumeAttributesClassName") || "<unset>",
    ),
    column(
      "Reason",
      "string",
      0,
      "reason is a brief CamelCase string that describes any failure and is meant for machine parsing and tidy display in the CLI.",
      (o) => str(o, "status", "reason"),
    ),
    ageColumn,
    column(
      "VolumeMode",
      "string",
      1,
      "volumeMode defines if a volume is intended to be used with a formatted filesystem or to remain in raw block state. Value of Filesystem is implied when not included in spec.",
      (o) => str(o, "spec", "volumeMode") || "<unset>",
    ),
  ],
  fieldSelectors: {},
  prepareForCreate,
  normalize: normalizePersistentVolume,
  validate: validatePersistentVolume,
};
