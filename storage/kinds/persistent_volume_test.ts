import assert from "node:assert/strict";
import { invalidCauses, validated } from "../_testing.ts";
import type { KubeObject } from "../object.ts";
import {
  accessModesText,
  type PersistentVolume,
  persistentVolumes,
  validateAccessModes,
} from "./persistent_volume.ts";

function pv(spec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "pv-1" },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      hostPath: { path: "/srv/pv-1" },
      ...spec,
    },
    ...extra,
  };
}

const LOCAL = {
  hostPath: undefined,
  local: { path: "/var/lib/edge/volumes/v1" },
  nodeAffinity: {
    required: {
      nodeSelectorTerms: [{
        matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["edge-1"] }],
      }],
    },
  },
};

function valid(body: unknown, old?: KubeObject): PersistentVolume {
  return validated<PersistentVolume>(persistentVolumes, body, old);
}

function causes(body: unknown, old?: KubeObject): [string, string][] {
  return invalidCauses(persistentVolumes, body, old);
}

Deno.test("persistentvolumes schema applies SetDefaults_PersistentVolume and resets status on create", () => {
  const v = valid(pv({}, { status: { phase: "Bound" } }));
  assert.equal(v.spec.persistentVolumeReclaimPolicy, "Retain");
  assert.equal(v.spec.volumeMode, "Filesystem");
  assert.deepEqual(v.spec.hostPath, { path: "/srv/pv-1", type: "" });
  assert.deepEqual(v.status, { phase: "Pending" });
  // on update the status stays what it was given (the status subresource decides)
  const updated = valid(pv({}, { status: { phase: "Available" } }), v as unknown as KubeObject);
  assert.equal(updated.status?.phase, "Available");
  assert.equal(valid(pv({}, { status: {} }), v as unknown as KubeObject).status?.phase, "Pending");
});

Deno.test("persistentvolumes validation requires capacity.storage and access modes", () => {
  assert.deepEqual(causes(pv({ capacity: undefined, accessModes: undefined })), [
    ["spec.accessModes", "Required value"],
    ["spec.capacity", "Required value"],
  ]);
  assert.deepEqual(causes(pv({ capacity: { cpu: "1" } })), [
    ["spec.capacity", 'Unsupported value: {"cpu":"1"}: supported values: "storage"'],
  ]);
  assert.deepEqual(causes(pv({ capacity: { storage: "0" } })), [
    ["spec.capacity[storage]", 'Invalid value: "0": must be greater than zero'],
  ]);
  assert.deepEqual(causes(pv({ capacity: { storage: "lots" } })).map(([f]) => f), [
    "spec.capacity[storage]",
  ]);
});

Deno.test("persistentvolumes validation checks access modes, reclaim policy and volume mode", () => {
  assert.deepEqual(causes(pv({ accessModes: ["ReadWriteOncePod", "ReadOnlyMany"] })), [
    ["spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes"],
  ]);
  assert.deepEqual(causes(pv({ accessModes: ["RWO"] })), [[
    "spec.accessModes",
    'Unsupported value: "RWO": supported values: "ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"',
  ]]);
  assert.deepEqual(causes(pv({ persistentVolumeReclaimPolicy: "Keep" })), [[
    "spec.persistentVolumeReclaimPolicy",
    'Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"',
  ]]);
  assert.deepEqual(causes(pv({ volumeMode: "Raw" })), [[
    "spec.volumeMode",
    'Unsupported value: "Raw": supported values: "Block", "Filesystem"',
  ]]);
  assert.deepEqual(causes(pv({ storageClassName: "Fast_SSD" })).map(([f]) => f), [
    "spec.storageClassName",
  ]);
  assert.deepEqual(
    causes(pv({ persistentVolumeReclaimPolicy: "Recycle", hostPath: { path: "/" } })),
    [
      [
        "spec.persistentVolumeReclaimPolicy",
        "Forbidden: may not be 'recycle' for a hostPath mount of '/'",
      ],
    ],
  );
});

