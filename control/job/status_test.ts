import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  activePodsForRemoval,
  backoffRemainingMs,
  compactStatus,
  COMPLETION_INDEX_ENV,
  COMPLETION_INDEX_KEY,
  countIndexes,
  countUncounted,
  ensureCondition,
  firstPendingIndexes,
  formatIndexes,
  isPodFailed,
  JOB_TRACKING_FINALIZER,
  type JobCondition,
  type JobStatus,
  nextBackoffRecord,
  parseIndexes,
  podFinishedTime,
  podFromJob,
  restartsReachBackoffLimit,
  withIndexes,
} from "./status.ts";

const T0 = Date.parse("2026-11-22T10:00:00Z");

function job(spec: Record<string, unknown> = {}): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi", namespace: "default", uid: "job-uid" },
    spec: {
      parallelism: 1,
      completions: 1,
      backoffLimit: 6,
      completionMode: "NonIndexed",
      template: {
        metadata: { labels: { "batch.kubernetes.io/job-name": "pi" } },
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "c", image: "localhost/edge-test:1" }],
        },
      },
      ...spec,
    },
  };
}

function pod(
  name: string,
  status: Record<string, unknown> = {},
  meta: Partial<KubeObject["metadata"]> = {},
): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", uid: `uid-${name}`, ...meta },
    spec: { containers: [{ name: "c" }] },
    status,
  };
}

const at = (ms: number) => new Date(ms).toISOString();

Deno.test("parseIndexes() reads completedIndexes within completions and merges neighbours", () => {
  assert.deepEqual(parseIndexes("0,2-4,5,9", 10), [[0, 0], [2, 5], [9, 9]]);
  assert.deepEqual(parseIndexes("1-7,9", 5), [[1, 4]]);
  assert.deepEqual(parseIndexes("x,3", 5), [[3, 3]]);
  assert.deepEqual(parseIndexes("", 5), []);
});

Deno.test("withIndexes() and formatIndexes() write Kubernetes' interval text", () => {
  const intervals = withIndexes(parseIndexes("1,3-5", 10), [0, 2, 7, 8]);
  assert.deepEqual(intervals, [[0, 5], [7, 8]]);
  assert.equal(formatIndexes(intervals), "0-5,7,8");
  assert.equal(countIndexes(intervals), 8);
  assert.equal(formatIndexes([[1, 1], [3, 5], [7, 7]]), "1,3-5,7");
});

Deno.test("firstPendingIndexes() skips active and succeeded indexes", () => {
  const active = [pod("a", {}, { annotations: { [COMPLETION_INDEX_KEY]: "1" } })];
  assert.deepEqual(firstPendingIndexes(active, [[0, 0], [3, 3]], 3, 6), [2, 4, 5]);
  assert.deepEqual(firstPendingIndexes(active, [[0, 0]], 5, 3), [2]);
});

Deno.test("backoffRemainingMs() waits 10 s after a failure, doubling, at most 6 min", () => {
  const one = { failuresAfterLastSuccess: 1, lastFailureTime: T0 };
  assert.equal(backoffRemainingMs(one, T0), 10_000);
  assert.equal(backoffRemainingMs(one, T0 + 4_000), 6_000);
  assert.equal(backoffRemainingMs(one, T0 + 10_001), 0);
  assert.equal(backoffRemainingMs({ ...one, failuresAfterLastSuccess: 3 }, T0), 40_000);
  assert.equal(backoffRemainingMs({ ...one, failuresAfterLastSuccess: 12 }, T0), 360_000);
  assert.equal(backoffRemainingMs(undefined, T0), 0);
});

Deno.test("nextBackoffRecord() counts failures since the latest success", () => {
  const failedAt = (name: string, ms: number) =>
    pod(name, {
      phase: "Failed",
      conditions: [{ type: "Ready", status: "False", lastTransitionTime: at(ms) }],
    });
  const first = nextBackoffRecord(undefined, [], [failedAt("a", T0), failedAt("b", T0 + 5_000)]);
  assert.deepEqual(first, { failuresAfterLastSuccess: 2, lastFailureTime: T0 + 5_000 });
  const success = pod("s", {
    phase: "Succeeded",
    conditions: [{ type: "Ready", status: "False", lastTransitionTime: at(T0 + 7_000) }],
  });
  assert.deepEqual(nextBackoffRecord(first, [success], [failedAt("c", T0 + 9_000)]), {
    failuresAfterLastSuccess: 1,
    lastFailureTime: T0 + 9_000,
  });
  assert.deepEqual(nextBackoffRecord(first, [success], []), {
    failuresAfterLastSuccess: 0,
    lastFailureTime: undefined,
  });
});

Deno.test("podFinishedTime() prefers container finish times, then Ready=False, then deletion", () => {
  const containers = pod("a", {
    containerStatuses: [{ name: "c", state: { terminated: { finishedAt: at(T0 + 3_000) } } }],
    conditions: [{ type: "Ready", status: "False", lastTransitionTime: at(T0) }],
  });
  assert.equal(podFinishedTime(containers), T0 + 3_000);
  const ready = pod("b", {
    conditions: [{ type: "Ready", status: "False", lastTransitionTime: at(T0) }],
  });
  assert.equal(podFinishedTime(ready), T0);
  const deleted = pod("c", {}, {
    deletionTimestamp: at(T0 + 30_000),
    deletionGracePeriodSeconds: 30,
    creationTimestamp: at(T0 - 1_000),
  });
  assert.equal(podFinishedTime(deleted), T0);
});

