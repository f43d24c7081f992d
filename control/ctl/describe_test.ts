import assert from "node:assert/strict";
import { fakeFetch, NOW, run } from "./_testing.ts";
import { describePod, describeSecret, smartLabel } from "./describe.ts";
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
