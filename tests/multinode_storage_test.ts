/**
 * S5 on two nodes (two network namespaces, real podman): a pod whose claim is bound to a local
 * volume on node B runs on node B even though node A has more room, and a WaitForFirstConsumer
 * claim of a pod pinned to node A is provisioned on node A. Pods only touch files: no traffic.
 *
 * @module
 */

import assert from "node:assert/strict";
import { e2eOptions, IMAGE, until } from "./_e2e.ts";
import { type MultiNode, nodesReady, startMultiNode } from "./_multinode.ts";

interface PodView {
  spec: { nodeName?: string };
  status: { phase?: string };
}

async function getJson<T>(c: MultiNode, args: string[]): Promise<T | undefined> {
  const r = await c.kubectl(["get", ...args, "-o", "json"]);
  if (r.code !== 0) return undefined;
  return JSON.parse(r.stdout) as T;
}

async function apply(c: MultiNode, yaml: string): Promise<void> {
  const r = await c.kubectl(["apply", "-f", "-"], yaml);
  assert.equal(r.code, 0, r.stderr);
}

Deno.test({
  name: "two nodes: local volumes decide where pods run, and are made where pods run",
  ...e2eOptions({ netns: true }),
  async fn(t) {
    const c = await startMultiNode(["a", "b"]);
    const nodeA = c.nodeName("a");
    const nodeB = c.nodeName("b");
    try {
      await nodesReady(c, 2, until);

      await t.step(
        "a pod on a claim bound to a local PV on node B runs on B, though A has more room",
        async () => {
          // load node B so that least-allocated scoring alone would pick A
          await apply(
            c,
            `
apiVersion: v1
kind: Pod
metadata: {name: ballast}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {zone: b}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sleep", "3600"],
     resources: {requests: {cpu: 500m, memory: 256Mi}}}
`,
          );
          await until("ballast bound to b", async () => {
            const p = await getJson<PodView>(c, ["pod", "ballast"]);
            return p?.spec.nodeName === nodeB ? true : undefined;
          });
          const dir = `${c.root}/agent-b/static-local`;
          await Deno.mkdir(dir, { recursive: true });
          await apply(
            c,
            `
apiVersion: v1
kind: PersistentVolume
metadata: {name: local-b}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: local-static
  local: {path: ${dir}}
  nodeAffinity:
    required:
      nodeSelectorTerms:
      - matchExpressions:
        - {key: kubernetes.io/hostname, operator: In, values: [${nodeB}]}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: on-b}
spec:
  storageClassName: local-static
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 100Mi}}
`,
          );
          await until("claim on-b Bound", async () => {
            const cl = await getJson<{ status?: { phase?: string } }>(c, ["pvc", "on-b"]);
            return cl?.status?.phase === "Bound" ? true : undefined;
          });
          await apply(
            c,
            `
apiVersion: v1
kind: Pod
metadata: {name: uses-b}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "echo written-on-b > /data/where; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: on-b}}
`,
          );
          const pod = await until("uses-b Running", async () => {
            const p = await getJson<PodView>(c, ["pod", "uses-b"]);
            return p?.status.phase === "Running" ? p : undefined;
          });
          assert.equal(pod.spec.nodeName, nodeB);
          const text = await until(
            "file in the local volume",
            () => Deno.readTextFile(`${dir}/where`).catch(() => undefined),
          );
          assert.equal(text.trim(), "written-on-b");
          // the same pod without the claim goes to A: A really has more room
          await apply(
            c,
            `
apiVersion: v1
kind: Pod
metadata: {name: no-claim}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: ["sleep", "3600"]}
`,
          );
          const free = await until("no-claim bound", async () => {
            const p = await getJson<PodView>(c, ["pod", "no-claim"]);
            return p?.spec.nodeName ? p : undefined;
          });
          assert.equal(free.spec.nodeName, nodeA);
        },
      );

      await t.step(
        "a WaitForFirstConsumer claim is provisioned on the node its pod went to",
        async () => {
          await apply(
            c,
            `
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {name: dyn}
spec:
  accessModes: [ReadWriteOnce]
  resources: {requests: {storage: 32Mi}}
---
apiVersion: v1
kind: Pod
metadata: {name: uses-dyn}
spec:
  terminationGracePeriodSeconds: 1
  nodeSelector: {zone: a}
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "echo made-on-a > /data/where; sleep 3600"]
    volumeMounts: [{name: data, mountPath: /data}]
  volumes:
  - {name: data, persistentVolumeClaim: {claimName: dyn}}
`,
          );
          const pod = await until("uses-dyn Running", async () => {
            const p = await getJson<PodView>(c, ["pod", "uses-dyn"]);
            return p?.status.phase === "Running" ? p : undefined;
          });
          assert.equal(pod.spec.nodeName, nodeA);
          const claim = await getJson<{ metadata: { uid: string }; spec: { volumeName?: string } }>(
            c,
            ["pvc", "dyn"],
          );
          const pv = await getJson<
            { spec: { local?: { path: string }; nodeAffinity?: unknown } }
          >(c, ["pv", claim!.spec.volumeName!]);
          const path = pv?.spec.local?.path ?? "";
          assert.equal(path, `${c.root}/agent-a/volumes/pvc-${claim!.metadata.uid}_default_dyn`);
          assert.match(JSON.stringify(pv?.spec.nodeAffinity), new RegExp(nodeA));
          const text = await until(
            "file in the provisioned volume",
            () => Deno.readTextFile(`${path}/where`).catch(() => undefined),
          );
          assert.equal(text.trim(), "made-on-a");
        },
      );
    } finally {
      await c.destroy();
    }
  },
});
