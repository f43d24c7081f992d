import assert from "node:assert/strict";
import { z } from "zod";
import { findKind, findResource, resolveResource, RESOURCE_TYPES } from "./registry.ts";

Deno.test("resolveResource() accepts plural, singular, short name, Kind and group forms", () => {
  const cases: [string, string][] = [
    ["pods", "Pod"],
    ["pod", "Pod"],
    ["po", "Pod"],
    ["Pod", "Pod"],
    ["PODS", "Pod"],
    ["deploy", "Deployment"],
    ["deployments.apps", "Deployment"],
    ["deploy.apps", "Deployment"],
    ["deployment.apps", "Deployment"],
    ["deployments.v1.apps", "Deployment"],
    ["rs", "ReplicaSet"],
    ["svc", "Service"],
    ["ep", "Endpoints"],
    ["endpoints", "Endpoints"],
    ["cm", "ConfigMap"],
    ["ns", "Namespace"],
    ["no", "Node"],
    ["ev", "Event"],
    ["sa", "ServiceAccount"],
    ["leases.coordination.k8s.io", "Lease"],
    ["endpointslices", "EndpointSlice"],
    ["endpointslice", "EndpointSlice"],
    ["endpointslices.discovery.k8s.io", "EndpointSlice"],
    ["secrets", "Secret"],
    ["pv", "PersistentVolume"],
    ["persistentvolume", "PersistentVolume"],
    ["pvc", "PersistentVolumeClaim"],
    ["persistentvolumeclaims", "PersistentVolumeClaim"],
    ["sc", "StorageClass"],
    ["storageclasses.storage.k8s.io", "StorageClass"],
    ["storageclass.v1.storage.k8s.io", "StorageClass"],
  ];
  for (const [word, kind] of cases) assert.equal(resolveResource(word)?.kind, kind, word);
  for (
    const word of ["", "foo", "pods.apps", "deploy.core", ".pods", "sc.core", "pvc.storage.k8s.io"]
  ) {
    assert.equal(resolveResource(word), undefined, word);
  }
});

Deno.test("findResource() and findKind() look kinds up by API coordinates", () => {
  assert.equal(findResource("apps", "v1", "replicasets")?.kind, "ReplicaSet");
  assert.equal(findResource("", "v1", "pods")?.kind, "Pod");
  assert.equal(findResource("apps", "v1", "pods"), undefined);
  assert.equal(findKind("coordination.k8s.io/v1", "Lease")?.plural, "leases");
  assert.equal(findKind("discovery.k8s.io/v1", "EndpointSlice")?.plural, "endpointslices");
  assert.equal(findKind("v1", "Deployment"), undefined);
  assert.equal(findResource("", "v1", "persistentvolumeclaims")?.kind, "PersistentVolumeClaim");
  assert.equal(findKind("storage.k8s.io/v1", "StorageClass")?.plural, "storageclasses");
  assert.equal(findKind("v1", "StorageClass"), undefined);
});

Deno.test("RESOURCE_TYPES declare Kubernetes' names, scopes and subresources", () => {
  const byKind = new Map(RESOURCE_TYPES.map((rt) => [rt.kind, rt]));
  assert.deepEqual(
    [...byKind.values()].filter((rt) => rt.categories.includes("all")).map((rt) => rt.kind).sort(),
    ["DaemonSet", "Deployment", "Job", "Pod", "ReplicaSet", "Service"],
  );
  assert.deepEqual(
    [...byKind.values()].filter((rt) => !rt.namespaced).map((rt) => rt.kind).sort(),
    ["Namespace", "Node", "PersistentVolume", "StorageClass"],
  );
  assert.deepEqual(byKind.get("Deployment")?.subresources, ["status", "scale"]);
  assert.deepEqual(byKind.get("ConfigMap")?.subresources, []);
  assert.deepEqual(byKind.get("PersistentVolume")?.subresources, ["status"]);
  assert.deepEqual(byKind.get("PersistentVolumeClaim")?.subresources, ["status"]);
  assert.deepEqual(byKind.get("StorageClass")?.subresources, []);
  assert.deepEqual(byKind.get("StorageClass")?.statusFields, []);
  assert.equal(byKind.get("Namespace")?.nameRule, "dns1123-label");
  assert.equal(byKind.get("Service")?.nameRule, "dns1123-label");
  assert.equal(byKind.get("Pod")?.nameRule, "dns1123-subdomain");
  assert.equal(byKind.get("Deployment")?.tracksGeneration, true);
});

Deno.test("RESOURCE_TYPES schemas convert to JSON Schema", () => {
  for (const rt of RESOURCE_TYPES) {
    const schema = z.toJSONSchema(rt.schema, { io: "input" }) as { type?: string };
    assert.equal(schema.type, "object", rt.kind);
  }
});

Deno.test("RESOURCE_TYPES columns include Name and Age and never throw on empty objects", () => {
  const now = new Date();
  for (const rt of RESOURCE_TYPES) {
    const names = rt.columns.map((c) => c.name);
    assert.ok(names.includes("Name") && names.includes("Age") || rt.kind === "Event", rt.kind);
    for (const c of rt.columns) {
      c.cell({ apiVersion: "v1", kind: rt.kind, metadata: {} }, now);
      c.cell({ apiVersion: "v1", kind: rt.kind, metadata: {}, spec: [], status: "x" }, now);
    }
  }
});
