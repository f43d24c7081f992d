/**
 * S3 end to end on real podman through `up`, driven by stock kubectl: a Deployment rolls out
 * through ReplicaSets (readiness gates availability), scales, rolls to a new image without
 * dropping below its ready pods, rolls back, replaces a deleted pod, and goes away with all it
 * made. Traffic stays on 127.0.0.1 (probes run inside the pods' network namespaces).
 */
import assert from "node:assert/strict";
import { buildImage, e2eOptions, IMAGE, podman, until } from "./_e2e.ts";
import { type Cluster, startCluster } from "./_harness.ts";

const IMAGE_2 = "localhost/edge-test:2";

const DEPLOYMENT = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 1, maxUnavailable: 0}
  template:
    metadata: {labels: {app: web}}
    spec:
      terminationGracePeriodSeconds: 1
      containers:
      - name: c
        image: ${IMAGE}
        imagePullPolicy: Never
        command: [sh, -c, "sleep 1; touch /tmp/ready; exec sleep 3600"]
        readinessProbe:
          exec: {command: [cat, /tmp/ready]}
          periodSeconds: 1
`;

const JOB = `
apiVersion: batch/v1
kind: Job
metadata: {name: count}
spec:
  completions: 3
  parallelism: 2
  template:
    spec:
      restartPolicy: Never
      terminationGracePeriodSeconds: 1
      containers:
      - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sh, -c, "echo done"]}
