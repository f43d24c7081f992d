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
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import { EndpointsController, SERVICE_NAMESPACE_INDEX } from "./controller.ts";
import type { EndpointSubset } from "./endpoints.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MERGE = "application/merge-patch+json";
const POD = findKind("v1", "Pod")!;
const SERVICE = findKind("v1", "Service")!;
const ENDPOINTS = findKind("v1", "Endpoints")!;

interface Rig {
  store: Store;
  objects: Objects;
  controller: EndpointsController;
  /** waits until the informers have seen everything written so far */
  synced(): Promise<void>;
  /** synced, then one reconcile of `default/web` */
  sync(): Promise<void>;
  /** the stored `default/web` Endpoints, if any */
  endpoints(name?: string): Promise<KubeObject | null>;
  close(): Promise<void>;
}

/** A controller over an in-memory store with real informers; the worker is not started. */
async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const objects = new Objects(store);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const pods = new Informer({ store, prefix: storePrefix(POD), name: "pods" });
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? ""]);
  const services = new Informer({ store, prefix: storePrefix(SERVICE), name: "services" });
  services.addIndex(SERVICE_NAMESPACE_INDEX, (s) => [s.metadata.namespace ?? ""]);
  const endpoints = new Informer({ store, prefix: storePrefix(ENDPOINTS), name: "endpoints" });
  const informers = [pods, services, endpoints];
  const events = new EventRecorder({ store, component: "endpoint-controller", clock });
  const controller = new EndpointsController({ store, services, pods, endpoints, events, clock });
  await Promise.all(informers.map((i) => i.start()));
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const caughtUp = async (informer: Informer, rt: typeof POD) =>
    versions(informer.list()) === versions((await store.list(storePrefix(rt))).items);
  const synced = async () => {
    for (let i = 0; i < 400; i++) {
      if (
        await caughtUp(pods, POD) && await caughtUp(services, SERVICE) &&
        await caughtUp(endpoints, ENDPOINTS)
      ) return;
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
    endpoints: (name = "web") => store.get(`${storePrefix(ENDPOINTS)}default/${name}`),
    async close() {
      await controller.stop();
      await Promise.all(informers.map((i) => i.stop()));
      await store.close();
    },
  };
}

function serviceManifest(selector: Record<string, string> | undefined, name = "web"): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name, namespace: "default", labels: { team: "a" } },
    spec: {
      clusterIP: "10.96.0.20",
      ...(selector ? { selector } : {}),
      ports: [{ name: "http", port: 80, targetPort: "http" }],
    },
  };
}

/** Creates a bound pod labelled `labels`, then gives it `ip` and readiness via status. */
async function addPod(
  r: Rig,
  name: string,
  ip: string,
  ready: boolean,
  labels: Record<string, string> = { app: "web" },
): Promise<void> {
  await r.objects.create(POD, "default", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", labels },
    spec: {
      nodeName: "edge-1",
      containers: [{
        name: "c",
        image: "localhost/edge-test:1",
        ports: [{ name: "http", containerPort: 8080 }],
      }],
    },
  }, WRITE);
  await r.objects.patch(POD, "default", name, MERGE, {
    status: { phase: "Running", podIP: ip, podIPs: [{ ip }] },
  }, { ...WRITE, subresource: "status" });
  await setReady(r, name, ready);
}

