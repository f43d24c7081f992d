/**
 * S5 end to end on real podman through `up`, driven by stock kubectl: the default `local-path`
 * class provisions a directory on the node once a pod uses the claim, the data outlives the pod,
 * Delete reclaim removes the directory, a static hostPath volume with Retain turns Released, a
 * claim no volume can satisfy stays Pending with an Event saying why, and a pod whose claim is
 * not bound gets no sandbox. No network traffic at all: pods only read and write files.
 *
 * @module
 */

import assert from "node:assert/strict";
import { buildImage, e2eOptions, IMAGE, until } from "./_e2e.ts";
import { assertOk, type Cluster, startCluster } from "./_harness.ts";

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

interface ClaimView {
  metadata: { uid: string; name: string; deletionTimestamp?: string; finalizers?: string[] };
  spec: { storageClassName?: string; volumeName?: string };
  status?: { phase?: string; capacity?: { storage?: string } };
}

interface VolumeView {
  metadata: { name: string; annotations?: Record<string, string> };
  spec: {
    persistentVolumeReclaimPolicy?: string;
    storageClassName?: string;
    local?: { path: string };
    hostPath?: { path: string };
    claimRef?: { namespace?: string; name?: string };
    nodeAffinity?: unknown;
  };
  status?: { phase?: string };
}

interface PodView {
  spec: { nodeName?: string };
  status: {
    phase?: string;
    conditions?: Condition[];
    containerStatuses?: Array<{ state: Record<string, { reason?: string }> }>;
  };
}

async function getJson<T>(c: Cluster, args: string[]): Promise<T | undefined> {
  const r = await c.kubectl(["get", ...args, "-o", "json"]);
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as T;
}

