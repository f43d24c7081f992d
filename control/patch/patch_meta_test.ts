import assert from "node:assert/strict";
import { patchMetaFor } from "./patch_meta.ts";
import type { PatchMeta } from "./strategic_merge_patch.ts";

function at(meta: PatchMeta, ...path: string[]): PatchMeta | undefined {
  let node: PatchMeta | undefined = meta;
  for (const step of path) node = step === "[]" ? node?.items : node?.fields?.[step];
  return node;
}

Deno.test("patchMetaFor() gives Pod containers, volumes and status lists their k8s.io/api tags", () => {
  const pod = patchMetaFor("v1", "Pod");
  assert.deepEqual(at(pod, "metadata", "finalizers"), { strategy: "merge" });
  assert.equal(at(pod, "metadata", "ownerReferences")?.mergeKey, "uid");
  assert.equal(at(pod, "spec", "containers")?.mergeKey, "name");
  assert.equal(at(pod, "spec", "initContainers")?.mergeKey, "name");
  assert.equal(at(pod, "spec", "ephemeralContainers")?.mergeKey, "name");
  assert.deepEqual(at(pod, "spec", "volumes"), { strategy: "merge,retainKeys", mergeKey: "name" });
  assert.equal(at(pod, "spec", "imagePullSecrets")?.mergeKey, "name");
  assert.equal(at(pod, "spec", "hostAliases")?.mergeKey, "ip");
  assert.equal(at(pod, "spec", "tolerations"), undefined);
  assert.equal(at(pod, "spec", "containers", "[]", "ports")?.mergeKey, "containerPort");
  assert.equal(at(pod, "spec", "containers", "[]", "env")?.mergeKey, "name");
  assert.equal(at(pod, "spec", "containers", "[]", "volumeMounts")?.mergeKey, "mountPath");
  assert.equal(at(pod, "spec", "containers", "[]", "volumeDevices")?.mergeKey, "devicePath");
  assert.equal(at(pod, "spec", "containers", "[]", "envFrom"), undefined);
  assert.equal(at(pod, "spec", "containers", "[]", "resizePolicy"), undefined);
  assert.equal(at(pod, "status", "conditions")?.mergeKey, "type");
  assert.equal(at(pod, "status", "podIPs")?.mergeKey, "ip");
});

Deno.test("patchMetaFor() gives workloads a pod template and Deployment strategy retainKeys", () => {
  const deployment = patchMetaFor("apps/v1", "Deployment");
  assert.deepEqual(at(deployment, "spec", "strategy"), { strategy: "retainKeys" });
  assert.equal(at(deployment, "spec", "template", "spec", "containers")?.mergeKey, "name");
  assert.equal(at(deployment, "spec", "template", "metadata", "finalizers")?.strategy, "merge");
  assert.equal(at(deployment, "status", "conditions")?.mergeKey, "type");
  const replicaSet = patchMetaFor("apps/v1", "ReplicaSet");
  assert.equal(at(replicaSet, "spec", "template", "spec", "volumes")?.mergeKey, "name");
  assert.equal(at(replicaSet, "status", "conditions")?.mergeKey, "type");
  const cronJob = patchMetaFor("batch/v1", "CronJob");
  assert.equal(
    at(cronJob, "spec", "jobTemplate", "spec", "template", "spec", "containers")?.mergeKey,
    "name",
  );
});

Deno.test("patchMetaFor() covers Service, Node and metadata-only kinds", () => {
  assert.equal(at(patchMetaFor("v1", "Service"), "spec", "ports")?.mergeKey, "port");
  const node = patchMetaFor("v1", "Node");
  assert.equal(at(node, "spec", "taints"), undefined);
  assert.deepEqual(at(node, "spec", "podCIDRs"), { strategy: "merge" });
  assert.equal(at(node, "status", "conditions")?.mergeKey, "type");
  assert.equal(at(node, "status", "addresses")?.mergeKey, "type");
  assert.equal(at(patchMetaFor("v1", "Endpoints"), "subsets"), undefined);
  const slice = patchMetaFor("discovery.k8s.io/v1", "EndpointSlice");
  assert.equal(at(slice, "endpoints"), undefined);
  assert.equal(at(slice, "ports"), undefined);
  for (
    const [apiVersion, kind] of [
      ["v1", "ConfigMap"],
      ["v1", "Secret"],
      ["v1", "Namespace"],
      ["v1", "Event"],
      ["events.k8s.io/v1", "Event"],
      ["coordination.k8s.io/v1", "Lease"],
      ["discovery.k8s.io/v1", "EndpointSlice"],
    ]
  ) {
    assert.equal(
      at(patchMetaFor(apiVersion!, kind!), "metadata", "finalizers")?.strategy,
      "merge",
      `${apiVersion} ${kind}`,
    );
  }
});

Deno.test("patchMetaFor() returns empty meta for unknown kinds and versions", () => {
  assert.deepEqual(patchMetaFor("example.com/v1", "Widget"), {});
  assert.deepEqual(patchMetaFor("apps/v1beta1", "Deployment"), {});
  assert.deepEqual(patchMetaFor("v1", "constructor"), {});
});
