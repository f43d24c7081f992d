import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { Informer } from "../informer.ts";
import { ServiceLoadBalancerController } from "./controller.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MERGE = "application/merge-patch+json";
const NODE = findKind("v1", "Node")!;
const SERVICE = findKind("v1", "Service")!;
const EVENT = findKind("v1", "Event")!;

interface Rig {
  store: Store;
  objects: Objects;
  controller: ServiceLoadBalancerController;
  /** synced informers, then one reconcile of `default/web` */
  sync(): Promise<void>;
  /** the stored ingress IPs of `default/web` */
  ingress(): Promise<string[]>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const services = new Informer({ store, prefix: storePrefix(SERVICE), name: "services" });
  const nodes = new Informer({ store, prefix: storePrefix(NODE), name: "nodes" });
  const events = new EventRecorder({ store, component: "service-lb-controller", clock });
  const controller = new ServiceLoadBalancerController({ store, services, nodes, events, clock });
  await Promise.all([services.start(), nodes.start()]);
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const caughtUp = async (informer: Informer, prefix: string) =>
    versions(informer.list()) === versions((await store.list(prefix)).items);
  const synced = async () => {
    for (let i = 0; i < 400; i++) {
      if (
        await caughtUp(services, storePrefix(SERVICE)) && await caughtUp(nodes, storePrefix(NODE))
      ) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  const ingress = async () => {
    const svc = await objects.get(SERVICE, "default", "web");
    const status = svc.status as { loadBalancer?: { ingress?: Array<{ ip: string }> } };
    return (status.loadBalancer?.ingress ?? []).map((i) => i.ip);
  };
  return {
    store,
    objects,
    controller,
    async sync() {
      await synced();
      await controller.reconcile("default/web");
    },
    ingress,
    async close() {
      await controller.stop();
      await Promise.all([services.stop(), nodes.stop()]);
      await store.close();
    },
  };
}

/** The Events, once there are `count` (they are written in the background). */
async function eventsAfterWrite(r: Rig, count: number): Promise<KubeObject[]> {
  for (let i = 0; i < 400; i++) {
    const events = (await r.store.list(storePrefix(EVENT))).items;
    if (events.length >= count) {
      return events.sort((a, b) =>
        Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`fewer than ${count} events`);
}

async function addNode(r: Rig, name: string, ip: string, ready = "True"): Promise<void> {
  await r.objects.create(NODE, undefined, {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
  }, WRITE);
  await setNodeStatus(r, name, ip, ready);
}

async function setNodeStatus(r: Rig, name: string, ip: string, ready: string): Promise<void> {
  await r.objects.patch(NODE, undefined, name, MERGE, {
    status: {
      conditions: [{ type: "Ready", status: ready }],
      addresses: [{ type: "InternalIP", address: ip }, { type: "Hostname", address: name }],
    },
  }, { ...WRITE, subresource: "status" });
}

async function addService(r: Rig, type: string): Promise<void> {
  await r.objects.create(SERVICE, "default", {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: "web", namespace: "default" },
    spec: { type, selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
  }, WRITE);
}

Deno.test("ServiceLoadBalancerController.reconcile() publishes Ready nodes' addresses once", async () => {
  const r = await rig();
  try {
    await addNode(r, "edge-2", "192.168.1.20");
    await addNode(r, "edge-1", "192.168.1.9");
    await addNode(r, "edge-3", "192.168.1.30", "Unknown");
    await addService(r, "LoadBalancer");
    await r.sync();
    assert.deepEqual(await r.ingress(), ["192.168.1.9", "192.168.1.20"]);
    const events = await eventsAfterWrite(r, 1);
    assert.deepEqual(events.map((e) => [e.reason, e.message]), [[
      "UpdatedIngressIP",
      "LoadBalancer Ingress IP addresses updated: 192.168.1.9, 192.168.1.20",
    ]]);
    await r.sync();
    const revision = r.store.revision();
    await r.sync();
    await r.sync();
    assert.equal(r.store.revision(), revision, "no write while nothing changes");
  } finally {
    await r.close();
  }
});

Deno.test("ServiceLoadBalancerController.reconcile() clears the ingress when the type changes away", async () => {
  const r = await rig();
  try {
    await addNode(r, "edge-1", "192.168.1.9");
    await addService(r, "LoadBalancer");
    await r.sync();
    assert.deepEqual(await r.ingress(), ["192.168.1.9"]);
    await r.objects.patch(SERVICE, "default", "web", MERGE, { spec: { type: "NodePort" } }, WRITE);
    await r.sync();
    assert.deepEqual(await r.ingress(), []);
    const events = await eventsAfterWrite(r, 2);
    assert.equal(events[1]?.message, "LoadBalancer Ingress IP addresses updated: <none>");
    const revision = r.store.revision();
    await r.sync();
    assert.equal(r.store.revision(), revision);
  } finally {
    await r.close();
  }
});

Deno.test("ServiceLoadBalancerController follows nodes as they come, change address, fail and go", async () => {
  const r = await rig();
  const waitFor = async (expected: string[]) => {
    let last: string[] = [];
    for (let i = 0; i < 500; i++) {
      last = await r.ingress();
      if (JSON.stringify(last) === JSON.stringify(expected)) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.deepEqual(last, expected);
  };
  try {
    r.controller.start();
    await addService(r, "LoadBalancer");
    await addNode(r, "edge-1", "192.168.1.9");
    await waitFor(["192.168.1.9"]);
    await addNode(r, "edge-2", "192.168.1.20");
    await waitFor(["192.168.1.9", "192.168.1.20"]);
    await setNodeStatus(r, "edge-2", "192.168.1.21", "True");
    await waitFor(["192.168.1.9", "192.168.1.21"]);
    await setNodeStatus(r, "edge-1", "192.168.1.9", "Unknown");
    await waitFor(["192.168.1.21"]);
    await r.objects.delete(NODE, undefined, "edge-2", { dryRun: false });
    await waitFor([]);
  } finally {
    await r.close();
  }
});
