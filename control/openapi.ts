/**
 * OpenAPI documents generated from the kinds' zod schemas: the `/openapi/v3` root and one
 * OpenAPI 3.0 document per group-version (`/openapi/v3/api/v1`, `/openapi/v3/apis/apps/v1`).
 *
 * kubectl 1.32 reads these documents for three things, and each shapes what is generated:
 * - `--validate=strict` (its default) looks for a PATCH operation whose
 *   `x-kubernetes-group-version-kind` is the object's GVK and for a `fieldValidation`
 *   parameter on it; found, it sends `?fieldValidation=Strict` and leaves validation to us.
 *   So every PATCH operation carries its GVK and an inline `fieldValidation` parameter.
 * - client-side `kubectl apply` computes a strategic merge patch from the component schema
 *   whose `x-kubernetes-group-version-kind` lists the GVK, when that GVK's PATCH operation
 *   accepts `application/strategic-merge-patch+json`. It walks `properties` by field name and
 *   follows only `#/components/schemas/` refs, reading `x-kubernetes-patch-strategy` and
 *   `x-kubernetes-patch-merge-key` (see {@linkcode PATCH_STRATEGIES}).
 * - `kubectl explain` renders the component schema for the GVK.
 *
 * Documents are cached per `types` array and deep-frozen: callers must not mutate them.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { z } from "zod";
import type { ResourceType } from "../storage/resource.ts";
import {
  type GroupVersionKind,
  groupVersions,
  KUBERNETES_VERSION,
  subresourceInfo,
  typesIn,
} from "./discovery.ts";

/** A JSON Schema / OpenAPI schema object. */
export type JsonSchema = { [key: string]: unknown };

const META = "io.k8s.apimachinery.pkg.apis.meta.v1";
const GVK_EXT = "x-kubernetes-group-version-kind";

/**
 * The component name Kubernetes gives a kind: `io.k8s.api.core.v1.ConfigMap`,
 * `io.k8s.api.apps.v1.Deployment`, `io.k8s.api.rbac.v1.Role`; groups outside `*.k8s.io` use
 * the reversed domain (`com.example.v1.Widget`), as for custom resources.
 */
export function schemaName({ group, version, kind }: GroupVersionKind): string {
  if (group === "") return `io.k8s.api.core.${version}.${kind}`;
  if (!group.includes(".") || group.endsWith(".k8s.io")) {
    return `io.k8s.api.${group.split(".")[0]}.${version}.${kind}`;
  }
  return `${group.split(".").reverse().join(".")}.${version}.${kind}`;
}

/**
 * Strategic-merge-patch metadata Kubernetes declares on list fields, matched against the end
 * of a field's path (`[]` steps into array items). The API server's strategic merge patch
 * must merge lists by the same keys, or kubectl's computed patches will not round-trip.
 */
export const PATCH_STRATEGIES: readonly {
  path: readonly string[];
  strategy: string;
  mergeKey?: string;
}[] = [
  { path: ["metadata", "finalizers"], strategy: "merge" },
  { path: ["metadata", "ownerReferences"], strategy: "merge", mergeKey: "uid" },
  { path: ["containers"], strategy: "merge", mergeKey: "name" },
  { path: ["initContainers"], strategy: "merge", mergeKey: "name" },
  { path: ["ephemeralContainers"], strategy: "merge", mergeKey: "name" },
  { path: ["containers", "[]", "ports"], strategy: "merge", mergeKey: "containerPort" },
  { path: ["initContainers", "[]", "ports"], strategy: "merge", mergeKey: "containerPort" },
  { path: ["env"], strategy: "merge", mergeKey: "name" },
  { path: ["volumeMounts"], strategy: "merge", mergeKey: "mountPath" },
  { path: ["volumeDevices"], strategy: "merge", mergeKey: "devicePath" },
  { path: ["volumes"], strategy: "merge,retainKeys", mergeKey: "name" },
  { path: ["imagePullSecrets"], strategy: "merge", mergeKey: "name" },
  { path: ["hostAliases"], strategy: "merge", mergeKey: "ip" },
  { path: ["topologySpreadConstraints"], strategy: "merge", mergeKey: "topologyKey" },
  { path: ["conditions"], strategy: "merge", mergeKey: "type" },
  { path: ["status", "addresses"], strategy: "merge", mergeKey: "type" },
  { path: ["status", "podIPs"], strategy: "merge", mergeKey: "ip" },
  { path: ["status", "hostIPs"], strategy: "merge", mergeKey: "ip" },
  { path: ["spec", "ports"], strategy: "merge", mergeKey: "port" },
];

