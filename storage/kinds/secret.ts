/**
 * core/v1 Secret: base64 `data` under valid config keys, `stringData` folded into `data` on
 * write, `type` (default `Opaque`) with the keys each well-known type requires.
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { invalidValue, requiredValue, type StatusCause } from "../status.ts";
import { causesFor, configKeyErrors, tooLong } from "../validation.ts";
import { fieldGetter, jsonEqual, str, stringMap } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema, StringMap } from "./_meta.ts";
import { BASE64_RE, immutableCauses, MAX_DATA_SIZE } from "./config_map.ts";

/** The full Secret object. */
export const SecretSchema = objectSchema({
  data: StringMap.optional(),
  stringData: StringMap.optional(),
  type: z.string().default("Opaque"),
  immutable: z.boolean().optional(),
});

/** A Secret as stored. */
export type Secret = z.output<typeof SecretSchema>;

/** Standard base64 of the UTF-8 bytes of `s`. */
export function base64Utf8(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(binary);
}

/** The offset Go's base64 decoder reports for malformed input. */
function illegalByte(v: string): number {
  const bad = v.search(/[^A-Za-z0-9+/=]/);
  if (bad >= 0) return bad;
  const pad = v.indexOf("=");
  if (pad >= 0 && pad < v.length - 2) return pad;
  return v.length - (v.length % 4);
}

function decodedLength(v: string): number {
  const padding = v.endsWith("==") ? 2 : v.endsWith("=") ? 1 : 0;
  return Math.floor(v.length / 4) * 3 - padding;
}

/** Keys each well-known Secret type requires in `data`. */
const REQUIRED_KEYS: Record<string, string[]> = {
  "kubernetes.io/dockercfg": [".dockercfg"],
  "kubernetes.io/dockerconfigjson": [".dockerconfigjson"],
  "kubernetes.io/ssh-auth": ["ssh-privatekey"],
  "kubernetes.io/tls": ["tls.crt", "tls.key"],
};

function normalizeSecret(obj: KubeObject): void {
  const stringData = obj.stringData;
  if (stringData === undefined) return;
  const data: Record<string, string> = { ...stringMap(obj, "data") };
  for (const [k, v] of Object.entries(stringMap(obj, "stringData"))) data[k] = base64Utf8(v);
  obj.data = data;
  delete obj.stringData;
}

function validateSecret(obj: KubeObject, old?: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  const data = stringMap(obj, "data");
  let total = 0;
  for (const [k, v] of Object.entries(data)) {
    causes.push(...causesFor(`data[${k}]`, k, configKeyErrors(k)));
    if (!BASE64_RE.test(v)) {
      causes.push(
        invalidValue(
          `data[${k}]`,
          "<secret contents redacted>",
          `illegal base64 data at input byte ${illegalByte(v)}`,
        ),
      );
    } else total += decodedLength(v);
  }
  if (total > MAX_DATA_SIZE) causes.push(tooLong("data", MAX_DATA_SIZE));
  const type = str(obj, "type");
  for (const key of REQUIRED_KEYS[type] ?? []) {
    if (!data[key]) causes.push(requiredValue(`data[${key}]`));
  }
  if (type === "kubernetes.io/basic-auth" && !data.username && !data.password) {
    causes.push(requiredValue("data[username]"), requiredValue("data[password]"));
  }
  if (
    type === "kubernetes.io/service-account-token" &&
    !obj.metadata.annotations?.["kubernetes.io/service-account.name"]
  ) {
    causes.push(requiredValue("metadata.annotations[kubernetes.io/service-account.name]"));
  }
  if (old && !jsonEqual(obj.type, old.type)) {
    causes.push(invalidValue("type", type, "field is immutable"));
  }
  causes.push(...immutableCauses(obj, old, ["data"]));
  return causes;
}

/** core/v1 secrets */
export const secrets: ResourceType = {
  group: "",
  version: "v1",
  kind: "Secret",
  plural: "secrets",
  singular: "secret",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: [],
  categories: [],
  subresources: [],
  schema: SecretSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Type",
      "string",
      0,
      "Used to facilitate programmatic handling of secret data.",
      (o) => str(o, "type"),
    ),
    column(
      "Data",
      "string",
      0,
      "Data contains the secret data. Each key must consist of alphanumeric characters, '-', '_' or '.'.",
      (o) => Object.keys(stringMap(o, "data")).length,
    ),
    ageColumn,
  ],
  fieldSelectors: { type: fieldGetter("type") },
  normalize: normalizeSecret,
  validate: validateSecret,
};
