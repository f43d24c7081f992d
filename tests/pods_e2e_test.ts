/**
 * S2 end to end on real podman through `up`, driven by stock kubectl: the scheduler binds,
 * the agent runs pods as podman pods, status and logs flow back, restarts adopt containers.
 * All traffic stays on 127.0.0.1 (probes run inside the pods' own network namespaces).
 */
import assert from "node:assert/strict";
import { buildImage, e2eOptions, IMAGE, podman, until } from "./_e2e.ts";
import { type Cluster, startCluster } from "./_harness.ts";
import { appArmorEnabled } from "../node/security.ts";

interface PodView {
  metadata: { uid: string; name: string };
  spec: { nodeName?: string };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
    initContainerStatuses?: Array<{
      name: string;
      started?: boolean;
      ready: boolean;
      state: Record<string, unknown>;
    }>;
    containerStatuses?: Array<{
      name: string;
      image?: string;
      containerID?: string;
      ready: boolean;
      restartCount: number;
      state: Record<string, { reason?: string; exitCode?: number; message?: string }>;
      lastState: Record<string, { exitCode?: number; reason?: string }>;
    }>;
  };
}

async function getPod(c: Cluster, name: string): Promise<PodView> {
  const r = await c.kubectl(["get", "pod", name, "-o", "json"]);
  if (r.code !== 0) throw new Error(r.stderr);
  return JSON.parse(r.stdout);
}

/** The pod once its Ready condition is True. */
function podReady(c: Cluster, name: string): Promise<PodView> {
  return until(`${name} Ready`, async () => {
    const p = await getPod(c, name);
    const ready = p.status.conditions?.find((x) => x.type === "Ready");
    return ready?.status === "True" ? p : undefined;
  });
}

/**
 * `kubectl logs -f` (or `ctl logs -f`) of hello's client, which prints a line a second: the
 * first `count` lines, all but the first of which arrived after the request.
 */
async function followLines(c: Cluster, tool: "kubectl" | "ctl", count: number): Promise<string[]> {
  const args = ["logs", "-f", "hello", "-c", "client", "--tail=1"];
  const child = tool === "kubectl" ? c.spawnKubectl(args) : c.spawnCtl(args);
  try {
    await child.waitFor(new RegExp(`^(?:.*\\n){${count}}`), 30_000);
    return child.stdout.split("\n").slice(0, count);
  } finally {
    await child.stop();
  }
}

const HELLO = `
apiVersion: v1
kind: ConfigMap
metadata: {name: hello-config}
data: {GREETING: "hello from a configmap"}
---
apiVersion: v1
kind: Pod
metadata: {name: hello}
spec:
  terminationGracePeriodSeconds: 2
  initContainers:
  - name: init
    image: ${IMAGE}
    imagePullPolicy: Never
    command: ["sh", "-c", "echo init-ran > /shared/index.html"]
    volumeMounts: [{name: work, mountPath: /shared}]
  containers:
  - name: web
    image: ${IMAGE}
    imagePullPolicy: Never
    command: ["httpd", "-f", "-p", "8080", "-h", "/shared"]
    volumeMounts: [{name: work, mountPath: /shared}]
    readinessProbe: {httpGet: {path: /index.html, port: 8080}, periodSeconds: 1}
  - name: client
    image: ${IMAGE}
    imagePullPolicy: Never
    env:
    - name: GREETING
      valueFrom: {configMapKeyRef: {name: hello-config, key: GREETING}}
    command: ["sh", "-c", "echo $GREETING; while true; do wget -qO- http://127.0.0.1:8080/index.html; sleep 1; done"]
  volumes: [{name: work, emptyDir: {}}]
`;

const CRASHER = `
apiVersion: v1
kind: Pod
metadata: {name: crasher}
spec:
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    # each instance counts itself in the emptyDir, which outlives container restarts
    command: ["sh", "-c", "n=$(($(cat /d/n 2>/dev/null || echo 0) + 1)); echo $n > /d/n; echo boom $n; exit 3"]
    volumeMounts: [{name: d, mountPath: /d}]
  volumes: [{name: d, emptyDir: {}}]
`;

const GREEDY = `
apiVersion: v1
kind: Pod
metadata: {name: greedy}
spec:
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, resources: {requests: {cpu: "512"}}}
`;

