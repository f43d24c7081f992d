/**
 * API discovery documents: `/version`, `/api`, `/apis`, `/apis/{group}`, `/api/v1`,
 * `/apis/{group}/{version}`, in both the legacy form (`APIVersions`, `APIGroupList`, `APIGroup`,
 * `APIResourceList`) and the aggregated `apidiscovery.k8s.io/v2` form kubectl asks for first.
 *
 * Every function is pure: it takes the served {@linkcode ResourceType}s and returns a JSON
 * document. The API server picks the form with {@linkcode negotiateDiscovery} and must echo
 * the returned `contentType`: client-go decides between aggregated and legacy discovery by the
 * response `Content-Type` alone.
 *
 * @example
 * ```ts
 * const { aggregated, contentType } = negotiateDiscovery(c.req.header("accept"));
 * const body = aggregated ? aggregatedDiscovery(RESOURCE_TYPES, "apis") : apiGroupList(RESOURCE_TYPES);
 * return c.body(JSON.stringify(body), 200, { "content-type": contentType, vary: "Accept" });
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ResourceType } from "../storage/resource.ts";
import { apiVersionOf } from "../storage/resource.ts";

/** The verbs every served resource supports. */
export const RESOURCE_VERBS: readonly string[] = [
  "create",
  "delete",
  "deletecollection",
  "get",
  "list",
  "patch",
  "update",
  "watch",
];

/** Group, version and kind, as discovery and OpenAPI spell them. */
export interface GroupVersionKind {
  group: string;
  version: string;
  kind: string;
}

/** What a subresource returns and which verbs it takes. */
export interface SubresourceInfo {
  /** e.g. `Scale` in autoscaling/v1 for `deployments/scale` */
  responseKind: GroupVersionKind;
  verbs: string[];
}

/**
 * What `{plural}/{subresource}` serves. `status` (and anything unknown) returns the parent kind
 * with get/patch/update, as Kubernetes does.
 */
export function subresourceInfo(rt: ResourceType, subresource: string): SubresourceInfo {
  const self = { group: rt.group, version: rt.version, kind: rt.kind };
  switch (subresource) {
    case "scale":
      return {
        responseKind: { group: "autoscaling", version: "v1", kind: "Scale" },
        verbs: ["get", "patch", "update"],
      };
    case "binding":
      return { responseKind: { group: "", version: "v1", kind: "Binding" }, verbs: ["create"] };
    case "eviction":
      return {
        responseKind: { group: "policy", version: "v1", kind: "Eviction" },
        verbs: ["create"],
      };
    case "log":
      return { responseKind: self, verbs: ["get"] };
    default:
      return { responseKind: self, verbs: ["get", "patch", "update"] };
  }
}

/** One API group with its versions, preferred (highest-priority) version first. */
export interface GroupVersions {
  /** "" for the core group */
  group: string;
  versions: string[];
}

const VERSION_RE = /^v(\d+)(?:(alpha|beta)(\d+))?$/;

/**
 * Kubernetes version priority: GA before beta before alpha, higher numbers first, anything not
 * shaped like `v1beta2` last in alphabetical order. Negative when `a` is preferred.
 */
export function compareVersions(a: string, b: string): number {
  const ma = VERSION_RE.exec(a);
  const mb = VERSION_RE.exec(b);
  if (!ma || !mb) return ma ? -1 : mb ? 1 : a.localeCompare(b);
  const stability = (m: RegExpExecArray) => m[2] === undefined ? 2 : m[2] === "beta" ? 1 : 0;
  return stability(mb) - stability(ma) || Number(mb[1]) - Number(ma[1]) ||
    Number(mb[3] ?? 0) - Number(ma[3] ?? 0);
}

/**
 * The groups served, in the order their first type appears (the core group, if served,
 * should come first in `types`), each with its versions by priority.
 */
export function groupVersions(types: readonly ResourceType[]): GroupVersions[] {
  const byGroup = new Map<string, Set<string>>();
  for (const rt of types) {
    const versions = byGroup.get(rt.group) ?? new Set<string>();
    versions.add(rt.version);
    byGroup.set(rt.group, versions);
  }
  return [...byGroup].map(([group, versions]) => ({
    group,
    versions: [...versions].sort(compareVersions),
  }));
}

