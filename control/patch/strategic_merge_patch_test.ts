import assert from "node:assert/strict";
import { patchMetaFor } from "./patch_meta.ts";
import { applyStrategicMergePatch, type PatchMeta } from "./strategic_merge_patch.ts";
import { assertApiError } from "../../storage/_testing.ts";

const DEPLOYMENT = patchMetaFor("apps/v1", "Deployment");
const POD = patchMetaFor("v1", "Pod");

/** A Deployment whose pod template spec is `podSpec`. */
function deployment(podSpec: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "patch-demo", namespace: "default" },
    spec: {
      replicas: 2,
      selector: { matchLabels: { app: "nginx" } },
      template: { metadata: { labels: { app: "nginx" } }, spec: podSpec },
      ...extra,
    },
  };
}

/** The pod template spec of a patched Deployment. */
function podSpecOf(result: Record<string, unknown>): Record<string, unknown> {
  const spec = result.spec as { template: { spec: Record<string, unknown> } };
  return spec.template.spec;
}

function podPatch(podSpec: Record<string, unknown>) {
  return { spec: { template: { spec: podSpec } } };
}

// Examples from kubernetes.io "Update API Objects in Place Using kubectl patch".

Deno.test("applyStrategicMergePatch() merges containers by name, new ones first", () => {
  const live = deployment({
    containers: [{ name: "patch-demo-ctr", image: "nginx" }],
    tolerations: [{ effect: "NoSchedule", key: "dedicated", value: "test-team" }],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "patch-demo-ctr-2", image: "redis" }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result), {
    containers: [
      { name: "patch-demo-ctr-2", image: "redis" },
      { name: "patch-demo-ctr", image: "nginx" },
    ],
    tolerations: [{ effect: "NoSchedule", key: "dedicated", value: "test-team" }],
  });
});

Deno.test("applyStrategicMergePatch() replaces lists without a patch strategy (tolerations)", () => {
  const live = deployment({
    containers: [{ name: "patch-demo-ctr", image: "nginx" }],
    tolerations: [{ effect: "NoSchedule", key: "dedicated", value: "test-team" }],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ tolerations: [{ effect: "NoSchedule", key: "disktype", value: "ssd" }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).tolerations, [
    { effect: "NoSchedule", key: "disktype", value: "ssd" },
  ]);
  assert.deepEqual(podSpecOf(result).containers, [{ name: "patch-demo-ctr", image: "nginx" }]);
});

Deno.test("applyStrategicMergePatch() $retainKeys switches a RollingUpdate strategy to Recreate", () => {
  const live = deployment({ containers: [{ name: "retainkeys-demo-ctr", image: "nginx" }] }, {
    strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: "25%", maxUnavailable: "25%" } },
  });
  const result = applyStrategicMergePatch(
    live,
    { spec: { strategy: { $retainKeys: ["type"], type: "Recreate" } } },
    DEPLOYMENT,
  );
  assert.deepEqual((result.spec as Record<string, unknown>).strategy, { type: "Recreate" });
  assert.equal((result.spec as Record<string, unknown>).replicas, 2);
});

Deno.test("applyStrategicMergePatch() $retainKeys keeps listed keys the patch does not set", () => {
  const result = applyStrategicMergePatch(
    { s: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 }, other: 1 } },
    { s: { $retainKeys: ["type", "rollingUpdate"], rollingUpdate: { maxUnavailable: 0 } } },
    {},
  );
  assert.deepEqual(result, {
    s: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1, maxUnavailable: 0 } },
  });
});

// Examples from the strategic merge patch design doc.

Deno.test("applyStrategicMergePatch() merges a container's fields and keeps the rest", () => {
  const live = deployment({
    containers: [
      { name: "nginx", image: "nginx-1.0", imagePullPolicy: "Always" },
      { name: "log-tailer", image: "log-tailer-1.0" },
    ],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "nginx", image: "nginx-1.1" }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [
    { name: "nginx", image: "nginx-1.1", imagePullPolicy: "Always" },
    { name: "log-tailer", image: "log-tailer-1.0" },
  ]);
});

