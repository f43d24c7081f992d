import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { TestRuntime } from "./_worker_test_runtime.ts";
import { testPod } from "./_worker_test_pod.ts";
import type { PodStatus } from "./pod_status.ts";
import { FakeRuntime } from "./fake_runtime.ts";
import { deletionGraceSeconds, PodWorker, type VolumesNotReady } from "./pod_worker.ts";
import { RuntimeError, type SandboxConfig } from "./runtime.ts";

const T0 = Date.parse("2024-01-01T00:00:00Z");

function setup(pod: KubeObject, relistMs = 1_000) {
  const clock = new FakeClock(T0);
  const runtime = new TestRuntime(clock);
  const reported: PodStatus[] = [];
  const make = () =>
    new PodWorker({
      runtime,
      clock,
      nodeName: "edge-1",
      hostIP: "192.168.1.10",
      inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: {} }),
      onStatus: (s) => reported.push(s),
      relistMs,
    });
  const worker = make();
  const latest = (): PodStatus => {
    const s = reported.at(-1);
    assert.ok(s, "no status reported yet");
    return s;
  };
  return { clock, runtime, worker, make, latest, pod };
}

function app(name: string, extra: Record<string, unknown> = {}) {
  return { name, image: "busybox:1.36", ...extra };
}

function starts(runtime: TestRuntime): string[] {
  return runtime.calls.filter((c) => c.startsWith("start ")).map((c) => c.split(" @")[0] ?? "");
}

function startTimes(runtime: TestRuntime, name: string): number[] {
  return runtime.calls
    .filter((c) => c.startsWith(`start ${name}#`))
    .map((c) => Number(c.split("@")[1]) - T0);
}