function isObject(v: unknown): v is JsonSchema {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function endsWith(path: readonly string[], suffix: readonly string[]): boolean {
  return suffix.length <= path.length &&
    suffix.every((s, i) => path[path.length - suffix.length + i] === s);
}

/**
 * Adds Kubernetes extensions to a generated schema in place: patch strategies on known list
 * fields, `x-kubernetes-int-or-string` on integer-or-string unions, and flattens `allOf` of
 * plain objects (kubectl's patch walker only looks at `allOf[0]`).
 */
function decorate(schema: JsonSchema, path: string[]): void {
  const allOf = schema.allOf;
  if (Array.isArray(allOf) && allOf.every((s) => isObject(s) && s.type === "object")) {
    const parts = allOf as JsonSchema[];
    delete schema.allOf;
    schema.type = "object";
    schema.properties = Object.assign({}, ...parts.map((p) => p.properties ?? {}));
    const required = [...new Set(parts.flatMap((p) => (p.required ?? []) as string[]))];
    if (required.length > 0) schema.required = required;
  }
  const anyOf = schema.anyOf;
  if (Array.isArray(anyOf) && anyOf.length === 2) {
    const kinds = anyOf.map((s) => (isObject(s) ? s.type : undefined)).sort();
    if (kinds[0] === "integer" && kinds[1] === "string") {
      schema["x-kubernetes-int-or-string"] = true;
    }
  }
  if (schema.type === "array") {
    const rule = PATCH_STRATEGIES.find((r) => endsWith(path, r.path));
    const items = schema.items;
    const keyed = rule?.mergeKey === undefined ||
      (isObject(items) && isObject(items.properties) && rule.mergeKey in items.properties);
    if (rule && keyed) {
      schema["x-kubernetes-patch-strategy"] = rule.strategy;
      if (rule.mergeKey) schema["x-kubernetes-patch-merge-key"] = rule.mergeKey;
    }
  }
  if (isObject(schema.properties)) {
    for (const [key, sub] of Object.entries(schema.properties)) {
      if (isObject(sub)) decorate(sub, [...path, key]);
    }
  }
  if (isObject(schema.items)) decorate(schema.items, [...path, "[]"]);
  if (isObject(schema.additionalProperties)) decorate(schema.additionalProperties, [...path, "*"]);
  for (const combinator of ["anyOf", "oneOf", "allOf"]) {
    const list = schema[combinator];
    if (Array.isArray(list)) { for (const s of list) if (isObject(s)) decorate(s, path); }
  }
}

/** Rewrites `$ref`s in place with `rewrite`, recursively. */
function rewriteRefs(node: unknown, rewrite: (ref: string) => string): void {
  if (Array.isArray(node)) {
    for (const n of node) rewriteRefs(n, rewrite);
  } else if (isObject(node)) {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") node[k] = rewrite(v);
      else rewriteRefs(v, rewrite);
    }
  }
}

/**
 * The OpenAPI 3.0 component schemas for one kind: the kind itself under
 * {@linkcode schemaName} with `x-kubernetes-group-version-kind`, plus any definitions zod
 * emitted for recursive or registered sub-schemas (named `<kind name>.<def>`, refs rewritten to
 * `#/components/schemas/`). Describes the request body a client may send (zod input types).
 */