Deno.test("applyStrategicMergePatch() $patch: replace replaces a merge list", () => {
  const live = deployment({ containers: [{ name: "a", image: "a" }, { name: "b", image: "b" }] });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "c", image: "c" }, { $patch: "replace" }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [{ name: "c", image: "c" }]);
});

Deno.test("applyStrategicMergePatch() $patch: replace replaces a map", () => {
  const result = applyStrategicMergePatch(
    { metadata: { labels: { a: "1", b: "2" }, name: "x" } },
    { metadata: { labels: { $patch: "replace", c: "3" } } },
    POD,
  );
  assert.deepEqual(result, { metadata: { labels: { c: "3" }, name: "x" } });
});

Deno.test("applyStrategicMergePatch() $patch: delete removes a merge-list element by key", () => {
  const live = deployment({
    containers: [{ name: "nginx", image: "nginx" }, { name: "log-tailer", image: "log" }],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "log-tailer", $patch: "delete" }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [{ name: "nginx", image: "nginx" }]);
});

Deno.test("applyStrategicMergePatch() $patch: delete empties a map", () => {
  const result = applyStrategicMergePatch(
    { spec: { nodeSelector: { disk: "ssd" }, hostname: "h" } },
    { spec: { nodeSelector: { $patch: "delete" } } },
    POD,
  );
  assert.deepEqual(result, { spec: { nodeSelector: {}, hostname: "h" } });
});

Deno.test("applyStrategicMergePatch() $patch: merge is the explicit default", () => {
  const result = applyStrategicMergePatch(
    { metadata: { labels: { a: "1" } } },
    { metadata: { labels: { $patch: "merge", b: "2" } } },
    POD,
  );
  assert.deepEqual(result, { metadata: { labels: { a: "1", b: "2" } } });
});