async function apply(c: Cluster, yaml: string): Promise<void> {
  assertOk(await c.kubectl(["apply", "-f", "-"], { stdin: yaml }), "kubectl apply");
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

async function eventsFor(
  c: Cluster,
  name: string,
): Promise<Array<{ reason: string; message: string; type: string }>> {
  const r = await c.kubectl([
    "get",
    "events",
    "--field-selector",
    `involvedObject.name=${name}`,
    "-o",
    "json",
  ]);
  if (r.code !== 0) return [];
  return (JSON.parse(r.stdout) as {
    items: Array<{ reason: string; message: string; type: string }>;
  })
    .items;
}

function claimYaml(name: string, size: string, extra = ""): string {
  return `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: ${name}}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: ${size}}}
${extra}`;
}

function podYaml(name: string, claim: string, script: string, extra = ""): string {
  return `
apiVersion: v1
kind: Pod
metadata: {name: ${name}}
spec:
  terminationGracePeriodSeconds: 1
${extra}  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", ${JSON.stringify(script)}]
    volumeMounts:
    - {name: data, mountPath: /data}
    - {name: data, mountPath: /ro, readOnly: true}
    - {name: data, mountPath: /sub, subPath: nested/dir}
  volumes:
  - name: data
    persistentVolumeClaim: {claimName: ${claim}}
`;
}

async function deletePod(c: Cluster, name: string): Promise<void> {
  assertOk(
    await c.kubectl(["delete", "pod", name, "--wait=true", "--timeout=60s"]),
    `kubectl delete pod ${name}`,
  );
}

Deno.test({
  name: "persistent volumes on real podman through up: provisioning, reuse, reclaim",
  ...e2eOptions(),
  async fn(t) {
    await buildImage();
    const c = await startCluster();
    const volumesRoot = `${c.dataDir}/agent/volumes`;
    try {
      await t.step("the default class local-path exists after boot", async () => {
        const out = await until("local-path class", async () => {
          const r = await c.kubectl(["get", "storageclass"]);
          return r.code === 0 && r.stdout.includes("local-path (default)") ? r.stdout : undefined;
        });
        assert.match(
          out,
          /local-path \(default\)\s+edge\.io\/local-path\s+Delete\s+WaitForFirstConsumer/,
        );
      });

      let claimUid = "";
      await t.step("a claim on the default class stays Pending until a pod uses it", async () => {
        await apply(c, claimYaml("data", "64Mi"));
        const event = await until("WaitForFirstConsumer event", async () => {
          const events = await eventsFor(c, "data");
          return events.find((e) => e.reason === "WaitForFirstConsumer");
        });
        assert.match(event.message, /waiting for first consumer/);
        const claim = await getJson<ClaimView>(c, ["pvc", "data"]);
        assert.equal(claim?.status?.phase, "Pending");
        assert.equal(claim?.spec.storageClassName, "local-path");
        assert.ok(claim?.metadata.finalizers?.includes("kubernetes.io/pvc-protection"));
        claimUid = claim!.metadata.uid;
      });

      const dir = () => `${volumesRoot}/pvc-${claimUid}_default_data`;
      let volumeName = "";
      await t.step("a pod using the claim makes it bind; the pod writes a file", async () => {
        await apply(
          c,
          podYaml(
            "writer",
            "data",
            "echo hello-from-writer > /data/greeting; echo in-sub > /sub/f; sleep 3600",
          ),
        );
        const claim = await until("claim Bound", async () => {
          const cl = await getJson<ClaimView>(c, ["pvc", "data"]);
          return cl?.status?.phase === "Bound" ? cl : undefined;
        });
        volumeName = claim.spec.volumeName ?? "";
        assert.equal(volumeName, `pvc-${claimUid}`);
        assert.equal(claim.status?.capacity?.storage, "64Mi");
        const pv = await getJson<VolumeView>(c, ["pv", volumeName]);
        assert.equal(pv?.status?.phase, "Bound");
        assert.equal(pv?.spec.persistentVolumeReclaimPolicy, "Delete");
        assert.equal(pv?.spec.local?.path, dir());
        assert.equal(
          pv?.metadata.annotations?.["pv.kubernetes.io/provisioned-by"],
          "edge.io/local-path",
        );
        const pod = await until("writer Running", async () => {
          const p = await getJson<PodView>(c, ["pod", "writer"]);
          return p?.status.phase === "Running" ? p : undefined;
        });
        assert.equal(pod.spec.nodeName, c.nodeName);
        const greeting = await until("the file on the node", async () => {
          const text = await Deno.readTextFile(`${dir()}/greeting`).catch(() => undefined);
          return text?.includes("hello") ? text : undefined;
        });
        assert.equal(greeting.trim(), "hello-from-writer");
        assert.equal(
          (await until(
            "subPath file",
            () => Deno.readTextFile(`${dir()}/nested/dir/f`).catch(() => undefined),
          )).trim(),
          "in-sub",
        );
        const record = JSON.parse(await Deno.readTextFile(`${dir()}.json`));
        assert.equal(record.claim.namespace, "default");
        assert.equal(record.claim.name, "data");
        assert.equal(record.capacity, "64Mi");
        const table = assertOk(await c.kubectl(["get", "pvc", "data"]), "kubectl get pvc");
        assert.match(table, /data\s+Bound\s+pvc-\S+\s+64Mi\s+RWO\s+local-path/);
      });

      await t.step(
        "a new pod on the same claim reads the file; readOnly mounts refuse writes",
        async () => {
          await deletePod(c, "writer");
          assert.ok(await exists(`${dir()}/greeting`), "the data outlives the pod");
          await apply(
            c,
            podYaml(
              "reader",
              "data",
              "cat /data/greeting; if touch /ro/x 2>/dev/null; then echo ro-writable; else echo ro-refused; fi; sleep 3600",
            ),
          );
          const logs = await until("reader logs", async () => {
            const r = await c.kubectl(["logs", "reader"]);
            return r.code === 0 && r.stdout.includes("ro-") ? r.stdout : undefined;
          });
          assert.match(logs, /hello-from-writer/);
          assert.match(logs, /ro-refused/);
        },
      );

      await t.step(
        "a claim in use is kept; once the pod goes, Delete reclaim removes the directory",
        async () => {
          assertOk(await c.kubectl(["delete", "pvc", "data", "--wait=false"]), "delete pvc");
          const terminating = await until("claim Terminating", async () => {
            const cl = await getJson<ClaimView>(c, ["pvc", "data"]);
            return cl?.metadata.deletionTimestamp ? cl : undefined;
          });
          assert.ok(terminating.metadata.finalizers?.includes("kubernetes.io/pvc-protection"));
          assert.ok(await exists(dir()));
          await deletePod(c, "reader");
          await until("claim gone", async () => {
            const r = await c.kubectl(["get", "pvc", "data", "--ignore-not-found", "-o", "name"]);
            return r.code === 0 && r.stdout.trim() === "" ? true : undefined;
          });
          await until("volume gone", async () => {
            const r = await c.kubectl([
              "get",
              "pv",
              volumeName,
              "--ignore-not-found",
              "-o",
              "name",
            ]);
            return r.code === 0 && r.stdout.trim() === "" ? true : undefined;
          });
          assert.equal(await exists(dir()), false, "the directory was removed");
          assert.equal(await exists(`${dir()}.json`), false, "the record was removed");
        },
      );

      const staticDir = `${c.dataDir}/static-1`;
      await t.step("a static hostPath volume with Retain binds, then turns Released", async () => {
        await Deno.mkdir(staticDir, { recursive: true });
        await Deno.writeTextFile(`${staticDir}/kept`, "kept\n");
        await apply(
          c,
          `
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-1}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: manual
  hostPath: {path: ${staticDir}}
---
${claimYaml("static-claim", "500Mi", "  storageClassName: manual")}`,
        );
        const claim = await until("static claim Bound", async () => {
          const cl = await getJson<ClaimView>(c, ["pvc", "static-claim"]);
          return cl?.status?.phase === "Bound" ? cl : undefined;
        });
        assert.equal(claim.spec.volumeName, "static-1");
        assert.equal(claim.status?.capacity?.storage, "1Gi");
        assertOk(await c.kubectl(["delete", "pvc", "static-claim", "--timeout=60s"]), "delete pvc");
        const pv = await until("static-1 Released", async () => {
          const v = await getJson<VolumeView>(c, ["pv", "static-1"]);
          return v?.status?.phase === "Released" ? v : undefined;
        });
        assert.equal(pv.spec.claimRef?.name, "static-claim");
        assert.equal(
          await Deno.readTextFile(`${staticDir}/kept`),
          "kept\n",
          "Retain keeps the data",
        );
        const table = assertOk(await c.kubectl(["get", "pv", "static-1"]), "kubectl get pv");
        assert.match(
          table,
          /static-1\s+1Gi\s+RWO\s+Retain\s+Released\s+default\/static-claim\s+manual/,
        );
      });

      await t.step(
        "a claim larger than any volume stays Pending with an Event saying why",
        async () => {
          await apply(
            c,
            `
apiVersion: v1
kind: PersistentVolume
metadata: {name: static-2}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  storageClassName: manual
  hostPath: {path: ${c.dataDir}/static-2, type: DirectoryOrCreate}
---
${claimYaml("huge", "100Gi", "  storageClassName: manual")}`,
          );
          const event = await until("FailedBinding event", async () => {
            const events = await eventsFor(c, "huge");
            return events.find((e) => e.reason === "FailedBinding");
          });
          assert.equal(event.type, "Warning");
          assert.match(event.message, /too small \(largest 1Gi, 100Gi requested\)/);
          const claim = await getJson<ClaimView>(c, ["pvc", "huge"]);
          assert.equal(claim?.status?.phase, "Pending");
          const described = assertOk(await c.kubectl(["describe", "pvc", "huge"]), "describe pvc");
          assert.match(described, /FailedBinding/);
        },
      );

      await t.step(
        "a pod whose claim is not bound gets no sandbox, only a condition saying why",
        async () => {
          await apply(c, podYaml("early", "huge", "sleep 3600", `  nodeName: ${c.nodeName}\n`));
          const pod = await until("PodReadyToStartContainers False", async () => {
            const p = await getJson<PodView>(c, ["pod", "early"]);
            const cond = p?.status.conditions?.find((x) => x.type === "PodReadyToStartContainers");
            return cond?.status === "False" && cond.reason ? p : undefined;
          });
          const cond = pod.status.conditions!.find((x) => x.type === "PodReadyToStartContainers")!;
          assert.equal(cond.reason, "PersistentVolumeClaimNotBound");
          assert.match(cond.message ?? "", /persistentvolumeclaim "huge" is not bound/);
          assert.equal(pod.status.phase, "Pending");
          assert.equal(
            pod.status.containerStatuses?.[0]?.state.waiting?.reason,
            "ContainerCreating",
          );
          await until("FailedMount event", async () => {
            const events = await eventsFor(c, "early");
            return events.find((e) => e.reason === "FailedMount");
          });
          await deletePod(c, "early");
        },
      );

      await t.step("an Immediate class provisions without waiting for a pod", async () => {
        await apply(
          c,
          `
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata: {name: local-now}
provisioner: edge.io/local-path
reclaimPolicy: Retain
volumeBindingMode: Immediate
---
${claimYaml("now", "16Mi", "  storageClassName: local-now")}`,
        );
        const claim = await until("Immediate claim Bound", async () => {
          const cl = await getJson<ClaimView>(c, ["pvc", "now"]);
          return cl?.status?.phase === "Bound" ? cl : undefined;
        });
        const pv = await getJson<VolumeView>(c, ["pv", claim.spec.volumeName!]);
        assert.equal(pv?.spec.persistentVolumeReclaimPolicy, "Retain");
        const path = pv?.spec.local?.path ?? "";
        assert.ok(path.startsWith(volumesRoot), path);
        assert.ok(await exists(path));
        assertOk(await c.kubectl(["delete", "pvc", "now", "--timeout=60s"]), "delete pvc");
        await until("Retain volume Released", async () => {
          const v = await getJson<VolumeView>(c, ["pv", claim.spec.volumeName!]);
          return v?.status?.phase === "Released" ? true : undefined;
        });
        assert.ok(await exists(path), "Retain keeps the provisioned directory");
      });
    } finally {
      await c.stop();
    }
  },
});
