/**
 * `ResourceType`: everything the API server, discovery, OpenAPI and the CLI need to know about
 * one kind we serve. Each kind lives in `storage/kinds/<kind>.ts` and exports one
 * `ResourceType`; `storage/registry.ts` collects them.
 *
 * @module
 */

import type { z } from "zod";
import type { KubeObject } from "./object.ts";
import type { StatusCause } from "./status.ts";

/** One column of `kubectl get` output (metav1.TableColumnDefinition + how to fill it). */
export interface TableColumn {
  /** header as kubectl prints it, e.g. `Name`, `Ready`, `Age` (kubectl upper-cases it) */
  name: string;
  /** `string`, `integer`, `number`, `boolean` or `date` */
  type: "string" | "integer" | "number" | "boolean" | "date";
  /** `name` for the Name column, `date` for Age, else "" */
  format?: string;
  description?: string;
  /** 0: always shown; 1: only with `-o wide` */
  priority: number;
  /** the cell value for one object; `now` is the request time (for Age-style cells) */
  cell(obj: KubeObject, now: Date): string | number | boolean | null;
}

/** A field selector key a kind supports beyond `metadata.name` and `metadata.namespace`. */
export type FieldGetter = (obj: KubeObject) => string | undefined;

/** A kind we serve. */
export interface ResourceType {
  /** API group, "" for the core group */
  group: string;
  /** e.g. "v1" */
  version: string;
  /** e.g. "ConfigMap" */
  kind: string;
  /** the resource name in URLs, e.g. "configmaps" */
  plural: string;
  /** e.g. "configmap" */
  singular: string;
  namespaced: boolean;
  /** what `metadata.name` must be: a DNS-1123 label (Namespace, Service) or subdomain (most) */
  nameRule: "dns1123-label" | "dns1123-subdomain";
  /** e.g. ["cm"] */
  shortNames: string[];
  /** e.g. ["all"] for kinds `kubectl get all` shows */
  categories: string[];
  /** subresources served, e.g. ["status"], ["status", "scale"] */
  subresources: string[];
  /**
   * The full object schema (apiVersion, kind, metadata and the kind's fields). Parsing applies
   * defaults and strips nothing silently: it is built from strict objects so unknown fields
   * surface as `unrecognized_keys` issues (see `storage/validation.ts`).
   */
  schema: z.ZodType;
  /**
   * Top-level fields that belong to the status subresource (usually ["status"]); writes to the
   * main resource keep their stored value, writes to `/status` change only them.
   */
  statusFields: string[];
  /** Whether a change to anything but metadata and status bumps `metadata.generation`. */
  tracksGeneration: boolean;
  /** Columns of `kubectl get` for this kind (the Name column comes first and is included). */
  columns: TableColumn[];
  /** Extra field selectors, e.g. `{"spec.nodeName": o => o.spec?.nodeName}` for pods. */
  fieldSelectors: Record<string, FieldGetter>;
  /**
   * Create-time defaulting that needs the server-assigned `metadata.uid` (kube-apiserver's
   * `PrepareForCreate`), e.g. Job generates its selector and pod template labels from it. Runs
   * on create only, after schema defaults and before `normalize`. Mutates `obj` in place.
   */
  prepareForCreate?(obj: KubeObject): void;
  /**
   * Kind-specific normalisation run after schema defaults and before validation checks, e.g.
   * Secret folds `stringData` into base64 `data`. Mutates `obj` in place.
   */
  normalize?(obj: KubeObject): void;
  /**
   * Kind-specific checks beyond the schema (cross-field rules). Returns causes; empty = valid.
   * `old` is the stored object on update, undefined on create.
   */
  validate?(obj: KubeObject, old?: KubeObject): StatusCause[];
}

/** `apiVersion` of a resource type: "v1" or "apps/v1". */
export function apiVersionOf(rt: Pick<ResourceType, "group" | "version">): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** The store key of an object of this type: `/<group or core>/<plural>[/<ns>]/<name>`. */
export function storeKey(rt: ResourceType, namespace: string | undefined, name: string): string {
  return rt.namespaced ? `${storePrefix(rt, namespace)}${name}` : `${storePrefix(rt)}${name}`;
}

/** The store prefix for listing: all namespaces when `namespace` is undefined. */
export function storePrefix(rt: ResourceType, namespace?: string): string {
  const base = `/${rt.group || "core"}/${rt.plural}/`;
  return rt.namespaced && namespace !== undefined ? `${base}${namespace}/` : base;
}