Deno.test("applyStrategicMergePatch() $setElementOrder reorders and deletes together", () => {
  const live = deployment({
    containers: [
      { name: "a", image: "a:1" },
      { name: "b", image: "b:1" },
      { name: "c", image: "c:1" },
    ],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({
      "$setElementOrder/containers": [{ name: "c" }, { name: "a" }],
      containers: [{ name: "a", image: "a:2" }, { name: "b", $patch: "delete" }],
    }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [
    { name: "c", image: "c:1" },
    { name: "a", image: "a:2" },
  ]);
});

Deno.test("applyStrategicMergePatch() $setElementOrder interleaves server-only elements by live order", () => {
  const result = applyStrategicMergePatch(
    { spec: { containers: [{ name: "a" }, { name: "injected" }, { name: "b" }] } },
    { spec: { "$setElementOrder/containers": [{ name: "b" }, { name: "a" }] } },
    POD,
  );
  // "injected" stood before "b" in the live list, so it stays before it.
  assert.deepEqual((result.spec as Record<string, unknown>).containers, [
    { name: "injected" },
    { name: "b" },
    { name: "a" },
  ]);
});

Deno.test("applyStrategicMergePatch() $deleteFromPrimitiveList removes finalizers", () => {
  const result = applyStrategicMergePatch(
    { metadata: { name: "x", finalizers: ["a", "b", "c"] } },
    { metadata: { "$deleteFromPrimitiveList/finalizers": ["b", "missing"] } },
    POD,
  );
  assert.deepEqual(result, { metadata: { name: "x", finalizers: ["a", "c"] } });
});

Deno.test("applyStrategicMergePatch() orders then deletes finalizers as kubectl apply sends them", () => {
  const result = applyStrategicMergePatch(
    { metadata: { finalizers: ["a", "b", "c"] } },
    {
      metadata: {
        "$deleteFromPrimitiveList/finalizers": ["b"],
        "$setElementOrder/finalizers": ["c", "a"],
      },
    },
    POD,
  );
  assert.deepEqual(result, { metadata: { finalizers: ["c", "a"] } });
});

Deno.test("applyStrategicMergePatch() unions primitive merge lists, new values first", () => {
  const result = applyStrategicMergePatch(
    { metadata: { finalizers: ["a", "b"] } },
    { metadata: { finalizers: ["c", "b", "c"] } },
    POD,
  );
  assert.deepEqual(result, { metadata: { finalizers: ["c", "a", "b"] } });
  assert.deepEqual(
    applyStrategicMergePatch({ metadata: { finalizers: ["a"] } }, {
      metadata: { finalizers: ["z"] },
    }, POD),
    { metadata: { finalizers: ["z", "a"] } },
  );
});

Deno.test("applyStrategicMergePatch() null deletes a nested field", () => {
  const live = deployment({
    containers: [{ name: "app", image: "app", resources: { limits: { cpu: "1", memory: "1Gi" } } }],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "app", resources: { limits: { memory: null } } }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [
    { name: "app", image: "app", resources: { limits: { cpu: "1" } } },
  ]);
  assert.deepEqual(
    applyStrategicMergePatch({ a: { b: 1 } }, { a: null, zz: null }, {}),
    {},
  );
});

Deno.test("applyStrategicMergePatch() merges container ports by containerPort", () => {
  const live = deployment({
    containers: [{
      name: "web",
      ports: [{ containerPort: 80, protocol: "TCP" }, { containerPort: 443, protocol: "TCP" }],
    }],
  });
  const result = applyStrategicMergePatch(
    live,
    podPatch({ containers: [{ name: "web", ports: [{ containerPort: 443, name: "https" }] }] }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [{
    name: "web",
    ports: [
      { containerPort: 80, protocol: "TCP" },
      { containerPort: 443, protocol: "TCP", name: "https" },
    ],
  }]);
});

Deno.test("applyStrategicMergePatch() merges env by name and volumeMounts by mountPath", () => {
  const live = {
    spec: {
      containers: [{
        name: "app",
        env: [{ name: "A", value: "1" }, { name: "B", value: "2" }],
        envFrom: [{ configMapRef: { name: "one" } }],
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      }],
    },
  };
  const result = applyStrategicMergePatch(live, {
    spec: {
      containers: [{
        name: "app",
        env: [{ name: "B", value: "3" }],
        envFrom: [{ configMapRef: { name: "two" } }],
        volumeMounts: [{ mountPath: "/data", readOnly: true }],
      }],
    },
  }, POD);
  assert.deepEqual(result, {
    spec: {
      containers: [{
        name: "app",
        env: [{ name: "A", value: "1" }, { name: "B", value: "3" }],
        envFrom: [{ configMapRef: { name: "two" } }],
        volumeMounts: [{ name: "data", mountPath: "/data", readOnly: true }],
      }],
    },
  });
});

Deno.test("applyStrategicMergePatch() merges status lists by their keys", () => {
  const pod = applyStrategicMergePatch(
    {
      status: {
        conditions: [{ type: "Ready", status: "False" }, { type: "Initialized", status: "True" }],
        podIPs: [{ ip: "10.0.0.1" }],
      },
    },
    { status: { conditions: [{ type: "Ready", status: "True" }], podIPs: [{ ip: "fd00::1" }] } },
    POD,
  );
  assert.deepEqual(pod, {
    status: {
      conditions: [{ type: "Ready", status: "True" }, { type: "Initialized", status: "True" }],
      podIPs: [{ ip: "fd00::1" }, { ip: "10.0.0.1" }],
    },
  });

  const node = applyStrategicMergePatch(
    { status: { addresses: [{ type: "InternalIP", address: "10.0.0.5" }] } },
    { status: { addresses: [{ type: "Hostname", address: "edge-1" }] } },
    patchMetaFor("v1", "Node"),
  );
  assert.deepEqual(node, {
    status: {
      addresses: [
        { type: "Hostname", address: "edge-1" },
        { type: "InternalIP", address: "10.0.0.5" },
      ],
    },
  });
});

Deno.test("applyStrategicMergePatch() merges Service ports by port and ownerReferences by uid", () => {
  const result = applyStrategicMergePatch(
    {
      metadata: { ownerReferences: [{ uid: "u1", kind: "A", name: "a" }] },
      spec: { ports: [{ port: 80, targetPort: 8080 }] },
    },
    {
      metadata: { ownerReferences: [{ uid: "u1", controller: true }] },
      spec: { ports: [{ port: 80, name: "http" }] },
    },
    patchMetaFor("v1", "Service"),
  );
  assert.deepEqual(result, {
    metadata: { ownerReferences: [{ uid: "u1", kind: "A", name: "a", controller: true }] },
    spec: { ports: [{ port: 80, targetPort: 8080, name: "http" }] },
  });
});

Deno.test("applyStrategicMergePatch() with empty meta merges maps and replaces lists", () => {
  const result = applyStrategicMergePatch(
    { spec: { items: [{ name: "a" }], settings: { x: 1, y: 2 } } },
    { spec: { items: [{ name: "b" }], settings: { y: null, z: 3 } } },
    patchMetaFor("example.com/v1", "Widget"),
  );
  assert.deepEqual(result, { spec: { items: [{ name: "b" }], settings: { x: 1, z: 3 } } });
});

// What `kubectl apply` sends (CreateThreeWayMergePatch output).

Deno.test("applyStrategicMergePatch() applies kubectl apply's Deployment image change", () => {
  const lastApplied = JSON.stringify(deployment({ containers: [{ name: "nginx", image: "n:1" }] }));
  const live = {
    ...deployment({
      containers: [{
        name: "nginx",
        image: "nginx:1.14.2",
        ports: [{ containerPort: 80, protocol: "TCP" }],
        imagePullPolicy: "IfNotPresent",
        terminationMessagePath: "/dev/termination-log",
      }],
      restartPolicy: "Always",
      dnsPolicy: "ClusterFirst",
    }),
    status: { replicas: 2, conditions: [{ type: "Available", status: "True" }] },
  };
  const patch = {
    metadata: {
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": `${lastApplied}\n` },
    },
    spec: {
      template: {
        spec: {
          "$setElementOrder/containers": [{ name: "nginx" }],
          containers: [{
            "$setElementOrder/ports": [{ containerPort: 8080 }],
            image: "nginx:1.16.1",
            name: "nginx",
            ports: [{ containerPort: 8080 }, { $patch: "delete", containerPort: 80 }],
          }],
        },
      },
    },
  };
  const result = applyStrategicMergePatch(live, patch, DEPLOYMENT);
  assert.deepEqual(podSpecOf(result), {
    containers: [{
      name: "nginx",
      image: "nginx:1.16.1",
      ports: [{ containerPort: 8080 }],
      imagePullPolicy: "IfNotPresent",
      terminationMessagePath: "/dev/termination-log",
    }],
    restartPolicy: "Always",
    dnsPolicy: "ClusterFirst",
  });
  assert.deepEqual((result.metadata as Record<string, unknown>).annotations, {
    "kubectl.kubernetes.io/last-applied-configuration": `${lastApplied}\n`,
  });
  assert.deepEqual(result.status, live.status);
  assert.doesNotMatch(JSON.stringify(result), /\$setElementOrder|\$patch/);
});

Deno.test("applyStrategicMergePatch() places a sidecar added by kubectl apply where ordered", () => {
  const live = deployment({ containers: [{ name: "app", image: "app:1" }] });
  const result = applyStrategicMergePatch(
    live,
    podPatch({
      "$setElementOrder/containers": [{ name: "app" }, { name: "sidecar" }],
      containers: [{ image: "proxy:1", name: "sidecar" }],
    }),
    DEPLOYMENT,
  );
  assert.deepEqual(podSpecOf(result).containers, [
    { name: "app", image: "app:1" },
    { name: "sidecar", image: "proxy:1" },
  ]);
});

Deno.test("applyStrategicMergePatch() applies kubectl apply's ConfigMap patch", () => {
  const live = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "app-config",
      namespace: "default",
      resourceVersion: "12",
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{old}\n" },
    },
    data: { mode: "dev", obsolete: "yes", keep: "1" },
  };
  const patch = {
    data: { mode: "prod", obsolete: null, added: "new" },
    metadata: { annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{new}\n" } },
  };
  assert.deepEqual(applyStrategicMergePatch(live, patch, patchMetaFor("v1", "ConfigMap")), {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "app-config",
      namespace: "default",
      resourceVersion: "12",
      annotations: { "kubectl.kubernetes.io/last-applied-configuration": "{new}\n" },
    },
    data: { mode: "prod", keep: "1", added: "new" },
  });
});

// Directives never leak.

Deno.test("applyStrategicMergePatch() strips directives from values new to the document", () => {
  const result = applyStrategicMergePatch(
    { spec: {} },
    {
      spec: {
        "$setElementOrder/containers": [{ name: "a" }],
        containers: [{ name: "a", image: "a" }, { name: "gone", $patch: "delete" }],
        volumes: [{ name: "v", emptyDir: { $patch: "replace", medium: "Memory" } }],
        affinity: { $patch: "replace", nodeAffinity: { x: null, y: 1 } },
        "$setElementOrder/initContainers": [{ name: "i" }],
      },
    },
    POD,
  );
  assert.deepEqual(result, {
    spec: {
      containers: [{ name: "a", image: "a" }],
      volumes: [{ name: "v", emptyDir: { medium: "Memory" } }],
      affinity: { nodeAffinity: { y: 1 } },
    },
  });
});

Deno.test("applyStrategicMergePatch() drops $patch: replace markers from atomic lists", () => {
  assert.deepEqual(
    applyStrategicMergePatch(
      { spec: { tolerations: [{ key: "a" }] } },
      { spec: { tolerations: [{ $patch: "replace" }, { key: "b" }] } },
      POD,
    ),
    { spec: { tolerations: [{ key: "b" }] } },
  );
});

Deno.test("applyStrategicMergePatch() treats other $-keys as data ($ref in CRD schemas)", () => {
  assert.deepEqual(
    applyStrategicMergePatch({ schema: { a: 1 } }, { schema: { $ref: "#/x", $schema: "y" } }, {}),
    { schema: { a: 1, $ref: "#/x", $schema: "y" } },
  );
});

// Errors.

Deno.test("applyStrategicMergePatch() rejects unknown $patch directives with 400", () => {
  assertApiError(
    () => applyStrategicMergePatch({ a: {} }, { a: { $patch: "explode", b: 1 } }, {}),
    400,
    "BadRequest",
    /^unknown patch type: explode in map: map\[\$patch:explode b:1\]$/,
  );
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { spec: { containers: [{ name: "a" }] } },
        { spec: { containers: [{ name: "a", $patch: "remove" }] } },
        POD,
      ),
    400,
    "BadRequest",
    /unknown patch type: remove/,
  );
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { spec: { tolerations: [] } },
        { spec: { tolerations: [{ key: "a", $patch: "delete" }] } },
        POD,
      ),
    400,
    "BadRequest",
    /patch strategy merge/,
  );
});

