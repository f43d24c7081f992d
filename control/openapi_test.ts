import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { z } from "zod";
import type { ResourceType } from "../storage/resource.ts";
import {
  type JsonSchema,
  kindSchemas,
  openApiV3GroupVersion,
  openApiV3GroupVersionJson,
  openApiV3Root,
  PATCH_CONTENT_TYPES,
  schemaName,
} from "./openapi.ts";

const meta = z.strictObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  finalizers: z.array(z.string()).optional(),
  ownerReferences: z.array(z.strictObject({ uid: z.string(), name: z.string() })).optional(),
});

const container = z.strictObject({
  name: z.string(),
  image: z.string(),
  ports: z.array(z.strictObject({ containerPort: z.number().int(), name: z.string().optional() }))
    .optional(),
  env: z.array(z.strictObject({ name: z.string(), value: z.string().optional() })).optional(),
});

function fakeType(
  over: Partial<ResourceType> & Pick<ResourceType, "group" | "kind" | "plural" | "schema">,
): ResourceType {
  return {
    version: "v1",
    singular: over.plural.replace(/s$/, ""),
    namespaced: true,
    nameRule: "dns1123-subdomain",
    shortNames: [],
    categories: [],
    subresources: [],
    statusFields: ["status"],
    tracksGeneration: false,
    columns: [],
    fieldSelectors: {},
    ...over,
  };
}

const configMap = fakeType({
  group: "",
  kind: "ConfigMap",
  plural: "configmaps",
  schema: z.strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("ConfigMap"),
    metadata: meta,
    data: z.record(z.string(), z.string()).optional(),
  }),
});

const namespace = fakeType({
  group: "",
  kind: "Namespace",
  plural: "namespaces",
  namespaced: false,
  subresources: ["status"],
  schema: z.strictObject({
    apiVersion: z.literal("v1"),
    kind: z.literal("Namespace"),
    metadata: meta,
    status: z.strictObject({ phase: z.string().optional() }).optional(),
  }),
});

const deployment = fakeType({
  group: "apps",
  kind: "Deployment",
  plural: "deployments",
  subresources: ["status", "scale"],
  schema: z.strictObject({
    apiVersion: z.literal("apps/v1"),
    kind: z.literal("Deployment"),
    metadata: meta,
    spec: z.strictObject({
      replicas: z.number().int().default(1),
      template: z.strictObject({ spec: z.strictObject({ containers: z.array(container) }) }),
    }),
    status: z.strictObject({
      conditions: z.array(z.strictObject({ type: z.string(), status: z.string() })).optional(),
    }).optional(),
  }),
});

const TYPES: readonly ResourceType[] = [configMap, namespace, deployment];

type Doc = {
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema> };
};

function gvDoc(group: string, version = "v1"): Doc {
  const doc = openApiV3GroupVersion(TYPES, group, version);
  assert.ok(doc, `no document for ${group}/${version}`);
  return doc as unknown as Doc;
}

const METHODS = ["get", "put", "post", "patch", "delete"];

function operations(doc: Doc): [string, string, JsonSchema][] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => [path, m, item[m]!] as [string, string, JsonSchema])
  );
}

/** kubectl's supportsQueryParamV3 (cli-runtime query_param_verifier_v3.go), transcribed. */
function kubectlSupportsFieldValidation(doc: Doc, gvk: JsonSchema): boolean {
  for (const item of Object.values(doc.paths)) {
    const op = item.patch;
    if (!op) continue;
    const ext = op["x-kubernetes-group-version-kind"] as JsonSchema | undefined;
    if (ext?.group !== gvk.group || ext?.version !== gvk.version || ext?.kind !== gvk.kind) {
      continue;
    }
    return (op.parameters as { name: string }[]).some((p) => p.name === "fieldValidation");
  }
  return false;
}

/** kubectl's PatchMetaFromOpenAPIV3 lookup: properties by name, `#/components/schemas/` refs. */
function patchMeta(doc: Doc, root: JsonSchema, path: string[]) {
  let schema: JsonSchema = root;
  let meta: { strategy?: unknown; key?: unknown } = {};
  for (const step of path) {
    const sub = (schema.properties as Record<string, JsonSchema> | undefined)?.[step];
    assert.ok(sub, `unable to find api field "${step}"`);
    meta = {
      strategy: sub["x-kubernetes-patch-strategy"],
      key: sub["x-kubernetes-patch-merge-key"],
    };
    schema = (sub.type === "array" ? sub.items : sub) as JsonSchema;
    const ref = schema.$ref as string | undefined;
    if (ref) {
      const target = doc.components.schemas[ref.replace("#/components/schemas/", "")];
      assert.ok(target, `unable to resolve ${ref}`);
      schema = target;
    }
  }
  return meta;
}