export function kindSchemas(rt: ResourceType): Record<string, JsonSchema> {
  const name = schemaName(rt);
  let generated: JsonSchema;
  try {
    generated = z.toJSONSchema(rt.schema, {
      target: "openapi-3.0",
      io: "input",
      unrepresentable: "any",
    }) as JsonSchema;
  } catch (err) {
    throw new Error(
      `Cannot generate the OpenAPI schema of ${rt.group || "core"}/${rt.version} ${rt.kind}: ${
        err instanceof Error ? err.message : String(err)
      }`,
    );
  }
  const defs: Record<string, unknown> = {
    ...(isObject(generated.$defs) ? generated.$defs : {}),
    ...(isObject(generated.definitions) ? generated.definitions : {}),
  };
  delete generated.$defs;
  delete generated.definitions;
  delete generated.$schema;
  delete generated.id;
  const out: Record<string, JsonSchema> = { [name]: generated };
  for (const [def, schema] of Object.entries(defs)) {
    if (isObject(schema)) out[`${name}.${def}`] = schema;
  }
  const rewrite = (ref: string): string => {
    if (ref === "#") return `#/components/schemas/${name}`;
    const m = /^#\/(?:\$defs|definitions|components\/schemas)\/(.+)$/.exec(ref);
    if (!m?.[1]) return ref;
    return defs[m[1]] !== undefined
      ? `#/components/schemas/${name}.${m[1]}`
      : `#/components/schemas/${m[1]}`;
  };
  for (const schema of Object.values(out)) {
    rewriteRefs(schema, rewrite);
    decorate(schema, []);
  }
  generated.description ??= `${rt.kind} (${rt.group || "core"}/${rt.version}).`;
  generated[GVK_EXT] = [{ group: rt.group, kind: rt.kind, version: rt.version }];
  return out;
}

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const str = (description: string) => ({ type: "string", description });

/** metav1 schemas every group-version document refers to. */
function metaSchemas(): Record<string, JsonSchema> {
  const objectMeta: JsonSchema = {
    type: "object",
    description: "Standard object metadata.",
    properties: {
      name: str("Unique within a namespace."),
      generateName: str("Prefix for a server-generated name."),
      namespace: str("The namespace of a namespaced object."),
      uid: str("Unique identifier, set by the server."),
      resourceVersion: str("Version for optimistic concurrency, set by the server."),
      generation: { type: "integer", format: "int64", description: "Spec generation." },
      creationTimestamp: { type: "string", format: "date-time", description: "Set by the server." },
      deletionTimestamp: { type: "string", format: "date-time", description: "Set by the server." },
      deletionGracePeriodSeconds: { type: "integer", format: "int64" },
      labels: { type: "object", additionalProperties: { type: "string" } },
      annotations: { type: "object", additionalProperties: { type: "string" } },
      finalizers: { type: "array", items: { type: "string" } },
      ownerReferences: { type: "array", items: ref(`${META}.OwnerReference`) },
      managedFields: { type: "array", items: { type: "object" } },
    },
  };
  decorate(objectMeta, ["metadata"]);
  return {
    [`${META}.ObjectMeta`]: objectMeta,
    [`${META}.OwnerReference`]: {
      type: "object",
      required: ["apiVersion", "kind", "name", "uid"],
      properties: {
        apiVersion: str("API version of the referent."),
        kind: str("Kind of the referent."),
        name: str("Name of the referent."),
        uid: str("UID of the referent."),
        controller: { type: "boolean" },
        blockOwnerDeletion: { type: "boolean" },
      },
    },
    [`${META}.ListMeta`]: {
      type: "object",
      properties: {
        resourceVersion: str("The revision the list was read at."),
        continue: str("Token for the next page, if any."),
        remainingItemCount: { type: "integer", format: "int64" },
      },
    },
    [`${META}.Status`]: {
      type: "object",
      description: "The result of an operation that does not return an object.",
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        metadata: ref(`${META}.ListMeta`),
        status: str("Success or Failure."),
        message: { type: "string" },
        reason: { type: "string" },
        code: { type: "integer", format: "int32" },
        details: {
          type: "object",
          properties: {
            name: { type: "string" },
            group: { type: "string" },
            kind: { type: "string" },
            uid: { type: "string" },
            retryAfterSeconds: { type: "integer", format: "int32" },
            causes: {
              type: "array",
              items: {
                type: "object",
                properties: {
                  reason: { type: "string" },
                  message: { type: "string" },
                  field: { type: "string" },
                },
              },
            },
          },
        },
      },
      [GVK_EXT]: [{ group: "", kind: "Status", version: "v1" }],
    },
    [`${META}.DeleteOptions`]: {
      type: "object",
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        dryRun: { type: "array", items: { type: "string" } },
        gracePeriodSeconds: { type: "integer", format: "int64" },
        propagationPolicy: str("Orphan, Background or Foreground."),
        orphanDependents: { type: "boolean" },
        preconditions: {
          type: "object",
          properties: { resourceVersion: { type: "string" }, uid: { type: "string" } },
        },
      },
    },
    [`${META}.Patch`]: {
      type: "object",
      description: "The body of a PATCH request, in the format its Content-Type names.",
    },
    [`${META}.WatchEvent`]: {
      type: "object",
      required: ["type", "object"],
      properties: {
        type: str("ADDED, MODIFIED, DELETED, BOOKMARK or ERROR."),
        object: { type: "object", description: "The object, or a Status for ERROR." },
      },
    },
  };
}

