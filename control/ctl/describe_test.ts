import assert from "node:assert/strict";
import { REGISTRY_RESOURCES } from "./_resources.ts";
import { fakeFetch, NOW, run, tempKubeconfig } from "./_testing.ts";
import { runCtl } from "./ctl.ts";
import {
  describePersistentVolume,
  describePersistentVolumeClaim,
  describePod,
  describeSecret,
  describeStorageClass,
  smartLabel,
} from "./describe.ts";
import { LAST_APPLIED } from "./_apply_patch.ts";

const CM = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: {
    name: "app",
    namespace: "default",
    uid: "u-1",
    labels: { tier: "fe", app: "web" },
    annotations: { [LAST_APPLIED]: "{}\n", owner: "team-a" },
  },
  data: { "game.properties": "lives=3", mode: "fast" },
};

Deno.test("runCtl(describe configmap) prints kubectl's layout and the object's events", async () => {
  const api = fakeFetch((req) => {
    if (req.path === "/api/v1/namespaces/default/configmaps/app") return { body: CM };
    if (req.path === "/api/v1/namespaces/default/events") {
      assert.equal(
        req.query.get("fieldSelector"),
        "involvedObject.name=app,involvedObject.namespace=default,involvedObject.uid=u-1",
      );
      return {
        body: {
          items: [{
            type: "Normal",
            reason: "Synced",
            message: "configuration synced ",
            source: { component: "hub-sync" },
            firstTimestamp: "2024-05-01T11:50:00Z",
            lastTimestamp: "2024-05-01T11:58:00Z",
            count: 3,
          }],
        },
      };
    }
    return undefined;
  });
  const res = await run(["describe", "cm", "app"], api.fetch);
  assert.equal(
    res.stdout,
    `Name:         app
Namespace:    default
Labels:       app=web
              tier=fe
Annotations:  owner: team-a

Data
====
game.properties:
----
lives=3

mode:
----
fast


BinaryData
====

Events:
  Type    Reason  Age               From      Message
  ----    ------  ----              ----      -------
  Normal  Synced  2m (x3 over 10m)  hub-sync  configuration synced
`,
  );
});

Deno.test("runCtl(describe) prints Events: <none> and falls back to a generic outline", async () => {
  const api = fakeFetch((req) => {
    if (req.path.endsWith("/namespaces/edge")) {
      return {
        body: {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: "edge", uid: "u", creationTimestamp: "2024-05-01T00:00:00Z" },
          status: { phase: "Active" },
        },
      };
    }
    if (req.path === "/api/v1/events") return { body: { items: [] } };
    return undefined;
  });
  const res = await run(["describe", "namespace", "edge"], api.fetch);
  assert.equal(
    res.stdout,
    `Name:         edge
Namespace:    
Labels:       <none>
Annotations:  <none>
API Version:  v1
Kind:         Namespace
Metadata:
  Creation Timestamp:  2024-05-01T00:00:00Z
  UID:                 u
Status:
  Phase:  Active
Events:   <none>
`,
  );
});

Deno.test("describeSecret() prints data sizes in bytes, never values", () => {
  const text = describeSecret({
    metadata: { name: "db", namespace: "default" },
    type: "Opaque",
    data: { password: btoa("hunter22"), user: btoa("admin") },
  });
  assert.equal(
    text,
    `Name:         db
Namespace:    default
Labels:       <none>
Annotations:  <none>

Type:  Opaque

Data
====
password:  8 bytes
user:      5 bytes
`,
  );
});

Deno.test("describePod() prints status, IP, node, containers and conditions", () => {
  const text = describePod(
    {
      metadata: {
        name: "web-1",
        namespace: "default",
        ownerReferences: [{ kind: "ReplicaSet", name: "web-5d4", controller: true }],
      },
      spec: {
        nodeName: "edge-1",
        containers: [{ name: "web", image: "busybox", ports: [{ containerPort: 80 }] }],
      },
      status: {
        phase: "Running",
        hostIP: "192.168.1.10",
        podIP: "10.1.0.4",
        podIPs: [{ ip: "10.1.0.4" }],
        startTime: "2024-05-01T11:00:00Z",
        conditions: [{ type: "Ready", status: "True" }],
        containerStatuses: [{
          name: "web",
          containerID: "podman://abc",
          imageID: "sha256:1",
          ready: true,
          restartCount: 1,
          state: { running: { startedAt: "2024-05-01T11:00:05Z" } },
        }],
      },
    },
    [],
    NOW,
  );
  assert.equal(
    text,
    `Name:         web-1
Namespace:    default
Node:         edge-1/192.168.1.10
Start Time:   Wed, 01 May 2024 11:00:00 +0000
Labels:       <none>
Annotations:  <none>
Status:       Running
IP:           10.1.0.4
IPs:
  IP:           10.1.0.4
Controlled By:  ReplicaSet/web-5d4
Containers:
  web:
    Container ID:   podman://abc
    Image:          busybox
    Image ID:       sha256:1
    Port:           80/TCP
    Host Port:      0/TCP
    State:          Running
      Started:      Wed, 01 May 2024 11:00:05 +0000
    Ready:          True
    Restart Count:  1
    Environment:    <none>
    Mounts:         <none>
Conditions:
  Type           Status
  Ready          True 
Volumes:         <none>
QoS Class:       BestEffort
Node-Selectors:  <none>
Tolerations:     <none>
Events:          <none>
`,
  );
});