Deno.test("persistentvolumes validation wants exactly one source a node can mount", () => {
  assert.deepEqual(causes(pv({ hostPath: undefined })), [
    ["spec", "Required value: must specify a volume type"],
  ]);
  assert.deepEqual(causes(pv({ ...LOCAL, hostPath: { path: "/srv" } })), [
    ["spec.local", "Forbidden: may not specify more than 1 volume type"],
  ]);
  assert.deepEqual(causes(pv({ hostPath: undefined, nfs: { server: "nas", path: "/x" } })), [[
    "spec.nfs",
    "Forbidden: nfs volumes are not supported: the nodes of this cluster mount only hostPath and local volumes",
  ]]);
  assert.deepEqual(causes(pv({ hostPath: undefined, csi: { driver: "x", volumeHandle: "y" } })), [[
    "spec.csi",
    "Forbidden: csi volumes are not supported: the nodes of this cluster mount only hostPath and local volumes",
  ]]);
});

Deno.test("persistentvolumes validation checks hostPath and local paths", () => {
  assert.deepEqual(causes(pv({ hostPath: { path: "" } })), [
    ["spec.hostPath.path", "Required value"],
  ]);
  assert.deepEqual(causes(pv({ hostPath: { path: "/srv/../etc" } })), [
    ["spec.hostPath.path", `Invalid value: "/srv/../etc": must not contain '..'`],
  ]);
  assert.deepEqual(causes(pv({ hostPath: { path: "/srv", type: "Pipe" } })).map(([f]) => f), [
    "spec.hostPath.type",
  ]);
  assert.deepEqual(causes(pv({ ...LOCAL, local: { path: "data/../x" } })), [
    ["spec.local.path", `Invalid value: "data/../x": must be an absolute path`],
    ["spec.local.path", `Invalid value: "data/../x": must not contain '..'`],
  ]);
  assert.deepEqual(causes(pv({ ...LOCAL, nodeAffinity: undefined })), [
    ["spec.nodeAffinity", "Required value: Local volume requires node affinity"],
  ]);
  const local = valid(pv(LOCAL));
  assert.deepEqual(local.spec.local, { path: "/var/lib/edge/volumes/v1" });
});

Deno.test("persistentvolumes validation checks node affinity terms", () => {
  const affinity = (required: unknown) => pv({ ...LOCAL, nodeAffinity: { required } });
  assert.deepEqual(causes(pv({ ...LOCAL, nodeAffinity: {} })), [
    ["spec.nodeAffinity.required", "Required value: must specify required node constraints"],
  ]);
  assert.deepEqual(causes(affinity({ nodeSelectorTerms: [] })), [[
    "spec.nodeAffinity.required.nodeSelectorTerms",
    "Required value: must have at least one node selector term",
  ]]);
  const term = "spec.nodeAffinity.required.nodeSelectorTerms[0]";
  assert.deepEqual(
    causes(affinity({
      nodeSelectorTerms: [{
        matchExpressions: [
          { key: "kubernetes.io/hostname", operator: "In" },
          { key: "disk", operator: "Exists", values: ["ssd"] },
          { key: "bad key", operator: "Gt", values: ["1"] },
        ],
        matchFields: [{ key: "spec.nodeName", operator: "In", values: ["a", "b"] }],
      }],
    })).map(([f]) => f),
    [
      `${term}.matchExpressions[0].values`,
      `${term}.matchExpressions[1].values`,
      `${term}.matchExpressions[2].key`,
      `${term}.matchFields[0].values`,
      `${term}.matchFields[0].key`,
    ],
  );
  assert.deepEqual(
    causes(
      affinity({ nodeSelectorTerms: [{ matchExpressions: [{ key: "a", operator: "Near" }] }] }),
    ).map(([f]) => f),
    [
      `${term}.matchExpressions[0].operator`,
    ],
  );
});