async function setReady(r: Rig, name: string, ready: boolean): Promise<void> {
  await r.objects.patch(POD, "default", name, MERGE, {
    status: { conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  }, { ...WRITE, subresource: "status" });
}

/** `ready` and `notReady` IPs of an Endpoints object's subsets. */
function ips(ep: KubeObject | null): { ready: string[]; notReady: string[] } {
  const subsets = (ep?.subsets ?? []) as EndpointSubset[];
  return {
    ready: subsets.flatMap((s) => s.addresses ?? []).map((a) => a.ip).sort(),
    notReady: subsets.flatMap((s) => s.notReadyAddresses ?? []).map((a) => a.ip).sort(),
  };
}

Deno.test("EndpointsController.reconcile() creates the Endpoints and writes nothing more while nothing changes", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await addPod(r, "b", "10.244.0.9", false);
    await r.sync();
    const ep = await r.endpoints();
    assert.ok(ep, "created");
    assert.deepEqual(ep.metadata.labels, { team: "a" });
    assert.deepEqual(ep.subsets, [{
      addresses: [{
        ip: "10.244.0.8",
        nodeName: "edge-1",
        targetRef: {
          kind: "Pod",
          namespace: "default",
          name: "a",
          uid: (await r.objects.get(POD, "default", "a")).metadata.uid,
        },
      }],
      notReadyAddresses: [{
        ip: "10.244.0.9",
        nodeName: "edge-1",
        targetRef: {
          kind: "Pod",
          namespace: "default",
          name: "b",
          uid: (await r.objects.get(POD, "default", "b")).metadata.uid,
        },
      }],
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    }]);

    await r.sync();
    const revision = r.store.revision();
    for (let i = 0; i < 3; i++) await r.sync();
    // a pod change Endpoints do not show
    await r.objects.patch(POD, "default", "a", MERGE, {
      metadata: { annotations: { note: "x" } },
    }, WRITE);
    const afterAnnotation = r.store.revision();
    await r.sync();
    assert.equal(revision + 1, afterAnnotation, "only the annotation was written");
    assert.equal(r.store.revision(), afterAnnotation, "no Endpoints write");
    assert.equal((await r.endpoints())?.metadata.resourceVersion, ep.metadata.resourceVersion);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController.reconcile() moves an address between ready and not ready as readiness flips", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), { ready: ["10.244.0.8"], notReady: [] });
    await setReady(r, "a", false);
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), { ready: [], notReady: ["10.244.0.8"] });
    await setReady(r, "a", true);
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), { ready: ["10.244.0.8"], notReady: [] });
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController.reconcile() follows pods as they come, terminate and go", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await r.sync();
    const empty = await r.endpoints();
    assert.ok(empty, "a service without pods gets an empty Endpoints object");
    assert.equal(empty.subsets, undefined);
    await addPod(r, "a", "10.244.0.8", true);
    await addPod(r, "b", "10.244.0.9", true);
    await addPod(r, "other", "10.244.0.10", true, { app: "db" });
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), {
      ready: ["10.244.0.8", "10.244.0.9"],
      notReady: [],
    });

    // graceful deletion: terminating, the pod leaves at once
    await r.objects.delete(POD, "default", "a", { dryRun: false });
    assert.ok((await r.objects.get(POD, "default", "a")).metadata.deletionTimestamp);
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), { ready: ["10.244.0.9"], notReady: [] });

    await r.objects.delete(POD, "default", "b", { dryRun: false, gracePeriodSeconds: 0 });
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()), { ready: [], notReady: [] });
    assert.equal((await r.endpoints())?.subsets, undefined);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController.reconcile() follows a selector change", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await addPod(r, "b", "10.244.0.9", true, { app: "web2" });
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()).ready, ["10.244.0.8"]);
    await r.objects.patch(SERVICE, "default", "web", MERGE, {
      spec: { selector: { app: "web2" } },
    }, WRITE);
    await r.sync();
    assert.deepEqual(ips(await r.endpoints()).ready, ["10.244.0.9"]);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController.reconcile() deletes the Endpoints of a deleted service and no others", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await r.sync();
    assert.ok(await r.endpoints());
    // written by hand: one for a selector-less service, one without any service
    await r.objects.create(SERVICE, "default", serviceManifest(undefined, "manual"), WRITE);
    const manual = (name: string): KubeObject => ({
      apiVersion: "v1",
      kind: "Endpoints",
      metadata: { name, namespace: "default" },
      subsets: [{ addresses: [{ ip: "192.0.2.1" }], ports: [{ port: 80, protocol: "TCP" }] }],
    });
    await r.objects.create(ENDPOINTS, "default", manual("manual"), WRITE);
    await r.objects.create(ENDPOINTS, "default", manual("lonely"), WRITE);
    await r.synced();
    await r.controller.reconcile("default/manual");
    assert.deepEqual(ips(await r.endpoints("manual")).ready, ["192.0.2.1"], "not managed");

    await r.objects.delete(SERVICE, "default", "web", { dryRun: false });
    await r.sync();
    assert.equal(await r.endpoints(), null);
    assert.ok(await r.endpoints("lonely"), "Endpoints without a service are not ours");
    await r.sync(); // again: nothing left to delete
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController.reconcile() leaves ExternalName services without Endpoints", async () => {
  const r = await rig();
  try {
    await r.objects.create(SERVICE, "default", {
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "web", namespace: "default" },
      spec: { type: "ExternalName", externalName: "example.com", selector: { app: "web" } },
    }, WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await r.sync();
    assert.equal(await r.endpoints(), null);
  } finally {
    await r.close();
  }
});

Deno.test("EndpointsController converges from informer events alone and puts back edited Endpoints", async () => {
  const r = await rig();
  const waitFor = async (what: string, ok: (ep: KubeObject | null) => boolean) => {
    for (let i = 0; i < 500; i++) {
      if (ok(await r.endpoints())) return;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    throw new Error(`timed out waiting for ${what}: ${JSON.stringify(await r.endpoints())}`);
  };
  try {
    r.controller.start();
    await r.objects.create(SERVICE, "default", serviceManifest({ app: "web" }), WRITE);
    await addPod(r, "a", "10.244.0.8", true);
    await addPod(r, "b", "10.244.0.9", true);
    await waitFor("two ready", (ep) => ips(ep).ready.length === 2);
    await setReady(r, "b", false);
    await waitFor("b not ready", (ep) => ips(ep).notReady[0] === "10.244.0.9");
    await r.objects.patch(
      POD,
      "default",
      "a",
      MERGE,
      { metadata: { labels: { app: "x" } } },
      WRITE,
    );
    await waitFor("a unselected", (ep) => ips(ep).ready.length === 0);

    await r.objects.patch(ENDPOINTS, "default", "web", MERGE, { subsets: null }, WRITE);
    await waitFor("put back", (ep) => ips(ep).notReady.length === 1);
    await r.objects.delete(ENDPOINTS, "default", "web", { dryRun: false });
    await waitFor("recreated", (ep) => ips(ep).notReady.length === 1);

    await r.objects.delete(SERVICE, "default", "web", { dryRun: false });
    await waitFor("deleted with the service", (ep) => ep === null);
  } finally {
    await r.close();
  }
});
