import assert from "node:assert/strict";
import type { PodSpecValue } from "../storage/kinds/_pod_spec.ts";
import { testPod } from "./_worker_test_pod.ts";
import { type ApiContainerStatus, podPhase, podStatus } from "./pod_status.ts";
import type { ContainerStatus, SandboxStatus } from "./runtime.ts";

const NOW = Date.parse("2024-01-01T00:10:00Z");
const probes = { ready: () => true, started: () => true };
const sandbox: SandboxStatus = {
  id: "s1",
  podUid: "uid-1",
  podName: "p",
  podNamespace: "default",
  ip: "10.88.0.5",
  state: "ready",
  createdAt: new Date(NOW),
};

function runtimeContainer(
  attempt: number,
  state: ContainerStatus["state"],
  exitCode?: number,
): ContainerStatus {
  const c: ContainerStatus = {
    id: `${attempt}`.repeat(64),
    podUid: "uid-1",
    name: "web",
    kind: "app",
    attempt,
    specHash: "h",
    image: "busybox:1.36",
    imageId: "sha256:feed",
    state,
    createdAt: new Date(NOW - 60_000),
    startedAt: new Date(NOW - 60_000),
  };
  if (exitCode !== undefined) {
    c.exitCode = exitCode;
    c.finishedAt = new Date(NOW - 30_000);
  }
  return c;
}

const running: ApiContainerStatus = {
  name: "c",
  state: { running: {} },
  ready: true,
  restartCount: 0,
  image: "",
  imageID: "",
};
const exited = (exitCode: number): ApiContainerStatus => ({
  ...running,
  state: { terminated: { exitCode } },
});
const waiting: ApiContainerStatus = {
  ...running,
  state: { waiting: { reason: "ContainerCreating" } },
};

Deno.test("podPhase() follows kubelet's getPhase table", () => {
  const spec = (restartPolicy: string) =>
    testPod({ restartPolicy, containers: [{ name: "c", image: "i" }] }).spec as PodSpecValue;
  const rows: Array<[string, ApiContainerStatus, boolean, string]> = [
    ["Always", waiting, false, "Pending"],
    ["Always", running, false, "Running"],
    ["Always", exited(0), false, "Running"],
    ["OnFailure", exited(0), false, "Succeeded"],
    ["OnFailure", exited(1), false, "Running"],
    ["Never", exited(0), false, "Succeeded"],
    ["Never", exited(1), false, "Failed"],
    ["Always", exited(143), true, "Failed"],
    ["Always", exited(0), true, "Succeeded"],
  ];
  for (const [policy, status, terminal, phase] of rows) {
    assert.equal(
      podPhase(spec(policy), [], [status], terminal),
      phase,
      `${policy} ${JSON.stringify(status.state)}`,
    );
  }
});

Deno.test("podStatus() reports running, lastState and restartCount from the newest two instances", () => {
  const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const status = podStatus(
    pod,
    sandbox,
    [runtimeContainer(0, "exited", 1), runtimeContainer(1, "running")],
    probes,
    NOW,
    new Map(),
    { hostIP: "192.168.1.10" },
  );
  const web = status.containerStatuses?.[0];
  assert.equal(web?.restartCount, 1);
  assert.equal(web?.containerID, `podman://${"1".repeat(64)}`);
  assert.deepEqual(web?.state, { running: { startedAt: "2024-01-01T00:09:00Z" } });
  assert.equal(web?.lastState?.terminated?.reason, "Error");
  assert.equal(web?.ready, true);
  assert.equal(status.phase, "Running");
  assert.equal(status.podIP, "10.88.0.5");
  assert.deepEqual(status.hostIPs, [{ ip: "192.168.1.10" }]);
  assert.equal(status.qosClass, "BestEffort");
  assert.deepEqual(status.conditions?.map((c) => [c.type, c.status]), [
    ["PodReadyToStartContainers", "True"],
    ["Initialized", "True"],
    ["Ready", "True"],
    ["ContainersReady", "True"],
    ["PodScheduled", "True"],
  ]);
});

Deno.test("podStatus() keeps lastTransitionTime and startTime while unchanged", () => {
  const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const first = podStatus(pod, sandbox, [runtimeContainer(0, "running")], probes, NOW, new Map());
  const later = podStatus(
    { ...pod, status: first },
    sandbox,
    [runtimeContainer(0, "running")],
    { ready: () => false, started: () => true },
    NOW + 60_000,
    new Map(),
  );
  const at = (s: typeof first, type: string) => s.conditions?.find((c) => c.type === type);
  assert.equal(later.startTime, first.startTime);
  assert.equal(at(later, "PodScheduled")?.lastTransitionTime, "2024-01-01T00:10:00Z");
  assert.equal(at(later, "Ready")?.lastTransitionTime, "2024-01-01T00:11:00Z");
  assert.equal(at(later, "Ready")?.reason, "ContainersNotReady");
  assert.equal(at(later, "Ready")?.message, "containers with unready status: [web]");
});

Deno.test("podStatus() shows a waiting reason with the last terminated state for an exited container", () => {
  const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const reason = {
    reason: "CrashLoopBackOff",
    message: "back-off 10s restarting failed container=web pod=p_default(uid-1)",
  };
  const status = podStatus(
    pod,
    sandbox,
    [runtimeContainer(2, "exited", 1)],
    probes,
    NOW,
    new Map([["web", reason]]),
  );
  assert.deepEqual(status.containerStatuses?.[0]?.state, { waiting: reason });
  assert.equal(status.containerStatuses?.[0]?.lastState?.terminated?.exitCode, 1);
  assert.equal(status.containerStatuses?.[0]?.restartCount, 2);
});

Deno.test("podStatus() reports PodReadyToStartContainers False with the reason the pod has no sandbox", () => {
  const pod = testPod({ containers: [{ name: "web", image: "busybox:1.36" }] });
  const notReadyToStart = {
    reason: "PersistentVolumeClaimNotBound",
    message: 'persistentvolumeclaim "data" is not bound',
  };
  const blocked = podStatus(pod, undefined, [], probes, NOW, new Map(), { notReadyToStart });
  const at = (s: typeof blocked, type: string) => s.conditions?.find((c) => c.type === type);
  assert.deepEqual(at(blocked, "PodReadyToStartContainers"), {
    type: "PodReadyToStartContainers",
    status: "False",
    lastTransitionTime: "2024-01-01T00:10:00Z",
    ...notReadyToStart,
  });
  assert.equal(blocked.phase, "Pending");
  assert.deepEqual(blocked.containerStatuses?.[0]?.state, {
    waiting: { reason: "ContainerCreating" },
  });

  const started = podStatus(
    { ...pod, status: blocked },
    sandbox,
    [runtimeContainer(0, "running")],
    probes,
    NOW + 5_000,
    new Map(),
    { notReadyToStart },
  );
  assert.deepEqual(at(started, "PodReadyToStartContainers"), {
    type: "PodReadyToStartContainers",
    status: "True",
    lastTransitionTime: "2024-01-01T00:10:05Z",
  });
  assert.equal(started.conditions?.filter((c) => c.type === "PodReadyToStartContainers").length, 1);

  const ended = podStatus({ ...pod, status: started }, sandbox, [], probes, NOW, new Map(), {
    terminal: true,
  });
  assert.equal(at(ended, "PodReadyToStartContainers")?.status, "False");
  assert.equal(at(ended, "PodReadyToStartContainers")?.reason, undefined);
});