/** A schema for a subresource kind we do not define ourselves (Scale, Binding, Eviction). */
function foreignKindSchema(gvk: GroupVersionKind): JsonSchema {
  const base: JsonSchema = {
    type: "object",
    description: `${gvk.kind} (${gvk.group || "core"}/${gvk.version}).`,
    properties: {
      apiVersion: { type: "string" },
      kind: { type: "string" },
      metadata: ref(`${META}.ObjectMeta`),
    },
    [GVK_EXT]: [{ group: gvk.group, kind: gvk.kind, version: gvk.version }],
  };
  if (gvk.kind === "Scale") {
    base.properties = {
      ...(base.properties as JsonSchema),
      spec: { type: "object", properties: { replicas: { type: "integer", format: "int32" } } },
      status: {
        type: "object",
        required: ["replicas"],
        properties: {
          replicas: { type: "integer", format: "int32" },
          selector: str("Label selector of the scaled pods, in string form."),
        },
      },
    };
  }
  return base;
}

type Action = "get" | "list" | "post" | "put" | "patch" | "delete" | "deletecollection";

interface Param {
  name: string;
  in: "query" | "path";
  description: string;
  required?: boolean;
  schema: JsonSchema;
}

const q = (name: string, description: string, schema: JsonSchema = { type: "string" }) => ({
  name,
  in: "query" as const,
  description,
  schema: { ...schema, uniqueItems: true },
});

const QUERY = {
  pretty: q("pretty", "If 'true', the output is pretty printed."),
  dryRun: q("dryRun", "When present (only 'All' is valid), the change is not persisted."),
  fieldManager: q("fieldManager", "Name of the actor making the change."),
  fieldValidation: q(
    "fieldValidation",
    "How to treat unknown or duplicate fields: Ignore, Warn or Strict (the default).",
  ),
  force: q("force", "Force an apply request, taking over conflicting fields.", {
    type: "boolean",
  }),
  allowWatchBookmarks: q("allowWatchBookmarks", "Request BOOKMARK watch events.", {
    type: "boolean",
  }),
  continue: q("continue", "The continue token of the previous page."),
  fieldSelector: q("fieldSelector", "Restrict the list by fields, e.g. metadata.name=x."),
  labelSelector: q("labelSelector", "Restrict the list by labels, e.g. app=web."),
  limit: q("limit", "Maximum number of items to return.", { type: "integer" }),
  resourceVersion: q("resourceVersion", "Read at or watch from this resourceVersion."),
  resourceVersionMatch: q("resourceVersionMatch", "How resourceVersion applies to a list."),
  sendInitialEvents: q("sendInitialEvents", "Start a watch with synthetic ADDED events.", {
    type: "boolean",
  }),
  timeoutSeconds: q("timeoutSeconds", "Timeout for the list or watch call.", {
    type: "integer",
  }),
  watch: q("watch", "Watch for changes instead of listing.", { type: "boolean" }),
  gracePeriodSeconds: q("gracePeriodSeconds", "Seconds before the object is deleted.", {
    type: "integer",
  }),
  propagationPolicy: q("propagationPolicy", "Orphan, Background or Foreground."),
  orphanDependents: q("orphanDependents", "Deprecated: use propagationPolicy.", {
    type: "boolean",
  }),
} satisfies Record<string, Param>;