Deno.test("PodWorker.sync() runs init containers one at a time before app containers", async () => {
  const pod = testPod({
    initContainers: [app("first"), app("second")],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("first", [{ afterMs: 5_000, exitCode: 0 }]);
  runtime.exits.set("second", [{ afterMs: 5_000, exitCode: 0 }]);
  const first = await worker.sync(pod);
  assert.deepEqual(starts(runtime), ["start first#0"]);
  assert.equal(first.phase, "Pending");
  assert.equal(first.containerStatuses?.[0]?.state?.waiting?.reason, "PodInitializing");
  assert.equal(
    first.conditions?.find((c) => c.type === "Initialized")?.message,
    "containers with incomplete status: [first second]",
  );
  await clock.advance(5_000);
  assert.deepEqual(starts(runtime), ["start first#0", "start second#0"]);
  await clock.advance(5_000);
  assert.deepEqual(starts(runtime), ["start first#0", "start second#0", "start web#0"]);
  const status = latest();
  assert.equal(status.phase, "Running");
  assert.equal(status.initContainerStatuses?.[0]?.state?.terminated?.reason, "Completed");
  assert.equal(status.conditions?.find((c) => c.type === "Initialized")?.status, "True");
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "True");
  worker.close();
});

Deno.test("PodWorker.sync() fails the pod when an init container fails under restartPolicy Never", async () => {
  const pod = testPod({
    restartPolicy: "Never",
    initContainers: [app("setup")],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("setup", [{ afterMs: 1_000, exitCode: 2 }]);
  await worker.sync(pod);
  await clock.advance(30_000);
  assert.deepEqual(starts(runtime), ["start setup#0"]);
  assert.equal(latest().phase, "Failed");
  assert.equal(latest().initContainerStatuses?.[0]?.state?.terminated?.exitCode, 2);
  worker.close();
});

Deno.test("PodWorker.sync() restarts a failed init container with back-off under OnFailure", async () => {
  const pod = testPod({
    restartPolicy: "OnFailure",
    initContainers: [app("setup")],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("setup", [
    { afterMs: 1_000, exitCode: 1 },
    { afterMs: 1_000, exitCode: 1 },
    { afterMs: 1_000, exitCode: 0 },
  ]);
  await worker.sync(pod);
  await clock.advance(3_000);
  assert.equal(latest().initContainerStatuses?.[0]?.state?.waiting?.reason, "CrashLoopBackOff");
  assert.equal(latest().phase, "Pending");
  await clock.advance(20_000);
  assert.deepEqual(startTimes(runtime, "setup"), [0, 1_000, 12_000]);
  assert.deepEqual(startTimes(runtime, "web"), [13_000]);
  assert.equal(latest().initContainerStatuses?.[0]?.restartCount, 2);
  worker.close();
});

Deno.test("PodWorker.sync() restarts a crashing container at +0s, +10s, +20s, +40s … capped at 5m", async () => {
  const pod = testPod({ containers: [app("crash")] });
  const { clock, runtime, worker, latest } = setup(pod, 10_000);
  runtime.exits.set("crash", Array.from({ length: 10 }, () => ({ afterMs: 10_000, exitCode: 1 })));
  await worker.sync(pod);
  await clock.advance(25_000);
  const waiting = latest().containerStatuses?.[0];
  assert.deepEqual(waiting?.state?.waiting, {
    reason: "CrashLoopBackOff",
    message: "back-off 10s restarting failed container=crash pod=p_default(uid-1)",
  });
  assert.equal(waiting?.restartCount, 1);
  assert.equal(waiting?.lastState?.terminated?.exitCode, 1);
  assert.equal(latest().phase, "Running");
  await clock.advance(20_000);
  assert.equal(
    latest().containerStatuses?.[0]?.state?.waiting?.message,
    "back-off 20s restarting failed container=crash pod=p_default(uid-1)",
  );
  await clock.advance(1_200_000);
  const times = startTimes(runtime, "crash");
  const gaps = times.slice(1).map((t, i) => t - (times[i] ?? 0) - 10_000);
  assert.deepEqual(gaps, [0, 10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000]);
  worker.close();
});

Deno.test("PodWorker.sync() forgets the back-off after the container ran 10 minutes", async () => {
  const pod = testPod({ containers: [app("crash")] });
  const { clock, runtime, worker } = setup(pod, 10_000);
  runtime.exits.set("crash", [
    { afterMs: 10_000, exitCode: 1 },
    { afterMs: 10_000, exitCode: 1 },
    { afterMs: 700_000, exitCode: 1 },
    { afterMs: 10_000, exitCode: 1 },
  ]);
  await worker.sync(pod);
  await clock.advance(800_000);
  assert.deepEqual(startTimes(runtime, "crash"), [0, 10_000, 30_000, 730_000, 750_000]);
  worker.close();
});

for (
  const [policy, exitCode, phase, startCount] of [
    ["Never", 0, "Succeeded", 1],
    ["Never", 1, "Failed", 1],
    ["OnFailure", 0, "Succeeded", 1],
    ["OnFailure", 1, "Running", 2],
    ["Always", 0, "Running", 2],
  ] as const
) {
  Deno.test(`PodWorker.sync() under restartPolicy ${policy} with exit ${exitCode} reports ${phase}`, async () => {
    const pod = testPod({ restartPolicy: policy, containers: [app("job")] });
    const { clock, runtime, worker, latest } = setup(pod);
    runtime.exits.set("job", [{ afterMs: 1_000, exitCode }]);
    await worker.sync(pod);
    await clock.advance(5_000);
    assert.equal(latest().phase, phase);
    assert.equal(startTimes(runtime, "job").length, startCount);
    worker.close();
  });
}

Deno.test("PodWorker readiness turns true after initialDelay and false after failureThreshold failures", async () => {
  const pod = testPod({
    containers: [
      app("web", {
        ports: [{ name: "http", containerPort: 8080 }],
        readinessProbe: { httpGet: { port: "http" }, initialDelaySeconds: 5, periodSeconds: 10 },
      }),
    ],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  const first = await worker.sync(pod);
  assert.equal(first.containerStatuses?.[0]?.ready, false);
  assert.equal(first.conditions?.find((c) => c.type === "Ready")?.reason, "ContainersNotReady");
  await clock.advance(5_000);
  assert.equal(latest().containerStatuses?.[0]?.ready, true);
  assert.equal(latest().conditions?.find((c) => c.type === "ContainersReady")?.status, "True");
  runtime.probeResults.set(8080, false);
  await clock.advance(20_000);
  assert.equal(latest().containerStatuses?.[0]?.ready, true, "two failures are below threshold");
  await clock.advance(10_000);
  assert.equal(latest().containerStatuses?.[0]?.ready, false);
  assert.equal(latest().conditions?.find((c) => c.type === "Ready")?.status, "False");
  worker.close();
});

Deno.test("PodWorker startup probe gates liveness, then a liveness failure restarts the container", async () => {
  const pod = testPod({
    containers: [
      app("web", {
        startupProbe: { tcpSocket: { port: 9000 }, periodSeconds: 5, failureThreshold: 100 },
        livenessProbe: { httpGet: { port: 8080 }, periodSeconds: 5, failureThreshold: 2 },
      }),
    ],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.probeResults.set(9000, false);
  runtime.probeResults.set(8080, false);
  await worker.sync(pod);
  await clock.advance(60_000);
  assert.equal(latest().containerStatuses?.[0]?.started, false);
  assert.equal(latest().containerStatuses?.[0]?.restartCount, 0, "liveness is gated");
  runtime.probeResults.set(9000, true);
  await clock.advance(5_000);
  assert.equal(latest().containerStatuses?.[0]?.started, true);
  await clock.advance(10_000);
  assert.ok(runtime.calls.includes("stop web#0 grace=30"));
  const status = latest().containerStatuses?.[0];
  assert.equal(status?.restartCount, 1);
  assert.equal(status?.lastState?.terminated?.exitCode, 143);
  assert.ok(status?.state?.running);
  worker.close();
});

Deno.test("PodWorker.sync() on a deleted pod stops containers with the grace period, then removes the sandbox", async () => {
  const pod = testPod({
    terminationGracePeriodSeconds: 30,
    containers: [app("web"), app("stubborn")],
  });
  const { clock, runtime, worker } = setup(pod);
  runtime.ignoreSigterm.add("stubborn");
  await worker.sync(pod);
  const deleted: KubeObject = {
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: new Date(T0 + 1_000).toISOString(),
      deletionGracePeriodSeconds: 10,
    },
  };
  assert.equal(deletionGraceSeconds(deleted), 10);
  let done = false;
  const final = worker.sync(deleted).then((s) => {
    done = true;
    return s;
  });
  await clock.advance(9_000);
  assert.equal(done, false);
  assert.deepEqual(runtime.calls.filter((c) => c.startsWith("stop")), [
    "stop web#0 grace=10",
    "stop stubborn#0 grace=10",
  ]);
  assert.equal(runtime.calls.includes("removeSandbox"), false);
  await clock.advance(1_000);
  const status = await final;
  assert.equal(runtime.calls.at(-1), "removeSandbox");
  assert.equal(runtime.sandboxes.size, 0);
  assert.equal(worker.terminated, true);
  assert.equal(status.phase, "Failed");
  assert.equal(status.containerStatuses?.[1]?.state?.terminated?.exitCode, 137);
  assert.equal((await worker.terminate()).phase, "Failed");
});

Deno.test("PodWorker adopts running containers after an agent restart and keeps restartCount", async () => {
  const pod = testPod({ containers: [app("web")] });
  const { clock, runtime, worker, make } = setup(pod);
  runtime.exits.set("web", [{ afterMs: 1_000, exitCode: 1 }]);
  await worker.sync(pod);
  await clock.advance(2_000);
  worker.close();
  const before = runtime.calls.length;
  const adopted = make();
  const status = await adopted.sync(pod);
  assert.deepEqual(runtime.calls.slice(before), []);
  assert.equal(status.containerStatuses?.[0]?.restartCount, 1);
  assert.ok(status.containerStatuses?.[0]?.state?.running);
  adopted.close();
});

Deno.test("PodWorker.sync() replaces a running container whose spec changed", async () => {
  const pod = testPod({ containers: [app("web")] });
  const { runtime, worker } = setup(pod);
  await worker.sync(pod);
  const changed = testPod({ containers: [app("web", { image: "busybox:1.37" })] });
  const status = await worker.sync(changed);
  assert.deepEqual(starts(runtime), ["start web#0", "start web#1"]);
  assert.ok(runtime.calls.includes("stop web#0 grace=30"));
  assert.equal(status.containerStatuses?.[0]?.image, "busybox:1.37");
  worker.close();
});

Deno.test("PodWorker.sync() reports image errors as waiting reasons and retries with back-off", async () => {
  const pod = testPod({ containers: [app("web", { image: "registry.local/web:1" })] });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.imageErrors.set(
    "registry.local/web:1",
    new RuntimeError("ErrImagePull", "pull access denied for registry.local/web"),
  );
  const first = await worker.sync(pod);
  assert.deepEqual(first.containerStatuses?.[0]?.state?.waiting, {
    reason: "ErrImagePull",
    message: "pull access denied for registry.local/web",
  });
  await clock.advance(1_000);
  assert.equal(latest().containerStatuses?.[0]?.state?.waiting?.reason, "ImagePullBackOff");
  assert.equal(latest().phase, "Pending");
  runtime.imageErrors.clear();
  await clock.advance(9_000);
  assert.ok(latest().containerStatuses?.[0]?.state?.running);
  worker.close();
});

Deno.test("PodWorker.sync() reports ErrImageNeverPull for a missing image under Never", async () => {
  const pod = testPod({ containers: [app("web", { imagePullPolicy: "Never" })] });
  const { runtime, worker } = setup(pod);
  runtime.imageErrors.set(
    "busybox:1.36",
    new RuntimeError("ErrImageNeverPull", 'Container image "busybox:1.36" is not present'),
  );
  const status = await worker.sync(pod);
  assert.equal(status.containerStatuses?.[0]?.state?.waiting?.reason, "ErrImageNeverPull");
  assert.ok(runtime.calls.includes("ensureImage busybox:1.36 Never"));
  worker.close();
});

Deno.test("PodWorker.sync() reports a missing ConfigMap as CreateContainerConfigError", async () => {
  const pod = testPod({
    containers: [
      app("web", {
        env: [{ name: "A", valueFrom: { configMapKeyRef: { name: "cfg", key: "a" } } }],
      }),
    ],
  });
  const { worker } = setup(pod);
  const status = await worker.sync(pod);
  assert.deepEqual(status.containerStatuses?.[0]?.state?.waiting, {
    reason: "CreateContainerConfigError",
    message: 'configmap "cfg" not found',
  });
  worker.close();
});

Deno.test("PodWorker.sync() keeps only the newest two instances of a container", async () => {
  const pod = testPod({ containers: [app("crash")] });
  const { clock, runtime, worker } = setup(pod);
  runtime.exits.set("crash", Array.from({ length: 4 }, () => ({ afterMs: 1_000, exitCode: 1 })));
  await worker.sync(pod);
  for (let i = 0; i < 60; i++) await clock.advance(1_000);
  assert.deepEqual(
    [...runtime.containers.values()].map((c) => c.config.attempt),
    [2, 3],
  );
  assert.ok(runtime.calls.includes("remove crash#0"));
  worker.close();
});

function recordingWorker(pod: KubeObject) {
  const clock = new FakeClock(T0);
  const runtime = new FakeRuntime(clock);
  runtime.images.add("busybox:1.36");
  const events: string[] = [];
  const worker = new PodWorker({
    runtime,
    clock,
    nodeName: "edge-1",
    hostIP: "192.168.1.10",
    inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: {} }),
    events: (p, reason, type, message, fieldPath) => {
      assert.equal(p.metadata.uid, pod.metadata.uid);
      events.push(`${type} ${reason} ${fieldPath}: ${message}`);
    },
  });
  return { clock, runtime, worker, events };
}

Deno.test("PodWorker reports Pulled, Created, Started, then one BackOff per crash as Events", async () => {
  const pod = testPod({ containers: [app("web"), app("crash")] });
  const { clock, runtime, worker, events } = recordingWorker(pod);
  runtime.setExit("crash", 1, 1_000);
  await worker.sync(pod);
  // the two containers start side by side: each one's events are in order
  for (const name of ["web", "crash"]) {
    assert.deepEqual(events.filter((e) => e.includes(`{${name}}`)), [
      `Normal Pulled spec.containers{${name}}: Container image "busybox:1.36" already present ` +
      "on machine",
      `Normal Created spec.containers{${name}}: Created container ${name}`,
      `Normal Started spec.containers{${name}}: Started container ${name}`,
    ]);
  }
  assert.equal(events.length, 6);
  events.length = 0;
  // Exits after 1 s and restarts at once; the second exit starts a 10 s back-off.
  await clock.advance(3_000);
  assert.deepEqual(events.filter((e) => e.includes("crash")).map((e) => e.split(":")[0]), [
    "Normal Pulled spec.containers{crash}",
    "Normal Created spec.containers{crash}",
    "Normal Started spec.containers{crash}",
    "Warning BackOff spec.containers{crash}",
  ]);
  assert.equal(
    events.at(-1),
    "Warning BackOff spec.containers{crash}: " +
      "Back-off restarting failed container crash in pod p_default(uid-1)",
  );
  await clock.advance(5_000);
  assert.equal(events.filter((e) => e.includes("BackOff")).length, 1, "once per back-off");
  events.length = 0;
  await worker.terminate(pod, 2);
  assert.deepEqual(events, ["Normal Killing spec.containers{web}: Stopping container web"]);
});

Deno.test("PodWorker reports image errors as Failed Events", async () => {
  const pod = testPod({
    initContainers: [app("setup", { image: "localhost/missing:1", imagePullPolicy: "Never" })],
    containers: [app("web")],
  });
  const { worker, events } = recordingWorker(pod);
  await worker.sync(pod);
  assert.deepEqual(events, [
    "Warning ErrImageNeverPull spec.initContainers{setup}: " +
    'Container image "localhost/missing:1" is not present with pull policy of Never',
    "Warning Failed spec.initContainers{setup}: Error: ErrImageNeverPull",
  ]);
  worker.close();
});

Deno.test("PodWorker reports a failed liveness probe as Unhealthy, then Killing", async () => {
  const probe = { exec: { command: ["true"] }, periodSeconds: 10, failureThreshold: 1 };
  const pod = testPod({ containers: [app("web", { livenessProbe: probe })] });
  const { clock, runtime, worker, events } = recordingWorker(pod);
  runtime.execResults.set("true", { success: false, message: "exit status 1" });
  await worker.sync(pod);
  await clock.advance(1_000);
  assert.deepEqual(events.filter((e) => /Unhealthy|Killing/.test(e)).slice(0, 2), [
    "Warning Unhealthy spec.containers{web}: Liveness probe failed: exit status 1",
    "Normal Killing spec.containers{web}: Container web failed liveness probe, will be restarted",
  ]);
  worker.close();
});

/** A worker whose `volumesReady` reports `state.problem`, recording its Events. */
function volumeWorker(
  extra: Partial<ConstructorParameters<typeof PodWorker>[0]> = {},
) {
  const clock = new FakeClock(T0);
  const runtime = new TestRuntime(clock);
  const reported: PodStatus[] = [];
  const events: string[] = [];
  const state: { problem: VolumesNotReady | undefined; asked: number } = {
    problem: {
      reason: "PersistentVolumeClaimNotBound",
      message: 'persistentvolumeclaim "data" is not bound',
      volumes: ["data"],
    },
    asked: 0,
  };
  const worker = new PodWorker({
    runtime,
    clock,
    nodeName: "edge-1",
    hostIP: "192.168.1.10",
    inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: { data: "/vol/data" } }),
    volumesReady: () => {
      state.asked++;
      return Promise.resolve(state.problem);
    },
    onStatus: (s) => reported.push(s),
    events: (_p, reason, type, message) => events.push(`${type} ${reason}: ${message}`),
    ...extra,
  });
  return { clock, runtime, worker, reported, events, state };
}

const CLAIM_POD = {
  volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
  containers: [app("web", { volumeMounts: [{ name: "data", mountPath: "/data" }] })],
};

const FAILED_MOUNT = "Warning FailedMount: Unable to attach or mount volumes: " +
  'unmounted volumes=[data]: persistentvolumeclaim "data" is not bound';

Deno.test("PodWorker.sync() makes no sandbox while volumesReady reports a problem, then starts the pod", async () => {
  const pod = testPod(CLAIM_POD);
  const { clock, runtime, worker, reported, events, state } = volumeWorker();
  const status = await worker.sync(pod);
  assert.equal(worker.waitingForVolumes, true);
  assert.deepEqual(runtime.calls, [], "no sandbox, no image, no container");
  const ready = status.conditions?.find((c) => c.type === "PodReadyToStartContainers");
  assert.equal(ready?.status, "False");
  assert.equal(ready?.reason, "PersistentVolumeClaimNotBound");
  assert.equal(ready?.message, 'persistentvolumeclaim "data" is not bound');
  assert.equal(status.phase, "Pending");
  assert.deepEqual(status.containerStatuses?.[0]?.state, {
    waiting: { reason: "ContainerCreating" },
  });
  assert.equal(events.length, 0, "a claim bound a moment ago is no reason for a warning");

  // asked again at each relist; after 5 s a FailedMount says why, then every two minutes
  await clock.advance(4_000);
  assert.ok(state.asked >= 5, `asked ${state.asked} times`);
  assert.equal(events.length, 0);
  await clock.advance(1_000);
  assert.deepEqual(events, [FAILED_MOUNT]);
  await clock.advance(60_000);
  assert.deepEqual(runtime.calls, []);
  assert.deepEqual(events, [FAILED_MOUNT]);
  await clock.advance(60_000);
  assert.deepEqual(events, [FAILED_MOUNT, FAILED_MOUNT]);

  state.problem = undefined;
  await clock.advance(1_000);
  assert.equal(worker.waitingForVolumes, false);
  assert.deepEqual(runtime.calls.slice(0, 2), [
    "createSandbox p",
    "ensureImage busybox:1.36 IfNotPresent",
  ]);
  assert.ok(runtime.running("web"));
  const latest = reported.at(-1);
  assert.equal(latest?.phase, "Running");
  const now = latest?.conditions?.find((c) => c.type === "PodReadyToStartContainers");
  assert.equal(now?.status, "True");
  assert.equal(now?.reason, undefined);
  assert.equal(events.filter((e) => e.includes("FailedMount")).length, 2, "none once mounted");
  worker.close();
});

Deno.test("PodWorker.sync() reports a changed volume problem at once", async () => {
  const pod = testPod(CLAIM_POD);
  const { clock, worker, events, state } = volumeWorker();
  state.problem = {
    reason: "PersistentVolumeClaimNotFound",
    message: 'persistentvolumeclaim "data" not found',
    volumes: ["data"],
  };
  const status = await worker.sync(pod);
  assert.equal(
    status.conditions?.find((c) => c.type === "PodReadyToStartContainers")?.reason,
    "PersistentVolumeClaimNotFound",
  );
  await clock.advance(5_000);
  state.problem = {
    reason: "PersistentVolumeClaimNotBound",
    message: 'persistentvolumeclaim "data" is not bound',
    volumes: ["data"],
  };
  await clock.advance(1_000);
  assert.deepEqual(events, [
    "Warning FailedMount: Unable to attach or mount volumes: unmounted volumes=[data]: " +
    'persistentvolumeclaim "data" not found',
    FAILED_MOUNT,
  ]);
  worker.close();
});

Deno.test("PodWorker keeps a running pod whose volumes later report a problem", async () => {
  const pod = testPod(CLAIM_POD);
  const { clock, runtime, worker, reported, state } = volumeWorker();
  state.problem = undefined;
  await worker.sync(pod);
  assert.ok(runtime.running("web"));
  state.problem = {
    reason: "PersistentVolumeClaimNotFound",
    message: 'persistentvolumeclaim "data" not found',
    volumes: ["data"],
  };
  const asked = state.asked;
  await clock.advance(10_000);
  assert.equal(state.asked, asked, "not asked once the sandbox exists");
  assert.ok(runtime.running("web"));
  assert.ok(!runtime.calls.some((c) => c.startsWith("stop ")));
  assert.equal(
    reported.at(-1)?.conditions?.find((c) => c.type === "PodReadyToStartContainers")?.status,
    "True",
  );
  worker.close();
});

Deno.test("PodWorker makes a container's subPath directories before creating it", async () => {
  const pod = testPod({
    volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
    containers: [app("web", {
      env: [{ name: "POD", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
      volumeMounts: [
        { name: "data", mountPath: "/data" },
        { name: "data", mountPath: "/logs", subPathExpr: "logs/$(POD)" },
      ],
    })],
  });
  const made: string[] = [];
  let failing = false;
  const { clock, runtime, worker, state } = volumeWorker({
    makeSubPath: (dir, sub) => {
      if (failing) return Promise.reject(new Error("/vol/data/logs is a symbolic link"));
      made.push(`${dir} ${sub}`);
      return Promise.resolve();
    },
  });
  state.problem = undefined;
  failing = true;
  const status = await worker.sync(pod);
  assert.deepEqual(status.containerStatuses?.[0]?.state?.waiting, {
    reason: "CreateContainerConfigError",
    message: 'failed to create subPath directory for volumeMount "data" of container "web": ' +
      "/vol/data/logs is a symbolic link",
  });
  assert.ok(!runtime.calls.some((c) => c.startsWith("create ")));
  failing = false;
  await clock.advance(30_000);
  assert.deepEqual(made, ["/vol/data logs/p"]);
  const web = runtime.running("web");
  assert.deepEqual(web?.config.mounts.map((m) => m.hostPath), ["/vol/data", "/vol/data/logs/p"]);
  worker.close();
});

function sidecar(name: string, extra: Record<string, unknown> = {}) {
  return app(name, { restartPolicy: "Always", ...extra });
}

Deno.test("PodWorker.sync() starts a sidecar in its turn and keeps it running beside the app", async () => {
  const pod = testPod({
    initContainers: [app("setup"), sidecar("proxy"), app("migrate")],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("setup", [{ afterMs: 1_000, exitCode: 0 }]);
  runtime.exits.set("migrate", [{ afterMs: 1_000, exitCode: 0 }]);
  await worker.sync(pod);
  assert.deepEqual(starts(runtime), ["start setup#0"]);
  await clock.advance(1_000);
  assert.deepEqual(starts(runtime), ["start setup#0", "start proxy#0", "start migrate#0"]);
  await clock.advance(1_000);
  assert.deepEqual(starts(runtime).slice(3), ["start web#0"]);
  const status = latest();
  assert.equal(status.phase, "Running");
  const proxy = status.initContainerStatuses?.[1];
  assert.ok(proxy?.state?.running);
  assert.equal(proxy?.started, true);
  assert.equal(proxy?.ready, true);
  assert.equal(status.conditions?.find((c) => c.type === "Initialized")?.status, "True");
  assert.equal(status.conditions?.find((c) => c.type === "Ready")?.status, "True");
  worker.close();
});

Deno.test("PodWorker.sync() holds the next init container until a sidecar's startup probe passes", async () => {
  const pod = testPod({
    initContainers: [
      sidecar("proxy", {
        startupProbe: { tcpSocket: { port: 9000 }, periodSeconds: 5, failureThreshold: 100 },
      }),
      app("migrate"),
    ],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.probeResults.set(9000, false);
  await worker.sync(pod);
  await clock.advance(20_000);
  assert.deepEqual(starts(runtime), ["start proxy#0"]);
  assert.equal(latest().phase, "Pending");
  assert.equal(latest().initContainerStatuses?.[0]?.started, false);
  assert.equal(
    latest().conditions?.find((c) => c.type === "Initialized")?.message,
    "containers with incomplete status: [proxy migrate]",
  );
  runtime.probeResults.set(9000, true);
  await clock.advance(5_000);
  assert.deepEqual(starts(runtime), ["start proxy#0", "start migrate#0"]);
  worker.close();
});

Deno.test("PodWorker.sync() restarts an exited sidecar with back-off even under restartPolicy Never", async () => {
  const pod = testPod({
    restartPolicy: "Never",
    initContainers: [sidecar("proxy")],
    containers: [app("web")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("proxy", [{ afterMs: 1_000, exitCode: 1 }, { afterMs: 1_000, exitCode: 1 }]);
  await worker.sync(pod);
  await clock.advance(3_000);
  assert.equal(latest().initContainerStatuses?.[0]?.state?.waiting?.reason, "CrashLoopBackOff");
  assert.equal(latest().phase, "Running", "a restarting sidecar does not stop the pod");
  await clock.advance(20_000);
  assert.deepEqual(startTimes(runtime, "proxy"), [0, 1_000, 12_000]);
  assert.deepEqual(startTimes(runtime, "web"), [0]);
  assert.equal(latest().initContainerStatuses?.[0]?.restartCount, 2);
  assert.equal(latest().phase, "Running");
  worker.close();
});

Deno.test("PodWorker.sync() stops the sidecars, last first, once the app containers are done", async () => {
  const pod = testPod({
    restartPolicy: "Never",
    initContainers: [sidecar("logs"), sidecar("proxy")],
    containers: [app("job")],
  });
  const { clock, runtime, worker, latest } = setup(pod);
  runtime.exits.set("job", [{ afterMs: 5_000, exitCode: 0 }]);
  assert.equal((await worker.sync(pod)).phase, "Running");
  await clock.advance(5_000);
  assert.deepEqual(runtime.calls.filter((c) => c.startsWith("stop")), [
    "stop proxy#0 grace=30",
    "stop logs#0 grace=30",
  ]);
  assert.equal(latest().phase, "Succeeded");
  await clock.advance(60_000);
  assert.deepEqual(startTimes(runtime, "proxy"), [0], "a stopped sidecar stays stopped");
  worker.close();
});

Deno.test("PodWorker.sync() on a deleted pod stops the sidecars after the app containers", async () => {
  const pod = testPod({ initContainers: [sidecar("proxy")], containers: [app("web")] });
  const { runtime, worker } = setup(pod);
  await worker.sync(pod);
  const deleted: KubeObject = {
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: new Date(T0).toISOString(),
      deletionGracePeriodSeconds: 10,
    },
  };
  const status = await worker.sync(deleted);
  assert.deepEqual(runtime.calls.filter((c) => c.startsWith("stop")), [
    "stop web#0 grace=10",
    "stop proxy#0 grace=10",
  ]);
  assert.equal(status.initContainerStatuses?.[0]?.state?.terminated?.exitCode, 143);
});

Deno.test("PodWorker.sync() replaces a sidecar whose image changed, not a completed init container", async () => {
  const pod = testPod({
    initContainers: [app("setup"), sidecar("proxy")],
    containers: [app("web")],
  });
  const { clock, runtime, worker } = setup(pod);
  runtime.exits.set("setup", [{ afterMs: 1_000, exitCode: 0 }]);
  await worker.sync(pod);
  await clock.advance(1_000);
  const changed = testPod({
    initContainers: [
      app("setup", { image: "busybox:1.37" }),
      sidecar("proxy", { image: "busybox:1.37" }),
    ],
    containers: [app("web")],
  });
  const status = await worker.sync(changed);
  assert.ok(runtime.calls.includes("stop proxy#0 grace=30"));
  assert.deepEqual(starts(runtime), [
    "start setup#0",
    "start proxy#0",
    "start web#0",
    "start proxy#1",
  ]);
  assert.equal(status.initContainerStatuses?.[1]?.image, "busybox:1.37");
  worker.close();
});

function hookWorker() {
  const clock = new FakeClock(T0);
  const runtime = new TestRuntime(clock);
  const events: string[] = [];
  const reported: PodStatus[] = [];
  const worker = new PodWorker({
    runtime,
    clock,
    nodeName: "edge-1",
    hostIP: "192.168.1.10",
    inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: {} }),
    onStatus: (s) => reported.push(s),
    events: (_p, reason, type, message, fieldPath) =>
      events.push(`${type} ${reason} ${fieldPath}: ${message}`),
  });
  const order = () =>
    runtime.calls.filter((c) => /^(start|exec|stop) /.test(c)).map((c) => c.split(" @")[0]);
  return { clock, runtime, worker, events, reported, order };
}

function deletedCopy(pod: KubeObject, graceSeconds: number): KubeObject {
  return {
    ...pod,
    metadata: {
      ...pod.metadata,
      deletionTimestamp: new Date(T0).toISOString(),
      deletionGracePeriodSeconds: graceSeconds,
    },
  };
}

Deno.test("PodWorker runs postStart after the start, and starts the next container after it", async () => {
  const pod = testPod({
    containers: [
      app("proxy", { lifecycle: { postStart: { exec: { command: ["wait-ready"] } } } }),
      app("web"),
    ],
  });
  const { worker, order } = hookWorker();
  const status = await worker.sync(pod);
  assert.deepEqual(order(), ["start proxy#0", "exec proxy wait-ready", "start web#0"]);
  assert.ok(status.containerStatuses?.every((s) => s.state?.running));
  worker.close();
});

Deno.test("PodWorker kills a container whose postStart hook failed and restarts it with back-off", async () => {
  const pod = testPod({
    containers: [app("web", { lifecycle: { postStart: { exec: { command: ["init"] } } } })],
  });
  const { clock, runtime, worker, events, order } = hookWorker();
  runtime.execResults.set("web", false);
  await worker.sync(pod);
  assert.deepEqual(order(), ["start web#0", "exec web init", "stop web#0 grace=30"]);
  assert.ok(events.includes(
    `Warning FailedPostStartHook spec.containers{web}: Exec lifecycle hook ([init]) for ` +
      `Container "web" in Pod "${pod.metadata.name}_${pod.metadata.namespace}(${pod.metadata.uid})" ` +
      `failed - error: init: false`,
  ));
  assert.ok(events.includes("Normal Killing spec.containers{web}: FailedPostStartHook"));
  runtime.execResults.set("web", true);
  await clock.advance(15_000);
  assert.deepEqual(order().slice(3), ["start web#1", "exec web init"]);
  worker.close();
});

Deno.test("PodWorker runs preStop before SIGTERM, and SIGTERM gets what is left of the grace", async () => {
  const pod = testPod({
    containers: [app("web", { lifecycle: { preStop: { sleep: { seconds: 3 } } } }), app("db")],
  });
  const { clock, runtime, worker } = hookWorker();
  await worker.sync(pod);
  const done = worker.sync(deletedCopy(pod, 10));
  await clock.advance(3_000);
  await done;
  const stops = runtime.calls.filter((c) => c.startsWith("stop"));
  assert.deepEqual(stops, ["stop db#0 grace=10", "stop web#0 grace=7"]);
});

Deno.test("PodWorker reports a failed preStop hook and stops the container anyway", async () => {
  const pod = testPod({
    containers: [app("web", { lifecycle: { preStop: { exec: { command: ["drain"] } } } })],
  });
  const { runtime, worker, events, order } = hookWorker();
  runtime.execResults.set("web", false);
  await worker.sync(pod);
  await worker.sync(deletedCopy(pod, 10));
  assert.deepEqual(order(), ["start web#0", "exec web drain", "stop web#0 grace=10"]);
  assert.ok(
    events.some((e) =>
      e.startsWith("Warning FailedPreStopHook spec.containers{web}: Exec lifecycle hook ([drain])")
    ),
  );
});

/**
 * A FakeRuntime with busybox:1.36 present, the worker options every test passes, and the
 * sandbox configs it is asked to make (`seen` picks what to keep of each).
 */
function fakeNode(seen: (config: SandboxConfig) => unknown = () => undefined) {
  const clock = new FakeClock(T0);
  const runtime = new FakeRuntime(clock);
  runtime.images.add("busybox:1.36");
  const sandboxes: unknown[] = [];
  const createSandbox = runtime.createSandbox.bind(runtime);
  runtime.createSandbox = (config) => {
    sandboxes.push(seen(config));
    return createSandbox(config);
  };
  const options = {
    runtime,
    clock,
    nodeName: "edge-1",
    hostIP: "192.168.1.10",
    inputs: () => ({ configMaps: {}, secrets: {}, volumeDirs: {} }),
  };
  return { clock, runtime, options, sandboxes };
}

Deno.test("PodWorker refuses a new pod admit() rejects: Failed, kubelet's reason, nothing runs", async () => {
  const pod = testPod({
    containers: [app("web")],
    securityContext: { sysctls: [{ name: "kernel.msgmax", value: "65536" }] },
  });
  const { clock, runtime, options } = fakeNode();
  const events: string[] = [];
  const asked: string[] = [];
  const worker = new PodWorker({
    ...options,
    events: (_p, reason, type, message) => events.push(`${type} ${reason}: ${message}`),
    admit: (p) => {
      asked.push(p.metadata.name ?? "");
      return {
        reason: "SysctlForbidden",
        message: 'forbidden sysctl: "kernel.msgmax" not allowlisted',
      };
    },
  });
  const status = await worker.sync(pod);
  assert.equal(status.phase, "Failed");
  assert.equal(status.reason, "SysctlForbidden");
  assert.equal(
    status.message,
    'Pod was rejected: forbidden sysctl: "kernel.msgmax" not allowlisted',
  );
  assert.equal(status.hostIP, "192.168.1.10");
  assert.equal(status.containerStatuses, undefined);
  assert.equal(status.conditions?.find((c) => c.type === "PodScheduled")?.status, "True");
  assert.deepEqual(events, [
    'Warning SysctlForbidden: forbidden sysctl: "kernel.msgmax" not allowlisted',
  ]);
  assert.ok(worker.terminated);
  await clock.advance(5_000);
  assert.deepEqual(await worker.sync(pod), status);
  assert.deepEqual(asked, [pod.metadata.name]);
  assert.deepEqual(runtime.calls, []);
  worker.close();
});

Deno.test("PodWorker asks admit() only of pods no node has started, and passes namespaces on", async () => {
  const pod = testPod({
    containers: [app("web")],
    shareProcessNamespace: true,
    hostIPC: true,
    securityContext: { sysctls: [{ name: "net/ipv4/tcp_syncookies", value: "1" }] },
  });
  const { options, sandboxes } = fakeNode((config) => ({
    sysctls: config.sysctls,
    sharePid: config.sharePid,
    hostIPC: config.hostIPC,
  }));
  let asked = 0;
  const admit = () => {
    asked++;
    return { reason: "SysctlForbidden", message: "no" };
  };
  // a pod some agent already started (it has a startTime) is not asked again, as after a restart
  const started = { ...pod, status: { phase: "Running", startTime: "2024-01-01T00:00:00Z" } };
  const worker = new PodWorker({ ...options, admit });
  const status = await worker.sync(started);
  assert.equal(asked, 0);
  assert.equal(status.phase, "Running");
  assert.deepEqual(sandboxes, [{
    sysctls: [{ name: "net.ipv4.tcp_syncookies", value: "1" }],
    sharePid: true,
    hostIPC: true,
  }]);
  worker.close();
});

Deno.test("PodWorker asks a sandbox with a subnet for a fixed address instead of starting it early", async () => {
  const containers = [app("web", {
    env: [{ name: "MY_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } }],
  })];
  const pod = testPod({ containers });
  const { runtime, options: base, sandboxes } = fakeNode((config) => [
    config.network,
    config.subnet,
    config.startNow,
  ]);
  const envs: unknown[] = [];
  const runContainer = runtime.runContainer.bind(runtime);
  runtime.runContainer = (config) => {
    envs.push(config.env.find((e) => e.name === "MY_IP")?.value);
    return runContainer(config);
  };
  const options = { ...base, network: () => "edge-net" };
  const worker = new PodWorker({ ...options, subnet: () => "10.244.1.0/24" });
  const status = await worker.sync(pod);
  assert.deepEqual(sandboxes, [["edge-net", "10.244.1.0/24", false]]);
  assert.deepEqual(envs, [status.podIP]);
  worker.close();
  // without a subnet the sandbox starts first, so its address is known for the env
  const other = testPod({ containers }, "q");
  other.metadata.uid = "uid-2";
  const plain = new PodWorker(options);
  await plain.sync(other);
  assert.deepEqual(sandboxes.at(-1), ["edge-net", undefined, true]);
  plain.close();
});

Deno.test("PodWorker gives each container a termination message file and reports what it wrote", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-termination-" });
  try {
    const pod = testPod({
      restartPolicy: "Never",
      containers: [
        app("writes"),
        app("fails", { terminationMessagePolicy: "FallbackToLogsOnError" }),
        app("quiet", { terminationMessagePolicy: "FallbackToLogsOnError" }),
      ],
    });
    const { clock, runtime, options } = fakeNode();
    const worker = new PodWorker({ ...options, terminationDir: () => dir });
    await worker.sync(pod);
    const mount = runtime.containerConfig("writes")?.mounts.find((m) =>
      m.containerPath === "/dev/termination-log"
    );
    assert.deepEqual(mount, {
      hostPath: `${dir}/writes-0`,
      containerPath: "/dev/termination-log",
      readOnly: false,
    });
    assert.equal((await Deno.stat(`${dir}/writes-0`)).mode! & 0o777, 0o666);
    // what the containers do before they exit
    await Deno.writeTextFile(`${dir}/writes-0`, "all 3 shards done\n");
    for (let i = 0; i < 100; i++) runtime.writeLog("fails", `line ${i}`);
    runtime.writeLog("quiet", "nothing to see");
    runtime.exit("writes", 0);
    runtime.exit("fails", 2);
    runtime.exit("quiet", 0);
    await clock.advance(1_000);
    const status = await worker.sync(pod);
    const message = (name: string) =>
      status.containerStatuses?.find((c) => c.name === name)?.state?.terminated?.message;
    assert.equal(message("writes"), "all 3 shards done\n");
    const tail = message("fails") ?? "";
    assert.ok(tail.startsWith("line 20\n") && tail.endsWith("line 99\n"), tail.slice(0, 40));
    assert.equal(message("quiet"), undefined, "succeeded: no fallback to the log");
    worker.close();
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("PodWorker names a pod with a subdomain by its FQDN, and as its hostname if asked", async () => {
  const { options, sandboxes } = fakeNode((config) => [config.hostname, config.fqdn]);
  const pod = testPod({ subdomain: "db", setHostnameAsFQDN: true, containers: [app("web")] });
  const worker = new PodWorker({ ...options, clusterDomain: () => "cluster.local" });
  await worker.sync(pod);
  assert.deepEqual(sandboxes, [[
    "p.db.default.svc.cluster.local",
    "p.db.default.svc.cluster.local",
  ]]);
  worker.close();
  const plain = testPod({ hostname: "h", subdomain: "db", containers: [app("web")] }, "q");
  plain.metadata.uid = "uid-2";
  const second = new PodWorker({ ...options, clusterDomain: () => "edge.internal" });
  await second.sync(plain);
  assert.deepEqual(sandboxes.at(-1), ["h", "h.db.default.svc.edge.internal"]);
  second.close();
});
