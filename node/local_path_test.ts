import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";
import {
  isOwnVolumePath,
  LocalPathProvisioner,
  normalizePath,
  type ProvisionerClient,
  volumeDirName,
} from "./local_path.ts";
import type { CacheListener, CacheView } from "./object_cache.ts";

const T0 = Date.parse("2024-01-01T00:00:00Z");
const UID = "0b5c7a4e-3d2f-4a8b-9c1d-2e3f4a5b6c7d";
const PV_NAME = `pvc-${UID}`;
const CLAIM_PATH = "/api/v1/namespaces/default/persistentvolumeclaims/data";

/** An in-memory {@linkcode CacheView} that tells its listeners about `put` and `remove`. */
class FakeCache implements CacheView {
  readonly #items = new Map<string, KubeObject>();
  readonly #listeners = new Set<CacheListener>();
  synced = true;

  put(obj: KubeObject): void {
    const key = `${obj.metadata.namespace ?? ""}/${obj.metadata.name}`;
    const type = this.#items.has(key) ? "MODIFIED" : "ADDED";
    this.#items.set(key, obj);
    for (const listener of this.#listeners) listener(type, obj);
  }

  remove(obj: KubeObject): void {
    this.#items.delete(`${obj.metadata.namespace ?? ""}/${obj.metadata.name}`);
    for (const listener of this.#listeners) listener("DELETED", obj);
  }

  get(namespace: string, name: string): KubeObject | undefined {
    return this.#items.get(`${namespace}/${name}`);
  }

  list(namespace?: string): KubeObject[] {
    return [...this.#items.values()].filter((o) =>
      namespace === undefined || (o.metadata.namespace ?? "") === namespace
    );
  }

  subscribe(listener: CacheListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitSynced(): Promise<boolean> {
    return Promise.resolve(this.synced);
  }
}

/** The API: objects by path, a call log, and a failure to throw from create. */
class FakeApi implements ProvisionerClient {
  readonly objects = new Map<string, KubeObject>();
  readonly calls: string[] = [];
  failCreate: Error | undefined;

  get(path: string): Promise<KubeObject | null> {
    const obj = this.objects.get(path);
    return Promise.resolve(obj ? structuredClone(obj) : null);
  }

  create(collectionPath: string, obj: unknown): Promise<KubeObject> {
    const o = obj as KubeObject;
    this.calls.push(`POST ${collectionPath} ${o.metadata.name}`);
    if (this.failCreate) return Promise.reject(this.failCreate);
    const path = `${collectionPath}/${o.metadata.name}`;
    if (this.objects.has(path)) {
      return Promise.reject(new ApiError("AlreadyExists", `"${o.metadata.name}" already exists`));
    }
    this.objects.set(path, o);
    return Promise.resolve(o);
  }

  update(path: string, obj: unknown): Promise<KubeObject> {
    const o = obj as KubeObject;
    this.calls.push(`PUT ${path} ${JSON.stringify(o.metadata.finalizers ?? [])}`);
    if (!this.objects.has(path)) return Promise.reject(new ApiError("NotFound", "not found"));
    this.objects.set(path, o);
    return Promise.resolve(structuredClone(o));
  }

  delete(path: string, options: Record<string, unknown> = {}): Promise<boolean> {
    this.calls.push(`DELETE ${path} ${JSON.stringify(options)}`);
    return Promise.resolve(this.objects.delete(path));
  }
}

function storageClass(reclaimPolicy = "Delete"): KubeObject {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: "local-path" },
    provisioner: "edge.io/local-path",
    reclaimPolicy,
    volumeBindingMode: "WaitForFirstConsumer",
  };
}

function claim(
  annotations: Record<string, string> = {},
  meta: Partial<KubeObject["metadata"]> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: "data",
      namespace: "default",
      uid: UID,
      resourceVersion: "42",
      annotations: {
        "volume.kubernetes.io/storage-provisioner": "edge.io/local-path",
        "volume.kubernetes.io/selected-node": "edge-1",
        ...annotations,
      },
      ...meta,
    },
    spec: {
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "64Mi" } },
      storageClassName: "local-path",
      volumeMode: "Filesystem",
    },
    status: { phase: "Pending" },
  };
}