const LIST_PARAMS = [
  QUERY.allowWatchBookmarks,
  QUERY.continue,
  QUERY.fieldSelector,
  QUERY.labelSelector,
  QUERY.limit,
  QUERY.resourceVersion,
  QUERY.resourceVersionMatch,
  QUERY.sendInitialEvents,
  QUERY.timeoutSeconds,
  QUERY.watch,
];
const WRITE_PARAMS = [QUERY.dryRun, QUERY.fieldManager, QUERY.fieldValidation];
const DELETE_PARAMS = [
  QUERY.dryRun,
  QUERY.gracePeriodSeconds,
  QUERY.orphanDependents,
  QUERY.propagationPolicy,
];

const PARAMS: Record<Action, Param[]> = {
  get: [],
  list: LIST_PARAMS,
  post: WRITE_PARAMS,
  put: WRITE_PARAMS,
  patch: [...WRITE_PARAMS, QUERY.force],
  delete: DELETE_PARAMS,
  deletecollection: [
    ...DELETE_PARAMS,
    QUERY.continue,
    QUERY.fieldSelector,
    QUERY.labelSelector,
    QUERY.limit,
    QUERY.resourceVersion,
    QUERY.resourceVersionMatch,
    QUERY.sendInitialEvents,
    QUERY.timeoutSeconds,
  ],
};

/** The PATCH body types we advertise; kubectl computes strategic merge patches from them. */
export const PATCH_CONTENT_TYPES: readonly string[] = [
  "application/apply-patch+yaml",
  "application/json-patch+json",
  "application/merge-patch+json",
  "application/strategic-merge-patch+json",
];

const pathParam = (name: string, description: string): Param => ({
  name,
  in: "path",
  description,
  required: true,
  schema: { type: "string", uniqueItems: true },
});

const content = (schemaRef: string, types = ["application/json", "application/yaml"]) =>
  Object.fromEntries(types.map((t) => [t, { schema: ref(schemaRef) }]));

/** `CoreV1`, `AppsV1`, `RbacAuthorizationV1`: the operationId infix Kubernetes uses. */
function operationInfix(group: string, version: string): string {
  const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
  const groupPart = group === ""
    ? "Core"
    : group.replace(/\.k8s\.io$/, "").split(/[.-]/).map(cap).join("");
  return `${groupPart}${cap(version)}`;
}

function operation(
  rt: ResourceType,
  action: Action,
  opts: {
    operationId: string;
    gvk: GroupVersionKind;
    bodyRef?: string;
    responseRef: string;
    description: string;
  },
): JsonSchema {
  const ok = { description: "OK", content: content(opts.responseRef) };
  const responses: JsonSchema = action === "post" || action === "put" || action === "patch"
    ? { "200": ok, "201": { description: "Created", content: content(opts.responseRef) } }
    : action === "delete"
    ? { "200": ok, "202": { description: "Accepted", content: content(opts.responseRef) } }
    : { "200": ok };
  responses["401"] = { description: "Unauthorized" };
  let requestBody: JsonSchema | undefined;
  if (action === "patch") {
    requestBody = { required: true, content: content(`${META}.Patch`, [...PATCH_CONTENT_TYPES]) };
  } else if (opts.bodyRef) {
    requestBody = {
      required: action === "post" || action === "put",
      content: content(opts.bodyRef, ["*/*"]),
    };
  }
  return {
    tags: [`${rt.group === "" ? "core" : rt.group.split(".")[0]}_${rt.version}`],
    description: opts.description,
    operationId: opts.operationId,
    parameters: PARAMS[action],
    ...(requestBody ? { requestBody } : {}),
    responses,
    "x-kubernetes-action": action,
    [GVK_EXT]: opts.gvk,
  };
}

