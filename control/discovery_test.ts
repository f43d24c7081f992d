import assert from "node:assert/strict";
import { z } from "zod";
import type { ResourceType } from "../storage/resource.ts";
import {
  AGGREGATED_DISCOVERY_CONTENT_TYPE,
  aggregatedDiscovery,
  apiGroup,
  apiGroupList,
  apiResourceList,
  compareVersions,
  legacyApiVersions,
  negotiateDiscovery,
  parseAccept,
  versionInfo,
} from "./discovery.ts";

function fakeType(
  over: Partial<ResourceType> & Pick<ResourceType, "kind" | "plural">,
): ResourceType {
  return {
    group: "",
    version: "v1",
    singular: over.plural.replace(/s$/, ""),
    namespaced: true,
    nameRule: "dns1123-subdomain",
    shortNames: [],
    categories: [],
    subresources: [],
    schema: z.object({}),
    statusFields: [],
    tracksGeneration: false,
    columns: [],
    fieldSelectors: {},
    ...over,
  };
}

const TYPES: readonly ResourceType[] = [
  fakeType({ kind: "ConfigMap", plural: "configmaps", shortNames: ["cm"] }),
  fakeType({
    kind: "Namespace",
    plural: "namespaces",
    namespaced: false,
    subresources: ["status"],
  }),
  fakeType({
    kind: "Pod",
    plural: "pods",
    categories: ["all"],
    subresources: ["status", "binding"],
  }),
  fakeType({
    group: "apps",
    kind: "Deployment",
    plural: "deployments",
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: ["status", "scale"],
  }),
  fakeType({ group: "apps", version: "v1beta1", kind: "Deployment", plural: "deployments" }),
  fakeType({ group: "rbac.authorization.k8s.io", kind: "ClusterRole", plural: "clusterroles" }),
];

const KUBECTL_DISCOVERY_ACCEPT =
  "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList," +
  "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

Deno.test("negotiateDiscovery() answers kubectl 1.32's Accept with aggregated v2", () => {
  assert.deepEqual(negotiateDiscovery(KUBECTL_DISCOVERY_ACCEPT), {
    aggregated: true,
    contentType: "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
  });
  assert.equal(
    AGGREGATED_DISCOVERY_CONTENT_TYPE,
    negotiateDiscovery(KUBECTL_DISCOVERY_ACCEPT).contentType,
  );
});

Deno.test("negotiateDiscovery() falls back to legacy JSON without a v2 media range", () => {
  const legacy = { aggregated: false, contentType: "application/json" };
  assert.deepEqual(negotiateDiscovery(undefined), legacy);
  assert.deepEqual(negotiateDiscovery("application/json, */*"), legacy);
  assert.deepEqual(
    negotiateDiscovery("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
    legacy,
  );
  assert.deepEqual(
    negotiateDiscovery("application/yaml;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"),
    legacy,
  );
});

Deno.test("parseAccept() splits media ranges and parameters in order", () => {
  assert.deepEqual(parseAccept("Application/JSON; as=Table ;v=v1, */*"), [
    { type: "application/json", params: { as: "Table", v: "v1" } },
    { type: "*/*", params: {} },
  ]);
  assert.deepEqual(parseAccept(""), []);
});

Deno.test("compareVersions() orders GA, then beta, then alpha, newest first", () => {
  assert.deepEqual(
    ["v1alpha1", "v1beta1", "v2", "v1", "v1beta2", "foo"].sort(compareVersions),
    ["v2", "v1", "v1beta2", "v1beta1", "v1alpha1", "foo"],
  );
});

Deno.test("legacyApiVersions() lists v1 with the server address", () => {
  assert.deepEqual(legacyApiVersions("127.0.0.1:6443"), {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress: "127.0.0.1:6443" }],
  });
});

Deno.test("apiGroupList() lists named groups with the preferred version first", () => {
  const list = apiGroupList(TYPES);
  assert.equal(list.kind, "APIGroupList");
  assert.equal(list.apiVersion, "v1");
  assert.deepEqual(list.groups, [
    {
      name: "apps",
      versions: [
        { groupVersion: "apps/v1", version: "v1" },
        { groupVersion: "apps/v1beta1", version: "v1beta1" },
      ],
      preferredVersion: { groupVersion: "apps/v1", version: "v1" },
    },
    {
      name: "rbac.authorization.k8s.io",
      versions: [{ groupVersion: "rbac.authorization.k8s.io/v1", version: "v1" }],
      preferredVersion: { groupVersion: "rbac.authorization.k8s.io/v1", version: "v1" },
    },
  ]);
});

