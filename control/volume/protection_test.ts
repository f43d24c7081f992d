import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import { PVC_PROTECTION_FINALIZER } from "../../storage/persistent_volumes.ts";
import { claim } from "./_testing.ts";
import { claimInUse, heldBy, podMayRun, withoutFinalizer } from "./protection.ts";

function pod(
  name: string,
  claims: string[],
  f: { nodeName?: string; phase?: string; namespace?: string } = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: f.namespace ?? "default" },
    spec: {
      ...(f.nodeName === "" ? {} : { nodeName: f.nodeName ?? "edge-1" }),
      containers: [{ name: "c", image: "localhost/edge-test:1" }],
      volumes: [
        { name: "scratch", emptyDir: {} },
        ...claims.map((c, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: c } })),
      ],
    },
    status: { phase: f.phase ?? "Running" },
  };
}

Deno.test("podMayRun() is true for scheduled pods that have not finished", () => {
  assert.ok(podMayRun(pod("p", [])));
  assert.ok(podMayRun(pod("p", [], { phase: "Pending" })));
  assert.ok(!podMayRun(pod("p", [], { phase: "Succeeded" })));
  assert.ok(!podMayRun(pod("p", [], { phase: "Failed" })));
  assert.ok(!podMayRun(pod("p", [], { nodeName: "" })), "not scheduled");
});

Deno.test("claimInUse() looks for a running pod of the claim's namespace naming it", () => {
  const c = claim("data");
  assert.ok(claimInUse(c, [pod("a", ["other"]), pod("b", ["other", "data"])]));
  assert.ok(!claimInUse(c, [pod("a", ["other"])]));
  assert.ok(!claimInUse(c, [pod("a", ["data"], { namespace: "elsewhere" })]));
  assert.ok(!claimInUse(c, [pod("a", ["data"], { phase: "Succeeded" })]));
  assert.ok(!claimInUse(c, [pod("a", ["data"], { nodeName: "" })]));
  assert.ok(!claimInUse(c, []));
});

Deno.test("heldBy() and withoutFinalizer() follow a finalizer of an object being deleted", () => {
  const c = claim("data");
  c.metadata.finalizers = ["example.com/keep", PVC_PROTECTION_FINALIZER];
  assert.ok(!heldBy(c, PVC_PROTECTION_FINALIZER), "not being deleted");
  c.metadata.deletionTimestamp = "2026-11-22T10:00:00Z";
  assert.ok(heldBy(c, PVC_PROTECTION_FINALIZER));
  const next = withoutFinalizer(c, PVC_PROTECTION_FINALIZER);
  assert.deepEqual(next.metadata.finalizers, ["example.com/keep"]);
  assert.deepEqual(c.metadata.finalizers, ["example.com/keep", PVC_PROTECTION_FINALIZER]);
  assert.ok(!heldBy(next, PVC_PROTECTION_FINALIZER));
  assert.equal(withoutFinalizer(next, "example.com/keep").metadata.finalizers, undefined);
});
