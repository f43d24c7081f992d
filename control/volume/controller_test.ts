import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import {
  ANN_BIND_COMPLETED,
  ANN_BOUND_BY_CONTROLLER,
  ANN_PROVISIONED_BY,
  ANN_SELECTED_NODE,
  ANN_STORAGE_PROVISIONER,
  LOCAL_PATH_PROVISIONER,
  NO_PROVISIONER,
  phaseOf,
  provisionedVolumeName,
  PV_PROTECTION_FINALIZER,
  PVC_PROTECTION_FINALIZER,
} from "../../storage/persistent_volumes.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey, storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { Informer } from "../informer.ts";
import { POD_NAMESPACE_INDEX } from "../replicaset/controller.ts";
import { claim, manifest, node, storageClass, volume } from "./_testing.ts";
import { ensureDefaultStorageClass, registerStorageAdmission } from "./admission.ts";
import { claimKey, PersistentVolumeController, volumeKey } from "./controller.ts";
import { StorageProtectionController } from "./protection.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const MERGE = "application/merge-patch+json";
const VOLUME = findKind("v1", "PersistentVolume")!;
const CLAIM = findKind("v1", "PersistentVolumeClaim")!;
const CLASS = findKind("storage.k8s.io/v1", "StorageClass")!;
const NODE = findKind("v1", "Node")!;
const POD = findKind("v1", "Pod")!;
const EVENT = findKind("v1", "Event")!;
const KINDS = [VOLUME, CLAIM, CLASS, NODE, POD];

/** One binder (and protection controller) with its own informers over a shared store. */
interface Binder {
  controller: PersistentVolumeController;
  protection: StorageProtectionController;
  informers: Map<ResourceType, Informer>;
  /** waits until every informer has seen the store as it is now */
  synced(): Promise<void>;
  /** stops the informers: their caches stay as they are (a stale view) */
  freeze(): Promise<void>;
  stop(): Promise<void>;
}

