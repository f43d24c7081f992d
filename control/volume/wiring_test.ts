import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
} from "../../storage/persistent_volumes.ts";
import { findKind } from "../../storage/registry.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { ControllerManager } from "../controller_manager.ts";
import { startControlPlane } from "../server.ts";
import { claim, manifest, storageClass, volume } from "./_testing.ts";
import { registerStorageAdmission } from "./admission.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const VOLUME = findKind("v1", "PersistentVolume")!;
const CLAIM = findKind("v1", "PersistentVolumeClaim")!;
const CLASS = findKind("storage.k8s.io/v1", "StorageClass")!;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function phase(obj: KubeObject | null): string | undefined {
  return (obj?.status as { phase?: string } | undefined)?.phase;
}

Deno.test("ControllerManager runs the binder and the protection controller", async () => {
  const store = await storeWithNamespaces("default");
  const unregister = registerStorageAdmission(store);
  const objects = new Objects(store);
  const manager = new ControllerManager({ store });
  try {
    await manager.start();
    await objects.create(
      CLASS,
      undefined,
      storageClass("manual", "kubernetes.io/no-provisioner"),
      WRITE,
    );
    await objects.create(
      VOLUME,
      undefined,
      manifest(volume("v", { storageClass: "manual" })),
      WRITE,
    );
    await objects.create(
      CLAIM,
      "default",
      manifest(claim("data", { storageClass: "manual" })),
      WRITE,
    );
    const bound = await eventually("the claim Bound", async () => {
      const c = await objects.get(CLAIM, "default", "data");
      return phase(c) === "Bound" ? c : undefined;
    });
    assert.deepEqual(bound.metadata.finalizers, [PVC_PROTECTION_FINALIZER]);
    await objects.delete(CLAIM, "default", "data", { dryRun: false });
    await eventually(
      "the claim gone",
      async () => (await store.get("/core/persistentvolumeclaims/default/data")) ? undefined : true,
    );
    const released = await eventually("the volume Released", async () => {
      const v = await objects.get(VOLUME, undefined, "v");
      return phase(v) === "Released" ? v : undefined;
    });
    assert.deepEqual(released.metadata.finalizers, [PV_PROTECTION_FINALIZER]);
  } finally {
    await manager.stop();
    unregister();
    await store.close();
  }
});

Deno.test("startControlPlane() makes the default StorageClass and admits claims", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-storage-boot-test-" });
  try {
    const cp = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
    const client = Deno.createHttpClient({ caCerts: [cp.caCert] });
    const headers = { authorization: `Bearer ${cp.token}`, "content-type": "application/json" };
    try {
      const sc = await fetch(`${cp.url}/apis/storage.k8s.io/v1/storageclasses/local-path`, {
        client,
        headers,
      });
      assert.equal(sc.status, 200);
      const body = await sc.json();
      assert.equal(body.provisioner, "edge.io/local-path");
      assert.equal(body.volumeBindingMode, "WaitForFirstConsumer");
      assert.equal(
        body.metadata.annotations["storageclass.kubernetes.io/is-default-class"],
        "true",
      );
      const res = await fetch(`${cp.url}/api/v1/namespaces/default/persistentvolumeclaims`, {
        client,
        method: "POST",
        headers,
        body: JSON.stringify(manifest(claim("data"))),
      });
      assert.equal(res.status, 201);
      const created = await res.json();
      assert.equal(created.spec.storageClassName, "local-path");
      assert.deepEqual(created.metadata.finalizers, [PVC_PROTECTION_FINALIZER]);
    } finally {
      client.close();
      await cp.stop();
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