Deno.test("applyStrategicMergePatch() rejects merge-list elements without the merge key", () => {
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { spec: { containers: [{ name: "a" }] } },
        { spec: { containers: [{ image: "x" }] } },
        POD,
      ),
    400,
    "BadRequest",
    /^map: map\[image:x\] does not contain declared merge key: name$/,
  );
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { spec: { containers: [{ name: "a" }] } },
        { spec: { containers: [{ $patch: "delete" }] } },
        POD,
      ),
    400,
    "BadRequest",
    /does not contain declared merge key: name/,
  );
});

Deno.test("applyStrategicMergePatch() rejects malformed directive values with kube's 400s", () => {
  const live = { metadata: { finalizers: ["a"] }, spec: { containers: [{ name: "a" }] } };
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ metadata: { "$deleteFromPrimitiveList/finalizers": "a" } }, /primitive list/],
    [{ metadata: { "$deleteFromPrimitiveList/finalizers": [{ a: 1 }] } }, /primitive list/],
    [{ metadata: { "$deleteFromPrimitiveList": ["a"] } }, /primitive list/],
    [{ spec: { "$setElementOrder/containers": { name: "a" } } }, /setElementOrder list/],
    [{ spec: { "$setElementOrderX/containers": [] } }, /setElementOrder list/],
    [{ spec: { "$setElementOrder/": [] } }, /setElementOrder list/],
    [{ spec: { $retainKeys: "containers" } }, /retainKeys/],
    [{ spec: { $retainKeys: ["hostname"], containers: [] } }, /retainKeys/],
  ];
  for (const [patch, message] of cases) {
    assertApiError(() => applyStrategicMergePatch(live, patch, POD), 400, "BadRequest", message);
  }
});