/** The `paths` entries of one resource: collection, item and subresources. */
function resourcePaths(rt: ResourceType, prefix: string): Record<string, JsonSchema> {
  const kindName = schemaName(rt);
  const listName = `${kindName}List`;
  const gvk = { group: rt.group, version: rt.version, kind: rt.kind };
  const infix = operationInfix(rt.group, rt.version);
  const scope = rt.namespaced ? "Namespaced" : "";
  const base = rt.namespaced
    ? `${prefix}/namespaces/{namespace}/${rt.plural}`
    : `${prefix}/${rt.plural}`;
  const nsParam = rt.namespaced
    ? [pathParam("namespace", "object name and auth scope, such as for teams and projects")]
    : [];
  const nameParam = pathParam("name", `name of the ${rt.kind}`);
  const op = (action: Action, verb: string, extra: Partial<Parameters<typeof operation>[2]>) =>
    operation(rt, action, {
      operationId: `${verb}${infix}${scope}${rt.kind}`,
      gvk,
      responseRef: kindName,
      description: `${verb} ${rt.kind}`,
      ...extra,
    });

  const paths: Record<string, JsonSchema> = {};
  if (rt.namespaced) {
    paths[`${prefix}/${rt.plural}`] = {
      parameters: [QUERY.pretty],
      get: operation(rt, "list", {
        operationId: `list${infix}${rt.kind}ForAllNamespaces`,
        gvk,
        responseRef: listName,
        description: `list or watch objects of kind ${rt.kind} in all namespaces`,
      }),
    };
  }
  paths[base] = {
    parameters: [...nsParam, QUERY.pretty],
    get: op("list", "list", {
      responseRef: listName,
      description: `list or watch objects of kind ${rt.kind}`,
    }),
    post: op("post", "create", { bodyRef: kindName, description: `create a ${rt.kind}` }),
    delete: op("deletecollection", "deleteCollection", {
      bodyRef: `${META}.DeleteOptions`,
      responseRef: `${META}.Status`,
      description: `delete collection of ${rt.kind}`,
    }),
  };
  paths[`${base}/{name}`] = {
    parameters: [nameParam, ...nsParam, QUERY.pretty],
    get: op("get", "read", { description: `read the specified ${rt.kind}` }),
    put: op("put", "replace", {
      bodyRef: kindName,
      description: `replace the specified ${rt.kind}`,
    }),
    patch: op("patch", "patch", { description: `partially update the specified ${rt.kind}` }),
    delete: op("delete", "delete", {
      bodyRef: `${META}.DeleteOptions`,
      responseRef: `${META}.Status`,
      description: `delete a ${rt.kind}`,
    }),
  };
  for (const sub of rt.subresources) {
    const info = subresourceInfo(rt, sub);
    const subName = schemaName(info.responseKind);
    const cap = sub.charAt(0).toUpperCase() + sub.slice(1);
    const subOp = (action: Action, verb: string) =>
      operation(rt, action, {
        operationId: `${verb}${infix}${scope}${rt.kind}${cap}`,
        gvk: info.responseKind,
        ...(action === "put" || action === "post" ? { bodyRef: subName } : {}),
        responseRef: subName,
        description: `${verb} ${sub} of the specified ${rt.kind}`,
      });
    const item: JsonSchema = { parameters: [nameParam, ...nsParam, QUERY.pretty] };
    if (info.verbs.includes("get")) item.get = subOp("get", "read");
    if (info.verbs.includes("update")) item.put = subOp("put", "replace");
    if (info.verbs.includes("patch")) item.patch = subOp("patch", "patch");
    if (info.verbs.includes("create")) item.post = subOp("post", "create");
    paths[`${base}/{name}/${sub}`] = item;
  }
  return paths;
}

interface Generated {
  doc: JsonSchema;
  json: string;
  hash: string;
}

interface Cache {
  groupVersions: Map<string, Generated | undefined>;
  root?: JsonSchema;
}

const caches = new WeakMap<readonly ResourceType[], Cache>();

function cacheFor(types: readonly ResourceType[]): Cache {
  let cache = caches.get(types);
  if (!cache) {
    cache = { groupVersions: new Map() };
    caches.set(types, cache);
  }
  return cache;
}

function deepFreeze<T>(v: T): T {
  if (typeof v === "object" && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const child of Object.values(v)) deepFreeze(child);
  }
  return v;
}

/** `api/v1` or `apis/apps/v1`: the key of a group-version in the `/openapi/v3` root. */
export function groupVersionPath(group: string, version: string): string {
  return group === "" ? `api/${version}` : `apis/${group}/${version}`;
}