Deno.test("smartLabel() words camelCase fields like kubectl", () => {
  assert.equal(smartLabel("apiVersion"), "API Version");
  assert.equal(smartLabel("podCIDR"), "Pod CIDR");
  assert.equal(smartLabel("uid"), "UID");
});

Deno.test("describePersistentVolume() prints a local volume with its node affinity", () => {
  const text = describePersistentVolume(
    {
      metadata: {
        name: "pvc-1",
        finalizers: ["kubernetes.io/pv-protection"],
        annotations: { "pv.kubernetes.io/provisioned-by": "edge.io/local-path" },
      },
      spec: {
        capacity: { storage: "1Gi" },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Delete",
        storageClassName: "local-path",
        volumeMode: "Filesystem",
        claimRef: { namespace: "default", name: "data" },
        local: { path: "/var/lib/edge/volumes/pvc-1_default_data" },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{
              matchExpressions: [
                { key: "kubernetes.io/hostname", operator: "In", values: ["edge-1", "edge-2"] },
                { key: "disk", operator: "Exists" },
              ],
            }],
          },
        },
      },
      status: { phase: "Bound" },
    },
    [],
    NOW,
  );
  assert.equal(
    text,
    [
      "Name:              pvc-1",
      "Labels:            <none>",
      "Annotations:       pv.kubernetes.io/provisioned-by: edge.io/local-path",
      "Finalizers:        [kubernetes.io/pv-protection]",
      "StorageClass:      local-path",
      "Status:            Bound",
      "Claim:             default/data",
      "Reclaim Policy:    Delete",
      "Access Modes:      RWO",
      "VolumeMode:        Filesystem",
      "Capacity:          1Gi",
      "Node Affinity:     ",
      "  Required Terms:  ",
      "    Term 0:        kubernetes.io/hostname in [edge-1, edge-2]",
      "                   disk exists",
      "Message:           ",
      "Source:",
      "    Type:  LocalVolume (a persistent volume backed by local storage on a node)",
      "    Path:  /var/lib/edge/volumes/pvc-1_default_data",
      "Events:    <none>",
      "",
    ].join("\n"),
  );
});

Deno.test("describePersistentVolume() prints a hostPath volume and a deleted one as Terminating", () => {
  const pv = {
    metadata: { name: "pv-1" },
    spec: {
      capacity: { storage: "1Gi" },
      accessModes: ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: "Retain",
      volumeMode: "Filesystem",
      hostPath: { path: "/srv", type: "" },
    },
    status: { phase: "Available" },
  };
  assert.equal(
    describePersistentVolume(pv, undefined, NOW),
    [
      "Name:            pv-1",
      "Labels:          <none>",
      "Annotations:     <none>",
      "Finalizers:      []",
      "StorageClass:    ",
      "Status:          Available",
      "Claim:           ",
      "Reclaim Policy:  Retain",
      "Access Modes:    RWO",
      "VolumeMode:      Filesystem",
      "Capacity:        1Gi",
      "Node Affinity:   <none>",
      "Message:         ",
      "Source:",
      "    Type:          HostPath (bare host directory volume)",
      "    Path:          /srv",
      "    HostPathType:  ",
      "",
    ].join("\n"),
  );
  const deleted = {
    ...pv,
    metadata: { name: "pv-1", deletionTimestamp: "2024-05-01T11:59:00Z" },
  };
  assert.match(
    describePersistentVolume(deleted, undefined, NOW),
    /^Status: +Terminating \(lasts 60s\)$/m,
  );
});

const CLAIM = {
  metadata: {
    name: "data",
    namespace: "default",
    uid: "c-1",
    finalizers: ["kubernetes.io/pvc-protection"],
  },
  spec: {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: "1Gi" } },
    volumeName: "pvc-1",
    storageClassName: "local-path",
    volumeMode: "Filesystem",
  },
  status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "2Gi" } },
};

const claimPod = (name: string, claimName: string) => ({
  metadata: { name, namespace: "default" },
  spec: { volumes: [{ name: "d", persistentVolumeClaim: { claimName } }] },
});

