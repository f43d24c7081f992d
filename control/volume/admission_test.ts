import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  ANN_BETA_STORAGE_CLASS,
  ANN_DEFAULT_CLASS,
  LOCAL_PATH_PROVISIONER,
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
} from "../../storage/persistent_volumes.ts";
import { findKind } from "../../storage/registry.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { claim, manifest, storageClass, volume } from "./_testing.ts";
import {
  defaultStorageClass,
  ensureDefaultStorageClass,
  registerStorageAdmission,
} from "./admission.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const CLAIM = findKind("v1", "PersistentVolumeClaim")!;
const VOLUME = findKind("v1", "PersistentVolume")!;
const CLASS = findKind("storage.k8s.io/v1", "StorageClass")!;
const DEFAULT = { [ANN_DEFAULT_CLASS]: "true" };

function created(name: string, at: string, annotations?: Record<string, string>): KubeObject {
  const sc = storageClass(name, LOCAL_PATH_PROVISIONER, "Immediate", annotations);
  sc.metadata.creationTimestamp = at;
  return sc;
}

Deno.test("defaultStorageClass() picks the newest default class, then the name first in order", () => {
  assert.equal(defaultStorageClass([]), undefined);
  assert.equal(defaultStorageClass([created("plain", "2026-01-01T00:00:00Z")]), undefined);
  const classes = [
    created("old", "2026-01-01T00:00:00Z", DEFAULT),
    created("new-b", "2026-02-01T00:00:00Z", DEFAULT),
    created("new-a", "2026-02-01T00:00:00Z", DEFAULT),
    created("newest-plain", "2026-03-01T00:00:00Z"),
    created("beta", "2026-01-15T00:00:00Z", {
      "storageclass.beta.kubernetes.io/is-default-class": "true",
    }),
  ];
  assert.equal(defaultStorageClass(classes)?.metadata.name, "new-a");
  assert.equal(defaultStorageClass(classes.reverse())?.metadata.name, "new-a");
  assert.equal(defaultStorageClass(classes.slice(0, 1))?.metadata.name, "beta");
});

async function withAdmission(fn: (objects: Objects) => Promise<void>): Promise<void> {
  const store = await storeWithNamespaces("default");
  const unregister = registerStorageAdmission(store);
  try {
    await fn(new Objects(store));
  } finally {
    unregister();
    await store.close();
  }
}

async function createClaim(objects: Objects, obj: KubeObject): Promise<KubeObject> {
  return (await objects.create(CLAIM, "default", manifest(obj), WRITE)).object;
}

function classOf(obj: KubeObject): unknown {
  return (obj.spec as { storageClassName?: string }).storageClassName;
}

Deno.test("registerStorageAdmission() gives a claim without a class the default class", async () => {
  await withAdmission(async (objects) => {
    assert.equal(classOf(await createClaim(objects, claim("before"))), undefined, "no default yet");
    assert.equal(await ensureDefaultStorageClass(objects), true);
    await objects.create(CLASS, undefined, storageClass("fast", "x.io/fast"), WRITE);
    const c = await createClaim(objects, claim("data"));
    assert.equal(classOf(c), "local-path");
    assert.equal(
      classOf(await createClaim(objects, claim("own", { storageClass: "fast" }))),
      "fast",
    );
    assert.equal(
      classOf(await createClaim(objects, claim("none", { storageClass: "" }))),
      "",
      'an explicit "" asks for a class-less volume',
    );
    const beta = await createClaim(
      objects,
      claim("beta", { annotations: { [ANN_BETA_STORAGE_CLASS]: "fast" } }),
    );
    assert.equal(classOf(beta), undefined, "the beta annotation names the class");
  });
});

Deno.test("registerStorageAdmission() adds the protection finalizers on create", async () => {
  await withAdmission(async (objects) => {
    const c = await createClaim(objects, claim("data", { storageClass: "" }));
    assert.deepEqual(c.metadata.finalizers, [PVC_PROTECTION_FINALIZER]);
    const own = claim("own", { storageClass: "" });
    own.metadata.finalizers = ["example.com/keep", PVC_PROTECTION_FINALIZER];
    assert.deepEqual((await createClaim(objects, own)).metadata.finalizers, [
      "example.com/keep",
      PVC_PROTECTION_FINALIZER,
    ]);
    const v = await objects.create(VOLUME, undefined, manifest(volume("v")), WRITE);
    assert.deepEqual(v.object.metadata.finalizers, [PV_PROTECTION_FINALIZER]);
    const dry = await objects.create(VOLUME, undefined, manifest(volume("w")), {
      ...WRITE,
      dryRun: true,
    });
    assert.deepEqual(dry.object.metadata.finalizers, [PV_PROTECTION_FINALIZER]);
  });
});

Deno.test("registerStorageAdmission() is undone by the function it returns", async () => {
  const store = await storeWithNamespaces("default");
  try {
    const objects = new Objects(store);
    const unregister = registerStorageAdmission(store);
    assert.throws(() => registerStorageAdmission(store), /second admission/);
    unregister();
    const c = await createClaim(objects, claim("data"));
    assert.equal(c.metadata.finalizers, undefined);
    registerStorageAdmission(store)();
  } finally {
    await store.close();
  }
});

Deno.test("ensureDefaultStorageClass() creates local-path once and never changes it", async () => {
  const store = await storeWithNamespaces("default");
  try {
    const objects = new Objects(store);
    assert.equal(await ensureDefaultStorageClass(objects), true);
    const sc = await objects.get(CLASS, undefined, "local-path");
    assert.equal(sc.provisioner, LOCAL_PATH_PROVISIONER);
    assert.equal(sc.reclaimPolicy, "Delete");
    assert.equal(sc.volumeBindingMode, "WaitForFirstConsumer");
    assert.deepEqual(sc.metadata.annotations, DEFAULT);
    await objects.patch(
      CLASS,
      undefined,
      "local-path",
      "application/merge-patch+json",
      { metadata: { annotations: { [ANN_DEFAULT_CLASS]: "false" } } },
      WRITE,
    );
    const revision = store.revision();
    assert.equal(await ensureDefaultStorageClass(objects), false);
    assert.equal(store.revision(), revision);
    const kept = await objects.get(CLASS, undefined, "local-path");
    assert.equal(kept.metadata.annotations?.[ANN_DEFAULT_CLASS], "false");
  } finally {
    await store.close();
  }
});
