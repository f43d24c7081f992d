/**
 * Acceptance test: PersistentVolumes, PersistentVolumeClaims and StorageClasses served to
 * stock kubectl 1.32 by `mod.ts server` (API only: no agent). Covers discovery, the `get`
 * columns, `explain` from the generated OpenAPI, `apply` with defaults, refused objects (422
 * with field causes, nothing stored) and `describe`.
 *
 * The claims here can never bind (no volume is large enough, and their class has no
 * provisioner), so what is asserted does not depend on the PV controller or admission; where
 * those may add something (a finalizer, a phase), the assertions allow it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { assertOk, type Cluster, kubectlSkipReason, withCluster } from "./_harness.ts";

const API_ONLY = { mode: "server" } as const;
const IGNORE = kubectlSkipReason !== undefined;

const CLASS = {
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name: "manual" },
  provisioner: "kubernetes.io/no-provisioner",
};

const VOLUME = {
  apiVersion: "v1",
  kind: "PersistentVolume",
  metadata: { name: "pv-1", labels: { tier: "fast" } },
  spec: {
    capacity: { storage: "1Gi" },
    accessModes: ["ReadWriteOnce", "ReadOnlyMany"],
    storageClassName: "manual",
    hostPath: { path: "/srv/volumes/pv-1" },
  },
};

const LOCAL_VOLUME = {
  apiVersion: "v1",
  kind: "PersistentVolume",
  metadata: { name: "pv-local" },
  spec: {
    capacity: { storage: "2Gi" },
    accessModes: ["ReadWriteOncePod"],
    persistentVolumeReclaimPolicy: "Delete",
    storageClassName: "manual",
    claimRef: { namespace: "default", name: "reserved" },
    local: { path: "/var/lib/edge/volumes/pv-local" },
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
  },
};

const CLAIM = {
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name: "data" },
  spec: {
    accessModes: ["ReadWriteOnce"],
    storageClassName: "manual",
    resources: { requests: { storage: "50Gi" } },
  },
};

async function applyOk(cluster: Cluster, manifest: unknown): Promise<string> {
  return assertOk(
    await cluster.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) }),
    "kubectl apply",
  );
}

async function getJson(cluster: Cluster, ...args: string[]): Promise<Record<string, unknown>> {
  return JSON.parse(assertOk(await cluster.kubectl(["get", ...args, "-o", "json"]), "get"));
}

/** `kubectl apply` that must fail: returns stderr. */
async function applyRefused(cluster: Cluster, manifest: unknown): Promise<string> {
  const res = await cluster.kubectl(["apply", "-f", "-"], { stdin: JSON.stringify(manifest) });
  assert.equal(res.code, 1, `apply should fail: ${res.stdout}`);
  return res.stderr;
}