function releasedVolume(path: string, extra: { node?: string; policy?: string } = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: PV_NAME,
      uid: "pv-uid-1",
      annotations: { "pv.kubernetes.io/provisioned-by": "edge.io/local-path" },
    },
    spec: {
      capacity: { storage: "64Mi" },
      persistentVolumeReclaimPolicy: extra.policy ?? "Delete",
      local: { path },
      nodeAffinity: {
        required: {
          nodeSelectorTerms: [{
            matchExpressions: [{
              key: "kubernetes.io/hostname",
              operator: "In",
              values: [extra.node ?? "edge-1"],
            }],
          }],
        },
      },
      claimRef: { namespace: "default", name: "data", uid: UID },
    },
    status: { phase: "Released" },
  };
}

async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** A provisioner for node edge-1 over fakes and a temp data dir; always stopped and removed. */
async function withProvisioner(
  fn: (t: {
    provisioner: LocalPathProvisioner;
    api: FakeApi;
    claims: FakeCache;
    volumes: FakeCache;
    classes: FakeCache;
    clock: FakeClock;
    events: string[];
    dataDir: string;
    root: string;
  }) => Promise<void>,
): Promise<void> {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-local-path-" });
  const clock = new FakeClock(T0);
  const api = new FakeApi();
  const claims = new FakeCache();
  const volumes = new FakeCache();
  const classes = new FakeCache();
  classes.put(storageClass());
  const events: string[] = [];
  const provisioner = new LocalPathProvisioner({
    nodeName: "edge-1",
    dataDir,
    client: api,
    claims,
    volumes,
    classes,
    clock,
    events: (obj, reason, type, message) =>
      events.push(`${obj.kind}/${obj.metadata.name} ${type} ${reason}: ${message}`),
  });
  try {
    await fn({
      provisioner,
      api,
      claims,
      volumes,
      classes,
      clock,
      events,
      dataDir,
      root: `${dataDir}/volumes`,
    });
  } finally {
    await provisioner.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
}

/** Put `obj` in the API and the cache, as the watch would. */
function seed(api: FakeApi, cache: FakeCache, path: string, obj: KubeObject): void {
  api.objects.set(path, obj);
  cache.put(obj);
}

Deno.test("volumeDirName() names the directory after the claim and refuses unsafe parts", () => {
  assert.equal(volumeDirName(claim()), `pvc-${UID}_default_data`);
  const bad: Array<[Partial<KubeObject["metadata"]>, RegExp]> = [
    [{ uid: "../../etc" }, /uid "\.\.\/\.\.\/etc" is not a UUID/],
    [{ uid: UID.toUpperCase() }, /is not a UUID/],
    [{ name: "a/b" }, /name "a\/b" is not a DNS-1123 subdomain/],
    [{ name: "a..b" }, /is not a DNS-1123 subdomain/],
    [{ namespace: "x.y" }, /namespace "x\.y" is not a DNS-1123 label/],
    [{ namespace: ".." }, /is not a DNS-1123 label/],
  ];
  for (const [meta, message] of bad) {
    assert.throws(() => volumeDirName(claim({}, meta)), message);
  }
});

Deno.test("isOwnVolumePath() accepts only a volume's own entry directly under the root", () => {
  const root = "/var/lib/edge/volumes";
  assert.ok(isOwnVolumePath(root, `${root}/${PV_NAME}_default_data`, PV_NAME));
  for (
    const path of [
      root,
      `${root}/`,
      `${root}/${PV_NAME}_default_data/inner`,
      `${root}/../${PV_NAME}_x`,
      `${root}/pvc-other_default_data`,
      `/var/lib/edge/volumes-2/${PV_NAME}_default_data`,
      "/etc",
    ]
  ) {
    assert.equal(isOwnVolumePath(root, path, PV_NAME), false, path);
  }
  assert.equal(normalizePath("data/./x//../volumes", "/srv"), "/srv/data/volumes");
});

Deno.test("LocalPathProvisioner provisions a claim that selected this node", async () => {
  await withProvisioner(async ({ provisioner, api, claims, events, root }) => {
    seed(api, claims, CLAIM_PATH, claim());
    provisioner.start();
    await provisioner.idle();
    const dir = `${root}/pvc-${UID}_default_data`;
    const info = await Deno.stat(dir);
    assert.ok(info.isDirectory);
    assert.equal((info.mode ?? 0) & 0o777, 0o777);
    const record = JSON.parse(await Deno.readTextFile(`${dir}.json`));
    assert.deepEqual(record, {
      volume: PV_NAME,
      claim: { namespace: "default", name: "data", uid: UID },
      storageClass: "local-path",
      capacity: "64Mi",
      node: "edge-1",
      created: "2024-01-01T00:00:00.000Z",
    });
    assert.deepEqual(api.calls, [`POST /api/v1/persistentvolumes ${PV_NAME}`]);
    assert.deepEqual(api.objects.get(`/api/v1/persistentvolumes/${PV_NAME}`), {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: {
        name: PV_NAME,
        annotations: { "pv.kubernetes.io/provisioned-by": "edge.io/local-path" },
        finalizers: ["external-provisioner.volume.kubernetes.io/finalizer"],
      },
      spec: {
        capacity: { storage: "64Mi" },
        accessModes: ["ReadWriteOnce"],
        persistentVolumeReclaimPolicy: "Delete",
        storageClassName: "local-path",
        volumeMode: "Filesystem",
        local: { path: dir },
        nodeAffinity: {
          required: {
            nodeSelectorTerms: [{
              matchExpressions: [{
                key: "kubernetes.io/hostname",
                operator: "In",
                values: ["edge-1"],
              }],
            }],
          },
        },
        claimRef: {
          kind: "PersistentVolumeClaim",
          apiVersion: "v1",
          namespace: "default",
          name: "data",
          uid: UID,
          resourceVersion: "42",
        },
      },
    });
    assert.deepEqual(events, [
      "PersistentVolumeClaim/data Normal Provisioning: External provisioner is provisioning " +
      'volume for claim "default/data"',
      `PersistentVolumeClaim/data Normal ProvisioningSucceeded: Successfully provisioned volume ${PV_NAME}`,
    ]);
    // a repeat of the claim before the volume shows up in the cache changes nothing
    claims.put(claim());
    await provisioner.idle();
    assert.equal(api.calls.length, 1);
  });
});

Deno.test("LocalPathProvisioner leaves claims that are not its to provision", async () => {
  await withProvisioner(async ({ provisioner, api, claims, events, root }) => {
    const others = [
      claim({ "volume.kubernetes.io/selected-node": "edge-2" }, { name: "elsewhere" }),
      claim({ "volume.kubernetes.io/storage-provisioner": "example.com/nfs" }, { name: "nfs" }),
      { ...claim({}, { name: "bound" }), status: { phase: "Bound" } },
      claim({}, { name: "going", deletionTimestamp: "2024-01-01T00:00:00Z" }),
    ];
    for (const c of others) {
      seed(api, claims, `/api/v1/namespaces/default/persistentvolumeclaims/${c.metadata.name}`, c);
    }
    provisioner.start();
    await provisioner.idle();
    assert.deepEqual(api.calls, []);
    assert.deepEqual(events, []);
    assert.equal(await exists(root), false);
  });
});

Deno.test("LocalPathProvisioner takes an existing volume of the claim's name as made", async () => {
  await withProvisioner(async ({ provisioner, api, claims, events }) => {
    seed(api, claims, CLAIM_PATH, claim());
    api.objects.set(`/api/v1/persistentvolumes/${PV_NAME}`, releasedVolume("/x"));
    provisioner.start();
    await provisioner.idle();
    assert.deepEqual(api.calls, [`POST /api/v1/persistentvolumes ${PV_NAME}`]);
    assert.match(events.at(-1) ?? "", /ProvisioningSucceeded/);
  });
});

Deno.test("LocalPathProvisioner retries a failed provisioning with back-off", async () => {
  await withProvisioner(async ({ provisioner, api, claims, clock, events }) => {
    api.failCreate = new ApiError("InternalError", "etcd is sulking");
    seed(api, claims, CLAIM_PATH, claim());
    provisioner.start();
    await provisioner.idle();
    assert.equal(api.calls.length, 1);
    assert.equal(
      events.at(-1),
      "PersistentVolumeClaim/data Warning ProvisioningFailed: failed to provision volume with " +
        'StorageClass "local-path": etcd is sulking',
    );
    await clock.advance(999);
    await provisioner.idle();
    assert.equal(api.calls.length, 1);
    await clock.advance(1);
    await provisioner.idle();
    assert.equal(api.calls.length, 2, "retried after 1 s");
    await clock.advance(1_999);
    await provisioner.idle();
    assert.equal(api.calls.length, 2);
    api.failCreate = undefined;
    await clock.advance(1);
    await provisioner.idle();
    assert.equal(api.calls.length, 3, "retried after 2 s more");
    assert.match(events.at(-1) ?? "", /ProvisioningSucceeded/);
  });
});

Deno.test("LocalPathProvisioner reports a missing StorageClass and provisions once it appears", async () => {
  await withProvisioner(async ({ provisioner, api, claims, classes, clock, events }) => {
    classes.remove(storageClass());
    seed(api, claims, CLAIM_PATH, claim());
    provisioner.start();
    await provisioner.idle();
    assert.match(events.at(-1) ?? "", /storageclass\.storage\.k8s\.io "local-path" not found/);
    classes.put(storageClass("Retain"));
    await clock.advance(1_000);
    await provisioner.idle();
    const pv = api.objects.get(`/api/v1/persistentvolumes/${PV_NAME}`);
    assert.equal(
      (pv?.spec as { persistentVolumeReclaimPolicy: string })
        .persistentVolumeReclaimPolicy,
      "Retain",
    );
  });
});

Deno.test("LocalPathProvisioner refuses a claim whose uid is not safe in a path, once", async () => {
  await withProvisioner(async ({ provisioner, api, claims, clock, events, root }) => {
    seed(api, claims, CLAIM_PATH, claim({}, { uid: "../../../etc" }));
    provisioner.start();
    await provisioner.idle();
    await clock.advance(60_000);
    await provisioner.idle();
    assert.deepEqual(events, [
      "PersistentVolumeClaim/data Warning ProvisioningFailed: failed to provision volume with " +
      'StorageClass "local-path": claim uid "../../../etc" is not a UUID',
    ]);
    assert.deepEqual(api.calls, []);
    assert.equal(await exists(root), false);
  });
});

Deno.test("LocalPathProvisioner deletes a released volume it made on this node", async () => {
  await withProvisioner(async ({ provisioner, api, volumes, events, root }) => {
    const dir = `${root}/${PV_NAME}_default_data`;
    await Deno.mkdir(`${dir}/inner`, { recursive: true });
    await Deno.writeTextFile(`${dir}/inner/file`, "data");
    await Deno.writeTextFile(`${dir}.json`, "{}");
    await Deno.writeTextFile(`${root}/keep`, "another volume's");
    provisioner.start();
    await provisioner.idle();
    seed(api, volumes, `/api/v1/persistentvolumes/${PV_NAME}`, releasedVolume(dir));
    await provisioner.idle();
    assert.equal(await exists(dir), false);
    assert.equal(await exists(`${dir}.json`), false);
    assert.ok(await exists(`${root}/keep`));
    assert.deepEqual(api.calls, [
      `DELETE /api/v1/persistentvolumes/${PV_NAME} {"preconditions":{"uid":"pv-uid-1"}}`,
    ]);
    assert.deepEqual(events, []);
  });
});

Deno.test("LocalPathProvisioner leaves volumes of other nodes, Retain ones and live bound ones", async () => {
  await withProvisioner(async ({ provisioner, api, volumes, root }) => {
    const dir = `${root}/${PV_NAME}_default_data`;
    await Deno.mkdir(dir, { recursive: true });
    const path = `/api/v1/persistentvolumes/${PV_NAME}`;
    provisioner.start();
    for (
      const pv of [
        releasedVolume(dir, { node: "edge-2" }),
        releasedVolume(dir, { policy: "Retain" }),
        { ...releasedVolume(dir), metadata: { name: PV_NAME } },
      ]
    ) {
      seed(api, volumes, path, pv);
      await provisioner.idle();
    }
    // the cache says Released, the API says it was bound again: the API wins
    api.objects.set(path, { ...releasedVolume(dir), status: { phase: "Bound" } });
    volumes.put(releasedVolume(dir));
    await provisioner.idle();
    assert.deepEqual(api.calls, []);
    assert.ok(await exists(dir));
  });
});

Deno.test("LocalPathProvisioner refuses to delete a path that is not its volume's directory", async () => {
  await withProvisioner(async ({ provisioner, api, volumes, events, clock, dataDir, root }) => {
    const outside = `${dataDir}/precious`;
    const neighbour = `${root}/pvc-other_default_data`;
    await Deno.mkdir(outside, { recursive: true });
    await Deno.mkdir(neighbour, { recursive: true });
    provisioner.start();
    for (const dir of [outside, neighbour, `${root}/../precious`]) {
      seed(api, volumes, `/api/v1/persistentvolumes/${PV_NAME}`, releasedVolume(dir));
      await provisioner.idle();
      assert.equal(
        events.at(-1),
        `PersistentVolume/${PV_NAME} Warning VolumeFailedDelete: refusing to delete "${dir}": ` +
          `not a volume directory of ${PV_NAME} directly under ${root}`,
      );
    }
    await clock.advance(60_000);
    await provisioner.idle();
    assert.equal(events.length, 3, "not retried");
    assert.ok(await exists(outside));
    assert.ok(await exists(neighbour));
    assert.deepEqual(api.calls, []);
  });
});

Deno.test("LocalPathProvisioner waits for its caches before acting", async () => {
  await withProvisioner(async ({ provisioner, api, claims, volumes }) => {
    volumes.synced = false;
    seed(api, claims, CLAIM_PATH, claim());
    const started = { done: false };
    const original = volumes.waitSynced.bind(volumes);
    let release: () => void = () => {};
    const gate = new Promise<void>((resolve) => release = resolve);
    volumes.waitSynced = async () => {
      await gate;
      volumes.synced = true;
      return await original();
    };
    provisioner.start();
    const idle = provisioner.idle().then(() => started.done = true);
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(started.done, false);
    assert.deepEqual(api.calls, []);
    release();
    await idle;
    assert.deepEqual(api.calls, [`POST /api/v1/persistentvolumes ${PV_NAME}`]);
  });
});

const FINALIZER = "external-provisioner.volume.kubernetes.io/finalizer";

function deletedByHand(path: string, policy: string, phase: string): KubeObject {
  const pv = releasedVolume(path, { policy });
  pv.metadata.deletionTimestamp = "2024-01-01T00:00:00Z";
  pv.metadata.finalizers = ["kubernetes.io/pv-protection", FINALIZER];
  pv.status = { phase };
  return pv;
}

Deno.test("LocalPathProvisioner lets go of its volumes deleted by hand, removing Delete data once unbound", async () => {
  const letGo = `PUT /api/v1/persistentvolumes/${PV_NAME} ["kubernetes.io/pv-protection"]`;
  const cases = [
    { policy: "Delete", phase: "Available", dataKept: false, calls: [letGo] },
    { policy: "Retain", phase: "Released", dataKept: true, calls: [letGo] },
    { policy: "Delete", phase: "Bound", dataKept: true, calls: [] },
  ];
  for (const { policy, phase, dataKept, calls } of cases) {
    await withProvisioner(async ({ provisioner, api, volumes, root }) => {
      const dir = `${root}/${PV_NAME}_default_data`;
      await Deno.mkdir(dir, { recursive: true });
      await Deno.writeTextFile(`${dir}.json`, "{}");
      provisioner.start();
      await provisioner.idle();
      seed(api, volumes, `/api/v1/persistentvolumes/${PV_NAME}`, deletedByHand(dir, policy, phase));
      await provisioner.idle();
      assert.equal(await exists(dir), dataKept, `${policy} ${phase}`);
      assert.equal(await exists(`${dir}.json`), dataKept, `${policy} ${phase}`);
      assert.deepEqual(api.calls, calls, `${policy} ${phase}`);
    });
  }
});
