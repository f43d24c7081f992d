import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import { testPod } from "./_worker_test_pod.ts";
import {
  type ClaimLookup,
  makeSubPath,
  prepareVolumes,
  resolveClaims,
  setVolumeOwnership,
} from "./volumes.ts";

const UID = "0b5c7a4e-3d2f-4a8b-9c1d-2e3f4a5b6c7d";

function claim(name: string, extra: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: "default", uid: `${name}-uid` },
    spec: { volumeName: `pv-${name}` },
    status: { phase: "Bound" },
    ...extra,
  };
}

function volume(name: string, claimName: string, source: Record<string, unknown>): KubeObject {
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name },
    spec: {
      ...source,
      claimRef: { namespace: "default", name: claimName, uid: `${claimName}-uid` },
    },
    status: { phase: "Bound" },
  };
}

function lookup(claims: KubeObject[], volumes: KubeObject[]): ClaimLookup {
  return {
    claim: (ns, name) =>
      claims.find((c) => c.metadata.namespace === ns && c.metadata.name === name),
    volume: (name) => volumes.find((v) => v.metadata.name === name),
  };
}

function claimPod(...claims: Array<[string, string]>): KubeObject {
  return testPod({
    volumes: claims.map(([volumeName, claimName]) => ({
      name: volumeName,
      persistentVolumeClaim: { claimName },
    })),
    containers: [{ name: "web", image: "busybox:1.36" }],
  });
}

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "edge-volumes-" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("resolveClaims() gives each bound claim its volume", () => {
  const pv = volume("pv-data", "data", { local: { path: "/v/data" } });
  const result = resolveClaims(claimPod(["data", "data"]), lookup([claim("data")], [pv]));
  assert.deepEqual(result, { claims: { data: pv } });
});

Deno.test("resolveClaims() says why a claim is not ready, naming the volumes that wait", () => {
  const pv = volume("pv-data", "data", { local: { path: "/v/data" } });
  const pod = claimPod(["cache", "missing"], ["data", "data"], ["scratch", "missing"]);
  assert.deepEqual(resolveClaims(pod, lookup([claim("data")], [pv])), {
    claims: { data: pv },
    notReady: {
      reason: "PersistentVolumeClaimNotFound",
      message: 'persistentvolumeclaim "missing" not found',
      volumes: ["cache", "scratch"],
    },
  });
  const one = claimPod(["data", "data"]);
  const cases: Array<[KubeObject, KubeObject[], string, string]> = [
    [
      claim("data", { spec: {}, status: { phase: "Pending" } }),
      [],
      "PersistentVolumeClaimNotBound",
      'persistentvolumeclaim "data" is not bound',
    ],
    [
      claim("data"),
      [],
      "PersistentVolumeClaimNotBound",
      'persistentvolumeclaim "data" is not bound: persistentvolume "pv-data" not found',
    ],
    [
      claim("data"),
      [volume("pv-data", "other", { local: { path: "/v/other" } })],
      "PersistentVolumeClaimNotBound",
      'persistentvolumeclaim "data" is not bound: persistentvolume "pv-data" is bound to ' +
      "another claim",
    ],
    [
      {
        ...claim("data"),
        metadata: {
          name: "data",
          namespace: "default",
          uid: "data-uid",
          deletionTimestamp: "2024-01-01T00:00:00Z",
        },
      },
      [pv],
      "PersistentVolumeClaimBeingDeleted",
      'persistentvolumeclaim "data" is being deleted',
    ],
  ];
  for (const [c, volumes, reason, message] of cases) {
    const result = resolveClaims(one, lookup([c], volumes));
    assert.deepEqual(result, { claims: {}, notReady: { reason, message, volumes: ["data"] } });
  }
});

Deno.test("resolveClaims() refuses a volume whose claimRef has another claim's uid", () => {
  const pv = volume("pv-data", "data", { local: { path: "/v/data" } });
  (pv.spec as { claimRef: { uid: string } }).claimRef.uid = "an-older-claim";
  const { notReady } = resolveClaims(claimPod(["data", "data"]), lookup([claim("data")], [pv]));
  assert.equal(notReady?.reason, "PersistentVolumeClaimNotBound");
});