/** The types served in one group-version, in `types` order. */
export function typesIn(
  types: readonly ResourceType[],
  group: string,
  version: string,
): ResourceType[] {
  return types.filter((rt) => rt.group === group && rt.version === version);
}

/**
 * `storageVersionHash` as kube-apiserver computes it: base64 of the first 8 bytes of
 * sha256(`group/version/kind`). Clients only compare it for changes.
 */
export function storageVersionHash(rt: ResourceType): string {
  const digest = createHash("sha256").update(`${rt.group}/${rt.version}/${rt.kind}`).digest();
  return digest.subarray(0, 8).toString("base64");
}

/**
 * `GET /api` (legacy): `APIVersions` listing the core version.
 *
 * @param serverAddress `host:port` clients should use, e.g. `127.0.0.1:6443`
 */
export function legacyApiVersions(serverAddress: string) {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

function groupDocument(gv: GroupVersions) {
  const versions = gv.versions.map((version) => ({
    groupVersion: `${gv.group}/${version}`,
    version,
  }));
  return { name: gv.group, versions, preferredVersion: versions[0] };
}

/** `GET /apis` (legacy): `APIGroupList` of every named group (the core group is not in it). */
export function apiGroupList(types: readonly ResourceType[]) {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: groupVersions(types).filter((gv) => gv.group !== "").map(groupDocument),
  };
}

/** `GET /apis/{group}`: `APIGroup`, or undefined when the group is not served (reply 404). */
export function apiGroup(types: readonly ResourceType[], group: string) {
  const gv = groupVersions(types).find((g) => g.group === group && group !== "");
  return gv && { kind: "APIGroup", apiVersion: "v1", ...groupDocument(gv) };
}

/** metav1.APIResource: one resource or subresource (`deployments/scale`) in discovery. */
export interface APIResource {
  name: string;
  singularName: string;
  namespaced: boolean;
  /** set on subresources answering in another group-version (`Scale` in autoscaling/v1) */
  group?: string;
  version?: string;
  kind: string;
  verbs: string[];
  shortNames?: string[];
  categories?: string[];
  storageVersionHash?: string;
}

/** metav1.APIResourceList */
export interface APIResourceList {
  kind: "APIResourceList";
  apiVersion: "v1";
  groupVersion: string;
  resources: APIResource[];
}

/**
 * `GET /api/v1` and `GET /apis/{group}/{version}`: `APIResourceList` with one entry per
 * resource and one per subresource (`deployments/scale`, `pods/status`, …), or undefined when
 * the group-version is not served (reply 404).
 */
export function apiResourceList(
  types: readonly ResourceType[],
  group: string,
  version: string,
): APIResourceList | undefined {
  const served = typesIn(types, group, version);
  if (served.length === 0) return undefined;
  const resources = served.flatMap((rt): APIResource[] => [
    {
      name: rt.plural,
      singularName: rt.singular,
      namespaced: rt.namespaced,
      kind: rt.kind,
      verbs: [...RESOURCE_VERBS],
      ...(rt.shortNames.length > 0 ? { shortNames: [...rt.shortNames] } : {}),
      ...(rt.categories.length > 0 ? { categories: [...rt.categories] } : {}),
      storageVersionHash: storageVersionHash(rt),
    },
    ...rt.subresources.map((sub) => {
      const info = subresourceInfo(rt, sub);
      return {
        name: `${rt.plural}/${sub}`,
        singularName: "",
        namespaced: rt.namespaced,
        ...(info.responseKind.group !== rt.group || info.responseKind.version !== rt.version
          ? { group: info.responseKind.group, version: info.responseKind.version }
          : {}),
        kind: info.responseKind.kind,
        verbs: [...info.verbs],
      };
    }),
  ]);
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: apiVersionOf({ group, version }),
    resources,
  };
}