/** The lines of a `kubectl get` table section that starts with the header `first`. */
function section(out: string, first: RegExp): string[] {
  const lines = out.split("\n");
  const start = lines.findIndex((l) => first.test(l));
  assert.ok(start >= 0, `no header ${first} in:\n${out}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === "");
  return lines.slice(start, end < 0 ? undefined : end);
}

Deno.test({
  name: "kubectl lists, applies, explains and describes PVs, PVCs and StorageClasses",
  ignore: IGNORE,
  fn: withCluster(async (cluster, t) => {
    await t.step("api-resources lists the three kinds with their short names", async () => {
      const out = assertOk(await cluster.kubectl(["api-resources"]), "api-resources");
      assert.match(out, /^persistentvolumeclaims\s+pvc\s+v1\s+true\s+PersistentVolumeClaim$/m);
      assert.match(out, /^persistentvolumes\s+pv\s+v1\s+false\s+PersistentVolume$/m);
      assert.match(out, /^storageclasses\s+sc\s+storage\.k8s\.io\/v1\s+false\s+StorageClass$/m);
    });

    await t.step("apply creates each kind and -o yaml shows the defaults", async () => {
      assert.match(await applyOk(cluster, CLASS), /storageclass.storage.k8s.io\/manual created/);
      assert.match(await applyOk(cluster, VOLUME), /persistentvolume\/pv-1 created/);
      assert.match(await applyOk(cluster, LOCAL_VOLUME), /persistentvolume\/pv-local created/);
      assert.match(await applyOk(cluster, CLAIM), /persistentvolumeclaim\/data created/);

      const sc = await getJson(cluster, "sc", "manual");
      assert.equal(sc.reclaimPolicy, "Delete");
      assert.equal(sc.volumeBindingMode, "Immediate");
      const pv = await getJson(cluster, "pv", "pv-1") as {
        spec: Record<string, unknown>;
        status: { phase: string };
      };
      assert.equal(pv.spec.persistentVolumeReclaimPolicy, "Retain");
      assert.equal(pv.spec.volumeMode, "Filesystem");
      assert.deepEqual(pv.spec.hostPath, { path: "/srv/volumes/pv-1", type: "" });
      assert.match(pv.status.phase, /^(Pending|Available)$/);
      const pvc = await getJson(cluster, "pvc", "data") as {
        spec: Record<string, unknown>;
        status: { phase: string };
      };
      assert.equal(pvc.spec.volumeMode, "Filesystem");
      assert.equal(pvc.status.phase, "Pending");
      const yaml = assertOk(await cluster.kubectl(["get", "pvc", "data", "-o", "yaml"]), "yaml");
      assert.match(yaml, /^ {2}volumeMode: Filesystem$/m);

      // a second apply patches (client-side strategic merge from the OpenAPI schema)
      const expandable = { ...CLASS, allowVolumeExpansion: true };
      assert.match(
        await applyOk(cluster, expandable),
        /storageclass.storage.k8s.io\/manual configured/,
      );
      assert.equal((await getJson(cluster, "sc", "manual")).allowVolumeExpansion, true);
    });

    await t.step("get pv,pvc,sc prints kubectl's columns", async () => {
      const out = assertOk(await cluster.kubectl(["get", "pv,pvc,sc"]), "get pv,pvc,sc");
      const pvs = section(out, /^NAME\s+CAPACITY\s+ACCESS MODES/);
      assert.match(
        pvs[0]!,
        /^NAME\s+CAPACITY\s+ACCESS MODES\s+RECLAIM POLICY\s+STATUS\s+CLAIM\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+REASON\s+AGE$/,
      );
      assert.ok(
        pvs.some((l) =>
          /^persistentvolume\/pv-1\s+1Gi\s+RWO,ROX\s+Retain\s+(Pending|Available)\s+manual\s+<unset>\s+\S+$/
            .test(l)
        ),
        pvs.join("\n"),
      );
      assert.ok(
        pvs.some((l) =>
          /^persistentvolume\/pv-local\s+2Gi\s+RWOP\s+Delete\s+\S+\s+default\/reserved\s+manual\s+<unset>\s+/
            .test(l)
        ),
        pvs.join("\n"),
      );
      const pvcs = section(out, /^NAME\s+STATUS\s+VOLUME/);
      assert.match(
        pvcs[0]!,
        /^NAME\s+STATUS\s+VOLUME\s+CAPACITY\s+ACCESS MODES\s+STORAGECLASS\s+VOLUMEATTRIBUTESCLASS\s+AGE$/,
      );
      assert.match(pvcs[1]!, /^persistentvolumeclaim\/data\s+Pending\s+manual\s+<unset>\s+\S+$/);
      const scs = section(out, /^NAME\s+PROVISIONER/);
      assert.match(
        scs[0]!,
        /^NAME\s+PROVISIONER\s+RECLAIMPOLICY\s+VOLUMEBINDINGMODE\s+ALLOWVOLUMEEXPANSION\s+AGE$/,
      );
      assert.ok(
        scs.some((l) =>
          /^storageclass\.storage\.k8s\.io\/manual\s+kubernetes\.io\/no-provisioner\s+Delete\s+Immediate\s+true\s+\S+$/
            .test(l)
        ),
        scs.join("\n"),
      );

      const wide = assertOk(await cluster.kubectl(["get", "pv", "pv-1", "-o", "wide"]), "wide");
      assert.match(wide, /\s+VOLUMEMODE\n/);
      assert.match(wide, /^pv-1\s+.*\s+Filesystem$/m);
    });

    await t.step("the default class is marked in get sc", async () => {
      await applyOk(cluster, {
        ...CLASS,
        metadata: {
          name: "fast",
          annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
        },
        provisioner: "example.com/fast",
      });
      const out = assertOk(await cluster.kubectl(["get", "sc", "fast"]), "get sc");
      assert.match(out, /^fast \(default\)\s+example\.com\/fast\s+Delete\s+Immediate\s+false\s+/m);
      assertOk(await cluster.kubectl(["delete", "sc", "fast"]), "delete sc");
    });

    await t.step("explain reads the generated OpenAPI", async () => {
      const spec = assertOk(await cluster.kubectl(["explain", "pvc.spec"]), "explain pvc.spec");
      assert.match(spec, /^KIND:\s+PersistentVolumeClaim$/m);
      for (const field of ["accessModes", "resources", "storageClassName", "volumeName"]) {
        assert.match(spec, new RegExp(`^\\s+${field}\\s+<`, "m"), field);
      }
      const local = assertOk(await cluster.kubectl(["explain", "pv.spec.local"]), "explain");
      assert.match(local, /^\s+path\s+<string> -required-$/m);
      const sc = assertOk(await cluster.kubectl(["explain", "storageclass"]), "explain sc");
      assert.match(sc, /^GROUP:\s+storage\.k8s\.io$/m);
      assert.match(sc, /^\s+provisioner\s+<string> -required-$/m);
    });

    await t.step("a bad object is refused with its field cause and nothing is stored", async () => {
      const noCapacity = {
        ...VOLUME,
        metadata: { name: "bad" },
        spec: { ...VOLUME.spec, capacity: undefined },
      };
      assert.match(
        await applyRefused(cluster, noCapacity),
        /The PersistentVolume "bad" is invalid: spec\.capacity: Required value/,
      );
      const nfs = {
        ...VOLUME,
        metadata: { name: "bad" },
        spec: { ...VOLUME.spec, hostPath: undefined, nfs: { server: "nas", path: "/x" } },
      };
      assert.match(
        await applyRefused(cluster, nfs),
        /spec\.nfs: Forbidden: nfs volumes are not supported/,
      );
      assert.match(
        await applyRefused(cluster, {
          ...LOCAL_VOLUME,
          metadata: { name: "bad" },
          spec: { ...LOCAL_VOLUME.spec, nodeAffinity: undefined },
        }),
        /spec\.nodeAffinity: Required value: Local volume requires node affinity/,
      );
      const notMissing = await cluster.kubectl(["get", "pv", "bad"]);
      assert.equal(notMissing.code, 1);
      assert.match(notMissing.stderr, /persistentvolumes "bad" not found/);

      const noRequest = {
        ...CLAIM,
        metadata: { name: "bad" },
        spec: { ...CLAIM.spec, resources: {} },
      };
      assert.match(
        await applyRefused(cluster, noRequest),
        /The PersistentVolumeClaim "bad" is invalid: spec\.resources\[storage\]: Required value/,
      );
      const { provisioner: _, ...noProvisioner } = { ...CLASS, metadata: { name: "bad" } };
      assert.match(await applyRefused(cluster, noProvisioner), /provisioner: Required value/);

      // the raw API answers 422 Invalid with the causes
      const res = await cluster.request(
        "POST",
        "/api/v1/namespaces/default/persistentvolumeclaims",
        {
          ...noRequest,
          spec: { ...noRequest.spec, accessModes: [] },
        },
      );
      assert.equal(res.status, 422);
      const status = res.json as {
        reason: string;
        details: { causes: Array<{ field: string; reason: string }> };
      };
      assert.equal(status.reason, "Invalid");
      assert.deepEqual(status.details.causes.map((c) => [c.field, c.reason]), [
        ["spec.accessModes", "FieldValueRequired"],
        ["spec.resources[storage]", "FieldValueRequired"],
      ]);
      const claims = await getJson(cluster, "pvc") as { items: unknown[] };
      assert.equal(claims.items.length, 1);
    });

    await t.step("immutable fields are refused on update and left unchanged", async () => {
      const provisioner = await cluster.kubectl([
        "patch",
        "sc",
        "manual",
        "--type=merge",
        "-p",
        '{"provisioner":"example.com/other","volumeBindingMode":"WaitForFirstConsumer"}',
      ]);
      assert.equal(provisioner.code, 1);
      assert.match(
        provisioner.stderr,
        /provisioner: Forbidden: updates to provisioner are forbidden\./,
      );
      assert.match(
        provisioner.stderr,
        /volumeBindingMode: Invalid value: "WaitForFirstConsumer": field is immutable/,
      );
      assert.equal(
        (await getJson(cluster, "sc", "manual")).provisioner,
        "kubernetes.io/no-provisioner",
      );

      const grow = await cluster.kubectl([
        "patch",
        "pvc",
        "data",
        "--type=merge",
        "-p",
        '{"spec":{"resources":{"requests":{"storage":"60Gi"}}}}',
      ]);
      assert.equal(grow.code, 1);
      assert.match(grow.stderr, /spec: Forbidden: spec is immutable after creation/);
      assert.match(grow.stderr, /does not support volume expansion/);

      const move = await cluster.kubectl([
        "patch",
        "pv",
        "pv-1",
        "--type=merge",
        "-p",
        '{"spec":{"hostPath":{"path":"/srv/elsewhere"}}}',
      ]);
      assert.equal(move.code, 1);
      assert.match(
        move.stderr,
        /spec\.persistentvolumesource: Forbidden: spec\.persistentvolumesource is immutable after creation/,
      );
      const pv = await getJson(cluster, "pv", "pv-1") as { spec: { hostPath: { path: string } } };
      assert.equal(pv.spec.hostPath.path, "/srv/volumes/pv-1");

      // what may change does
      assertOk(
        await cluster.kubectl([
          "patch",
          "pv",
          "pv-1",
          "--type=merge",
          "-p",
          '{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}',
        ]),
        "patch reclaim policy",
      );
    });

    await t.step("describe prints kubectl's layout, and ctl describe prints the same", async () => {
      const pv = assertOk(await cluster.kubectl(["describe", "pv", "pv-local"]), "describe pv");
      assert.match(pv, /^Name:\s+pv-local$/m);
      assert.match(pv, /^Claim:\s+default\/reserved$/m);
      assert.match(pv, /^Reclaim Policy:\s+Delete$/m);
      assert.match(pv, /^Access Modes:\s+RWOP$/m);
      assert.match(pv, /^Capacity:\s+2Gi$/m);
      assert.match(pv, /^ {4}Term 0:\s+kubernetes\.io\/hostname in \[edge-1\]$/m);
      assert.match(
        pv,
        /^ {4}Type:\s+LocalVolume \(a persistent volume backed by local storage on a node\)$/m,
      );
      assert.match(pv, /^ {4}Path:\s+\/var\/lib\/edge\/volumes\/pv-local$/m);

      const pvc = assertOk(await cluster.kubectl(["describe", "pvc", "data"]), "describe pvc");
      assert.match(pvc, /^Name:\s+data$/m);
      assert.match(pvc, /^Namespace:\s+default$/m);
      assert.match(pvc, /^StorageClass:\s+manual$/m);
      assert.match(pvc, /^Status:\s+Pending$/m);
      assert.match(pvc, /^VolumeMode:\s+Filesystem$/m);
      assert.match(pvc, /^Used By:\s+<none>$/m);

      const sc = assertOk(await cluster.kubectl(["describe", "sc", "manual"]), "describe sc");
      assert.match(sc, /^IsDefaultClass:\s+No$/m);
      assert.match(sc, /^Provisioner:\s+kubernetes\.io\/no-provisioner$/m);
      assert.match(sc, /^AllowVolumeExpansion:\s+True$/m);
      assert.match(sc, /^VolumeBindingMode:\s+Immediate$/m);

      // our CLI's describers print what kubectl prints (events aside: their ages may move)
      const before = (text: string) => text.split(/^Events:/m)[0];
      const cases = [[["sc", "manual"], sc], [["pv", "pv-local"], pv], [["pvc", "data"], pvc]];
      for (const [args, expected] of cases as [string[], string][]) {
        const ours = assertOk(await cluster.ctl(["describe", ...args]), `ctl describe ${args[0]}`);
        assert.equal(before(ours), before(expected), `ctl describe ${args.join(" ")}`);
      }
    });
  }, API_ONLY),
});