Deno.test("prepareVolumes() mounts a claim from its local volume's directory", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/volumes/pvc-${UID}_default_data`;
    await Deno.mkdir(path, { recursive: true });
    const pv = volume("pv-data", "data", { local: { path } });
    const pod = claimPod(["data", "data"]);
    const dirs = await prepareVolumes(dir, pod, {
      configMaps: {},
      secrets: {},
      claims: { data: pv },
    });
    assert.deepEqual(dirs, { data: path });
  });
});

Deno.test("prepareVolumes() refuses a claim whose local path is missing, naming it", async () => {
  await withDir(async (dir) => {
    const path = `${dir}/gone`;
    const pv = volume("pv-data", "data", { local: { path } });
    await assert.rejects(
      prepareVolumes(dir, claimPod(["data", "data"]), {
        configMaps: {},
        secrets: {},
        claims: { data: pv },
      }),
      (e: unknown) => e instanceof Error && e.message.includes(`path "${path}" does not exist`),
    );
    await assert.rejects(
      prepareVolumes(dir, claimPod(["data", "data"]), { configMaps: {}, secrets: {} }),
      /cannot find the volume of persistentvolumeclaim "data"/,
    );
  });
});

Deno.test("prepareVolumes() makes a DirectoryOrCreate hostPath volume and checks a Directory one", async () => {
  await withDir(async (dir) => {
    const made = `${dir}/static/made`;
    const pod = claimPod(["data", "data"]);
    const sources = (hostPath: Record<string, unknown>) => ({
      configMaps: {},
      secrets: {},
      claims: { data: volume("pv-data", "data", { hostPath }) },
    });
    const dirs = await prepareVolumes(
      dir,
      pod,
      sources({ path: made, type: "DirectoryOrCreate" }),
    );
    assert.deepEqual(dirs, { data: made });
    assert.ok((await Deno.stat(made)).isDirectory);
    await assert.rejects(
      prepareVolumes(dir, pod, sources({ path: `${dir}/nothing`, type: "Directory" })),
      /hostPath type check failed: .*\/nothing is not a directory/,
    );
    assert.deepEqual(await prepareVolumes(dir, pod, sources({ path: `${dir}/plain` })), {
      data: `${dir}/plain`,
    });
  });
});

Deno.test("makeSubPath() makes missing directories with the volume's mode", async () => {
  await withDir(async (dir) => {
    const volumeDir = `${dir}/vol`;
    await Deno.mkdir(volumeDir);
    await Deno.chmod(volumeDir, 0o777);
    await makeSubPath(volumeDir, "nested/dir");
    const info = await Deno.stat(`${volumeDir}/nested/dir`);
    assert.ok(info.isDirectory);
    assert.equal((info.mode ?? 0) & 0o777, 0o777);
    await makeSubPath(volumeDir, "nested/dir");
    await Deno.writeTextFile(`${volumeDir}/nested/file`, "x");
    await makeSubPath(volumeDir, "nested/file");
    await assert.rejects(makeSubPath(volumeDir, "nested/file/below"), /is not a directory/);
  });
});

Deno.test("makeSubPath() refuses symbolic links and paths that climb out", async () => {
  await withDir(async (dir) => {
    const volumeDir = `${dir}/vol`;
    await Deno.mkdir(`${dir}/outside`, { recursive: true });
    await Deno.mkdir(volumeDir);
    await Deno.symlink(`${dir}/outside`, `${volumeDir}/link`);
    await assert.rejects(makeSubPath(volumeDir, "link/etc"), /is a symbolic link/);
    await assert.rejects(makeSubPath(volumeDir, "link"), /is a symbolic link/);
    await assert.rejects(makeSubPath(volumeDir, "a/../../outside"), /without '\.\.'/);
    await assert.rejects(makeSubPath(volumeDir, "/etc"), /without '\.\.'/);
    assert.deepEqual([...Deno.readDirSync(`${dir}/outside`)], [], "nothing made outside");
  });
});

/** A pod of fsGroup 2000 with an emptyDir `scratch` and a configMap `cfg` (mode 0600), and more. */
function fsGroupPod(...volumes: Array<Record<string, unknown>>) {
  return testPod({
    securityContext: { fsGroup: 2000 },
    containers: [{ name: "c", image: "busybox:1.36" }],
    volumes: [
      { name: "scratch", emptyDir: {} },
      { name: "cfg", configMap: { name: "app", defaultMode: 0o600 } },
      ...volumes,
    ],
  });
}

Deno.test("prepareVolumes() gives emptyDir, configMap and secret volumes to the fsGroup, not hostPath", async () => {
  await withDir(async (dir) => {
    const host = `${dir}/host`;
    await Deno.mkdir(host);
    const pod = fsGroupPod({ name: "host", hostPath: { path: host } });
    const dirs = await prepareVolumes(dir, pod, {
      configMaps: { app: { "a.conf": "x" } },
      secrets: {},
    });
    const scratch = await Deno.stat(dirs.scratch!);
    assert.equal(scratch.gid, 2000);
    assert.equal(scratch.mode! & 0o7777, 0o2777);
    const file = await Deno.stat(`${dirs.cfg}/a.conf`);
    assert.equal(file.gid, 2000);
    assert.equal(file.mode! & 0o777, 0o640, "read-only volume: group read added");
    assert.equal((await Deno.stat(host)).gid, 0, "hostPath is left alone");
  });
});

Deno.test("prepareVolumes() gives an emptyDir to the fsGroup once per pod, configMap files every time", async () => {
  await withDir(async (dir) => {
    const pod = fsGroupPod();
    const owned = new Set<string>();
    const sources = { configMaps: { app: { "a.conf": "x" } }, secrets: {}, owned };
    const dirs = await prepareVolumes(dir, pod, sources);
    assert.deepEqual([...owned], [dirs.scratch]);
    // what a container wrote since keeps the group it was given, and is not walked again
    const written = `${dirs.scratch}/big`;
    await Deno.writeTextFile(written, "x", { mode: 0o600 });
    await Deno.chown(written, null, 0);
    await prepareVolumes(dir, pod, sources);
    assert.equal((await Deno.stat(written)).gid, 0, "the emptyDir was not walked again");
    const file = await Deno.stat(`${dirs.cfg}/a.conf`);
    assert.equal(file.gid, 2000);
    assert.equal(file.mode! & 0o777, 0o640, "the rewritten configMap file is given again");
    // another pod (or the same after its volumes went) is walked
    await prepareVolumes(dir, pod, { ...sources, owned: new Set() });
    assert.equal((await Deno.stat(written)).gid, 2000);
  });
});

Deno.test("setVolumeOwnership() walks the tree, skips symlinks, and honours OnRootMismatch", async () => {
  await withDir(async (dir) => {
    const vol = `${dir}/vol`;
    await Deno.mkdir(`${vol}/sub`, { recursive: true });
    await Deno.writeTextFile(`${vol}/sub/f`, "x", { mode: 0o600 });
    await Deno.symlink("/etc/hostname", `${vol}/link`);
    await setVolumeOwnership(vol, 3000, false, "Always");
    assert.equal(
      (await Deno.stat(`${vol}/sub`)).mode! & 0o7777,
      0o2775,
      "mode kept, group rwx + setgid added",
    );
    const f = await Deno.stat(`${vol}/sub/f`);
    assert.equal(f.gid, 3000);
    assert.equal(f.mode! & 0o777, 0o660);
    assert.notEqual((await Deno.stat("/etc/hostname")).gid, 3000, "symlinks are not followed");
    // the root matches: OnRootMismatch walks nothing
    await Deno.chown(`${vol}/sub/f`, null, 0);
    await setVolumeOwnership(vol, 3000, false, "OnRootMismatch");
    assert.equal((await Deno.stat(`${vol}/sub/f`)).gid, 0);
    await setVolumeOwnership(vol, 3000, false, "Always");
    assert.equal((await Deno.stat(`${vol}/sub/f`)).gid, 3000);
  });
});