function generateGroupVersion(
  types: readonly ResourceType[],
  group: string,
  version: string,
): Generated | undefined {
  const served = typesIn(types, group, version);
  if (served.length === 0) return undefined;
  const prefix = `/${groupVersionPath(group, version)}`;
  const schemas: Record<string, JsonSchema> = metaSchemas();
  const paths: Record<string, JsonSchema> = {};
  for (const rt of served) {
    const kindName = schemaName(rt);
    Object.assign(schemas, kindSchemas(rt));
    schemas[`${kindName}List`] = {
      type: "object",
      description: `A list of ${rt.kind} objects.`,
      required: ["items"],
      properties: {
        apiVersion: { type: "string" },
        kind: { type: "string" },
        items: { type: "array", items: ref(kindName) },
        metadata: ref(`${META}.ListMeta`),
      },
      [GVK_EXT]: [{ group: rt.group, kind: `${rt.kind}List`, version: rt.version }],
    };
    for (const sub of rt.subresources) {
      const { responseKind } = subresourceInfo(rt, sub);
      const name = schemaName(responseKind);
      schemas[name] ??= foreignKindSchema(responseKind);
    }
    Object.assign(paths, resourcePaths(rt, prefix));
  }
  const doc: JsonSchema = {
    openapi: "3.0.0",
    info: { title: "Kubernetes", version: KUBERNETES_VERSION.gitVersion },
    paths,
    components: {
      schemas,
      securitySchemes: {
        BearerToken: {
          type: "apiKey",
          description: "Bearer Token authentication",
          name: "authorization",
          in: "header",
        },
      },
    },
    security: [{ BearerToken: [] }],
  };
  const json = JSON.stringify(doc);
  const hash = createHash("sha512").update(json).digest("hex").toUpperCase();
  return { doc: deepFreeze(doc), json, hash };
}

function groupVersionCached(types: readonly ResourceType[], group: string, version: string) {
  const cache = cacheFor(types);
  const key = groupVersionPath(group, version);
  if (!cache.groupVersions.has(key)) {
    cache.groupVersions.set(key, generateGroupVersion(types, group, version));
  }
  return cache.groupVersions.get(key);
}

/**
 * `GET /openapi/v3/api/v1`, `GET /openapi/v3/apis/{group}/{version}`: the OpenAPI 3.0
 * document of one group-version, or undefined when it is not served (reply 404). Cached and
 * frozen.
 */
export function openApiV3GroupVersion(
  types: readonly ResourceType[],
  group: string,
  version: string,
): JsonSchema | undefined {
  return groupVersionCached(types, group, version)?.doc;
}

/**
 * {@linkcode openApiV3GroupVersion} serialized (cached), with the hash the root advertises for
 * it. Serve `json` as `application/json`; when the request's `?hash=` equals `hash` the reply
 * may carry `Cache-Control: public, immutable` and `ETag: "<hash>"`.
 */
export function openApiV3GroupVersionJson(
  types: readonly ResourceType[],
  group: string,
  version: string,
): { json: string; hash: string } | undefined {
  const generated = groupVersionCached(types, group, version);
  return generated && { json: generated.json, hash: generated.hash };
}

/**
 * `GET /openapi/v3`: where each group-version document lives, with a content hash in the URL
 * so clients can cache the documents until they change.
 *
 * @example
 * ```ts
 * openApiV3Root(types);
 * // {paths: {"api/v1": {serverRelativeURL: "/openapi/v3/api/v1?hash=3F1C…"}, "apis/apps/v1": …}}
 * ```
 */
export function openApiV3Root(types: readonly ResourceType[]): JsonSchema {
  const cache = cacheFor(types);
  if (!cache.root) {
    const paths: Record<string, { serverRelativeURL: string }> = {};
    for (const { group, versions } of groupVersions(types)) {
      for (const version of versions) {
        const key = groupVersionPath(group, version);
        const generated = groupVersionCached(types, group, version);
        if (generated) {
          paths[key] = { serverRelativeURL: `/openapi/v3/${key}?hash=${generated.hash}` };
        }
      }
    }
    cache.root = deepFreeze({ paths });
  }
  return cache.root;
}