Deno.test({
  name: "pods run on real podman through up and stock kubectl",
  ...e2eOptions(),
  async fn(t) {
    await buildImage();
    const c = await startCluster({ agentArgs: ["--allowed-unsafe-sysctls", "kernel.msg*"] });
    try {
      await t.step("the local node registers and is Ready", async () => {
        await until("node Ready", async () => {
          const r = await c.kubectl(["get", "node", c.nodeName, "-o", "json"]);
          if (r.code !== 0) return undefined;
          const node = JSON.parse(r.stdout);
          const ready = node.status.conditions.find((x: { type: string }) => x.type === "Ready");
          return ready?.status === "True" ? true : undefined;
        });
      });

      await t.step(
        "init container, two containers over 127.0.0.1, emptyDir, ConfigMap env and a readiness probe → Running and Ready",
        async () => {
          const applied = await c.kubectl(["apply", "-f", "-"], { stdin: HELLO });
          assert.equal(applied.code, 0, applied.stderr);
          const pod = await podReady(c, "hello");
          assert.equal(pod.status.phase, "Running");
          assert.equal(pod.spec.nodeName, c.nodeName);
          assert.match(pod.status.podIP ?? "", /^\d+\.\d+\.\d+\.\d+$/);
          for (const s of pod.status.containerStatuses ?? []) {
            assert.match(s.containerID ?? "", /^podman:\/\/[0-9a-f]{64}$/);
            assert.ok(s.state.running, `${s.name} is running`);
          }
        },
      );

      await t.step("kubectl logs shows the containers' output", async () => {
        const logs = await until("client output", async () => {
          const r = await c.kubectl(["logs", "hello", "-c", "client", "--tail=20"]);
          return r.code === 0 && r.stdout.includes("init-ran") ? r.stdout : undefined;
        });
        assert.match(logs, /init-ran/);
        const first = await c.kubectl(["logs", "hello", "-c", "client"]);
        assert.match(first.stdout, /^hello from a configmap$/m);
        const ours = await c.ctl(["logs", "hello", "-c", "client", "--tail", "5"]);
        assert.equal(ours.code, 0, ours.stderr);
        assert.match(ours.stdout, /init-ran/);
        const defaulted = await c.kubectl(["logs", "hello", "--tail=1"]);
        assert.equal(defaulted.code, 0, "kubectl defaults to the first container");

        // the client prints a line a second: only the last few are within --since=3s
        const all = (await c.kubectl(["logs", "hello", "-c", "client"])).stdout.split("\n");
        const recent = await c.kubectl(["logs", "hello", "-c", "client", "--since=3s"]);
        assert.equal(recent.code, 0, recent.stderr);
        const recentLines = recent.stdout.split("\n").filter((l) => l !== "");
        assert.ok(recentLines.length >= 1 && recentLines.length <= 5, recent.stdout);
        assert.ok(all.length > recentLines.length + 3, `${all.length} lines in all`);
        assert.doesNotMatch(recent.stdout, /hello from a configmap/);

        // -f keeps the stream open: lines written after the request arrive
        for (const tool of ["kubectl", "ctl"] as const) {
          const lines = await followLines(c, tool, 3);
          assert.deepEqual(lines, ["init-ran", "init-ran", "init-ran"], tool);
        }
      });

      await t.step(
        "a container that exits non-zero is restarted with back-off and lastState.terminated.exitCode",
        async () => {
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: CRASHER })).code, 0);
          // the back-off grows: 10 s after the first restart's exit, then 20 s
          const delays: string[] = [];
          const pod = await until("back-off 20s", async () => {
            const p = await getPod(c, "crasher");
            const message = p.status.containerStatuses?.[0]?.state.waiting?.message ?? "";
            const delay = /^back-off (\d+)s restarting failed container=c pod=crasher_default\(/
              .exec(message)?.[1];
            if (delay && delays.at(-1) !== delay) delays.push(delay);
            return delay === "20" ? p : undefined;
          }, 90_000);
          assert.deepEqual(delays, ["10", "20"]);
          const s = pod.status.containerStatuses![0]!;
          assert.ok(s.restartCount >= 2, `restartCount ${s.restartCount}`);
          assert.equal(s.state.waiting?.reason, "CrashLoopBackOff");
          assert.equal(s.lastState.terminated?.exitCode, 3);
          const events = await until("BackOff and Started events", async () => {
            const described = await c.kubectl(["describe", "pod", "crasher"]);
            const text = described.stdout.slice(described.stdout.indexOf("Events:"));
            return /BackOff/.test(text) && /Started/.test(text) ? text : undefined;
          });
          assert.match(events, /Back-off restarting failed container c in pod crasher_default/);
          assert.match(events, /Started container c/);

          // the current instance's log, and with --previous the one before it
          const logs = await until("stable restartCount", async () => {
            const before = (await getPod(c, "crasher")).status.containerStatuses![0]!.restartCount;
            const current = await c.kubectl(["logs", "crasher"]);
            const previous = await c.kubectl(["logs", "crasher", "--previous"]);
            const after = (await getPod(c, "crasher")).status.containerStatuses![0]!.restartCount;
            return before === after && current.code === 0 && previous.code === 0
              ? { restarts: after, current: current.stdout, previous: previous.stdout }
              : undefined;
          });
          assert.equal(logs.current, `boom ${logs.restarts + 1}\n`);
          assert.equal(logs.previous, `boom ${logs.restarts}\n`);
        },
      );

      await t.step(
        "a pod requesting more cpu than exists stays Pending with the reason",
        async () => {
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: GREEDY })).code, 0);
          const cond = await until("Unschedulable", async () => {
            const p = await getPod(c, "greedy");
            const sched = p.status.conditions?.find((x) => x.type === "PodScheduled");
            return sched?.reason === "Unschedulable" ? sched : undefined;
          });
          assert.equal(cond.status, "False");
          assert.equal(cond.message, "0/1 nodes are available: 1 Insufficient cpu.");
          const described = await c.kubectl(["describe", "pod", "greedy"]);
          assert.match(described.stdout, /FailedScheduling/);
        },
      );

      await t.step(
        "restarting up leaves running containers' ids and restartCounts unchanged",
        async () => {
          const before = await getPod(c, "hello");
          const ids = (before.status.containerStatuses ?? []).map((s) => s.containerID).sort();
          const podmanIds = async () =>
            (await podman([
              "ps",
              "--no-trunc",
              "--filter",
              `label=io.edge.pod.uid=${before.metadata.uid}`,
              "--filter",
              "label=io.edge.container.kind=app",
              "--format",
              "{{.ID}}",
            ])).trim().split("\n").sort();
          const runningBefore = await podmanIds();
          assert.deepEqual(runningBefore.map((id) => `podman://${id}`), ids);
          await c.restart();
          await until("the API back", async () => {
            const r = await c.kubectl(["get", "pod", "hello"]);
            return r.code === 0 ? true : undefined;
          });
          await new Promise((r) => setTimeout(r, 3000));
          const after = await getPod(c, "hello");
          assert.deepEqual(
            (after.status.containerStatuses ?? []).map((s) => s.containerID).sort(),
            ids,
          );
          assert.deepEqual(
            (after.status.containerStatuses ?? []).map((s) => s.restartCount),
            (before.status.containerStatuses ?? []).map((s) => s.restartCount),
          );
          assert.deepEqual(await podmanIds(), runningBefore, "the same containers still run");
        },
      );

      await t.step("deleting a pod removes its containers", async () => {
        const pod = await getPod(c, "hello");
        const del = await c.kubectl(["delete", "pod", "hello", "crasher", "greedy"]);
        assert.equal(del.code, 0, del.stderr);
        await until("containers gone", async () => {
          const left = await podman([
            "ps",
            "-a",
            "--filter",
            `label=io.edge.pod.uid=${pod.metadata.uid}`,
            "--format",
            "{{.ID}}",
          ]);
          return left.trim() === "" ? true : undefined;
        });
      });

      await t.step("bad pod specs are refused at the API with 422", async () => {
        const bad = (container: string) => `
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers:
  - ${container}
`;
        const cases = [
          `{name: c, image: ${IMAGE}, command: "not-a-list"}`,
          `{name: c, image: ${IMAGE}, readinessProbe: {tcpSocket: {port: 70000}}}`,
        ];
        for (const container of cases) {
          const r = await c.kubectl(["apply", "-f", "-"], { stdin: bad(container) });
          assert.notEqual(r.code, 0, container);
          assert.match(r.stderr, /is invalid|Invalid value|unknown|cannot/, container);
        }
        // the API itself, without kubectl's own checks: 422 naming the field
        const refused = [
          [{ name: "c", image: IMAGE, command: "not-a-list" }, "spec.containers[0].command"],
          [
            { name: "c", image: IMAGE, readinessProbe: { tcpSocket: { port: 70000 } } },
            "spec.containers[0].readinessProbe.tcpSocket.port",
          ],
        ] as const;
        for (const [container, field] of refused) {
          const r = await c.request("POST", "/api/v1/namespaces/default/pods", {
            apiVersion: "v1",
            kind: "Pod",
            metadata: { name: "bad" },
            spec: { containers: [container] },
          });
          const status = r.json as {
            code?: number;
            reason?: string;
            details?: { causes?: Array<{ field?: string }> };
          };
          assert.equal(r.status, 422, JSON.stringify(status));
          assert.equal(status.reason, "Invalid");
          assert.deepEqual(status.details?.causes?.map((x) => x.field), [field]);
        }
        const none = await c.kubectl(["get", "pod", "bad", "--ignore-not-found", "-o", "name"]);
        assert.equal(none.stdout, "", "nothing was created");
        const hostPath = `
apiVersion: v1
kind: Pod
metadata: {name: bad}
spec:
  containers: [{name: c, image: ${IMAGE}}]
  volumes: [{name: v, hostPath: {path: "relative/dir"}}]
`;
        const r = await c.kubectl(["apply", "-f", "-"], { stdin: hostPath });
        assert.notEqual(r.code, 0);
        assert.match(r.stderr, /hostPath/);
      });

      await t.step(
        "a sidecar (init container with restartPolicy Always) starts first and runs beside the app",
        async () => {
          const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: withsidecar}
spec:
  terminationGracePeriodSeconds: 1
  volumes: [{name: shared, emptyDir: {}}]
  initContainers:
  - name: feeder
    image: ${IMAGE}
    imagePullPolicy: Never
    restartPolicy: Always
    command: [sh, -c, "echo from-sidecar > /shared/msg; exec sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
  containers:
  - name: app
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "cat /shared/msg; exec sleep 3600"]
    volumeMounts: [{name: shared, mountPath: /shared}]
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: manifest })).code, 0);
          const pod = await podReady(c, "withsidecar");
          assert.equal(pod.status.phase, "Running");
          const feeder = pod.status.initContainerStatuses?.[0];
          assert.ok(feeder?.state.running, "the sidecar keeps running");
          assert.equal(feeder?.started, true);
          assert.equal(feeder?.ready, true);
          const logs = await c.kubectl(["logs", "withsidecar", "-c", "app"]);
          assert.equal(logs.stdout.trim(), "from-sidecar", "the sidecar ran before the app");
          const get = await c.kubectl(["get", "pod", "withsidecar"]);
          assert.match(get.stdout, /withsidecar\s+2\/2\s+Running/);
          assert.equal((await c.kubectl(["delete", "pod", "withsidecar", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "lifecycle hooks: postStart runs in the container after its start, preStop before SIGTERM",
        async () => {
          const out = await Deno.makeTempDir({ prefix: "edge-hooks-" });
          try {
            const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: hooks}
spec:
  terminationGracePeriodSeconds: 5
  volumes: [{name: out, hostPath: {path: ${out}, type: Directory}}]
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "until [ -f /tmp/started ]; do sleep 0.1; done; cat /tmp/started; exec sleep 3600"]
    volumeMounts: [{name: out, mountPath: /out}]
    lifecycle:
      postStart: {exec: {command: [sh, -c, "echo post-start-ran > /tmp/started"]}}
      preStop: {exec: {command: [sh, -c, "echo pre-stop-ran > /out/prestop"]}}
`;
            assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: manifest })).code, 0);
            await until("hooks logs", async () => {
              const r = await c.kubectl(["logs", "hooks", "-c", "c"]);
              return r.stdout.includes("post-start-ran") ? true : undefined;
            });
            assert.equal((await c.kubectl(["delete", "pod", "hooks", "--wait=true"])).code, 0);
            assert.equal((await Deno.readTextFile(`${out}/prestop`)).trim(), "pre-stop-ran");
          } finally {
            await Deno.remove(out, { recursive: true });
          }
        },
      );

      await t.step(
        "fsGroup owns the emptyDir and joins the container's groups; runAsGroup alone keeps the image's user",
        async () => {
          const manifest = `
apiVersion: v1
kind: Pod
metadata: {name: fsgroup}
spec:
  restartPolicy: Never
  securityContext: {fsGroup: 2000}
  volumes: [{name: data, emptyDir: {}}]
  containers:
  - name: writer
    image: ${IMAGE}
    imagePullPolicy: Never
    securityContext: {runAsUser: 1000}
    command: [sh, -c, "id -G; stat -c %g /data; touch /data/f && stat -c %g /data/f"]
    volumeMounts: [{name: data, mountPath: /data}]
  - name: grouped
    image: ${IMAGE}
    imagePullPolicy: Never
    securityContext: {runAsGroup: 3000}
    command: [sh, -c, "id -u; id -g"]
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: manifest })).code, 0);
          await until("fsgroup done", async () => {
            const p = await getPod(c, "fsgroup");
            return p.status.phase === "Succeeded" ? true : undefined;
          });
          const writer = (await c.kubectl(["logs", "fsgroup", "-c", "writer"])).stdout.trim()
            .split("\n");
          assert.ok(writer[0]?.split(" ").includes("2000"), `groups: ${writer[0]}`);
          assert.deepEqual(writer.slice(1), ["2000", "2000"], "the volume and new files");
          const grouped = (await c.kubectl(["logs", "fsgroup", "-c", "grouped"])).stdout.trim();
          assert.deepEqual(grouped.split("\n"), ["0", "3000"]);
          assert.equal((await c.kubectl(["delete", "pod", "fsgroup", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "a pod update may change only images: set image replaces the container, a changed env is refused",
        async () => {
          const image2 = "localhost/edge-test:2";
          await podman(["tag", IMAGE, image2]);
          const manifest = (env: string) => `
apiVersion: v1
kind: Pod
metadata: {name: upd}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"], env: [{name: A, value: "${env}"}]}
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: manifest("1") })).code, 0);
          const before = await until("upd running", async () => {
            const s = (await getPod(c, "upd")).status.containerStatuses?.[0];
            return s?.state.running ? s : undefined;
          });
          const set = await c.kubectl(["set", "image", "pod/upd", `c=${image2}`]);
          assert.equal(set.code, 0, set.stderr);
          const after = await until("upd running the new image", async () => {
            const s = (await getPod(c, "upd")).status.containerStatuses?.[0];
            return s?.state.running && s.containerID !== before.containerID ? s : undefined;
          });
          assert.equal(after.image, image2);
          const refused = await c.kubectl(["apply", "-f", "-"], { stdin: manifest("2") });
          assert.notEqual(refused.code, 0);
          assert.match(
            refused.stderr,
            /The Pod "upd" is invalid: spec: Forbidden: pod updates may not change fields other than `spec\.containers\[\*\]\.image`/,
          );
          assert.match(refused.stderr, /changed: spec\.containers\[0\]\.env\[0\]\.value/);
          const env = await c.kubectl([
            "get",
            "pod",
            "upd",
            "-o",
            "jsonpath={.spec.containers[0].env[0].value}",
          ]);
          assert.equal(env.stdout, "1", "the refused update changed nothing");
          assert.equal((await c.kubectl(["delete", "pod", "upd", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "an invalid image reference surfaces as InvalidImageName on the pod, not an agent crash",
        async () => {
          const pod = `
apiVersion: v1
kind: Pod
metadata: {name: badimage}
spec:
  containers: [{name: c, image: "UPPER/Case:bad tag"}]
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: pod })).code, 0);
          const waiting = await until("InvalidImageName", async () => {
            const p = await getPod(c, "badimage");
            const w = p.status.containerStatuses?.[0]?.state.waiting;
            return w?.reason === "InvalidImageName" ? w : undefined;
          });
          assert.equal(waiting.reason, "InvalidImageName");
          // the agent survived: it still serves the node's logs endpoint and renews its Lease
          const renewed = async () =>
            (await c.kubectl([
              "get",
              "lease",
              c.nodeName,
              "-n",
              "kube-node-lease",
              "-o",
              "jsonpath={.spec.renewTime}",
            ])).stdout;
          const first = await renewed();
          await until(
            "a Lease renewal",
            async () => (await renewed()) !== first ? true : undefined,
          );
          const node = await c.kubectl([
            "get",
            "node",
            c.nodeName,
            "-o",
            'jsonpath={.status.conditions[?(@.type=="Ready")].status}',
          ]);
          assert.equal(node.stdout, "True", "the node is still Ready");
        },
      );

      await t.step(
        "securityContext: Unconfined seccomp by default, runAsUser, runAsNonRoot refused for root",
        async () => {
          const pod = `
apiVersion: v1
kind: Pod
metadata: {name: secure}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000, runAsGroup: 3000}
  containers:
  - name: plain
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "grep ^Seccomp: /proc/self/status; id -u; id -g"]
  - name: confined
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "grep ^Seccomp: /proc/self/status; id -u"]
    securityContext: {seccompProfile: {type: RuntimeDefault}, runAsUser: 2000}
---
apiVersion: v1
kind: Pod
metadata: {name: nonroot}
spec:
  securityContext: {runAsNonRoot: true}
  containers: [{name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}]
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: pod })).code, 0);
          await until("secure to finish", async () => {
            const p = await getPod(c, "secure");
            return p.status.phase === "Succeeded" ? p : undefined;
          });
          const plain = await c.kubectl(["logs", "secure", "-c", "plain"]);
          assert.deepEqual(plain.stdout.trim().split("\n").map((l) => l.replace(/\s+/g, " ")), [
            "Seccomp: 0",
            "1000",
            "3000",
          ]);
          const confined = await c.kubectl(["logs", "secure", "-c", "confined"]);
          assert.deepEqual(
            confined.stdout.trim().split("\n").map((l) => l.replace(/\s+/g, " ")),
            ["Seccomp: 2", "2000"],
          );
          const waiting = await until("CreateContainerConfigError", async () => {
            const p = await getPod(c, "nonroot");
            const w = p.status.containerStatuses?.[0]?.state.waiting;
            return w?.reason === "CreateContainerConfigError" ? w : undefined;
          });
          assert.match(
            (waiting as { message?: string }).message ?? "",
            /^container has runAsNonRoot and image will run as root \(pod: "nonroot_default\(.+\)", container: c\)$/,
          );
        },
      );

      await t.step(
        "a container's termination message, or under FallbackToLogsOnError its log, is its terminated message",
        async () => {
          const pod = `
apiVersion: v1
kind: Pod
metadata: {name: lastwords}
spec:
  restartPolicy: Never
  securityContext: {runAsUser: 1000}
  containers:
  - {name: file, image: ${IMAGE}, imagePullPolicy: Never, command: [sh, -c, "echo all shards done > /dev/termination-log; exit 3"]}
  - name: logs
    image: ${IMAGE}
    imagePullPolicy: Never
    terminationMessagePolicy: FallbackToLogsOnError
    command: [sh, -c, "echo cannot open config; exit 2"]
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: pod })).code, 0);
          const done = await until("lastwords to fail", async () => {
            const p = await getPod(c, "lastwords");
            return p.status.phase === "Failed" ? p : undefined;
          });
          const message = (name: string) =>
            (done.status.containerStatuses?.find((s) => s.name === name)?.state.terminated as
              | { message?: string }
              | undefined)?.message;
          assert.equal(message("file"), "all shards done\n");
          assert.equal(message("logs"), "cannot open config\n");
          const described = await c.kubectl(["describe", "pod", "lastwords"]);
          assert.match(described.stdout, /Message:\s+all shards done/);
          assert.equal((await c.kubectl(["delete", "pod", "lastwords", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "an AppArmor profile is refused as kubelet refuses it where the host does not enforce AppArmor",
        async () => {
          const pod = `
apiVersion: v1
kind: Pod
metadata: {name: apparmor}
spec:
  restartPolicy: Never
  securityContext: {appArmorProfile: {type: RuntimeDefault}}
  containers:
  - {name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [cat, /proc/self/attr/current]}
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: pod })).code, 0);
          if (await appArmorEnabled()) {
            // a host that enforces it: podman's default profile confines the container
            await until("apparmor to finish", async () => {
              const p = await getPod(c, "apparmor");
              return p.status.phase === "Succeeded" ? p : undefined;
            });
            const logs = await c.kubectl(["logs", "apparmor"]);
            assert.doesNotMatch(logs.stdout, /unconfined/);
          } else {
            const refused = await until("apparmor to be rejected", async () => {
              const p = await getPod(c, "apparmor");
              return p.status.phase === "Failed" ? p : undefined;
            });
            const status = refused.status as { reason?: string; message?: string };
            assert.equal(status.reason, "AppArmor");
            assert.equal(
              status.message,
              "Pod was rejected: Cannot enforce AppArmor: AppArmor is not enabled on the host",
            );
          }
          assert.equal((await c.kubectl(["delete", "pod", "apparmor", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "a sandbox gets a fixed address from the node's podCIDR (env status.podIP matches) and its hostAliases",
        async () => {
          const pod = `
apiVersion: v1
kind: Pod
metadata: {name: myip}
spec:
  restartPolicy: Never
  hostAliases: [{ip: 10.0.0.5, hostnames: [db.local]}]
  subdomain: web
  setHostnameAsFQDN: true
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    env: [{name: MY_IP, valueFrom: {fieldRef: {fieldPath: status.podIP}}}]
    command: [sh, -c, 'echo "$MY_IP"; grep db.local /etc/hosts; hostname; grep svc /etc/hosts']
`;
          assert.equal((await c.kubectl(["apply", "-f", "-"], { stdin: pod })).code, 0);
          const done = await until("myip to finish", async () => {
            const p = await getPod(c, "myip");
            return p.status.phase === "Succeeded" ? p : undefined;
          });
          const node = JSON.parse(
            (await c.kubectl(["get", "node", c.nodeName, "-o", "json"])).stdout,
          );
          const cidr = node.spec.podCIDR as string;
          const ip = done.status.podIP ?? "";
          assert.ok(ip.startsWith(cidr.split(".").slice(0, 3).join(".") + "."), `${ip} in ${cidr}`);
          const logs = (await c.kubectl(["logs", "myip"])).stdout.trim().split("\n");
          assert.equal(logs[0], ip, "the env saw the pod's IP");
          assert.match(logs[1] ?? "", /^10\.0\.0\.5\s+db\.local$/);
          const fqdn = "myip.web.default.svc.cluster.local";
          assert.equal(logs[2], fqdn, "setHostnameAsFQDN");
          assert.ok(
            logs.slice(3).some((l) => l.split(/\s+/).join(" ") === `${ip} ${fqdn}`),
            logs.join("\n"),
          );
          const labels = await podman([
            "pod",
            "ps",
            "--filter",
            `label=io.edge.pod.uid=${done.metadata.uid}`,
            "--format",
            '{{index .Labels "io.edge.pod.ip"}}',
          ]);
          assert.equal(labels.trim(), ip);
          assert.equal((await c.kubectl(["delete", "pod", "myip", "--wait=true"])).code, 0);
        },
      );

      await t.step(
        "sysctls, shareProcessNamespace, hostPID and hostIPC reach podman; unsafe sysctls are refused",
        async () => {
          const pods = `
apiVersion: v1
kind: Pod
metadata: {name: sysctls}
spec:
  terminationGracePeriodSeconds: 1
  shareProcessNamespace: true
  securityContext:
    sysctls:
    - {name: net.ipv4.ip_unprivileged_port_start, value: "100"}
    - {name: kernel/msgmax, value: "12345"}
  containers:
  - {name: sleeper, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}
  - name: check
    image: ${IMAGE}
    imagePullPolicy: Never
    command:
    - sh
    - -c
    - cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/kernel/msgmax;
      until ps | grep -q "[s]leep 3600"; do sleep 0.2; done; echo sees-sleeper; sleep 3600
---
apiVersion: v1
kind: Pod
metadata: {name: hostns}
spec:
  restartPolicy: Never
  hostPID: true
  hostIPC: true
  containers:
  - name: c
    image: ${IMAGE}
    imagePullPolicy: Never
    command: [sh, -c, "for n in pid ipc uts; do busybox readlink /proc/self/ns/$n; done"]
---
apiVersion: v1
kind: Pod
metadata: {name: unsafe}
spec:
  securityContext: {sysctls: [{name: net.core.somaxconn, value: "1024"}]}
  containers: [{name: c, image: ${IMAGE}, imagePullPolicy: Never, command: [sleep, "3600"]}]
`;
          const applied = await c.kubectl(["apply", "-f", "-"], { stdin: pods });
          assert.equal(applied.code, 0, applied.stderr);
          const check = await until("the check container to see the sleeper", async () => {
            const logs = await c.kubectl(["logs", "sysctls", "-c", "check"]);
            return logs.stdout.includes("sees-sleeper") ? logs.stdout : undefined;
          });
          assert.deepEqual(check.trim().split("\n"), ["100", "12345", "sees-sleeper"]);
          await until("hostns to finish", async () => {
            const p = await getPod(c, "hostns");
            return p.status.phase === "Succeeded" ? p : undefined;
          });
          const host = await Promise.all(
            ["pid", "ipc"].map((ns) => Deno.readLink(`/proc/self/ns/${ns}`)),
          );
          const seen = (await c.kubectl(["logs", "hostns"])).stdout.trim().split("\n");
          assert.deepEqual(seen.slice(0, 2), host, "the host's PID and IPC namespaces");
          assert.notEqual(seen[2], await Deno.readLink("/proc/self/ns/uts"), "its own UTS");
          const refused = await until("unsafe to be rejected", async () => {
            const p = await getPod(c, "unsafe");
            return p.status.phase === "Failed" ? p : undefined;
          });
          const status = refused.status as { reason?: string; message?: string };
          assert.equal(status.reason, "SysctlForbidden");
          assert.equal(
            status.message,
            'Pod was rejected: forbidden sysctl: "net.core.somaxconn" not allowlisted',
          );
          const row = await c.kubectl(["get", "pod", "unsafe", "--no-headers"]);
          assert.match(row.stdout, /^unsafe\s+0\/1\s+SysctlForbidden\s+0\s/);
          const events = await c.kubectl([
            "get",
            "events",
            "--field-selector",
            "involvedObject.name=unsafe,reason=SysctlForbidden",
            "-o",
            "jsonpath={.items[*].message}",
          ]);
          assert.equal(events.stdout, 'forbidden sysctl: "net.core.somaxconn" not allowlisted');
          const sandboxes = await podman([
            "pod",
            "ps",
            "-q",
            "--filter",
            `label=io.edge.pod.uid=${refused.metadata.uid}`,
          ]);
          assert.equal(sandboxes.trim(), "", "nothing of a rejected pod runs");
          const hostNet = await c.kubectl(["apply", "-f", "-"], {
            stdin: `
apiVersion: v1
kind: Pod
metadata: {name: hostnet-sysctl}
spec:
  hostNetwork: true
  securityContext: {sysctls: [{name: net.ipv4.tcp_syncookies, value: "1"}]}
  containers: [{name: c, image: ${IMAGE}}]
`,
          });
          assert.notEqual(hostNet.code, 0);
          assert.match(
            hostNet.stderr,
            /spec\.securityContext\.sysctls\[0\]\.name: Invalid value: "net\.ipv4\.tcp_syncookies": may not be specified when 'hostNetwork' is true/,
          );
          for (const pod of ["sysctls", "hostns", "unsafe"]) {
            assert.equal((await c.kubectl(["delete", "pod", pod, "--wait=true"])).code, 0);
          }
        },
      );
    } finally {
      for (
        const pod of [
          "hello",
          "crasher",
          "greedy",
          "badimage",
          "secure",
          "nonroot",
          "sysctls",
          "hostns",
          "unsafe",
          "myip",
          "apparmor",
          "lastwords",
        ]
      ) {
        await c.kubectl([
          "delete",
          "pod",
          pod,
          "--ignore-not-found",
          "--grace-period=0",
          "--force",
        ]);
      }
      await c.stop();
      const pods = await podman([
        "pod",
        "ps",
        "-q",
        "--filter",
        `label=io.edge.node=${c.nodeName}`,
      ]);
      for (const id of pods.split("\n").filter((x) => x.trim())) {
        await podman(["pod", "rm", "-f", "-t", "0", id.trim()]);
      }
    }
  },
});
