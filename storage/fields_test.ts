import assert from "node:assert/strict";
import { fieldValue, matchesFieldSelector, parseFieldSelector } from "./fields.ts";
import { events } from "./kinds/event.ts";
import { nodes } from "./kinds/node.ts";
import { pods } from "./kinds/pod.ts";
import { replicaSets } from "./kinds/replica_set.ts";
import { secrets } from "./kinds/secret.ts";
import type { KubeObject } from "./object.ts";
import { ApiError } from "./status.ts";

const pod: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web-1", namespace: "default" },
  spec: { nodeName: "edge-1", restartPolicy: "Always", hostNetwork: true, containers: [] },
  status: { phase: "Running", podIPs: [{ ip: "10.0.0.5" }] },
};

Deno.test("parseFieldSelector() parses =, == and != terms", () => {
  assert.deepEqual(
    parseFieldSelector("metadata.name=web-1,status.phase!=Failed,spec.nodeName==edge-1", pods),
    [
      { field: "metadata.name", operator: "=", value: "web-1" },
      { field: "status.phase", operator: "!=", value: "Failed" },
      { field: "spec.nodeName", operator: "==", value: "edge-1" },
    ],
  );
  assert.deepEqual(parseFieldSelector("", pods), []);
});

Deno.test("parseFieldSelector() unescapes values", () => {
  assert.deepEqual(parseFieldSelector("metadata.name=a\\,b\\=c\\\\", pods), [
    { field: "metadata.name", operator: "=", value: "a,b=c\\" },
  ]);
});

Deno.test("parseFieldSelector() rejects unsupported keys and malformed terms", () => {
  assert.throws(
    () => parseFieldSelector("spec.foo=x", pods),
    (e) =>
      e instanceof ApiError && e.code === 400 &&
      e.message === "field label not supported: spec.foo",
  );
  assert.throws(
    () => parseFieldSelector("spec.nodeName", pods),
    (e) =>
      e instanceof ApiError &&
      e.message === "invalid selector: 'spec.nodeName'; can't understand 'spec.nodeName'",
  );
  assert.throws(() => parseFieldSelector("type=Opaque", pods), ApiError);
  assert.deepEqual(parseFieldSelector("type=Opaque", secrets)[0]?.value, "Opaque");
});

Deno.test("matchesFieldSelector() compares pod fields, absent ones as empty", () => {
  const match = (s: string) => matchesFieldSelector(parseFieldSelector(s, pods), pods, pod);
  assert.equal(match("spec.nodeName=edge-1"), true);
  assert.equal(match("spec.nodeName=edge-2"), false);
  assert.equal(match("spec.nodeName!=edge-2,status.phase=Running"), true);
  assert.equal(match("status.podIP=10.0.0.5"), true);
  assert.equal(match("spec.hostNetwork=true"), true);
  assert.equal(match("status.nominatedNodeName="), true);
  assert.equal(match("metadata.namespace=default,metadata.name=web-1"), true);
});

Deno.test("fieldValue() serves the per-kind keys", () => {
  const ev: KubeObject = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "e" },
    involvedObject: { kind: "Pod", name: "web-1" },
    source: { component: "kubelet" },
    type: "Warning",
  };
  assert.equal(fieldValue(events, ev, "involvedObject.kind"), "Pod");
  assert.equal(fieldValue(events, ev, "source"), "kubelet");
  assert.equal(fieldValue(events, ev, "type"), "Warning");
  const node: KubeObject = { apiVersion: "v1", kind: "Node", metadata: { name: "n" }, spec: {} };
  assert.equal(fieldValue(nodes, node, "spec.unschedulable"), "false");
  const rs: KubeObject = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: { name: "r" },
    status: { replicas: 3 },
  };
  assert.equal(fieldValue(replicaSets, rs, "status.replicas"), "3");
});
