/**
 * core/v1 ConfigMap: `data` (UTF-8 strings) and `binaryData` (base64) under valid config keys,
 * at most 1 MiB in total, optionally `immutable`.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import type { StatusCause } from "../status.ts";
import {
  byteLength,
  causesFor,
  configKeyErrors,
  forbidden,
  invalid,
  tooLong,
} from "../validation.ts";
import { jsonEqual, stringMap } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";

/** Largest total size of a ConfigMap's or Secret's data (1 MiB). */
export const MAX_DATA_SIZE = 1024 * 1024;

/** Base64 (standard alphabet, padded), as Go's `encoding/base64.StdEncoding`. */
export const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The full ConfigMap object. */
export const ConfigMapSchema = objectSchema({
  data: StringMap.optional(),
  binaryData: z
    .record(z.string(), z.string().regex(BASE64_RE, { error: "illegal base64 data" }))
    .optional(),
  immutable: z.boolean().optional(),
});

/** A ConfigMap as stored. */
export type ConfigMap = z.output<typeof ConfigMapSchema>;

/** Causes for an `immutable` object whose data changed (ConfigMap and Secret). */
export function immutableCauses(
  obj: KubeObject,
  old: KubeObject | undefined,
  fields: string[],
): StatusCause[] {
  if (old?.immutable !== true) return [];
  const causes: StatusCause[] = [];
  for (const f of fields) {
    if (!jsonEqual(obj[f], old[f])) {
      causes.push(forbidden(f, "field is immutable when `immutable` is set"));
    }
  }
  if (obj.immutable !== true) {
    causes.push(forbidden("immutable", "field is immutable when `immutable` is set"));
  }
  return causes;
}

function validateConfigMap(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const data = stringMap(obj, "data");
  const binary = stringMap(obj, "binaryData");
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    causes.push(...causesFor(`data[${k}]`, k, configKeyErrors(k)));
    total += byteLength(v);
  }
  for (const [k, v] of Object.entries(binary)) {
    causes.push(...causesFor(`binaryData[${k}]`, k, configKeyErrors(k)));
    if (Object.hasOwn(data, k)) {
      causes.push(invalid(`data[${k}]`, k, "duplicate of key present in binaryData"));
    }
    total += Math.floor(v.length * 3 / 4);
  }
  if (total > MAX_DATA_SIZE) causes.push(tooLong("", MAX_DATA_SIZE));
  causes.push(...immutableCauses(obj, old, ["data", "binaryData"]));
  return causes;
}

/** core/v1 configmaps */
export const configMaps: ResourceType = {
  group: "",
  version: "v1",
  kind: "ConfigMap",
  plural: "configmaps",
  singular: "configmap",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["cm"],
  categories: [],
  subresources: [],
  schema: ConfigMapSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Data",
      "string",
      0,
      "Data contains the configuration data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
      (o) =>
        Object.keys(stringMap(o, "data")).length + Object.keys(stringMap(o, "binaryData")).length,
    ),
    ageColumn,
  ],
  fieldSelectors: {},
  validate: validateConfigMap,
};
