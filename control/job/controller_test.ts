import assert from "node:assert/strict";
import { FakeClock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { storePrefix } from "../../storage/resource.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { EventRecorder } from "../events.ts";
import { byController, CONTROLLER_INDEX, Informer } from "../informer.ts";
import { JobController } from "./controller.ts";
import { COMPLETION_INDEX_KEY, JOB_TRACKING_FINALIZER, type JobStatus } from "./status.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;
const JOB = findKind("batch/v1", "Job")!;
const POD = findKind("v1", "Pod")!;
const EVENT = findKind("v1", "Event")!;
const KEY = "default/pi";

function job(spec: Record<string, unknown> = {}, restartPolicy = "Never"): KubeObject {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi", namespace: "default" },
    spec: {
      template: {
        metadata: { labels: { app: "pi" }, annotations: { note: "x" } },
        spec: { restartPolicy, containers: [{ name: "c", image: "localhost/edge-test:1" }] },
      },
      ...spec,
    },
  };
}

interface Rig {
  store: Store;
  objects: Objects;
  clock: FakeClock;
  controller: JobController;
  jobs: Informer;
  pods: Informer;
  /** waits until the informers have seen everything written so far */
  synced(): Promise<void>;
  /** reconcile, then let the informers catch up */
  sync(): Promise<void>;
  /** the Job's pods that are not being deleted, oldest first */
  live(): KubeObject[];
  job(): Promise<KubeObject>;
  status(): Promise<JobStatus>;
  /** reasons and messages of the events recorded about the Job */
  events(): Promise<string[]>;
  close(): Promise<void>;
}

async function rig(): Promise<Rig> {
  const store = await storeWithNamespaces("default");
  const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
  const objects = new Objects(store, () => new Date(clock.now()));
  const pods = new Informer({ store, prefix: storePrefix(POD), name: "pods" });
  pods.addIndex(CONTROLLER_INDEX, byController);
  const jobs = new Informer({ store, prefix: storePrefix(JOB), name: "jobs" });
  const events = new EventRecorder({ store, component: "job-controller", clock });
  const controller = new JobController({ store, jobs, pods, events, clock });
  await Promise.all([pods.start(), jobs.start()]);
  const versions = (objs: KubeObject[]) =>
    objs.map((o) => `${o.metadata.name}@${o.metadata.resourceVersion}`).sort().join(",");
  const caughtUp = async (informer: Informer, prefix: string) =>
    versions(informer.list()) === versions((await store.list(prefix)).items);
  const synced = async () => {
    for (let i = 0; i < 400; i++) {
      if (await caughtUp(pods, storePrefix(POD)) && await caughtUp(jobs, storePrefix(JOB))) return;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error("informers did not catch up");
  };
  const get = () => objects.get(JOB, "default", "pi");
  return {
    store,
    objects,
    clock,
    controller,
    jobs,
    pods,
    synced,
    async sync() {
      await controller.reconcile(KEY);
      await synced();
    },
    live: () =>
      pods.list().filter((p) => !p.metadata.deletionTimestamp).sort((a, b) =>
        Number(a.metadata.resourceVersion) - Number(b.metadata.resourceVersion)
      ),
    job: get,
    status: async () => ((await get()).status ?? {}) as JobStatus,
    async events() {
      const items = (await store.list(storePrefix(EVENT))).items
        .sort((a, b) => String(a.metadata.name).localeCompare(String(b.metadata.name)));
      return items.map((e) => `${e.reason}: ${e.message}`);
    },
    async close() {
      await controller.stop();
      await Promise.all([pods.stop(), jobs.stop()]);
      await store.close();
    },
  };
}

/** Sets a pod's phase through the status subresource, as a node agent would. */
async function finish(r: Rig, pod: KubeObject, phase: "Succeeded" | "Failed"): Promise<void> {
  const since = new Date(r.clock.now()).toISOString().replace(/\.\d{3}Z$/, "Z");
  await r.objects.patch(POD, "default", pod.metadata.name!, "application/merge-patch+json", {
    status: {
      phase,
      conditions: [{ type: "Ready", status: "False", lastTransitionTime: since }],
    },
  }, { ...WRITE, subresource: "status" });
}

async function running(r: Rig, pod: KubeObject, status: Record<string, unknown> = {}) {
  await r.objects.patch(POD, "default", pod.metadata.name!, "application/merge-patch+json", {
    status: { phase: "Running", ...status },
  }, { ...WRITE, subresource: "status" });
}

function conditions(status: JobStatus): string[] {
  return (status.conditions ?? []).map((c) => `${c.type}=${c.status}:${c.reason ?? ""}`);
}

/** Polls `check` (real time) until it holds. */
async function eventually(check: () => Promise<boolean>, what: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (await check()) return;
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`timed out waiting for ${what}`);
}