Deno.test("describePersistentVolumeClaim() prints the bound volume, its users and conditions", () => {
  const claim = {
    ...CLAIM,
    status: {
      ...CLAIM.status,
      conditions: [{
        type: "Resizing",
        status: "True",
        lastTransitionTime: "2024-05-01T11:00:00Z",
      }],
    },
  };
  const pods = [claimPod("web-b", "data"), claimPod("web-a", "data"), claimPod("x", "other")];
  assert.equal(
    describePersistentVolumeClaim(claim, pods, [], NOW),
    [
      "Name:          data",
      "Namespace:     default",
      "StorageClass:  local-path",
      "Status:        Bound",
      "Volume:        pvc-1",
      "Labels:        <none>",
      "Annotations:   <none>",
      "Finalizers:    [kubernetes.io/pvc-protection]",
      "Capacity:      2Gi",
      "Access Modes:  RWO",
      "VolumeMode:    Filesystem",
      "Used By:       web-a",
      "               web-b",
      "Conditions:",
      "  Type       Status  LastProbeTime      LastTransitionTime                Reason  Message",
      "  ----       ------  -----------------  ------------------                ------  -------",
      "  Resizing   True                       Wed, 01 May 2024 11:00:00 +0000           ",
      "Events:      <none>",
      "",
    ].join("\n"),
  );
});

Deno.test("describePersistentVolumeClaim() leaves capacity and modes empty while unbound", () => {
  const pending = {
    ...CLAIM,
    spec: { ...CLAIM.spec, volumeName: undefined },
    status: { phase: "Pending" },
  };
  const text = describePersistentVolumeClaim(pending, [], undefined, NOW);
  assert.match(text, /^Volume: +$/m);
  assert.match(text, /^Capacity: +$/m);
  assert.match(text, /^Access Modes: +$/m);
  assert.match(text, /^Used By: +<none>$/m);
});

Deno.test("describeStorageClass() prints kubectl's StorageClass layout", () => {
  const text = describeStorageClass(
    {
      metadata: {
        name: "local-path",
        annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
      },
      provisioner: "edge.io/local-path",
      reclaimPolicy: "Delete",
      volumeBindingMode: "WaitForFirstConsumer",
      mountOptions: ["noatime"],
      allowedTopologies: [{ matchLabelExpressions: [{ key: "zone", values: ["a", "b"] }] }],
    },
    [],
    NOW,
  );
  assert.equal(
    text,
    [
      "Name:                  local-path",
      "IsDefaultClass:        Yes",
      "Annotations:           storageclass.kubernetes.io/is-default-class=true",
      "Provisioner:           edge.io/local-path",
      "Parameters:            <none>",
      "AllowVolumeExpansion:  <unset>",
      "MountOptions:",
      "  noatime",
      "ReclaimPolicy:      Delete",
      "VolumeBindingMode:  WaitForFirstConsumer",
      "AllowedTopologies:  ",
      "  Term 0:           zone in [a, b]",
      "Events:             <none>",
      "",
    ].join("\n"),
  );
  const plain = describeStorageClass(
    {
      metadata: { name: "manual" },
      provisioner: "kubernetes.io/no-provisioner",
      parameters: { b: "2", a: "1" },
      allowVolumeExpansion: false,
    },
    undefined,
    NOW,
  );
  assert.match(plain, /^IsDefaultClass: +No$/m);
  assert.match(plain, /^Parameters: +a=1,b=2$/m);
  assert.match(plain, /^AllowVolumeExpansion: +False$/m);
  assert.match(plain, /^MountOptions: +<none>$/m);
});

Deno.test("runCtl(describe pvc) lists the namespace's pods to say who uses the claim", async () => {
  const api = fakeFetch((req) => {
    if (req.path === "/api/v1/namespaces/default/persistentvolumeclaims/data") {
      return { body: { apiVersion: "v1", kind: "PersistentVolumeClaim", ...CLAIM } };
    }
    if (req.path === "/api/v1/namespaces/default/pods") {
      return { body: { items: [claimPod("web-a", "data"), claimPod("x", "other")] } };
    }
    if (req.path === "/api/v1/namespaces/default/events") {
      assert.equal(
        req.query.get("fieldSelector"),
        "involvedObject.name=data,involvedObject.namespace=default,involvedObject.uid=c-1",
      );
      return { body: { items: [] } };
    }
    return undefined;
  });
  const { dir, path } = await tempKubeconfig();
  let stdout = "";
  try {
    const code = await runCtl(["describe", "pvc", "data"], {
      stdout: (t) => (stdout += t),
      stderr: () => {},
      env: { KUBECONFIG: path },
      fetch: api.fetch,
      resources: REGISTRY_RESOURCES.all,
      now: () => NOW,
    });
    assert.equal(code, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  assert.match(stdout, /^Used By: +web-a$/m);
  assert.match(stdout, /^Events: +<none>$/m);
});