Deno.test("applyStrategicMergePatch() rejects a patch list out of $setElementOrder's order", () => {
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { spec: { containers: [{ name: "a" }, { name: "b" }] } },
        {
          spec: {
            "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
            containers: [{ name: "b", image: "b" }, { name: "a", image: "a" }],
          },
        },
        POD,
      ),
    400,
    "BadRequest",
    /doesn't match \$setElementOrder list/,
  );
});

Deno.test("applyStrategicMergePatch() rejects lists of lists with 422 and mixed lists with 400", () => {
  const err = assertApiError(
    () =>
      applyStrategicMergePatch(
        { metadata: { finalizers: [["a"]] } },
        { metadata: { finalizers: ["b"] } },
        POD,
      ),
    422,
    "Invalid",
  );
  assert.equal(err.details?.causes?.[0]?.message, "lists of lists are not supported");
  assertApiError(
    () =>
      applyStrategicMergePatch(
        { metadata: { finalizers: ["a"] } },
        { metadata: { finalizers: [1] } },
        POD,
      ),
    400,
    "BadRequest",
    /list element types are not identical/,
  );
});

Deno.test("applyStrategicMergePatch() rejects a patch body that is not an object", () => {
  for (const body of [[], "x", 1, null, true]) {
    assertApiError(
      () => applyStrategicMergePatch({}, body, POD),
      400,
      "BadRequest",
      /^json: cannot unmarshal \w+ into Go value of type map\[string\]interface \{\}$/,
    );
  }
});