Deno.test("JobController runs 3 completions two at a time and completes the Job", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ completions: 3, parallelism: 2 }), WRITE);
    await r.synced();
    await r.sync();
    const first = r.live();
    assert.equal(first.length, 2);
    const created = await r.job();
    for (const pod of first) {
      assert.match(pod.metadata.name!, /^pi-[a-z0-9]{5}$/);
      assert.deepEqual(pod.metadata.finalizers, [JOB_TRACKING_FINALIZER]);
      assert.deepEqual(pod.metadata.ownerReferences, [{
        apiVersion: "batch/v1",
        kind: "Job",
        name: "pi",
        uid: created.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      }]);
      assert.equal(pod.metadata.labels?.app, "pi");
      assert.equal(pod.metadata.labels?.["batch.kubernetes.io/job-name"], "pi");
      assert.equal(
        pod.metadata.labels?.["batch.kubernetes.io/controller-uid"],
        created.metadata.uid,
      );
      assert.equal(pod.metadata.annotations?.note, "x");
      assert.equal((pod.spec as { restartPolicy?: string }).restartPolicy, "Never");
    }
    let status = await r.status();
    assert.equal(status.active, 2);
    assert.equal(status.ready, 0);
    assert.equal(status.terminating, 0);
    assert.equal(status.startTime, "2026-11-22T10:00:00Z");
    assert.deepEqual(status.uncountedTerminatedPods, {});

    await running(r, first[1]!, {
      conditions: [{ type: "Ready", status: "True", lastTransitionTime: "2026-11-22T10:00:00Z" }],
    });
    await finish(r, first[0]!, "Succeeded");
    await r.synced();
    await r.sync();
    status = await r.status();
    assert.equal(status.succeeded, 1);
    assert.equal(status.active, 2, "a replacement for the finished pod");
    assert.equal(status.ready, 1);
    assert.deepEqual(status.uncountedTerminatedPods, {});
    const done = r.pods.list().find((p) => p.metadata.uid === first[0]!.metadata.uid)!;
    assert.deepEqual(done.metadata.finalizers ?? [], [], "counted, then released");
    assert.equal(r.live().length, 3, "finished pods stay until the Job goes");

    await r.sync(); // nothing changed: no third pod, no write
    assert.equal(r.live().length, 3);

    const second = r.live().filter((p) => p.metadata.uid !== first[0]!.metadata.uid);
    await finish(r, second[0]!, "Succeeded");
    await r.synced();
    await r.sync();
    assert.equal(r.live().length, 3, "two succeeded and one running: nothing more to create");
    await finish(r, second[1]!, "Succeeded");
    await r.clock.advance(5_000);
    await r.synced();
    await r.sync();
    status = await r.status();
    assert.equal(status.succeeded, 3);
    assert.equal(status.active, undefined);
    assert.equal(status.completionTime, "2026-11-22T10:00:05Z");
    assert.deepEqual(conditions(status), [
      "SuccessCriteriaMet=True:CompletionsReached",
      "Complete=True:CompletionsReached",
    ]);
    assert.equal(
      status.conditions?.[1]?.message,
      "Reached expected number of succeeded pods",
    );
    const events = await r.events();
    assert.equal(
      events.filter((e) => e.startsWith("SuccessfulCreate: Created pod: pi-")).length,
      3,
    );
    assert.ok(events.includes("Completed: Job completed"));
    assert.ok(r.pods.list().every((p) => (p.metadata.finalizers ?? []).length === 0));

    const before = (await r.job()).metadata.resourceVersion;
    await r.sync();
    assert.equal((await r.job()).metadata.resourceVersion, before, "a finished Job is left alone");
  } finally {
    await r.close();
  }
});