Deno.test("schemaName() names kinds as Kubernetes does", () => {
  assert.equal(
    schemaName({ group: "", version: "v1", kind: "ConfigMap" }),
    "io.k8s.api.core.v1.ConfigMap",
  );
  assert.equal(
    schemaName({ group: "apps", version: "v1", kind: "Deployment" }),
    "io.k8s.api.apps.v1.Deployment",
  );
  assert.equal(
    schemaName({ group: "rbac.authorization.k8s.io", version: "v1", kind: "Role" }),
    "io.k8s.api.rbac.v1.Role",
  );
  assert.equal(
    schemaName({ group: "example.com", version: "v1", kind: "Widget" }),
    "com.example.v1.Widget",
  );
});

Deno.test("openApiV3Root() links every group-version with its document's hash", () => {
  const root = openApiV3Root(TYPES) as { paths: Record<string, { serverRelativeURL: string }> };
  assert.deepEqual(Object.keys(root.paths), ["api/v1", "apis/apps/v1"]);
  for (const [key, group] of [["api/v1", ""], ["apis/apps/v1", "apps"]] as const) {
    const served = openApiV3GroupVersionJson(TYPES, group, "v1");
    assert.ok(served);
    assert.equal(served.hash, createHash("sha512").update(served.json).digest("hex").toUpperCase());
    assert.equal(root.paths[key]?.serverRelativeURL, `/openapi/v3/${key}?hash=${served.hash}`);
    assert.deepEqual(JSON.parse(served.json), openApiV3GroupVersion(TYPES, group, "v1"));
  }
});

Deno.test("openApiV3Root() and openApiV3GroupVersion() cache frozen documents per types array", () => {
  assert.equal(openApiV3Root(TYPES), openApiV3Root(TYPES));
  const doc = openApiV3GroupVersion(TYPES, "apps", "v1");
  assert.equal(doc, openApiV3GroupVersion(TYPES, "apps", "v1"));
  assert.ok(Object.isFrozen(doc) && Object.isFrozen(doc?.components));
  assert.notEqual(openApiV3Root([...TYPES]), openApiV3Root(TYPES));
});

Deno.test("openApiV3GroupVersion() returns undefined for a group-version not served", () => {
  assert.equal(openApiV3GroupVersion(TYPES, "apps", "v1beta1"), undefined);
  assert.equal(openApiV3GroupVersion(TYPES, "batch", "v1"), undefined);
  assert.equal(openApiV3GroupVersionJson(TYPES, "batch", "v1"), undefined);
});

Deno.test("openApiV3GroupVersion() is an OpenAPI 3.0 document of the group-version's kinds", () => {
  const doc = gvDoc("") as Doc & { openapi: string };
  assert.match(doc.openapi, /^3\.0\./);
  const schemas = doc.components.schemas;
  assert.deepEqual(schemas["io.k8s.api.core.v1.ConfigMap"]?.["x-kubernetes-group-version-kind"], [
    { group: "", kind: "ConfigMap", version: "v1" },
  ]);
  assert.deepEqual(
    schemas["io.k8s.api.core.v1.ConfigMapList"]?.["x-kubernetes-group-version-kind"],
    [
      { group: "", kind: "ConfigMapList", version: "v1" },
    ],
  );
  assert.equal(schemas["io.k8s.api.apps.v1.Deployment"], undefined);
  for (const name of ["Status", "ObjectMeta", "ListMeta", "DeleteOptions", "Patch"]) {
    assert.ok(schemas[`io.k8s.apimachinery.pkg.apis.meta.v1.${name}`], name);
  }
  const apps = gvDoc("apps").components.schemas;
  assert.deepEqual(apps["io.k8s.api.apps.v1.Deployment"]?.["x-kubernetes-group-version-kind"], [
    { group: "apps", kind: "Deployment", version: "v1" },
  ]);
  assert.deepEqual(apps["io.k8s.api.autoscaling.v1.Scale"]?.["x-kubernetes-group-version-kind"], [
    { group: "autoscaling", kind: "Scale", version: "v1" },
  ]);
});