`;

interface PodView {
  metadata: { name: string; uid: string; deletionTimestamp?: string };
  spec: { containers: Array<{ image: string }> };
  status: { conditions?: Array<{ type: string; status: string }> };
}

async function webPods(c: Cluster): Promise<PodView[]> {
  const r = await c.request("GET", "/api/v1/namespaces/default/pods?labelSelector=app%3Dweb");
  if (r.status !== 200) throw new Error(`list pods -> ${r.status} ${r.text}`);
  return (r.json as { items: PodView[] }).items;
}

function ready(pod: PodView): boolean {
  return !pod.metadata.deletionTimestamp &&
    pod.status.conditions?.some((x) => x.type === "Ready" && x.status === "True") === true;
}

async function rolloutStatus(c: Cluster): Promise<void> {
  const r = await c.kubectl(["rollout", "status", "deploy/web", "--timeout=120s"]);
  if (r.code !== 0) {
    const state = await c.kubectl(["get", "deploy,rs,pods,events", "-o", "wide"]);
    assert.fail(
      `rollout status: ${r.stdout}${r.stderr}\n${state.stdout}\n--- server stderr ---\n${
        c.logs().stderr.slice(-3000)
      }`,
    );
  }
  assert.match(r.stdout, /deployment "web" successfully rolled out/);
}

async function deployment(c: Cluster) {
  const r = await c.kubectl(["get", "deploy", "web", "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout) as {
    spec: { template: { spec: { containers: Array<{ image: string }> } } };
    status: {
      replicas?: number;
      availableReplicas?: number;
      updatedReplicas?: number;
      conditions?: Array<{ type: string; status: string; reason: string }>;
    };
  };
}

Deno.test({
  name:
    "a Deployment rolls out, scales, updates, rolls back, restarts and is deleted; a Job completes",
  ...e2eOptions(),
  async fn(t) {
    await buildImage();
    await podman(["tag", IMAGE, IMAGE_2]);
    const c = await startCluster();
    try {
      await until("node Ready", async () => {
        const r = await c.kubectl(["get", "node", c.nodeName, "-o", "json"]);
        const node = r.code === 0 ? JSON.parse(r.stdout) : undefined;
        const cond = node?.status.conditions.find((x: { type: string }) => x.type === "Ready");
        return cond?.status === "True" ? true : undefined;
      });

      await t.step("a Deployment of 2 with a readiness probe becomes Available", async () => {
        const applied = await c.kubectl(["apply", "-f", "-"], { stdin: DEPLOYMENT });
        assert.equal(applied.code, 0, applied.stderr);
        await rolloutStatus(c);
        const d = await deployment(c);
        assert.equal(d.status.availableReplicas, 2);
        const available = d.status.conditions?.find((x) => x.type === "Available");
        assert.equal(available?.status, "True");
        assert.equal((await webPods(c)).filter(ready).length, 2);
      });

      await t.step("kubectl scale to 3", async () => {
        const r = await c.kubectl(["scale", "deploy/web", "--replicas=3"]);
        assert.equal(r.code, 0, r.stderr);
        await rolloutStatus(c);
        assert.equal((await deployment(c)).status.availableReplicas, 3);
      });

      await t.step("kubectl set image rolls out without ever fewer than 3 ready pods", async () => {
        let minReady = Infinity;
        let sampling = true;
        const sampler = (async () => {
          // bounded: stops with the rollout, and after 600 samples at most
          for (let i = 0; sampling && i < 600; i++) {
            minReady = Math.min(minReady, (await webPods(c)).filter(ready).length);
            await new Promise((r) => setTimeout(r, 100));
          }
        })();
        const r = await c.kubectl(["set", "image", "deploy/web", `c=${IMAGE_2}`]);
        assert.equal(r.code, 0, r.stderr);
        try {
          await rolloutStatus(c);
        } finally {
          sampling = false;
          await sampler;
        }
        assert.equal(minReady >= 3, true, `ready pods fell to ${minReady} (maxUnavailable 0)`);
        const pods = (await webPods(c)).filter((p) => !p.metadata.deletionTimestamp);
        assert.deepEqual(pods.map((p) => p.spec.containers[0]?.image), [IMAGE_2, IMAGE_2, IMAGE_2]);
        const history = await c.kubectl(["rollout", "history", "deploy/web"]);
        assert.match(history.stdout, /^1\s/m);
        assert.match(history.stdout, /^2\s/m);
      });

      await t.step("kubectl rollout undo returns to the old template", async () => {
        const r = await c.kubectl(["rollout", "undo", "deploy/web"]);
        assert.equal(r.code, 0, r.stderr);
        await rolloutStatus(c);
        const d = await deployment(c);
        assert.equal(d.spec.template.spec.containers[0]?.image, IMAGE);
        await until("old pods gone", async () => {
          const pods = await webPods(c);
          return pods.length === 3 && pods.every((p) => p.spec.containers[0]?.image === IMAGE)
            ? true
            : undefined;
        });
        const history = await c.kubectl(["rollout", "history", "deploy/web"]);
        assert.match(history.stdout, /^2\s/m);
        assert.match(history.stdout, /^3\s/m, "the old ReplicaSet came back as revision 3");
      });

      await t.step(
        "kubectl rollout restart rolls new pods; describe shows the scaling",
        async () => {
          const before = new Set((await webPods(c)).map((p) => p.metadata.uid));
          const r = await c.kubectl(["rollout", "restart", "deploy/web"]);
          assert.equal(r.code, 0, r.stderr);
          await rolloutStatus(c);
          await until("only restarted pods", async () => {
            const pods = await webPods(c);
            const fresh = pods.length === 3 && pods.every((p) => !before.has(p.metadata.uid));
            return fresh ? true : undefined;
          });
          const described = await c.kubectl(["describe", "deploy", "web"]);
          assert.equal(described.code, 0, described.stderr);
          assert.match(
            described.stdout,
            /ScalingReplicaSet\s+.*deployment-controller\s+Scaled up replica set web-/,
          );
          assert.match(described.stdout, /NewReplicaSetAvailable/);
        },
      );

      await t.step("a deleted pod is replaced", async () => {
        const [victim] = await webPods(c);
        assert.ok(victim);
        const r = await c.kubectl(["delete", "pod", victim.metadata.name, "--wait=false"]);
        assert.equal(r.code, 0, r.stderr);
        await until("a replacement, ready", async () => {
          const pods = (await webPods(c)).filter(ready);
          const replaced = pods.length === 3 &&
            pods.every((p) => p.metadata.uid !== victim.metadata.uid);
          return replaced ? true : undefined;
        });
      });

      await t.step(
        "kubectl delete deploy removes its ReplicaSets, pods and containers",
        async () => {
          const r = await c.kubectl(["delete", "deploy", "web"]);
          assert.equal(r.code, 0, r.stderr);
          await until("ReplicaSets and pods gone", async () => {
            const rs = await c.request("GET", "/apis/apps/v1/namespaces/default/replicasets");
            const left = (rs.json as { items: unknown[] }).items.length +
              (await webPods(c)).length;
            return left === 0 ? true : undefined;
          });
          await until("podman pods gone", async () => {
            const out = await podman([
              "pod",
              "ps",
              "--quiet",
              "--filter",
              `label=io.edge.node=${c.nodeName}`,
            ]);
            return out.trim() === "" ? true : undefined;
          });
        },
      );
      await t.step("a Job of 3 completions, 2 at a time, completes", async () => {
        const applied = await c.kubectl(["apply", "-f", "-"], { stdin: JOB });
        assert.equal(applied.code, 0, applied.stderr);
        const waited = await c.kubectl([
          "wait",
          "--for=condition=complete",
          "job/count",
          "--timeout=120s",
        ]);
        assert.equal(waited.code, 0, waited.stdout + waited.stderr);
        const r = await c.kubectl(["get", "job", "count", "-o", "json"]);
        const job = JSON.parse(r.stdout) as { status: { succeeded?: number; failed?: number } };
        assert.equal(job.status.succeeded, 3);
        assert.equal(job.status.failed, undefined);
        const table = await c.kubectl(["get", "job", "count"]);
        assert.match(table.stdout, /count\s+Complete\s+3\/3/);
      });
    } finally {
      await c.stop();
      const left = await podman([
        "pod",
        "ps",
        "-q",
        "--filter",
        `label=io.edge.node=${c.nodeName}`,
      ]);
      const ids = left.split("\n").filter((id) => id !== "");
      if (ids.length > 0) await podman(["pod", "rm", "-f", "-t", "0", ...ids]);
    }
  },
});
