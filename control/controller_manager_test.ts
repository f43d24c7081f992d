import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { Objects } from "./api/objects.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { ControllerManager } from "./controller_manager.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const STATUS = { ...WRITE, subresource: "status" } as const;
const MERGE = "application/merge-patch+json";
const NODE = findKind("v1", "Node")!;
const POD = findKind("v1", "Pod")!;
const SERVICE = findKind("v1", "Service")!;

/** Polls `read` until `ok` holds (at most 5 s), returning the last value. */
async function eventually<T>(read: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let value = await read();
  for (let i = 0; i < 500 && !ok(value); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    value = await read();
  }
  return value;
}

Deno.test("ControllerManager runs the endpoints, EndpointSlice mirroring and LoadBalancer status controllers on shared informers", async () => {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const manager = new ControllerManager({ store });
  try {
    await objects.create(NODE, undefined, {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "edge-1" },
    }, WRITE);
    await objects.patch(NODE, undefined, "edge-1", MERGE, {
      status: {
        conditions: [{ type: "Ready", status: "True" }],
        addresses: [{ type: "InternalIP", address: "192.168.1.9" }],
      },
    }, STATUS);
    await objects.create(POD, "default", {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "web-1", namespace: "default", labels: { app: "web" } },
      spec: { nodeName: "edge-1", containers: [{ name: "c", image: "localhost/edge-test:1" }] },
    }, WRITE);
    await objects.patch(POD, "default", "web-1", MERGE, {
      status: {
        phase: "Running",
        podIP: "10.244.0.8",
        podIPs: [{ ip: "10.244.0.8" }],
        conditions: [{ type: "Ready", status: "True" }],
      },
    }, STATUS);
    await manager.start();
    await objects.create(SERVICE, "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "default" },
      spec: { type: "LoadBalancer", selector: { app: "web" }, ports: [{ port: 80 }] },
    }, WRITE);

    const ep = await eventually(
      () => store.get("/core/endpoints/default/web"),
      (e) => e !== null && e.subsets !== undefined,
    );
    const subsets = ep?.subsets as
      | Array<{ addresses?: Array<{ ip: string; targetRef?: unknown }> }>
      | undefined;
    assert.equal(subsets?.[0]?.addresses?.[0]?.ip, "10.244.0.8");
    const slices = () => store.list("/discovery.k8s.io/endpointslices/default/");
    const mirrored = await eventually(slices, ({ items }) => items.length === 1);
    assert.deepEqual(mirrored.items[0]?.endpoints, [{
      addresses: ["10.244.0.8"],
      conditions: { ready: true, serving: true, terminating: false },
      nodeName: "edge-1",
      targetRef: subsets?.[0]?.addresses?.[0]?.targetRef,
    }]);
    const svc = await eventually(
      () => objects.get(SERVICE, "default", "web"),
      (s: KubeObject) => JSON.stringify(s.status).includes("192.168.1.9"),
    );
    assert.deepEqual(svc.status, { loadBalancer: { ingress: [{ ip: "192.168.1.9" }] } });

    await objects.delete(SERVICE, "default", "web", { dryRun: false });
    assert.equal(
      await eventually(() => store.get("/core/endpoints/default/web"), (e) => e === null),
      null,
    );
    assert.deepEqual((await eventually(slices, ({ items }) => items.length === 0)).items, []);
  } finally {
    await manager.stop();
    await store.close();
  }
});