Deno.test("persistentvolumes validation checks claimRef names", () => {
  assert.deepEqual(causes(pv({ claimRef: { namespace: "default" } })), [
    ["spec.claimRef.name", "Required value"],
  ]);
  assert.deepEqual(
    causes(pv({ claimRef: { namespace: "Team_A", name: "data" } })).map(([f]) => f),
    [
      "spec.claimRef.namespace",
    ],
  );
  const bound = valid(
    pv({
      claimRef: { kind: "PersistentVolumeClaim", namespace: "default", name: "data", uid: "u-1" },
    }),
  );
  assert.equal(bound.spec.claimRef?.name, "data");
});

Deno.test("persistentvolumes update keeps the source, volume mode and node affinity", () => {
  const old = valid(pv(LOCAL)) as unknown as KubeObject;
  // claimRef, class and reclaim policy may change (the binder and admins do that)
  valid(
    pv({
      ...LOCAL,
      claimRef: { namespace: "default", name: "data" },
      persistentVolumeReclaimPolicy: "Delete",
    }),
    old,
  );
  assert.deepEqual(causes(pv({ ...LOCAL, local: { path: "/elsewhere" } }), old), [[
    "spec.persistentvolumesource",
    "Forbidden: spec.persistentvolumesource is immutable after creation",
  ]]);
  assert.deepEqual(causes(pv({ ...LOCAL, volumeMode: "Block" }), old), [
    ["spec.volumeMode", 'Invalid value: "Block": field is immutable'],
  ]);
  const moved = {
    required: {
      nodeSelectorTerms: [{
        matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["edge-2"] }],
      }],
    },
  };
  assert.deepEqual(causes(pv({ ...LOCAL, nodeAffinity: moved }), old).map(([f]) => f), [
    "spec.nodeAffinity",
  ]);
  // a hostPath volume may gain node affinity later
  const host = valid(pv({})) as unknown as KubeObject;
  valid(pv({ nodeAffinity: moved }), host);
});

Deno.test("accessModesText() abbreviates in kubectl's order without repeats", () => {
  assert.equal(accessModesText(["ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]), "RWO,RWX");
  assert.equal(accessModesText(["ReadWriteOncePod", "ReadOnlyMany"]), "ROX,RWOP");
  assert.equal(accessModesText([]), "");
  assert.deepEqual(validateAccessModes([], "spec.accessModes", "at least 1"), [{
    reason: "FieldValueRequired",
    field: "spec.accessModes",
    message: "Required value: at least 1",
  }]);
});

Deno.test("persistentvolumes columns print kubectl's get pv row", () => {
  const now = new Date("2024-05-01T12:00:00Z");
  const obj: KubeObject = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: "pv-1", creationTimestamp: "2024-05-01T11:00:00Z" },
    spec: {
      capacity: { storage: "5Gi" },
      accessModes: ["ReadWriteMany", "ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      claimRef: { namespace: "default", name: "data" },
      storageClassName: "manual",
      volumeMode: "Filesystem",
    },
    status: { phase: "Bound", reason: "" },
  };
  assert.deepEqual(persistentVolumes.columns.map((c) => c.name), [
    "Name",
    "Capacity",
    "Access Modes",
    "Reclaim Policy",
    "Status",
    "Claim",
    "StorageClass",
    "VolumeAttributesClass",
    "Reason",
    "Age",
    "VolumeMode",
  ]);
  assert.deepEqual(persistentVolumes.columns.map((c) => c.priority), [
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    0,
    1,
  ]);
  assert.deepEqual(persistentVolumes.columns.map((c) => c.cell(obj, now)), [
    "pv-1",
    "5Gi",
    "RWO,RWX",
    "Retain",
    "Bound",
    "default/data",
    "manual",
    "<unset>",
    "",
    "60m",
    "Filesystem",
  ]);
  const bare: KubeObject = {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: "old",
      deletionTimestamp: "2024-05-01T11:59:00Z",
      annotations: { "volume.beta.kubernetes.io/storage-class": "slow" },
    },
  };
  const cells = persistentVolumes.columns.map((c) => c.cell(bare, now));
  assert.deepEqual([cells[1], cells[4], cells[5], cells[6], cells[10]], [
    "0",
    "Terminating",
    "",
    "slow",
    "<unset>",
  ]);
});