Deno.test("JobController counts Never failures, backs off before replacing, and fails at the limit", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ backoffLimit: 1 }), WRITE);
    await r.synced();
    await r.sync();
    const [first] = r.live();
    await finish(r, first!, "Failed");
    await r.synced();
    await r.sync();
    let status = await r.status();
    assert.equal(status.failed, 1);
    assert.equal(r.live().filter((p) => p.metadata.uid !== first!.metadata.uid).length, 0);

    await r.clock.advance(9_000);
    await r.sync();
    assert.equal(r.live().length, 1, "still backing off 9 s after the failure");
    await r.clock.advance(1_001);
    await r.sync();
    const second = r.live().find((p) => p.metadata.uid !== first!.metadata.uid);
    assert.ok(second, "replaced 10 s after the failure");
    assert.equal((await r.status()).failed, 1, "the failure was counted once");

    await finish(r, second, "Failed");
    await r.synced();
    await r.sync();
    status = await r.status();
    assert.equal(status.failed, 2);
    assert.equal(status.active, undefined);
    assert.deepEqual(conditions(status), [
      "FailureTarget=True:BackoffLimitExceeded",
      "Failed=True:BackoffLimitExceeded",
    ]);
    assert.equal(status.conditions?.[1]?.message, "Job has reached the specified backoff limit");
    assert.equal(status.completionTime, undefined);
    assert.ok(
      (await r.events()).includes(
        "BackoffLimitExceeded: Job has reached the specified backoff limit",
      ),
    );
  } finally {
    await r.close();
  }
});

Deno.test("JobController fails an OnFailure Job when container restarts reach the backoff limit", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ backoffLimit: 2 }, "OnFailure"), WRITE);
    await r.synced();
    await r.sync();
    const [pod] = r.live();
    const restarted = (restartCount: number) => ({
      containerStatuses: [{
        name: "c",
        image: "localhost/edge-test:1",
        imageID: "sha256:0",
        ready: false,
        restartCount,
      }],
    });
    await running(r, pod!, restarted(1));
    await r.synced();
    await r.sync();
    assert.deepEqual(conditions(await r.status()), []);
    await running(r, pod!, restarted(2));
    await r.synced();
    await r.sync();
    await r.sync();
    const status = await r.status();
    assert.deepEqual(conditions(status), [
      "FailureTarget=True:BackoffLimitExceeded",
      "Failed=True:BackoffLimitExceeded",
    ]);
    assert.equal(status.failed, 1, "the deleted running pod counts as failed");
    assert.deepEqual(r.pods.list(), [], "its pod was deleted");
  } finally {
    await r.close();
  }
});

Deno.test("JobController fails the Job at activeDeadlineSeconds on its own timer", async () => {
  const r = await rig();
  try {
    await r.objects.create(
      JOB,
      "default",
      job({ completions: 4, parallelism: 2, activeDeadlineSeconds: 30 }),
      WRITE,
    );
    await r.synced();
    r.controller.start();
    await eventually(async () => (await r.status()).active === 2, "two active pods");
    await r.clock.advance(29_000);
    await r.synced();
    assert.deepEqual(conditions(await r.status()), []);
    await r.clock.advance(1_000);
    await eventually(
      async () => conditions(await r.status()).includes("Failed=True:DeadlineExceeded"),
      "the Failed condition",
    );
    const status = await r.status();
    assert.deepEqual(conditions(status), [
      "FailureTarget=True:DeadlineExceeded",
      "Failed=True:DeadlineExceeded",
    ]);
    assert.equal(status.conditions?.[1]?.message, "Job was active longer than specified deadline");
    assert.equal(status.failed, 2);
    assert.equal(status.terminating, 0);
    await r.synced();
    assert.deepEqual(r.pods.list(), [], "active pods deleted");
    const events = await r.events();
    assert.ok(events.includes("DeadlineExceeded: Job was active longer than specified deadline"));
    assert.equal(
      events.filter((e) => e.startsWith("SuccessfulDelete: Deleted pod: pi-")).length,
      2,
    );
  } finally {
    await r.close();
  }
});