// Purity and safety.

Deno.test("applyStrategicMergePatch() never mutates its inputs nor aliases patch values", () => {
  const live = deployment({
    containers: [{ name: "a", image: "a", env: [{ name: "X", value: "1" }] }],
  }, { strategy: { type: "RollingUpdate", rollingUpdate: { maxSurge: 1 } } });
  const newContainer = { name: "b", image: "b", env: [{ name: "Y", value: "2" }] };
  const patch = {
    metadata: { labels: { $patch: "replace", x: "y" } },
    spec: {
      strategy: { $retainKeys: ["type"], type: "Recreate" },
      template: {
        spec: {
          "$setElementOrder/containers": [{ name: "a" }, { name: "b" }],
          containers: [{ name: "a", env: [{ name: "X", $patch: "delete" }] }, newContainer],
        },
      },
    },
  };
  const liveCopy = structuredClone(live);
  const patchCopy = structuredClone(patch);
  const result = applyStrategicMergePatch(live, patch, DEPLOYMENT);
  assert.deepEqual(live, liveCopy);
  assert.deepEqual(patch, patchCopy);
  const containers = podSpecOf(result).containers as Record<string, unknown>[];
  assert.deepEqual(containers, [{ name: "a", image: "a", env: [] }, newContainer]);
  assert.notEqual(containers[1], newContainer);
  assert.notEqual(containers[1]?.env, newContainer.env);
});

Deno.test("applyStrategicMergePatch() treats __proto__ and constructor as plain fields", () => {
  const patch = JSON.parse(
    '{"__proto__": {"polluted": true}, "constructor": [1], "spec": {"__proto__": [2]}}',
  );
  const result = applyStrategicMergePatch(
    JSON.parse('{"spec": {"__proto__": [1], "toString": 1}}'),
    patch,
    POD,
  );
  assert.equal(Object.getPrototypeOf(result), Object.prototype);
  assert.equal(
    JSON.stringify(result),
    '{"spec":{"__proto__":[2],"toString":1},"__proto__":{"polluted":true},"constructor":[1]}',
  );
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("applyStrategicMergePatch() reads meta fields as own properties only", () => {
  const meta: PatchMeta = { fields: { items: { strategy: "merge", mergeKey: "id" } } };
  assert.deepEqual(
    applyStrategicMergePatch(
      { items: [{ id: 1 }], toString: [{ id: 1 }] },
      { items: [{ id: 2 }], toString: [{ id: 2 }] },
      meta,
    ),
    { items: [{ id: 2 }, { id: 1 }], toString: [{ id: 2 }] },
  );
});
