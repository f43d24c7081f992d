import assert from "node:assert/strict";
import { z } from "zod";
import type { KubeObject } from "../storage/object.ts";
import type { ResourceType } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import { negotiateTable, parseIncludeObject, toTable } from "./table.ts";

const NOW = new Date("2025-06-01T12:00:00Z");

const deployments: ResourceType = {
  group: "apps",
  version: "v1",
  kind: "Deployment",
  plural: "deployments",
  singular: "deployment",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["deploy"],
  categories: ["all"],
  subresources: ["status", "scale"],
  schema: z.object({}),
  statusFields: ["status"],
  tracksGeneration: true,
  fieldSelectors: {},
  columns: [
    {
      name: "Name",
      type: "string",
      format: "name",
      description: "Name of the object.",
      priority: 0,
      cell: (o) => o.metadata.name ?? "",
    },
    {
      name: "Replicas",
      type: "integer",
      priority: 0,
      cell: (o) => (o.spec as { replicas?: number } | undefined)?.replicas ?? null,
    },
    {
      name: "Age",
      type: "string",
      format: "date",
      priority: 0,
      cell: (o, now) =>
        `${Math.round((now.getTime() - Date.parse(o.metadata.creationTimestamp ?? "")) / 60000)}m`,
    },
    { name: "Selector", type: "string", priority: 1, cell: () => "app=web" },
  ],
};

const web: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: {
    name: "web",
    namespace: "default",
    resourceVersion: "12",
    creationTimestamp: "2025-06-01T11:55:00Z",
    labels: { app: "web" },
  },
  spec: { replicas: 3 },
};
const bare: KubeObject = {
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name: "bare", creationTimestamp: "2025-06-01T10:00:00Z" },
};

const KUBECTL_GET_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io," +
  "application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";

Deno.test("toTable() renders column definitions with their priorities", () => {
  const table = toTable(deployments, [], {
    now: NOW,
    includeObject: "Metadata",
    resourceVersion: "40",
  });
  assert.equal(table.kind, "Table");
  assert.equal(table.apiVersion, "meta.k8s.io/v1");
  assert.deepEqual(table.metadata, { resourceVersion: "40" });
  assert.deepEqual(table.columnDefinitions, [
    {
      name: "Name",
      type: "string",
      format: "name",
      description: "Name of the object.",
      priority: 0,
    },
    { name: "Replicas", type: "integer", format: "", description: "", priority: 0 },
    { name: "Age", type: "string", format: "date", description: "", priority: 0 },
    { name: "Selector", type: "string", format: "", description: "", priority: 1 },
  ]);
  assert.deepEqual(table.rows, []);
});

Deno.test("toTable() fills one row per object with cells in column order, null kept", () => {
  const table = toTable(deployments, [web, bare], {
    now: NOW,
    includeObject: "None",
    resourceVersion: "40",
  });
  assert.deepEqual(table.rows, [
    { cells: ["web", 3, "5m", "app=web"] },
    { cells: ["bare", null, "120m", "app=web"] },
  ]);
});

Deno.test("toTable() includeObject=Metadata attaches PartialObjectMetadata", () => {
  const [row] = toTable(deployments, [web], {
    now: NOW,
    includeObject: "Metadata",
    resourceVersion: "40",
  }).rows;
  assert.deepEqual(row?.object, {
    kind: "PartialObjectMetadata",
    apiVersion: "meta.k8s.io/v1",
    metadata: web.metadata,
  });
});

Deno.test("toTable() includeObject=Object attaches the whole object", () => {
  const [row] = toTable(deployments, [web], {
    now: NOW,
    includeObject: "Object",
    resourceVersion: "40",
  }).rows;
  assert.deepEqual(row?.object, web);
});

Deno.test("toTable() carries continue, remainingItemCount and the negotiated version", () => {
  const table = toTable(deployments, [web], {
    now: NOW,
    includeObject: "Metadata",
    resourceVersion: "40",
    continue: "tok",
    remainingItemCount: 7,
    version: "v1beta1",
  });
  assert.equal(table.apiVersion, "meta.k8s.io/v1beta1");
  assert.deepEqual(table.metadata, {
    resourceVersion: "40",
    continue: "tok",
    remainingItemCount: 7,
  });
  assert.equal((table.rows[0]?.object as { apiVersion: string }).apiVersion, "meta.k8s.io/v1beta1");
});

Deno.test("parseIncludeObject() defaults to Metadata and rejects unknown values", () => {
  assert.equal(parseIncludeObject(undefined), "Metadata");
  assert.equal(parseIncludeObject(""), "Metadata");
  assert.equal(parseIncludeObject("None"), "None");
  assert.equal(parseIncludeObject("Object"), "Object");
  assert.throws(
    () => parseIncludeObject("all"),
    (err) => err instanceof ApiError && err.toStatus().code === 400 && /'all'/.test(err.message),
  );
});

Deno.test("negotiateTable() picks Table v1 from kubectl get's Accept header", () => {
  assert.deepEqual(negotiateTable(KUBECTL_GET_ACCEPT), {
    table: true,
    version: "v1",
    contentType: "application/json",
  });
});

Deno.test("negotiateTable() honours a v1beta1-only client and plain JSON clients", () => {
  assert.equal(
    negotiateTable("application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json").version,
    "v1beta1",
  );
  assert.equal(negotiateTable("application/json").table, false);
  assert.equal(negotiateTable(undefined).table, false);
  assert.equal(negotiateTable("application/json;as=Table;v=v2;g=meta.k8s.io").table, false);
  assert.equal(negotiateTable("application/yaml;as=Table;v=v1;g=meta.k8s.io").table, false);
});
