/**
 * How ctl turns words (`cm`, `deployments.apps`, `Pod`) and manifests' apiVersion/kind into
 * resource types. The one place that reads `storage/registry.ts`; tests pass their own types
 * to {@linkcode resourcesFrom}.
 *
 * @module
 */

import type { ResourceType } from "../../storage/resource.ts";
import { findKind, resolveResource, RESOURCE_TYPES } from "../../storage/registry.ts";
import { CtlError } from "./_client.ts";

/** What ctl needs to know about a resource type. */
export type ResourceInfo = Pick<
  ResourceType,
  "group" | "version" | "kind" | "plural" | "singular" | "namespaced" | "shortNames" | "categories"
>;

/** Resource lookup: by command-line word, by manifest apiVersion/kind, and all of them. */
export interface Resources {
  /** every type, in registry order */
  all: readonly ResourceInfo[];
  /** plural, singular, short name, Kind or `plural.group`; undefined when unknown */
  resolve(word: string): ResourceInfo | undefined;
  /** the type of `apiVersion`+`kind`; undefined when not served */
  findKind(apiVersion: string, kind: string): ResourceInfo | undefined;
}

/** A {@linkcode Resources} over a fixed list, matching words the way kubectl's RESTMapper does. */
export function resourcesFrom(types: readonly ResourceInfo[]): Resources {
  return {
    all: types,
    resolve(word) {
      const w = word.toLowerCase();
      const dot = w.indexOf(".");
      const [name, group] = dot < 0 ? [w, undefined] : [w.slice(0, dot), w.slice(dot + 1)];
      const matches = (rt: ResourceInfo) =>
        rt.plural === name || rt.singular === name || rt.kind.toLowerCase() === name ||
        rt.shortNames.includes(name);
      if (group !== undefined) {
        const exact = types.find((rt) => matches(rt) && rt.group === group);
        if (exact) return exact;
        const versioned = types.find((rt) => matches(rt) && `${rt.version}.${rt.group}` === group);
        if (versioned) return versioned;
      }
      return group === undefined ? types.find(matches) : undefined;
    },
    findKind(apiVersion, kind) {
      const slash = apiVersion.indexOf("/");
      const group = slash < 0 ? "" : apiVersion.slice(0, slash);
      const version = slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
      return types.find((rt) => rt.group === group && rt.version === version && rt.kind === kind);
    },
  };
}

/** The resources the API server serves, from `storage/registry.ts`. */
export const REGISTRY_RESOURCES: Resources = {
  all: RESOURCE_TYPES,
  resolve: resolveResource,
  findKind,
};

/** The resource a word names; throws kubectl's error for an unknown type. */
export function resolveOrThrow(resources: Resources, word: string): ResourceInfo {
  const rt = resources.resolve(word);
  if (!rt) throw new CtlError(`the server doesn't have a resource type "${word}"`);
  return rt;
}

/** kubectl's kind word: `configmap`, `deployment.apps`. */
export function kindWord(rt: Pick<ResourceInfo, "kind" | "group">): string {
  const kind = rt.kind.toLowerCase();
  return rt.group ? `${kind}.${rt.group}` : kind;
}

/** The resource word of error messages: `configmaps`, `deployments.apps`. */
export function resourceWord(rt: Pick<ResourceInfo, "plural" | "group">): string {
  return rt.group ? `${rt.plural}.${rt.group}` : rt.plural;
}

/** `apiVersion` of a type: `v1`, `apps/v1`. */
export function apiVersion(rt: Pick<ResourceInfo, "group" | "version">): string {
  return rt.group ? `${rt.group}/${rt.version}` : rt.version;
}

/** The REST path of a type, collection or object: `/apis/apps/v1/namespaces/web/deployments/x`. */
export function resourcePath(rt: ResourceInfo, namespace?: string, name?: string): string {
  let path = rt.group ? `/apis/${rt.group}/${rt.version}` : `/api/${rt.version}`;
  if (rt.namespaced && namespace !== undefined) {
    path += `/namespaces/${encodeURIComponent(namespace)}`;
  }
  path += `/${rt.plural}`;
  if (name !== undefined) path += `/${encodeURIComponent(name)}`;
  return path;
}

/** Types in the `all` category, in the order `kubectl get all` prints them. */
export function categoryTypes(resources: Resources, category: string): ResourceInfo[] {
  const order = [
    "pods",
    "replicationcontrollers",
    "services",
    "daemonsets",
    "deployments",
    "replicasets",
    "statefulsets",
    "horizontalpodautoscalers",
    "jobs",
    "cronjobs",
  ];
  const rank = (rt: ResourceInfo) => {
    const i = order.indexOf(rt.plural);
    return i < 0 ? order.length : i;
  };
  return resources.all.filter((rt) => rt.categories.includes(category))
    .map((rt, i) => ({ rt, i }))
    .sort((a, b) => rank(a.rt) - rank(b.rt) || a.i - b.i)
    .map(({ rt }) => rt);
}
