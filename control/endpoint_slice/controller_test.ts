import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { Informer } from "../informer.ts";
import { byMirrorKey, EndpointSliceMirrorController, SLICE_MIRROR_INDEX } from "./controller.ts";
import { MANAGED_BY_LABEL, SERVICE_NAME_LABEL } from "./mirror.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MERGE = "application/merge-patch+json";
const SERVICE = findKind("v1", "Service")!;
const ENDPOINTS = findKind("v1", "Endpoints")!;
const SLICE = findKind("discovery.k8s.io/v1", "EndpointSlice")!;
const EVENT = findKind("v1", "Event")!;

interface Rig {
  store: Store;
  objects: Objects;
  controller: EndpointSliceMirrorController;
  /** waits until the informers have seen everything written so far */
  synced(): Promise<void>;
  /** synced, then one reconcile of `default/web` */
  sync(): Promise<void>;
  /** the stored EndpointSlices of namespace `default`, by name */
  slices(): Promise<KubeObject[]>;
  close(): Promise<void>;
}

/** A controller over an in-memory store with real informers; the worker is not started. */
async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const endpoints = new Informer({ store, prefix: storePrefix(ENDPOINTS), name: "endpoints" });
  const services = new Informer({ store, prefix: storePrefix(SERVICE), name: "services" });
  const slices = new Informer({ store, prefix: storePrefix(SLICE), name: "endpointslices" });
  slices.addIndex(SLICE_MIRROR_INDEX, byMirrorKey);
  const informers: Array<[Informer, ResourceType]> = [
    [endpoints, ENDPOINTS],
    [services, SERVICE],
    [slices, SLICE],
  ];
  const events = new EventRecorder({ store, component: "endpointslice-mirroring", clock });
  const controller = new EndpointSliceMirrorController({
    store,
    endpoints,
    services,
    slices,
    events,
    clock,
    retryMs: 20,
  });
  await Promise.all(informers.map(([i]) => i.start()));
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const synced = async () => {
    for (let i = 0; i < 400; i++) {
      let caughtUp = true;
      for (const [informer, rt] of informers) {
        const stored = (await store.list(storePrefix(rt))).items;
        if (versions(informer.list()) !== versions(stored)) caughtUp = false;
      }
      if (caughtUp) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  return {
    store,
    objects,
    controller,
    synced,
    async sync() {
      await synced();
      await controller.reconcile("default/web");
    },
    async slices() {
      const { items } = await store.list(storePrefix(SLICE, "default"));
      return items.sort((a, b) => a.metadata.name! < b.metadata.name! ? -1 : 1);
    },
    async close() {
      await controller.stop();
      await Promise.all(informers.map(([i]) => i.stop()));
      await store.close();
    },
  };
}

function service(name = "web"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default" },
    spec: { clusterIP: "10.96.0.20", ports: [{ name: "http", port: 80 }] },
  };
}

function endpoints(subsets: unknown[], name = "web"): KubeObject {
  return { apiVersion: "v1", kind: "Endpoints", metadata: { name, namespace: "default" }, subsets };
}

function subset(ready: string[], notReady: string[] = [], port = 8080): unknown {
  return {
    addresses: ready.map((ip) => ({ ip })),
    notReadyAddresses: notReady.map((ip) => ({ ip })),
    ports: [{ name: "http", port, protocol: "TCP" }],
  };
}

/** `ip:ready` of every endpoint of the slices, sorted. */
function endpointsOf(slices: KubeObject[]): string[] {
  return slices.flatMap((s) =>
    (s.endpoints as Array<{ addresses: string[]; conditions: { ready?: boolean } }>)
      .map((e) => `${e.addresses[0]}:${e.conditions.ready}`)
  ).sort();
}

function portsOf(slices: KubeObject[]): number[] {
  return slices.flatMap((s) => (s.ports as Array<{ port: number }>).map((p) => p.port)).sort();
}

Deno.test("EndpointSliceMirrorController.reconcile() mirrors the Endpoints and writes nothing more while nothing changes", async () => {
  const r = await rig();
  try {
    const { object: svc } = await r.objects.create(SERVICE, "default", service(), WRITE);
    await r.objects.create(
      ENDPOINTS,
      "default",
      endpoints([subset(["10.244.0.8"], ["10.244.0.9"])]),
      WRITE,
    );
    await r.sync();
    const slices = await r.slices();
    assert.equal(slices.length, 1);
    const [slice] = slices;
    assert.match(slice!.metadata.name!, /^web-.{5}$/);
    assert.equal(slice!.metadata.labels?.[SERVICE_NAME_LABEL], "web");
    assert.equal(slice!.metadata.labels?.[MANAGED_BY_LABEL], "endpointslice-mirror.edge");
    assert.deepEqual(slice!.metadata.ownerReferences, [{
      apiVersion: "v1",
      kind: "Service",
      name: "web",
      uid: svc.metadata.uid,
      controller: true,
      blockOwnerDeletion: true,
    }]);
    assert.equal(slice!.addressType, "IPv4");
    assert.deepEqual(endpointsOf(slices), ["10.244.0.8:true", "10.244.0.9:false"]);

    const revision = r.store.revision();
    for (let i = 0; i < 3; i++) await r.sync();
    assert.equal(r.store.revision(), revision, "no write");
  } finally {
    await r.close();
  }
});

