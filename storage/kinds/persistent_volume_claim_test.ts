import assert from "node:assert/strict";
import { invalidCauses, validated } from "../_testing.ts";
import type { KubeObject } from "../object.ts";
import { type PersistentVolumeClaim, persistentVolumeClaims } from "./persistent_volume_claim.ts";

function pvc(spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace: "default" },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      ...spec,
    },
    ...extra,
  };
}

function valid(body: unknown, old?: KubeObject): PersistentVolumeClaim {
  return validated<PersistentVolumeClaim>(persistentVolumeClaims, body, old);
}

function causes(body: unknown, old?: KubeObject): [string, string][] {
  return invalidCauses(persistentVolumeClaims, body, old);
}

function stored(body: unknown): KubeObject {
  return valid(body) as unknown as KubeObject;
}

Deno.test("persistentvolumeclaims schema defaults volumeMode and resets status on create", () => {
  const c = valid(pvc({}, { status: { phase: "Bound", capacity: { storage: "1Gi" } } }));
  assert.equal(c.spec.volumeMode, "Filesystem");
  assert.deepEqual(c.status, { phase: "Pending" });
  assert.deepEqual(c.spec.resources, { requests: { storage: "1Gi" } });
});

Deno.test("persistentvolumeclaims validation requires access modes and a positive storage request", () => {
  assert.deepEqual(causes(pvc({ accessModes: [], resources: undefined })), [
    ["spec.accessModes", "Required value: at least 1 access mode is required"],
    ["spec.resources[storage]", "Required value"],
  ]);
  assert.deepEqual(causes(pvc({ resources: { requests: { storage: "0" } } })), [
    ["spec.resources[storage]", 'Invalid value: "0": must be greater than zero'],
  ]);
  assert.deepEqual(causes(pvc({ resources: { requests: { storage: "-1Gi" } } })), [
    ["spec.resources[storage]", 'Invalid value: "-1Gi": must be greater than zero'],
  ]);
  assert.deepEqual(causes(pvc({ accessModes: ["ReadWriteOncePod", "ReadWriteOnce"] })), [
    ["spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes"],
  ]);
  assert.deepEqual(causes(pvc({ accessModes: ["Sometimes"] })).map(([f]) => f), [
    "spec.accessModes",
  ]);
});

Deno.test("persistentvolumeclaims validation checks selector, names and data sources", () => {
  assert.deepEqual(causes(pvc({ volumeMode: "Raw" })), [[
    "spec.volumeMode",
    'Unsupported value: "Raw": supported values: "Block", "Filesystem"',
  ]]);
  assert.deepEqual(
    causes(pvc({
      selector: { matchExpressions: [{ key: "tier", operator: "In" }] },
      storageClassName: "Local_Path",
      volumeName: "../pv",
    })).map(([f]) => f),
    ["spec.selector.matchExpressions[0].values", "spec.storageClassName", "spec.volumeName"],
  );
  assert.deepEqual(causes(pvc({ dataSource: { kind: "PersistentVolumeClaim", name: "src" } })), [
    [
      "spec.dataSource",
      "Forbidden: volumes cannot be populated from a data source in this cluster",
    ],
  ]);
  // an empty class name asks for a volume without a class
  assert.equal(valid(pvc({ storageClassName: "" })).spec.storageClassName, "");
});

Deno.test("persistentvolumeclaims update lets the binder set volumeName once", () => {
  const old = stored(pvc({ storageClassName: "local-path" }));
  const bound = stored({ ...pvc({ storageClassName: "local-path", volumeName: "pv-1" }) });
  valid(pvc({ storageClassName: "local-path", volumeName: "pv-1" }), old);
  assert.deepEqual(causes(pvc({ storageClassName: "local-path", volumeName: "pv-2" }), bound), [[
    "spec",
    "Forbidden: spec is immutable after creation except volumeName, which is set once when the claim is bound (changed: volumeName)",
  ]]);
});

Deno.test("persistentvolumeclaims update refuses other spec changes, naming expansion", () => {
  const old = stored(pvc({ storageClassName: "local-path" }));
  assert.deepEqual(
    causes(
      pvc({ storageClassName: "local-path", resources: { requests: { storage: "2Gi" } } }),
      old,
    ),
    [[
      "spec",
      "Forbidden: spec is immutable after creation except volumeName, which is set once when the claim is bound (changed: resources); resources cannot change because this cluster does not support volume expansion",
    ]],
  );
  assert.deepEqual(
    causes(pvc({ storageClassName: "fast", accessModes: ["ReadWriteMany"] }), old),
    [[
      "spec",
      "Forbidden: spec is immutable after creation except volumeName, which is set once when the claim is bound (changed: accessModes, storageClassName)",
    ]],
  );
});

Deno.test("persistentvolumeclaims update lets a class be named once on an unbound classless claim", () => {
  const classless = stored(pvc({}));
  valid(pvc({ storageClassName: "local-path" }), classless);
  const bound = stored(pvc({ volumeName: "pv-1" }));
  assert.deepEqual(
    causes(pvc({ volumeName: "pv-1", storageClassName: "x" }), bound).map(([f]) => f),
    [
      "spec",
    ],
  );
  // the beta annotation names the class: only its own value may move into the spec
  const ann = "volume.beta.kubernetes.io/storage-class";
  const beta = stored({
    ...pvc({}),
    metadata: { name: "data", namespace: "default", annotations: { [ann]: "slow" } },
  });
  const withMeta = (spec: Record<string, unknown>, annotations: Record<string, string>) => ({
    ...pvc(spec),
    metadata: { name: "data", namespace: "default", annotations },
  });
  valid(withMeta({ storageClassName: "slow" }, { [ann]: "slow" }), beta);
  assert.deepEqual(
    causes(withMeta({ storageClassName: "fast" }, { [ann]: "slow" }), beta).map(([f]) => f),
    [
      "spec",
    ],
  );
  assert.deepEqual(causes(withMeta({}, { [ann]: "fast" }), beta), [[
    `metadata.annotations[${ann}]`,
    'Invalid value: "fast": field is immutable',
  ]]);
});

Deno.test("persistentvolumeclaims columns print kubectl's get pvc row", () => {
  const now = new Date("2024-05-01T12:00:00Z");
  const claim: KubeObject = {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "data", namespace: "default", creationTimestamp: "2024-05-01T11:59:30Z" },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "1Gi" } },
      storageClassName: "local-path",
      volumeName: "pvc-1",
      volumeMode: "Filesystem",
    },
    status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "2Gi" } },
  };
  assert.deepEqual(persistentVolumeClaims.columns.map((c) => c.name), [
    "Name",
    "Status",
    "Volume",
    "Capacity",
    "Access Modes",
    "StorageClass",
    "VolumeAttributesClass",
    "Age",
    "VolumeMode",
  ]);
  assert.deepEqual(persistentVolumeClaims.columns.map((c) => c.cell(claim, now)), [
    "data",
    "Bound",
    "pvc-1",
    "2Gi",
    "RWO",
    "local-path",
    "<unset>",
    "30s",
    "Filesystem",
  ]);
  const pending: KubeObject = {
    ...claim,
    spec: { ...(claim.spec as object), volumeName: undefined },
    status: { phase: "Pending", capacity: { storage: "2Gi" } },
  };
  const cells = persistentVolumeClaims.columns.map((c) => c.cell(pending, now));
  assert.deepEqual([cells[1], cells[2], cells[3], cells[4]], ["Pending", "", "", ""]);
});