Deno.test("isPodFailed() counts a pod deleted before it succeeded, unless only Failed pods are replaced", () => {
  const deleting = pod("a", { phase: "Running" }, { deletionTimestamp: at(T0) });
  assert.equal(isPodFailed(deleting, job()), true);
  assert.equal(isPodFailed(deleting, job({ podReplacementPolicy: "Failed" })), false);
  assert.equal(isPodFailed(pod("b", { phase: "Failed" }), job()), true);
  assert.equal(
    isPodFailed(pod("c", { phase: "Succeeded" }, { deletionTimestamp: at(T0) }), job()),
    false,
  );
});

Deno.test("restartsReachBackoffLimit() sums restarts of running pods under OnFailure", () => {
  const onFailure = (limit: number) => {
    const j = job({ backoffLimit: limit });
    (j.spec as { template: { spec: Record<string, unknown> } }).template.spec.restartPolicy =
      "OnFailure";
    return j;
  };
  const running = pod("a", { phase: "Running", containerStatuses: [{ restartCount: 2 }] });
  const done = pod("b", { phase: "Failed", containerStatuses: [{ restartCount: 9 }] });
  assert.equal(restartsReachBackoffLimit(onFailure(2), [running, done]), true);
  assert.equal(restartsReachBackoffLimit(onFailure(3), [running, done]), false);
  assert.equal(restartsReachBackoffLimit(onFailure(0), [running]), true);
  assert.equal(restartsReachBackoffLimit(job({ backoffLimit: 1 }), [running]), false, "Never");
});

Deno.test("podFromJob() makes an owned pod with the tracking finalizer; Indexed adds the index", () => {
  const plain = podFromJob(job());
  assert.equal(plain.metadata.generateName, "pi-");
  assert.deepEqual(plain.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
  assert.deepEqual(plain.metadata.ownerReferences, [{
    apiVersion: "batch/v1",
    kind: "Job",
    name: "pi",
    uid: "job-uid",
    controller: true,
    blockOwnerDeletion: true,
  }]);
  assert.equal((plain.spec as { restartPolicy?: string }).restartPolicy, "Never");

  const indexed = podFromJob(job({ completionMode: "Indexed", completions: 3 }), 2);
  assert.equal(indexed.metadata.generateName, "pi-2-");
  assert.equal(indexed.metadata.annotations?.[COMPLETION_INDEX_KEY], "2");
  assert.equal(indexed.metadata.labels?.[COMPLETION_INDEX_KEY], "2");
  const spec = indexed.spec as {
    hostname?: string;
    containers: { env?: { name: string; valueFrom?: unknown }[] }[];
  };
  assert.equal(spec.hostname, "pi-2");
  assert.deepEqual(spec.containers[0]?.env, [{
    name: COMPLETION_INDEX_ENV,
    valueFrom: { fieldRef: { fieldPath: `metadata.labels['${COMPLETION_INDEX_KEY}']` } },
  }]);
  const long = podFromJob({ ...job(), metadata: { name: "x".repeat(60), uid: "u" } }, 12);
  assert.equal(long.metadata.generateName, `${"x".repeat(54)}-12-`);
});

Deno.test("activePodsForRemoval() drops repeated and invalid indexes first", () => {
  const j = job({ completionMode: "Indexed", completions: 3 });
  const withIndex = (name: string, ix: string, phase = "Running") =>
    pod(name, { phase }, { annotations: { [COMPLETION_INDEX_KEY]: ix } });
  const pods = [withIndex("a", "0"), withIndex("b", "0", "Pending"), withIndex("c", "7")];
  const removed = activePodsForRemoval(j, pods, 0).map((p) => p.metadata.name).sort();
  assert.deepEqual(removed, ["b", "c"]);
  const plain = [pod("x", { phase: "Running" }), pod("y", { phase: "Pending" })];
  assert.deepEqual(activePodsForRemoval(job(), plain, 1).map((p) => p.metadata.name), ["y"]);
});

Deno.test("ensureCondition() adds, replaces, and never adds a False condition", () => {
  const conditions: JobCondition[] = [];
  assert.equal(ensureCondition(conditions, "Suspended", "False", "JobResumed", "m", T0), false);
  assert.equal(ensureCondition(conditions, "Suspended", "True", "JobSuspended", "m", T0), true);
  assert.equal(ensureCondition(conditions, "Suspended", "True", "JobSuspended", "m", T0), false);
  assert.equal(ensureCondition(conditions, "Suspended", "False", "JobResumed", "m", T0), true);
  assert.deepEqual(conditions.map((c) => c.status), ["False"]);
});

Deno.test("countUncounted() moves uids without a finalizer into the counters", () => {
  const status: JobStatus = {
    succeeded: 1,
    uncountedTerminatedPods: { succeeded: ["a", "b"], failed: ["c"] },
  };
  assert.equal(countUncounted(status, new Set(["b"])), true);
  assert.equal(status.succeeded, 2);
  assert.equal(status.failed, 1);
  assert.deepEqual(status.uncountedTerminatedPods, { succeeded: ["b"], failed: [] });
  assert.equal(countUncounted(status, new Set(["b"])), false);
  assert.deepEqual(compactStatus({ ...status, active: 0, ready: 0 }), {
    succeeded: 2,
    failed: 1,
    uncountedTerminatedPods: { succeeded: ["b"] },
    ready: 0,
  });
});
