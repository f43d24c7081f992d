import assert from "node:assert/strict";
import { invalidCauses, validated } from "../_testing.ts";
import type { KubeObject } from "../object.ts";
import { type StorageClass, storageClasses } from "./storage_class.ts";

function sc(fields: Record<string, unknown>, annotations?: Record<string, string>) {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "local-path", ...(annotations ? { annotations } : {}) },
    provisioner: "edge.io/local-path",
    ...fields,
  };
}

function valid(body: unknown, old?: KubeObject): StorageClass {
  return validated<StorageClass>(storageClasses, body, old);
}

function causes(body: unknown, old?: KubeObject): [string, string][] {
  return invalidCauses(storageClasses, body, old);
}

Deno.test("storageclasses schema applies SetDefaults_StorageClass", () => {
  const c = valid(sc({}));
  assert.equal(c.reclaimPolicy, "Delete");
  assert.equal(c.volumeBindingMode, "Immediate");
  assert.equal(c.allowVolumeExpansion, undefined);
  const kept = valid(sc({
    reclaimPolicy: "Retain",
    volumeBindingMode: "WaitForFirstConsumer",
    parameters: { tier: "fast" },
    mountOptions: ["noatime"],
    allowedTopologies: [{
      matchLabelExpressions: [{ key: "kubernetes.io/hostname", values: ["edge-1"] }],
    }],
  }));
  assert.equal(kept.volumeBindingMode, "WaitForFirstConsumer");
  assert.deepEqual(kept.allowedTopologies?.[0]?.matchLabelExpressions?.[0]?.values, ["edge-1"]);
});

Deno.test("storageclasses validation requires a qualified provisioner", () => {
  const { provisioner: _, ...rest } = sc({});
  assert.deepEqual(causes(rest), [["provisioner", "Required value"]]);
  assert.deepEqual(causes(sc({ provisioner: "" })), [["provisioner", "Required value"]]);
  assert.deepEqual(causes(sc({ provisioner: "edge.io/local path" })).map(([f]) => f), [
    "provisioner",
  ]);
  assert.deepEqual(causes(sc({ reclaimPolicy: "Recycle" })), [[
    "reclaimPolicy",
    'Unsupported value: "Recycle": supported values: "Delete", "Retain"',
  ]]);
  assert.deepEqual(causes(sc({ volumeBindingMode: "Later" })), [[
    "volumeBindingMode",
    'Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"',
  ]]);
});

Deno.test("storageclasses validation limits parameters and checks topologies", () => {
  const many = Object.fromEntries(Array.from({ length: 513 }, (_, i) => [`k${i}`, "v"]));
  assert.deepEqual(causes(sc({ parameters: many })), [[
    "parameters",
    "Too many: 513: must have at most 512 items",
  ]]);
  assert.deepEqual(causes(sc({ parameters: { "": "x" } })), [[
    "parameters",
    'Invalid value: "": field can not be empty.',
  ]]);
  assert.deepEqual(causes(sc({ parameters: { big: "x".repeat(256 * 1024) } })), [[
    "parameters",
    "Too long: may not be more than 262144 bytes",
  ]]);
  const path = "allowedTopologies[0].matchLabelExpressions";
  assert.deepEqual(
    causes(sc({
      allowedTopologies: [{
        matchLabelExpressions: [
          { key: "zone", values: [] },
          { key: "zone", values: ["a", "a"] },
        ],
      }],
    })),
    [
      [`${path}[0].values`, "Required value: must specify as least one value"],
      [`${path}[1].values[1]`, 'Duplicate value: "a"'],
      [`${path}[1].key`, 'Duplicate value: "zone"'],
    ],
  );
});

Deno.test("storageclasses update keeps provisioner, parameters, reclaim policy and binding mode", () => {
  const old = valid(sc({ parameters: { a: "1" } })) as unknown as KubeObject;
  // metadata and expansion may change
  valid(sc({ parameters: { a: "1" }, allowVolumeExpansion: true }, { note: "x" }), old);
  assert.deepEqual(
    causes(
      sc({
        provisioner: "example.com/other",
        parameters: { a: "2" },
        reclaimPolicy: "Retain",
        volumeBindingMode: "WaitForFirstConsumer",
      }),
      old,
    ),
    [
      ["parameters", "Forbidden: updates to parameters are forbidden."],
      ["provisioner", "Forbidden: updates to provisioner are forbidden."],
      ["reclaimPolicy", "Forbidden: updates to reclaimPolicy are forbidden."],
      ["volumeBindingMode", 'Invalid value: "WaitForFirstConsumer": field is immutable'],
    ],
  );
});

Deno.test("storageclasses columns mark the default class and print kubectl's get sc row", () => {
  const now = new Date("2024-05-01T12:00:00Z");
  const obj = (annotations: Record<string, string> | undefined, extra = {}): KubeObject => ({
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: {
      name: "local-path",
      creationTimestamp: "2024-05-01T10:00:00Z",
      ...(annotations ? { annotations } : {}),
    },
    provisioner: "edge.io/local-path",
    reclaimPolicy: "Delete",
    volumeBindingMode: "WaitForFirstConsumer",
    ...extra,
  });
  assert.deepEqual(storageClasses.columns.map((c) => c.name), [
    "Name",
    "Provisioner",
    "ReclaimPolicy",
    "VolumeBindingMode",
    "AllowVolumeExpansion",
    "Age",
  ]);
  const cells = (o: KubeObject) => storageClasses.columns.map((c) => c.cell(o, now));
  assert.deepEqual(cells(obj({ "storageclass.kubernetes.io/is-default-class": "true" })), [
    "local-path (default)",
    "edge.io/local-path",
    "Delete",
    "WaitForFirstConsumer",
    false,
    "120m",
  ]);
  assert.equal(
    cells(obj({ "storageclass.beta.kubernetes.io/is-default-class": "true" }))[0],
    "local-path (default)",
  );
  assert.equal(
    cells(obj({ "storageclass.kubernetes.io/is-default-class": "false" }))[0],
    "local-path",
  );
  assert.equal(cells(obj(undefined, { allowVolumeExpansion: true }))[4], true);
});