Deno.test("openApiV3GroupVersion() has collection, item and subresource paths in both scopes", () => {
  const core = gvDoc("");
  assert.deepEqual(Object.keys(core.paths).sort(), [
    "/api/v1/configmaps",
    "/api/v1/namespaces",
    "/api/v1/namespaces/{namespace}/configmaps",
    "/api/v1/namespaces/{namespace}/configmaps/{name}",
    "/api/v1/namespaces/{name}",
    "/api/v1/namespaces/{name}/status",
  ]);
  const actions = (path: string) =>
    Object.fromEntries(
      METHODS.filter((m) => core.paths[path]?.[m]).map((m) => [
        m,
        core.paths[path]?.[m]?.["x-kubernetes-action"],
      ]),
    );
  assert.deepEqual(actions("/api/v1/configmaps"), { get: "list" });
  assert.deepEqual(actions("/api/v1/namespaces/{namespace}/configmaps"), {
    get: "list",
    post: "post",
    delete: "deletecollection",
  });
  assert.deepEqual(actions("/api/v1/namespaces/{namespace}/configmaps/{name}"), {
    get: "get",
    put: "put",
    patch: "patch",
    delete: "delete",
  });
  assert.deepEqual(actions("/api/v1/namespaces/{name}/status"), {
    get: "get",
    put: "put",
    patch: "patch",
  });
  const scale =
    gvDoc("apps").paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}/scale"];
  assert.deepEqual(scale?.patch?.["x-kubernetes-group-version-kind"], {
    group: "autoscaling",
    version: "v1",
    kind: "Scale",
  });
});

Deno.test("openApiV3GroupVersion() gives every operation an action, GVK and operationId", () => {
  for (const group of ["", "apps"]) {
    for (const [path, method, op] of operations(gvDoc(group))) {
      assert.equal(typeof op["x-kubernetes-action"], "string", `${method} ${path}`);
      const gvk = op["x-kubernetes-group-version-kind"] as JsonSchema;
      assert.deepEqual(Object.keys(gvk).sort(), ["group", "kind", "version"], `${method} ${path}`);
      assert.match(String(op.operationId), /^[a-z]+[A-Z]\w+$/);
    }
  }
  const list = gvDoc("").paths["/api/v1/namespaces/{namespace}/configmaps"]?.get;
  assert.equal(list?.operationId, "listCoreV1NamespacedConfigMap");
  const names = (list?.parameters as { name: string }[]).map((p) => p.name);
  for (
    const n of ["watch", "labelSelector", "fieldSelector", "limit", "continue", "resourceVersion"]
  ) {
    assert.ok(names.includes(n), n);
  }
});

Deno.test("openApiV3GroupVersion() PATCH operations satisfy kubectl's fieldValidation check", () => {
  const patches = [...operations(gvDoc("")), ...operations(gvDoc("apps"))]
    .filter(([, method]) => method === "patch");
  // configmaps/{name}, namespaces/{name}(/status), deployments/{name}(/status, /scale)
  assert.equal(patches.length, 6);
  for (const [path, , op] of patches) {
    const params = op.parameters as { name: string; in: string }[];
    for (const name of ["fieldValidation", "fieldManager", "dryRun", "force"]) {
      assert.ok(params.some((p) => p.name === name && p.in === "query"), `${path} ${name}`);
    }
    const body = op.requestBody as { content: Record<string, unknown> };
    assert.deepEqual(Object.keys(body.content).sort(), [...PATCH_CONTENT_TYPES].sort());
  }
  assert.ok(
    kubectlSupportsFieldValidation(gvDoc(""), { group: "", version: "v1", kind: "ConfigMap" }),
  );
  assert.ok(
    kubectlSupportsFieldValidation(gvDoc(""), { group: "", version: "v1", kind: "Namespace" }),
  );
  assert.ok(
    kubectlSupportsFieldValidation(gvDoc("apps"), {
      group: "apps",
      version: "v1",
      kind: "Deployment",
    }),
  );
  assert.ok(
    !kubectlSupportsFieldValidation(gvDoc("apps"), { group: "apps", version: "v1", kind: "Job" }),
  );
});