async function binder(store: Store, clock: FakeClock): Promise<Binder> {
  const informers = new Map<ResourceType, Informer>();
  for (const rt of KINDS) {
    informers.set(rt, new Informer({ store, prefix: storePrefix(rt), name: rt.plural, clock }));
  }
  const pods = informers.get(POD)!;
  pods.addIndex(POD_NAMESPACE_INDEX, (p) => [p.metadata.namespace ?? ""]);
  const controller = new PersistentVolumeController({
    store,
    volumes: informers.get(VOLUME)!,
    claims: informers.get(CLAIM)!,
    classes: informers.get(CLASS)!,
    nodes: informers.get(NODE)!,
    events: new EventRecorder({ store, component: "persistentvolume-controller", clock }),
    clock,
    retryMs: 20,
  });
  const protection = new StorageProtectionController({
    store,
    claims: informers.get(CLAIM)!,
    volumes: informers.get(VOLUME)!,
    pods,
    clock,
    retryMs: 20,
  });
  await Promise.all([...informers.values()].map((i) => i.start()));
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.namespace}/${o.metadata.name}@${o.metadata.resourceVersion}`)
      .sort().join(",");
  let frozen = false;
  const synced = async () => {
    if (frozen) return;
    for (let i = 0; i < 400; i++) {
      let caughtUp = true;
      for (const [rt, informer] of informers) {
        const stored = (await store.list(storePrefix(rt))).items;
        if (versions(informer.list()) !== versions(stored)) caughtUp = false;
      }
      if (caughtUp) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  const stopInformers = () => Promise.all([...informers.values()].map((i) => i.stop()));
  return {
    controller,
    protection,
    informers,
    synced,
    async freeze() {
      frozen = true;
      await stopInformers();
    },
    async stop() {
      await controller.stop();
      await protection.stop();
      await stopInformers();
    },
  };
}

interface Rig {
  store: Store;
  objects: Objects;
  clock: FakeClock;
  main: Binder;
  /** reconciles every claim and volume (binder, then protection) until nothing is written */
  settle(b?: Binder): Promise<void>;
  close(): Promise<void>;
}

/** A store with the storage admission (unless told) and one binder whose workers are idle. */
/**
 * Runs `fn` on a fresh {@linkcode rig} and a second binder over the same store (a clock a
 * millisecond ahead), both stopped afterwards whatever happens.
 */
async function withTwoBinders(
  fn: (r: Rig, other: Binder) => Promise<void>,
): Promise<void> {
  const r = await rig();
  const other = await binder(r.store, new FakeClock(r.clock.now() + 1));
  try {
    await fn(r, other);
  } finally {
    await other.stop();
    await r.close();
  }
}

/** Runs `fn` on a fresh {@linkcode rig}, closed afterwards whatever happens. */
async function withRig(
  ...args: [(r: Rig) => Promise<void>] | [{ admission?: boolean }, (r: Rig) => Promise<void>]
): Promise<void> {
  const [options, fn] = args.length === 1 ? [{}, args[0]] : args;
  const r = await rig(options);
  try {
    await fn(r);
  } finally {
    await r.close();
  }
}

async function rig(options: { admission?: boolean } = {}): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const unregister = options.admission === false ? () => {} : registerStorageAdmission(store);
  const objects = new Objects(store);
  // the class of the static volumes most tests use
  await objects.create(CLASS, undefined, storageClass("manual", NO_PROVISIONER), WRITE);
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const main = await binder(store, clock);
  const others: Binder[] = [];
  const settle = async (b: Binder = main) => {
    for (let round = 0; round < 20; round++) {
      await b.synced();
      const before = store.revision();
      const keys = [
        ...(await store.list(storePrefix(VOLUME))).items.map((v) => volumeKey(v.metadata.name!)),
        ...(await store.list(storePrefix(CLAIM))).items.map((c) =>
          claimKey(c.metadata.namespace!, c.metadata.name!)
        ),
      ];
      for (const key of keys) await b.controller.reconcile(key);
      await b.synced();
      for (const key of keys) await b.protection.reconcile(key);
      await b.synced();
      if (store.revision() === before) return;
    }
    throw new Error("the binder did not settle");
  };
  return {
    store,
    objects,
    clock,
    main,
    settle,
    async close() {
      for (const b of [main, ...others]) await b.stop();
      unregister();
      await store.close();
    },
  };
}

async function addVolume(r: Rig, obj: KubeObject): Promise<void> {
  await r.objects.create(VOLUME, undefined, manifest(obj), WRITE);
}

async function addClaim(r: Rig, obj: KubeObject): Promise<KubeObject> {
  return (await r.objects.create(CLAIM, "default", manifest(obj), WRITE)).object;
}

async function addNode(r: Rig, obj: KubeObject): Promise<void> {
  await r.objects.create(NODE, undefined, { ...obj, status: undefined }, WRITE);
  await r.objects.patch(NODE, undefined, obj.metadata.name!, MERGE, { status: obj.status }, {
    ...WRITE,
    subresource: "status",
  });
}

async function addPod(r: Rig, name: string, claimName: string, phase = "Running"): Promise<void> {
  await r.objects.create(POD, "default", {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default" },
    spec: {
      nodeName: "edge-1",
      containers: [{ name: "c", image: "localhost/edge-test:1" }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName } }],
    },
  }, WRITE);
  await r.objects.patch(POD, "default", name, MERGE, { status: { phase } }, {
    ...WRITE,
    subresource: "status",
  });
}

function getVolume(r: Rig, name: string): Promise<KubeObject | null> {
  return r.store.get(storeKey(VOLUME, undefined, name));
}

function getClaim(r: Rig, name: string): Promise<KubeObject | null> {
  return r.store.get(storeKey(CLAIM, "default", name));
}

function volumeNameOf(c: KubeObject | null): string | undefined {
  return (c?.spec as { volumeName?: string } | undefined)?.volumeName;
}

function claimRefName(v: KubeObject | null): string | undefined {
  return ((v?.spec as { claimRef?: { name?: string } } | undefined)?.claimRef)?.name;
}

/** `[reason, message, object name]` of every Event, oldest first. */
async function events(r: Rig): Promise<string[][]> {
  const items = (await r.store.list(storePrefix(EVENT))).items.sort((a, b) =>
    Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)
  );
  return items.map((e) => [
    String(e.reason),
    String(e.message),
    String((e.involvedObject as { name?: string }).name),
  ]);
}

/** Reconciles every key once more and checks that nothing was written. */
async function assertIdle(r: Rig): Promise<void> {
  const revision = r.store.revision();
  await r.settle();
  await r.settle();
  assert.equal(r.store.revision(), revision, "no writes while nothing changes");
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 500; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("PersistentVolumeController binds a claim to the smallest matching volume, then idles", async () => {
  await withRig(async (r) => {
    await addVolume(r, volume("big", { storageClass: "manual", size: "5Gi" }));
    await addVolume(r, volume("small", { storageClass: "manual", size: "2Gi" }));
    await addVolume(r, volume("other", { storageClass: "fast", size: "2Gi" }));
    await r.settle();
    for (const name of ["big", "small", "other"]) {
      assert.equal(phaseOf((await getVolume(r, name))!), "Available");
    }
    await addClaim(r, claim("data", { storageClass: "manual", size: "1Gi" }));
    await r.settle();
    const c = (await getClaim(r, "data"))!;
    assert.equal(volumeNameOf(c), "small");
    assert.deepEqual(c.status, {
      phase: "Bound",
      accessModes: ["ReadWriteOnce"],
      capacity: { storage: "2Gi" },
    });
    assert.equal(c.metadata.annotations?.[ANN_BIND_COMPLETED], "yes");
    assert.equal(c.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], "yes");
    const v = (await getVolume(r, "small"))!;
    assert.equal(phaseOf(v), "Bound");
    assert.deepEqual((v.spec as { claimRef?: unknown }).claimRef, {
      kind: "PersistentVolumeClaim",
      apiVersion: "v1",
      namespace: "default",
      name: "data",
      uid: c.metadata.uid,
      resourceVersion: (v.spec as { claimRef: { resourceVersion: string } }).claimRef
        .resourceVersion,
    });
    assert.equal(phaseOf((await getVolume(r, "big"))!), "Available");
    assert.deepEqual(await events(r), []);
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController: two binders with stale caches never bind one volume twice", async () => {
  await withTwoBinders(async (r, other) => {
    await addVolume(r, volume("only", { storageClass: "manual" }));
    await r.settle();
    await addClaim(r, claim("first", { storageClass: "manual" }));
    await addClaim(r, claim("second", { storageClass: "manual" }));
    await r.main.synced();
    await other.synced();
    // the other binder sees the volume Available and both claims unbound, and stays so
    await other.freeze();
    await r.main.controller.reconcile(claimKey("default", "first"));
    assert.equal(volumeNameOf(await getClaim(r, "first")), "only");
    await other.controller.reconcile(claimKey("default", "second"));
    await r.settle();
    assert.equal(claimRefName(await getVolume(r, "only")), "first");
    assert.equal(volumeNameOf(await getClaim(r, "second")), undefined);
    assert.equal(phaseOf((await getClaim(r, "second"))!), "Pending");
    // each binder says it once (only one of them runs at a time in a real cluster)
    const said = new Set((await events(r)).map((e) => JSON.stringify(e)));
    assert.deepEqual([...said].map((e) => JSON.parse(e)), [[
      "FailedBinding",
      'no persistent volumes of storage class "manual" available for this claim: ' +
      "of 1 volume(s) of this class, 1 bound to another claim",
      "second",
    ]]);
  });
});

Deno.test("PersistentVolumeController: claims racing for one volume in parallel bind exactly one", async () => {
  for (let run = 0; run < 3; run++) {
    await withTwoBinders(async (r, other) => {
      await addVolume(r, volume("only", { storageClass: "manual" }));
      await r.settle();
      await addClaim(r, claim("a", { storageClass: "manual" }));
      await addClaim(r, claim("b", { storageClass: "manual" }));
      await r.main.synced();
      await other.synced();
      await Promise.all([
        r.main.controller.reconcile(claimKey("default", "a")),
        other.controller.reconcile(claimKey("default", "b")),
        r.main.controller.reconcile(claimKey("default", "b")),
        other.controller.reconcile(claimKey("default", "a")),
      ]);
      await r.settle();
      const bound = [];
      for (const name of ["a", "b"]) {
        const c = (await getClaim(r, name))!;
        if (volumeNameOf(c) === "only") bound.push(name);
        else assert.equal(phaseOf(c), "Pending");
      }
      assert.equal(bound.length, 1, `exactly one claim bound, got ${bound}`);
      assert.equal(claimRefName(await getVolume(r, "only")), bound[0]);
    });
  }
});

Deno.test("PersistentVolumeController frees a volume a stale binder reserved for a claim bound elsewhere", async () => {
  await withTwoBinders(async (r, other) => {
    await addVolume(r, volume("large", { storageClass: "manual", size: "5Gi" }));
    await r.settle();
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await other.synced();
    // the other binder sees the claim unbound and only the large volume
    await other.freeze();
    await addVolume(r, volume("small", { storageClass: "manual", size: "1Gi" }));
    await r.main.synced();
    await r.main.controller.reconcile(volumeKey("small"));
    await r.main.synced();
    await r.main.controller.reconcile(claimKey("default", "data"));
    assert.equal(volumeNameOf(await getClaim(r, "data")), "small");
    // it reserves the large volume, then fails to write the claim, and plans again
    await other.controller.reconcile(claimKey("default", "data"));
    assert.equal(claimRefName(await getVolume(r, "large")), "data");
    await other.controller.reconcile(claimKey("default", "data"));
    await r.settle();
    assert.equal(volumeNameOf(await getClaim(r, "data")), "small");
    const large = (await getVolume(r, "large"))!;
    assert.equal(claimRefName(large), undefined);
    assert.equal(phaseOf(large), "Available");
    assert.equal(large.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], undefined);
  });
});

Deno.test("PersistentVolumeController releases a Retain volume when its claim is deleted", async () => {
  await withRig({ admission: false }, async (r) => {
    await addVolume(r, volume("keep", { storageClass: "manual", reclaimPolicy: "Retain" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    assert.equal(phaseOf((await getVolume(r, "keep"))!), "Bound");
    await r.objects.delete(CLAIM, "default", "data", { dryRun: false });
    await r.settle();
    const v = (await getVolume(r, "keep"))!;
    assert.equal(phaseOf(v), "Released");
    assert.equal(claimRefName(v), "data", "the claimRef stays: the data is the old claim's");
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    assert.equal(volumeNameOf(await getClaim(r, "data")), undefined, "not reused by a new claim");
    assert.equal(phaseOf((await getVolume(r, "keep"))!), "Released");
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController fails a Delete volume no deleter handles", async () => {
  await withRig({ admission: false }, async (r) => {
    await addVolume(r, volume("host", { storageClass: "manual", reclaimPolicy: "Delete" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    await r.objects.delete(CLAIM, "default", "data", { dryRun: false });
    await r.settle();
    const v = (await getVolume(r, "host"))!;
    const message =
      'error getting deleter volume plugin for volume "host": no deletable volume plugin matched';
    assert.deepEqual(
      { phase: phaseOf(v), message: (v.status as { message?: string }).message },
      { phase: "Failed", message },
    );
    assert.deepEqual(await events(r), [["VolumeFailedDelete", message, "host"]]);
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController leaves a released local-path Delete volume to the agent", async () => {
  await withRig({ admission: false }, async (r) => {
    await addVolume(
      r,
      volume("pvc-x", {
        storageClass: "manual",
        reclaimPolicy: "Delete",
        node: "edge-1",
        annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
      }),
    );
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    await r.objects.delete(CLAIM, "default", "data", { dryRun: false });
    await r.settle();
    assert.equal(phaseOf((await getVolume(r, "pvc-x"))!), "Released");
    assert.deepEqual(await events(r), []);
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController asks the store before releasing a volume whose claim it has not seen", async () => {
  await withRig({ admission: false }, async (r) => {
    await r.main.synced();
    await r.main.informers.get(CLAIM)!.stop();
    const c = await addClaim(r, claim("data", { storageClass: "manual" }));
    const made = volume("pvc-new", {
      storageClass: "manual",
      claimRef: { namespace: "default", name: "data", uid: c.metadata.uid! },
    });
    await addVolume(r, made);
    for (
      let i = 0;
      i < 400 && !r.main.informers.get(VOLUME)!.get(storeKey(VOLUME, undefined, "pvc-new"));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const revision = r.store.revision();
    await r.main.controller.reconcile(volumeKey("pvc-new"));
    assert.equal(r.store.revision(), revision, "nothing written");
    assert.equal(phaseOf((await getVolume(r, "pvc-new"))!), "Pending");
  });
});

Deno.test("PersistentVolumeController marks a bound claim Lost when its volume is gone", async () => {
  await withRig({ admission: false }, async (r) => {
    await addVolume(r, volume("v", { storageClass: "manual" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    await r.objects.delete(VOLUME, undefined, "v", { dryRun: false });
    await r.settle();
    const c = (await getClaim(r, "data"))!;
    assert.deepEqual(c.status, { phase: "Lost" });
    assert.deepEqual(await events(r), [[
      "ClaimLost",
      "Bound claim has lost its PersistentVolume. Data on the volume is lost!",
      "data",
    ]]);
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController asks the store before declaring a claim Lost", async () => {
  await withRig({ admission: false }, async (r) => {
    await r.main.synced();
    await r.main.informers.get(VOLUME)!.stop();
    const c = await addClaim(
      r,
      claim("data", {
        storageClass: "manual",
        volumeName: "unseen",
        annotations: { [ANN_BIND_COMPLETED]: "yes" },
      }),
    );
    await addVolume(
      r,
      volume("unseen", {
        storageClass: "manual",
        claimRef: { namespace: "default", name: "data", uid: c.metadata.uid! },
      }),
    );
    for (
      let i = 0;
      i < 400 && !r.main.informers.get(CLAIM)!.get(storeKey(CLAIM, "default", "data"));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await r.main.controller.reconcile(claimKey("default", "data"));
    assert.equal(phaseOf((await getClaim(r, "data"))!), "Bound");
    assert.equal(phaseOf((await getVolume(r, "unseen"))!), "Bound");
    assert.deepEqual(await events(r), []);
  });
});

Deno.test("PersistentVolumeController says why a claim larger than every volume stays Pending, once", async () => {
  await withRig(async (r) => {
    await addVolume(r, volume("one", { storageClass: "manual", size: "1Gi" }));
    await addVolume(r, volume("two", { storageClass: "manual", size: "2Gi" }));
    await addClaim(r, claim("huge", { storageClass: "manual", size: "5Gi" }));
    await r.settle();
    const c = (await getClaim(r, "huge"))!;
    assert.equal(phaseOf(c), "Pending");
    const failed = [
      "FailedBinding",
      'no persistent volumes of storage class "manual" available for this claim: ' +
      "of 2 volume(s) of this class, 2 too small (largest 2Gi, 5Gi requested)",
      "huge",
    ];
    assert.deepEqual(await events(r), [failed]);
    await assertIdle(r);
    await addVolume(r, volume("big", { storageClass: "manual", size: "8Gi" }));
    await r.settle();
    assert.equal(volumeNameOf(await getClaim(r, "huge")), "big");
  });
});

Deno.test("PersistentVolumeController checks the store before saying no volume fits", async () => {
  await withRig(async (r) => {
    await r.main.synced();
    await r.main.informers.get(VOLUME)!.stop();
    // made along with the claim; the binder's cache has not seen it
    await addVolume(r, volume("new", { storageClass: "manual", size: "1Gi" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    for (
      let i = 0;
      i < 400 && !r.main.informers.get(CLAIM)!.get(storeKey(CLAIM, "default", "data"));
      i++
    ) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    await r.main.controller.reconcile(claimKey("default", "data"));
    assert.deepEqual(await events(r), [], "the new volume may fit once Available: no Warning");
  });
});

Deno.test("PersistentVolumeController reports a claim pre-bound to a volume that does not fit", async () => {
  await withRig(async (r) => {
    await addVolume(r, volume("small", { size: "1Gi" }));
    await addClaim(r, claim("data", { storageClass: "", size: "2Gi", volumeName: "small" }));
    await r.settle();
    assert.equal(phaseOf((await getClaim(r, "data"))!), "Pending");
    assert.deepEqual(await events(r), [[
      "VolumeMismatch",
      'Cannot bind to requested volume "small": requested PV is too small',
      "data",
    ]]);
    await addVolume(r, volume("exact", { size: "2Gi" }));
    await addClaim(r, claim("named", { storageClass: "", volumeName: "exact" }));
    await r.settle();
    const named = (await getClaim(r, "named"))!;
    assert.equal(phaseOf(named), "Bound");
    assert.equal(named.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], undefined);
  });
});

Deno.test("PersistentVolumeController keeps a volume pre-bound by claimRef for its claim", async () => {
  await withRig(async (r) => {
    await addVolume(
      r,
      volume("reserved", {
        storageClass: "manual",
        claimRef: { namespace: "default", name: "wanted" },
      }),
    );
    await addClaim(r, claim("other", { storageClass: "manual" }));
    await r.settle();
    assert.equal(volumeNameOf(await getClaim(r, "other")), undefined);
    assert.equal(phaseOf((await getVolume(r, "reserved"))!), "Available");
    const wanted = await addClaim(r, claim("wanted", { storageClass: "manual" }));
    await r.settle();
    assert.equal(volumeNameOf(await getClaim(r, "wanted")), "reserved");
    const v = (await getVolume(r, "reserved"))!;
    assert.equal(phaseOf(v), "Bound");
    assert.equal((v.spec as { claimRef: { uid: string } }).claimRef.uid, wanted.metadata.uid);
    assert.equal(v.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], undefined, "the user chose");
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController asks for an Immediate volume on the least used Ready node", async () => {
  await withRig(async (r) => {
    await r.objects.create(CLASS, undefined, storageClass("now", LOCAL_PATH_PROVISIONER), WRITE);
    await addNode(r, node("edge-1"));
    await addNode(r, node("edge-2"));
    await addNode(r, node("edge-0", { ready: "False" }));
    await addVolume(r, volume("held", { storageClass: "manual", node: "edge-1" }));
    await addClaim(r, claim("data", { storageClass: "now" }));
    await r.settle();
    const c = (await getClaim(r, "data"))!;
    assert.equal(c.metadata.annotations?.[ANN_SELECTED_NODE], "edge-2");
    assert.equal(c.metadata.annotations?.[ANN_STORAGE_PROVISIONER], LOCAL_PATH_PROVISIONER);
    assert.deepEqual(await events(r), [[
      "ExternalProvisioning",
      "Waiting for a volume to be created either by the external provisioner " +
      "'edge.io/local-path' or manually by the system administrator. If volume creation is " +
      "delayed, please verify that the provisioner is running and correctly registered.",
      "data",
    ]]);
    await assertIdle(r);
  });
});

Deno.test("PersistentVolumeController binds a WaitForFirstConsumer claim once a node is chosen and the volume made", async () => {
  await withRig(async (r) => {
    await ensureDefaultStorageClass(r.objects);
    await addNode(r, node("edge-1"));
    r.main.controller.start();
    r.main.protection.start();
    const c = await addClaim(r, claim("data"));
    assert.equal((c.spec as { storageClassName?: string }).storageClassName, "local-path");
    await waitFor("WaitForFirstConsumer", async () => {
      const e = await events(r);
      return e.length > 0 ? e : undefined;
    });
    assert.deepEqual(await events(r), [[
      "WaitForFirstConsumer",
      "waiting for first consumer to be created before binding",
      "data",
    ]]);
    // the scheduler chose edge-1 for the claim's first pod
    await r.objects.patch(CLAIM, "default", "data", MERGE, {
      metadata: { annotations: { [ANN_SELECTED_NODE]: "edge-1" } },
    }, WRITE);
    const asked = await waitFor("the provisioning request", async () => {
      const now = (await getClaim(r, "data"))!;
      return now.metadata.annotations?.[ANN_STORAGE_PROVISIONER] ? now : undefined;
    });
    assert.equal(asked.metadata.annotations?.[ANN_SELECTED_NODE], "edge-1");
    // the agent of edge-1 made the volume
    const made = volume(provisionedVolumeName(c.metadata.uid!), {
      storageClass: "local-path",
      node: "edge-1",
      reclaimPolicy: "Delete",
      annotations: { [ANN_PROVISIONED_BY]: LOCAL_PATH_PROVISIONER },
      claimRef: { namespace: "default", name: "data", uid: c.metadata.uid! },
    });
    await addVolume(r, made);
    const bound = await waitFor("the binding", async () => {
      const now = (await getClaim(r, "data"))!;
      return phaseOf(now) === "Bound" ? now : undefined;
    });
    assert.equal(volumeNameOf(bound), made.metadata.name);
    assert.equal(bound.metadata.annotations?.[ANN_BOUND_BY_CONTROLLER], "yes");
    await waitFor("the volume Bound", async () => {
      const v = await getVolume(r, made.metadata.name!);
      return phaseOf(v!) === "Bound" ? v : undefined;
    });
    assert.deepEqual((await events(r)).map((e) => e[0]), [
      "WaitForFirstConsumer",
      "ExternalProvisioning",
    ]);
  });
});

Deno.test("StorageProtectionController keeps a claim a running pod uses, and a Bound volume", async () => {
  await withRig(async (r) => {
    await addVolume(r, volume("v", { storageClass: "manual", reclaimPolicy: "Retain" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await r.settle();
    assert.deepEqual((await getClaim(r, "data"))!.metadata.finalizers, [PVC_PROTECTION_FINALIZER]);
    assert.deepEqual((await getVolume(r, "v"))!.metadata.finalizers, [PV_PROTECTION_FINALIZER]);
    await addPod(r, "user", "data");
    await addPod(r, "done", "data", "Succeeded");
    await r.objects.delete(CLAIM, "default", "data", { dryRun: false });
    await r.objects.delete(VOLUME, undefined, "v", { dryRun: false });
    await r.settle();
    const c = (await getClaim(r, "data"))!;
    assert.ok(c.metadata.deletionTimestamp, "the claim is being deleted");
    assert.deepEqual(c.metadata.finalizers, [PVC_PROTECTION_FINALIZER], "in use by a pod");
    assert.equal(phaseOf(c), "Bound");
    const v = (await getVolume(r, "v"))!;
    assert.deepEqual(v.metadata.finalizers, [PV_PROTECTION_FINALIZER], "Bound");
    await assertIdle(r);
    await r.objects.delete(POD, "default", "user", { dryRun: false, gracePeriodSeconds: 0 });
    await r.settle();
    assert.equal(await getClaim(r, "data"), null, "the claim went with its last pod");
    assert.equal(await getVolume(r, "v"), null, "the volume went once Released");
  });
});

Deno.test("StorageProtectionController lets a claim go once its pod finishes, with workers running", async () => {
  await withRig(async (r) => {
    r.main.controller.start();
    r.main.protection.start();
    await addVolume(r, volume("v", { storageClass: "manual", reclaimPolicy: "Retain" }));
    await addClaim(r, claim("data", { storageClass: "manual" }));
    await waitFor("the binding", async () => {
      const c = await getClaim(r, "data");
      return phaseOf(c!) === "Bound" ? c : undefined;
    });
    await addPod(r, "job", "data");
    await r.objects.delete(CLAIM, "default", "data", { dryRun: false });
    await r.main.synced();
    assert.ok(await getClaim(r, "data"), "kept while the pod runs");
    await r.objects.patch(POD, "default", "job", MERGE, { status: { phase: "Succeeded" } }, {
      ...WRITE,
      subresource: "status",
    });
    await waitFor("the claim gone", async () => (await getClaim(r, "data")) ? undefined : true);
    const v = await waitFor("the volume Released", async () => {
      const v = await getVolume(r, "v");
      return v && phaseOf(v) === "Released" ? v : undefined;
    });
    assert.deepEqual(v.metadata.finalizers, [PV_PROTECTION_FINALIZER]);
  });
});