Deno.test("JobController deletes the pods of a suspended Job without counting them and resumes", async () => {
  const r = await rig();
  try {
    await r.objects.create(
      JOB,
      "default",
      job({ completions: 4, parallelism: 2, activeDeadlineSeconds: 600 }),
      WRITE,
    );
    await r.synced();
    await r.sync();
    assert.equal(r.live().length, 2);

    await r.objects.patch(JOB, "default", "pi", "application/merge-patch+json", {
      spec: { suspend: true },
    }, WRITE);
    await r.synced();
    await r.sync();
    let status = await r.status();
    assert.deepEqual(conditions(status), ["Suspended=True:JobSuspended"]);
    assert.equal(status.active, undefined);
    assert.equal(status.failed, undefined, "suspension is no failure");
    assert.deepEqual(r.pods.list(), []);

    await r.clock.advance(900_000); // suspended time does not count toward the deadline
    await r.objects.patch(JOB, "default", "pi", "application/merge-patch+json", {
      spec: { suspend: false },
    }, WRITE);
    await r.synced();
    await r.sync();
    status = await r.status();
    assert.deepEqual(conditions(status), ["Suspended=False:JobResumed"]);
    assert.equal(status.startTime, "2026-11-22T10:15:00Z");
    assert.equal(status.active, 2);
    assert.equal(r.live().length, 2);
    const events = await r.events();
    assert.ok(events.includes("Suspended: Job suspended"));
    assert.ok(events.includes("Resumed: Job resumed"));
  } finally {
    await r.close();
  }
});

Deno.test("JobController does not create twice while its creations are not yet seen", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ completions: 5, parallelism: 3 }), WRITE);
    await r.synced();
    await r.pods.stop(); // a watch that has fallen behind: the new pods are not seen
    await r.controller.reconcile(KEY);
    await r.controller.reconcile(KEY);
    const stored = (await r.store.list(storePrefix(POD))).items;
    assert.equal(stored.length, 3, "the second sync waited for the first one's pods");
  } finally {
    await r.close();
  }
});

Deno.test("JobController counts each finished pod once, even before its watch catches up", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ completions: 2, parallelism: 2 }), WRITE);
    await r.synced();
    await r.sync();
    const [a, b] = r.live();
    await finish(r, a!, "Succeeded");
    await finish(r, b!, "Failed");
    await r.synced();
    // neither watch will show the finalizer removals or the status writes
    await Promise.all([r.pods.stop(), r.jobs.stop()]);
    await r.controller.reconcile(KEY);
    await r.controller.reconcile(KEY);
    await r.controller.reconcile(KEY);
    const status = await r.status();
    assert.equal(status.succeeded, 1);
    assert.equal(status.failed, 1);
    assert.deepEqual(status.uncountedTerminatedPods, {});
  } finally {
    await r.close();
  }
});

Deno.test("JobController recounts nothing after a restart and finishes what a crash left uncounted", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ completions: 2, parallelism: 2 }), WRITE);
    await r.synced();
    await r.sync();
    const [a, b] = r.live();
    await finish(r, a!, "Succeeded");
    await r.synced();
    await r.sync();
    // a crash between writing the uncounted uid and removing the finalizer
    await finish(r, b!, "Succeeded");
    await r.objects.patch(JOB, "default", "pi", "application/merge-patch+json", {
      status: { uncountedTerminatedPods: { succeeded: [b!.metadata.uid] } },
    }, { ...WRITE, subresource: "status" });
    await r.synced();
    await r.clock.advance(1_000); // the new recorder's event names must not repeat the old one's
    const restarted = new JobController({
      store: r.store,
      jobs: r.jobs,
      pods: r.pods,
      events: new EventRecorder({ store: r.store, component: "job-controller", clock: r.clock }),
      clock: r.clock,
    });
    await restarted.reconcile(KEY);
    await r.synced();
    await restarted.reconcile(KEY);
    const status = await r.status();
    assert.equal(status.succeeded, 2);
    assert.deepEqual(conditions(status), [
      "SuccessCriteriaMet=True:CompletionsReached",
      "Complete=True:CompletionsReached",
    ]);
    await restarted.stop();
  } finally {
    await r.close();
  }
});