Deno.test("apiGroup() returns one group, undefined for the core or an unknown group", () => {
  assert.equal(apiGroup(TYPES, "apps")?.kind, "APIGroup");
  assert.equal(apiGroup(TYPES, "apps")?.preferredVersion?.groupVersion, "apps/v1");
  assert.equal(apiGroup(TYPES, ""), undefined);
  assert.equal(apiGroup(TYPES, "batch"), undefined);
});

Deno.test("apiResourceList() describes resources and their subresources", () => {
  const list = apiResourceList(TYPES, "apps", "v1");
  assert.ok(list);
  assert.equal(list.groupVersion, "apps/v1");
  const [deployments, status, scale] = list.resources;
  assert.equal(list.resources.length, 3);
  assert.deepEqual({ ...deployments, storageVersionHash: undefined }, {
    name: "deployments",
    singularName: "deployment",
    namespaced: true,
    kind: "Deployment",
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    shortNames: ["deploy"],
    categories: ["all"],
    storageVersionHash: undefined,
  });
  assert.match(String(deployments?.storageVersionHash), /^[A-Za-z0-9+/]{11}=$/);
  assert.deepEqual(status, {
    name: "deployments/status",
    singularName: "",
    namespaced: true,
    kind: "Deployment",
    verbs: ["get", "patch", "update"],
  });
  assert.deepEqual(scale, {
    name: "deployments/scale",
    singularName: "",
    namespaced: true,
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
    verbs: ["get", "patch", "update"],
  });
});

Deno.test("apiResourceList() serves the core group at v1 and undefined for unknown versions", () => {
  const core = apiResourceList(TYPES, "", "v1");
  assert.equal(core?.groupVersion, "v1");
  assert.deepEqual(core?.resources.map((r) => r.name), [
    "configmaps",
    "namespaces",
    "namespaces/status",
    "pods",
    "pods/status",
    "pods/binding",
  ]);
  const binding = core?.resources.find((r) => r.name === "pods/binding");
  assert.equal(binding?.kind, "Binding");
  assert.deepEqual(binding?.verbs, ["create"]);
  assert.equal(core?.resources.find((r) => r.name === "namespaces")?.namespaced, false);
  assert.equal(apiResourceList(TYPES, "apps", "v2"), undefined);
});

Deno.test("aggregatedDiscovery() puts only the core group under /api", () => {
  const doc = aggregatedDiscovery(TYPES, "api");
  assert.equal(doc.kind, "APIGroupDiscoveryList");
  assert.equal(doc.apiVersion, "apidiscovery.k8s.io/v2");
  assert.equal(doc.items.length, 1);
  const [core] = doc.items;
  assert.deepEqual(core?.metadata, {});
  assert.deepEqual(core?.versions.map((v) => [v.version, v.freshness]), [["v1", "Current"]]);
  const namespaces = core?.versions[0]?.resources.find((r) => r.resource === "namespaces");
  assert.equal(namespaces?.scope, "Cluster");
  assert.deepEqual(namespaces?.responseKind, { group: "", version: "v1", kind: "Namespace" });
});

Deno.test("aggregatedDiscovery() lists named groups with scale responding Scale", () => {
  const doc = aggregatedDiscovery(TYPES, "apis");
  assert.deepEqual(doc.items.map((g) => g.metadata), [
    { name: "apps" },
    { name: "rbac.authorization.k8s.io" },
  ]);
  const apps = doc.items[0];
  assert.deepEqual(apps?.versions.map((v) => v.version), ["v1", "v1beta1"]);
  const deployments = apps?.versions[0]?.resources[0];
  assert.deepEqual(deployments, {
    resource: "deployments",
    responseKind: { group: "apps", version: "v1", kind: "Deployment" },
    scope: "Namespaced",
    singularResource: "deployment",
    verbs: ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
    shortNames: ["deploy"],
    categories: ["all"],
    subresources: [
      {
        subresource: "status",
        responseKind: { group: "apps", version: "v1", kind: "Deployment" },
        verbs: ["get", "patch", "update"],
      },
      {
        subresource: "scale",
        responseKind: { group: "autoscaling", version: "v1", kind: "Scale" },
        verbs: ["get", "patch", "update"],
      },
    ],
  });
});

Deno.test("versionInfo() reports Kubernetes 1.32 with every version.Info field", () => {
  const info = versionInfo();
  assert.equal(info.major, "1");
  assert.equal(info.minor, "32");
  assert.match(info.gitVersion, /^v1\.32\.\d+(\+[0-9A-Za-z.-]+)?$/);
  for (const field of ["gitCommit", "gitTreeState", "buildDate", "goVersion", "compiler"]) {
    assert.equal(typeof info[field as keyof typeof info], "string", field);
  }
  assert.match(info.platform, /^[a-z]+\/(amd64|arm64)$/);
});