/** The `Content-Type` of an aggregated discovery reply; client-go matches it exactly. */
export const AGGREGATED_DISCOVERY_CONTENT_TYPE =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/**
 * `GET /api` or `GET /apis` (aggregated): `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`
 * with every group, version, resource and subresource in one document. `"api"` holds only the
 * core group, `"apis"` the named groups. client-go uses the resources only when both `/api`
 * and `/apis` answer in this form.
 */
export function aggregatedDiscovery(types: readonly ResourceType[], which: "api" | "apis") {
  const groups = groupVersions(types).filter((gv) => (gv.group === "") === (which === "api"));
  return {
    kind: "APIGroupDiscoveryList",
    apiVersion: "apidiscovery.k8s.io/v2",
    metadata: {},
    items: groups.map((gv) => ({
      metadata: gv.group === "" ? {} : { name: gv.group },
      versions: gv.versions.map((version) => ({
        version,
        resources: typesIn(types, gv.group, version).map((rt) => ({
          resource: rt.plural,
          responseKind: { group: rt.group, version: rt.version, kind: rt.kind },
          scope: rt.namespaced ? "Namespaced" : "Cluster",
          singularResource: rt.singular,
          verbs: [...RESOURCE_VERBS],
          ...(rt.shortNames.length > 0 ? { shortNames: [...rt.shortNames] } : {}),
          ...(rt.categories.length > 0 ? { categories: [...rt.categories] } : {}),
          ...(rt.subresources.length > 0
            ? {
              subresources: rt.subresources.map((sub) => {
                const info = subresourceInfo(rt, sub);
                return {
                  subresource: sub,
                  responseKind: info.responseKind,
                  verbs: [...info.verbs],
                };
              }),
            }
            : {}),
        })),
        freshness: "Current",
      })),
    })),
  };
}

/** One media range of an `Accept` header: `type/subtype` (lower-cased) and its parameters. */
export interface MediaRange {
  type: string;
  params: Record<string, string>;
}

/**
 * Splits an `Accept` header into media ranges in the order given (kubectl lists its choices
 * by preference and sends no q-values). Parameter names are lower-cased, values kept as sent.
 */
export function parseAccept(accept: string | undefined): MediaRange[] {
  if (!accept) return [];
  return accept.split(",").map((range) => {
    const [type = "", ...rest] = range.split(";").map((s) => s.trim());
    const params: Record<string, string> = {};
    for (const p of rest) {
      const eq = p.indexOf("=");
      if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim();
    }
    return { type: type.toLowerCase(), params };
  }).filter((r) => r.type !== "");
}

/**
 * Chooses between aggregated (v2) and legacy discovery for `GET /api` and `GET /apis`.
 * Aggregated when the `Accept` header lists `application/json;g=apidiscovery.k8s.io;v=v2;
 * as=APIGroupDiscoveryList` (kubectl 1.32 and client-go do, first); the reply must carry the
 * returned `contentType` (and `Vary: Accept`).
 */
export function negotiateDiscovery(
  accept: string | undefined,
): { aggregated: boolean; contentType: string } {
  const aggregated = parseAccept(accept).some((r) =>
    r.type === "application/json" && r.params.g === "apidiscovery.k8s.io" && r.params.v === "v2" &&
    r.params.as === "APIGroupDiscoveryList"
  );
  return aggregated
    ? { aggregated, contentType: AGGREGATED_DISCOVERY_CONTENT_TYPE }
    : { aggregated, contentType: "application/json" };
}

/** The Kubernetes release we answer as; kubectl 1.31–1.33 talk to it without skew warnings. */
export const KUBERNETES_VERSION = { major: "1", minor: "32", gitVersion: "v1.32.0+edge" };

/** `GET /version`: `version.Info`. */
export function versionInfo() {
  return {
    ...KUBERNETES_VERSION,
    gitCommit: "0000000000000000000000000000000000000000",
    gitTreeState: "clean",
    buildDate: "2025-01-01T00:00:00Z",
    goVersion: "go1.23.4",
    compiler: "gc",
    platform: `${Deno.build.os}/${Deno.build.arch === "x86_64" ? "amd64" : "arm64"}`,
  };
}