Deno.test("JobController without completions stops creating after a success and completes when all are done", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ parallelism: 2 }), WRITE);
    await r.synced();
    await r.sync();
    const [a, b] = r.live();
    assert.ok(a && b);
    await finish(r, a, "Succeeded");
    await r.synced();
    await r.sync();
    assert.equal(r.live().length, 2, "no replacement once one pod succeeded");
    assert.deepEqual(conditions(await r.status()), []);
    await finish(r, b, "Failed");
    await r.synced();
    await r.sync();
    const status = await r.status();
    assert.equal(status.succeeded, 1);
    assert.equal(status.failed, 1);
    assert.deepEqual(conditions(status), [
      "SuccessCriteriaMet=True:CompletionsReached",
      "Complete=True:CompletionsReached",
    ]);
  } finally {
    await r.close();
  }
});

Deno.test("JobController runs an Indexed Job one pod per index", async () => {
  const r = await rig();
  try {
    await r.objects.create(
      JOB,
      "default",
      job({ completions: 3, parallelism: 2, completionMode: "Indexed" }),
      WRITE,
    );
    await r.synced();
    await r.sync();
    const index = (p: KubeObject) => p.metadata.annotations?.[COMPLETION_INDEX_KEY];
    assert.deepEqual(r.live().map(index).sort(), ["0", "1"]);
    const zero = r.live().find((p) => index(p) === "0")!;
    assert.match(zero.metadata.name!, /^pi-0-[a-z0-9]{5}$/);
    assert.equal(zero.metadata.labels?.[COMPLETION_INDEX_KEY], "0");
    assert.equal((zero.spec as { hostname?: string }).hostname, "pi-0");

    await finish(r, zero, "Succeeded");
    await r.synced();
    await r.sync();
    let status = await r.status();
    assert.equal(status.completedIndexes, "0");
    assert.equal(status.succeeded, 1);
    const one = r.live().find((p) => index(p) === "1")!;
    const two = r.live().find((p) => index(p) === "2");
    assert.ok(two, "index 2 started");

    await finish(r, one, "Failed");
    await r.synced();
    await r.sync();
    await r.clock.advance(10_001);
    await r.sync();
    const again = r.live().filter((p) => index(p) === "1" && p.metadata.uid !== one.metadata.uid);
    assert.equal(again.length, 1, "the failed index runs again after the back-off");
    await finish(r, again[0]!, "Succeeded");
    await finish(r, two, "Succeeded");
    await r.synced();
    await r.sync();
    status = await r.status();
    assert.equal(status.completedIndexes, "0-2");
    assert.equal(status.succeeded, 3);
    assert.equal(status.failed, 1);
    assert.ok(conditions(status).includes("Complete=True:CompletionsReached"));
  } finally {
    await r.close();
  }
});

Deno.test("JobController deletes a finished Job ttlSecondsAfterFinished later, in the foreground", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ ttlSecondsAfterFinished: 60 }), WRITE);
    await r.synced();
    await r.sync();
    await finish(r, r.live()[0]!, "Succeeded");
    await r.synced();
    await r.sync();
    assert.ok(conditions(await r.status()).includes("Complete=True:CompletionsReached"));
    await r.clock.advance(59_000);
    await r.sync();
    assert.equal((await r.job()).metadata.deletionTimestamp, undefined);
    await r.clock.advance(1_000);
    await r.sync();
    const deleting = await r.job();
    assert.ok(deleting.metadata.deletionTimestamp, "deleted once the TTL is over");
    assert.ok(deleting.metadata.finalizers?.includes("foregroundDeletion"));
  } finally {
    await r.close();
  }
});

Deno.test("JobController removes the tracking finalizer of a deleted Job's pods", async () => {
  const r = await rig();
  try {
    await r.objects.create(JOB, "default", job({ completions: 1 }), WRITE);
    await r.synced();
    await r.sync();
    const [pod] = r.live();
    await r.objects.delete(JOB, "default", "pi", { dryRun: false });
    await r.synced();
    r.controller.start();
    await eventually(async () => {
      const stored = await r.objects.get(POD, "default", pod!.metadata.name!);
      return (stored.metadata.finalizers ?? []).length === 0;
    }, "the finalizer to go");
  } finally {
    await r.close();
  }
});