Deno.test("openApiV3GroupVersion() write operations take fieldManager, dryRun and fieldValidation", () => {
  for (const [path, method, op] of operations(gvDoc("apps"))) {
    if (method !== "post" && method !== "put") continue;
    const names = (op.parameters as { name: string }[]).map((p) => p.name);
    assert.deepEqual(names, ["dryRun", "fieldManager", "fieldValidation"], `${method} ${path}`);
  }
  const item = gvDoc("").paths["/api/v1/namespaces/{namespace}/configmaps/{name}"];
  assert.deepEqual((item?.parameters as unknown as { name: string }[]).map((p) => p.name), [
    "name",
    "namespace",
    "pretty",
  ]);
});

Deno.test("kindSchemas() marks Kubernetes merge keys for kubectl's strategic merge patch", () => {
  const doc = gvDoc("apps");
  const root = doc.components.schemas["io.k8s.api.apps.v1.Deployment"];
  assert.ok(root);
  const spec = ["spec", "template", "spec", "containers"];
  assert.deepEqual(patchMeta(doc, root, spec), { strategy: "merge", key: "name" });
  assert.deepEqual(patchMeta(doc, root, [...spec, "ports"]), {
    strategy: "merge",
    key: "containerPort",
  });
  assert.deepEqual(patchMeta(doc, root, [...spec, "env"]), { strategy: "merge", key: "name" });
  assert.deepEqual(patchMeta(doc, root, ["status", "conditions"]), {
    strategy: "merge",
    key: "type",
  });
  assert.deepEqual(patchMeta(doc, root, ["metadata", "ownerReferences"]), {
    strategy: "merge",
    key: "uid",
  });
  assert.deepEqual(patchMeta(doc, root, ["metadata", "finalizers"]), {
    strategy: "merge",
    key: undefined,
  });
  assert.deepEqual(patchMeta(doc, root, ["metadata", "labels"]), {
    strategy: undefined,
    key: undefined,
  });
});

Deno.test("kindSchemas() describes request bodies: defaulted fields are optional", () => {
  const schema = kindSchemas(deployment)["io.k8s.api.apps.v1.Deployment"] as {
    properties: { spec: { required: string[]; properties: JsonSchema } };
  };
  assert.deepEqual(schema.properties.spec.required, ["template"]);
  assert.equal((schema.properties.spec.properties.replicas as JsonSchema).default, 1);
});

Deno.test("kindSchemas() hoists recursive definitions into components with rewritten refs", () => {
  type Node = { name: string; children?: Node[] };
  const node: z.ZodType<Node> = z.lazy(() =>
    z.strictObject({ name: z.string(), children: z.array(node).optional() })
  );
  const tree = fakeType({
    group: "example.com",
    kind: "Tree",
    plural: "trees",
    schema: z.strictObject({
      apiVersion: z.string(),
      kind: z.string(),
      metadata: meta,
      root: node,
      port: z.union([z.number().int(), z.string()]).optional(),
    }),
  });
  const schemas = kindSchemas(tree);
  const refs: string[] = [];
  JSON.stringify(schemas, (k, v) => (k === "$ref" && refs.push(v), v));
  assert.ok(refs.length > 0);
  for (const ref of refs) {
    assert.match(ref, /^#\/components\/schemas\//);
    assert.ok(schemas[ref.replace("#/components/schemas/", "")], `dangling ${ref}`);
  }
  const main = schemas["com.example.v1.Tree"] as { properties: Record<string, JsonSchema> };
  assert.equal(main.properties.port?.["x-kubernetes-int-or-string"], true);
});

Deno.test("kindSchemas() flattens allOf of objects so kubectl can walk their properties", () => {
  const merged = fakeType({
    group: "example.com",
    kind: "Both",
    plural: "boths",
    schema: z.object({ apiVersion: z.string(), kind: z.string() }).and(
      z.object({ metadata: meta, spec: z.object({ size: z.number() }) }),
    ),
  });
  const schema = kindSchemas(merged)["com.example.v1.Both"] as JsonSchema;
  assert.equal(schema.allOf, undefined);
  assert.deepEqual(Object.keys(schema.properties as JsonSchema).sort(), [
    "apiVersion",
    "kind",
    "metadata",
    "spec",
  ]);
});