Deno.test("EndpointSliceMirrorController.reconcile() follows the Endpoints: addresses, a new port set, deletion", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", service(), WRITE);
    await r.objects.create(ENDPOINTS, "default", endpoints([subset(["10.244.0.8"])]), WRITE);
    await r.sync();
    const [first] = await r.slices();

    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      subsets: [subset(["10.244.0.8", "10.244.0.10"], ["10.244.0.9"])],
    }, WRITE);
    await r.sync();
    const updated = await r.slices();
    assert.deepEqual(updated.map((s) => s.metadata.name), [first!.metadata.name]);
    assert.equal(updated[0]!.metadata.uid, first!.metadata.uid, "updated in place");
    assert.deepEqual(endpointsOf(updated), [
      "10.244.0.10:true",
      "10.244.0.8:true",
      "10.244.0.9:false",
    ]);

    // the pods moved to another port: a new slice replaces the old one
    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      subsets: [subset(["10.244.0.8"], [], 9090), subset(["10.244.0.11"], [], 8080)],
    }, WRITE);
    await r.sync();
    const moved = await r.slices();
    assert.equal(moved.length, 2);
    assert.deepEqual(portsOf(moved), [8080, 9090]);
    assert.ok(moved.some((s) => s.metadata.name === first!.metadata.name), "8080 kept its name");
    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      subsets: [subset(["10.244.0.8"], [], 9090)],
    }, WRITE);
    await r.sync();
    assert.deepEqual(portsOf(await r.slices()), [9090]);

    await r.objects.delete(ENDPOINTS, "default", "web", { dryRun: false });
    await r.sync();
    assert.deepEqual(await r.slices(), []);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointSliceMirrorController.reconcile() mirrors only while the Service exists, not being deleted, and not when told to skip", async () => {
  const r = await rig();
  try {
    await r.objects.create(ENDPOINTS, "default", endpoints([subset(["10.244.0.8"])]), WRITE);
    await r.sync();
    assert.deepEqual(await r.slices(), [], "no Service, no slices");
    await r.objects.create(SERVICE, "default", service(), WRITE);
    await r.sync();
    assert.equal((await r.slices()).length, 1);

    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      metadata: { labels: { "endpointslice.kubernetes.io/skip-mirror": "true" } },
    }, WRITE);
    await r.sync();
    assert.deepEqual(await r.slices(), [], "skip-mirror removes them");
    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      metadata: { labels: { "endpointslice.kubernetes.io/skip-mirror": null } },
    }, WRITE);
    await r.sync();
    assert.equal((await r.slices()).length, 1);

    // a Service held by a finalizer while it is deleted already counts as gone
    await r.objects.patch(SERVICE, "default", "web", MERGE, {
      metadata: { finalizers: ["example.com/hold"] },
    }, WRITE);
    await r.objects.delete(SERVICE, "default", "web", { dryRun: false });
    assert.ok((await r.objects.get(SERVICE, "default", "web")).metadata.deletionTimestamp);
    await r.sync();
    assert.deepEqual(await r.slices(), []);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointSliceMirrorController.reconcile() leaves other managers' slices alone and reports a name they hold", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", service(), WRITE);
    await r.objects.create(ENDPOINTS, "default", endpoints([subset(["10.244.0.8"])]), WRITE);
    await r.sync();
    const [mirrored] = await r.slices();
    const foreign = (name: string): KubeObject => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace: "default",
        labels: { [SERVICE_NAME_LABEL]: "web", [MANAGED_BY_LABEL]: "someone-else" },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["10.244.0.99"] }],
    });
    await r.objects.create(SLICE, "default", foreign("web-by-hand"), WRITE);
    await r.sync();
    assert.deepEqual(
      (await r.slices()).map((s) => s.metadata.name).sort(),
      [
        "web-by-hand",
        mirrored!.metadata.name,
      ].sort(),
    );

    // another manager takes the mirrored slice's name
    await r.objects.delete(SLICE, "default", mirrored!.metadata.name!, { dryRun: false });
    await r.objects.create(SLICE, "default", foreign(mirrored!.metadata.name!), WRITE);
    await r.synced();
    await assert.rejects(() => r.controller.reconcile("default/web"), /managed by someone-else/);
    const stored = await r.objects.get(SLICE, "default", mirrored!.metadata.name!);
    assert.equal(stored.metadata.labels?.[MANAGED_BY_LABEL], "someone-else", "not overwritten");
    for (let i = 0; i < 100; i++) {
      const { items } = await r.store.list(storePrefix(EVENT, "default"));
      if (items.some((e) => e.reason === "FailedToUpdateEndpointSlices")) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    assert.fail("no FailedToUpdateEndpointSlices event");
  } finally {
    await r.close();
  }
});

Deno.test("EndpointSliceMirrorController converges from informer events alone and puts back edited slices", async () => {
  const r = await rig();
  const waitFor = async (what: string, ok: (slices: KubeObject[]) => boolean) => {
    for (let i = 0; i < 500; i++) {
      if (ok(await r.slices())) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await r.slices())}`);
  };
  try {
    r.controller.start();
    await r.objects.create(SERVICE, "default", service(), WRITE);
    await r.objects.create(ENDPOINTS, "default", endpoints([subset(["10.244.0.8"])]), WRITE);
    await waitFor("mirrored", (s) => endpointsOf(s).join() === "10.244.0.8:true");
    const name = (await r.slices())[0]!.metadata.name!;

    await r.objects.patch(SLICE, "default", name, MERGE, { endpoints: null }, WRITE);
    await waitFor("put back", (s) => endpointsOf(s).join() === "10.244.0.8:true");
    await r.objects.delete(SLICE, "default", name, { dryRun: false });
    await waitFor("recreated", (s) => endpointsOf(s).join() === "10.244.0.8:true");

    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, {
      subsets: [subset([], ["10.244.0.8"])],
    }, WRITE);
    await waitFor("not ready", (s) => endpointsOf(s).join() === "10.244.0.8:false");

    await r.objects.delete(SERVICE, "default", "web", { dryRun: false });
    await waitFor("deleted with the service", (s) => s.length === 0);
  } finally {
    await r.close();
  }
});
