import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import {
  type DeploymentPlan,
  type DeploymentStatus,
  DESIRED_REPLICAS_ANNOTATION,
  MAX_REPLICAS_ANNOTATION,
  planDeployment,
  REVISION_ANNOTATION,
  REVISION_HISTORY_ANNOTATION,
} from "./plan.ts";
import { computeTemplateHash, POD_TEMPLATE_HASH_LABEL } from "./template_hash.ts";

const T0 = Date.parse("2025-03-01T12:00:00Z");
const HOUR = 3600_000;

function time(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function podTemplate(image: string) {
  return {
    metadata: { labels: { app: "web" } },
    spec: {
      containers: [{ name: "web", image, imagePullPolicy: "IfNotPresent" }],
      restartPolicy: "Always",
    },
  };
}

interface DeploymentOptions {
  replicas?: number;
  image?: string;
  maxSurge?: number | string;
  maxUnavailable?: number | string;
  recreate?: boolean;
  paused?: boolean;
  generation?: number;
  annotations?: Record<string, string>;
  status?: DeploymentStatus;
  minReadySeconds?: number;
  revisionHistoryLimit?: number;
  deleting?: boolean;
}

/** A Deployment "web" as the API stores it (defaults applied). */
function deployment(o: DeploymentOptions = {}): KubeObject {
  const spec: Record<string, unknown> = {
    replicas: o.replicas ?? 3,
    selector: { matchLabels: { app: "web" } },
    template: podTemplate(o.image ?? "v2"),
    strategy: o.recreate ? { type: "Recreate" } : {
      type: "RollingUpdate",
      rollingUpdate: { maxSurge: o.maxSurge ?? "25%", maxUnavailable: o.maxUnavailable ?? "25%" },
    },
    revisionHistoryLimit: o.revisionHistoryLimit ?? 10,
    progressDeadlineSeconds: 600,
  };
  if (o.paused) spec.paused = true;
  if (o.minReadySeconds !== undefined) spec.minReadySeconds = o.minReadySeconds;
  const d: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: {
      name: "web",
      namespace: "default",
      uid: "uid-web",
      resourceVersion: "40",
      generation: o.generation ?? 1,
      creationTimestamp: time(T0 - 24 * HOUR),
    },
    spec,
    status: o.status ?? {},
  };
  if (o.annotations) d.metadata.annotations = o.annotations;
  if (o.deleting) d.metadata.deletionTimestamp = time(T0);
  return d;
}

interface RsOptions {
  image: string;
  replicas: number;
  /** status.replicas (defaults to `replicas`) */
  current?: number;
  /** status.availableReplicas (defaults to `current`) */
  available?: number;
  revision?: number | string;
  created?: number;
  desired?: number;
  max?: number;
  deleting?: boolean;
  owner?: string;
}

/** A ReplicaSet of "web"; its name's suffix plays the pod-template-hash. */
function replicaSet(name: string, o: RsOptions): KubeObject {
  const hash = name.replace(/^web-/, "");
  const labels = { app: "web", [POD_TEMPLATE_HASH_LABEL]: hash };
  const template = podTemplate(o.image);
  const annotations: Record<string, string> = {};
  if (o.revision !== undefined) annotations[REVISION_ANNOTATION] = String(o.revision);
  if (o.desired !== undefined) annotations[DESIRED_REPLICAS_ANNOTATION] = String(o.desired);
  if (o.max !== undefined) annotations[MAX_REPLICAS_ANNOTATION] = String(o.max);
  const current = o.current ?? o.replicas;
  const available = o.available ?? current;
  const rs: KubeObject = {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      resourceVersion: "7",
      generation: 1,
      creationTimestamp: time(o.created ?? T0 - HOUR),
      labels,
      annotations,
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "web",
        uid: o.owner ?? "uid-web",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      replicas: o.replicas,
      selector: { matchLabels: { app: "web", [POD_TEMPLATE_HASH_LABEL]: hash } },
      template: { ...template, metadata: { labels } },
    },
    status: {
      replicas: current,
      readyReplicas: available,
      availableReplicas: available,
      observedGeneration: 1,
    },
  };
  if (o.deleting) rs.metadata.deletionTimestamp = time(T0);
  return rs;
}

function pod(name: string, rsName: string, phase: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      namespace: "default",
      uid: `uid-${name}`,
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "ReplicaSet",
        name: rsName,
        uid: `uid-${rsName}`,
        controller: true,
      }],
    },
    status: { phase },
  };
}

function updated(plan: DeploymentPlan, name: string): KubeObject | undefined {
  return plan.updateReplicaSets.find((rs) => rs.metadata.name === name);
}

function replicasAfter(plan: DeploymentPlan, rs: KubeObject): number {
  const obj = updated(plan, rs.metadata.name!) ?? rs;
  return (obj.spec as { replicas: number }).replicas;
}

function messages(plan: DeploymentPlan): string[] {
  return plan.events.map((e) => e.message);
}

function condition(status: DeploymentStatus, type: string) {
  return status.conditions?.find((c) => c.type === type);
}

/** A stored status for a deployment whose rollout to `rsName` finished at `at`. */
function completeStatus(replicas: number, rsName: string, at = T0 - HOUR): DeploymentStatus {
  return {
    observedGeneration: 1,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: replicas,
    availableReplicas: replicas,
    conditions: [
      {
        type: "Available",
        status: "True",
        lastUpdateTime: time(at),
        lastTransitionTime: time(at),
        reason: "MinimumReplicasAvailable",
        message: "Deployment has minimum availability.",
      },
      {
        type: "Progressing",
        status: "True",
        lastUpdateTime: time(at),
        lastTransitionTime: time(at - HOUR),
        reason: "NewReplicaSetAvailable",
        message: `ReplicaSet "${rsName}" has successfully progressed.`,
      },
    ],
  };
}

// ----- a fake controller + ReplicaSet controller, to run rollouts to the end ------------------

interface World {
  d: KubeObject;
  rss: KubeObject[];
}

/** Apply a plan as the controller would. */
function apply(world: World, plan: DeploymentPlan, now: number): World {
  let rss = world.rss.map((rs) => structuredClone(rs));
  if (plan.createReplicaSet) {
    const created = structuredClone(plan.createReplicaSet);
    created.metadata.uid = `uid-${created.metadata.name}`;
    created.metadata.creationTimestamp = time(now);
    created.metadata.generation = 1;
    rss.push(created);
  }
  for (const u of plan.updateReplicaSets) {
    rss = rss.map((rs) => rs.metadata.name === u.metadata.name ? structuredClone(u) : rs);
  }
  rss = rss.filter((rs) => !plan.deleteReplicaSets.includes(rs.metadata.name!));
  const d = structuredClone(world.d);
  d.status = structuredClone(plan.status);
  if (plan.revision) {
    d.metadata.annotations = { ...d.metadata.annotations, [REVISION_ANNOTATION]: plan.revision };
  }
  return { d, rss };
}

/** The ReplicaSet controller and kubelet at their fastest: every pod up and available. */
function podsAvailable(rs: KubeObject): KubeObject {
  const n = (rs.spec as { replicas: number }).replicas;
  return {
    ...rs,
    status: { replicas: n, readyReplicas: n, availableReplicas: n, observedGeneration: 1 },
  };
}

function idle(plan: DeploymentPlan): boolean {
  return !plan.createReplicaSet && plan.updateReplicaSets.length === 0 &&
    plan.deleteReplicaSets.length === 0 && !plan.statusChanged && plan.revision === undefined;
}

/** Sync until nothing changes; `check` sees the world after each plan is applied. */
function rollout(start: World, check: (w: World) => void = () => {}): World {
  let world = start;
  for (let i = 0; i < 60; i++) {
    const now = T0 + i * 1000;
    const plan = planDeployment({ deployment: world.d, replicaSets: world.rss, pods: [], now });
    if (idle(plan)) return world;
    world = apply(world, plan, now);
    check(world);
    world = { ...world, rss: world.rss.map(podsAvailable) };
  }
  throw new Error("rollout did not settle in 60 syncs");
}

function spec(rs: KubeObject): number {
  return (rs.spec as { replicas: number }).replicas;
}

function available(rs: KubeObject): number {
  return (rs.status as { availableReplicas?: number } | undefined)?.availableReplicas ?? 0;
}

// ----- creating the new ReplicaSet ------------------------------------------------------------

Deno.test("planDeployment() creates the first ReplicaSet with every field Kubernetes sets", () => {
  const d = deployment({
    replicas: 3,
    minReadySeconds: 5,
    annotations: {
      "kubernetes.io/change-cause": "kubectl apply --record",
      "kubectl.kubernetes.io/last-applied-configuration": "{}",
      [REVISION_ANNOTATION]: "9",
    },
  });
  const plan = planDeployment({ deployment: d, replicaSets: [], now: T0 });
  const hash = computeTemplateHash(podTemplate("v2"));
  const name = `web-${hash}`;
  const labels = { app: "web", [POD_TEMPLATE_HASH_LABEL]: hash };
  assert.deepEqual(plan.createReplicaSet, {
    apiVersion: "apps/v1",
    kind: "ReplicaSet",
    metadata: {
      name,
      namespace: "default",
      labels,
      annotations: {
        "kubernetes.io/change-cause": "kubectl apply --record",
        [REVISION_ANNOTATION]: "1",
        [DESIRED_REPLICAS_ANNOTATION]: "3",
        [MAX_REPLICAS_ANNOTATION]: "4",
      },
      ownerReferences: [{
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "web",
        uid: "uid-web",
        controller: true,
        blockOwnerDeletion: true,
      }],
    },
    spec: {
      replicas: 3,
      minReadySeconds: 5,
      selector: { matchLabels: labels },
      template: { ...podTemplate("v2"), metadata: { labels } },
    },
  });
  assert.deepEqual(plan.events, [{
    type: "Normal",
    reason: "ScalingReplicaSet",
    message: `Scaled up replica set ${name} from 0 to 3`,
    replicaSet: name,
  }]);
  assert.equal(plan.revision, "1");
  assert.deepEqual(plan.updateReplicaSets, []);
  assert.deepEqual(plan.status, {
    observedGeneration: 1,
    unavailableReplicas: 3,
    conditions: [
      {
        type: "Progressing",
        status: "True",
        lastUpdateTime: time(T0),
        lastTransitionTime: time(T0),
        reason: "NewReplicaSetCreated",
        message: `Created new replica set "${name}"`,
      },
      {
        type: "Available",
        status: "False",
        lastUpdateTime: time(T0),
        lastTransitionTime: time(T0),
        reason: "MinimumReplicasUnavailable",
        message: "Deployment does not have minimum availability.",
      },
    ],
  });
  assert.equal(plan.statusChanged, true);
  assert.equal(plan.requeueAfterMs, 601_000, "progress deadline (600 s) + 1 s");
});

Deno.test("planDeployment() numbers a new ReplicaSet one past the highest old revision", () => {
  const d = deployment({ image: "v9" });
  const rss = [
    replicaSet("web-a", { image: "v1", replicas: 0, revision: 1, created: T0 - 3 * HOUR }),
    replicaSet("web-b", { image: "v3", replicas: 3, revision: 4, desired: 3, max: 4 }),
    replicaSet("web-c", { image: "v2", replicas: 0, revision: "x", created: T0 - 2 * HOUR }),
  ];
  const plan = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
  assert.equal(plan.createReplicaSet?.metadata.annotations?.[REVISION_ANNOTATION], "5");
  assert.equal(plan.revision, "5");
});

Deno.test("planDeployment() creates the new ReplicaSet with 0 replicas and no event when surge is 0", () => {
  const d = deployment({ replicas: 3, maxSurge: 0, maxUnavailable: 1 });
  const old = replicaSet("web-old", { image: "v1", replicas: 3, revision: 1, desired: 3, max: 3 });
  const plan = planDeployment({ deployment: d, replicaSets: [old], now: T0 });
  assert.equal((plan.createReplicaSet?.spec as { replicas: number }).replicas, 0);
  assert.deepEqual(messages(plan), ["Scaled down replica set web-old from 3 to 2"]);
});

Deno.test("planDeployment() bumps collisionCount instead of reusing a name held by another template", () => {
  const d = deployment({ image: "v2" });
  const hash = computeTemplateHash(podTemplate("v2"));
  const squatter = replicaSet(`web-${hash}`, { image: "v7", replicas: 0, revision: 1 });
  const plan = planDeployment({ deployment: d, replicaSets: [squatter], now: T0 });
  assert.equal(plan.createReplicaSet, undefined);
  assert.equal(plan.status.collisionCount, 1);
  assert.equal(plan.statusChanged, true);
  assert.equal(plan.requeueAfterMs, 0);

  const next = planDeployment({
    deployment: deployment({ image: "v2", status: plan.status }),
    replicaSets: [squatter],
    now: T0 + 1000,
  });
  const name = `web-${computeTemplateHash(podTemplate("v2"), 1)}`;
  assert.equal(next.createReplicaSet?.metadata.name, name);
  assert.notEqual(name, squatter.metadata.name);
  assert.equal(next.status.collisionCount, 1);
});

Deno.test("planDeployment() ignores ReplicaSets another owner controls", () => {
  const d = deployment({ image: "v2" });
  const foreign = replicaSet("web-other", { image: "v1", replicas: 3, owner: "uid-someone" });
  const plan = planDeployment({ deployment: d, replicaSets: [foreign], now: T0 });
  assert.deepEqual(plan.updateReplicaSets, []);
  assert.equal((plan.createReplicaSet?.spec as { replicas: number }).replicas, 3);
});

Deno.test("planDeployment() syncs minReadySeconds and annotations onto the existing new ReplicaSet", () => {
  const d = deployment({
    image: "v2",
    minReadySeconds: 10,
    annotations: { "kubernetes.io/change-cause": "image v2", [REVISION_ANNOTATION]: "2" },
    status: completeStatus(3, "web-new"),
  });
  const rss = [
    replicaSet("web-old", { image: "v1", replicas: 0, revision: 1, created: T0 - 2 * HOUR }),
    replicaSet("web-new", { image: "v2", replicas: 3, revision: 2, desired: 3, max: 4 }),
  ];
  const plan = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
  const rs = updated(plan, "web-new");
  assert.equal((rs?.spec as { minReadySeconds?: number }).minReadySeconds, 10);
  assert.equal(rs?.metadata.annotations?.["kubernetes.io/change-cause"], "image v2");
  assert.equal(rs?.metadata.annotations?.[REVISION_ANNOTATION], "2");
  assert.equal(rs?.metadata.resourceVersion, "7", "the update is a compare-and-swap on the read");
  assert.equal(plan.revision, undefined);
  assert.deepEqual(plan.events, []);
});

// ----- RollingUpdate --------------------------------------------------------------------------

/** First sync after a template change from a fully available old ReplicaSet. */
const ROLLING_CASES: {
  replicas: number;
  maxSurge: number | string;
  maxUnavailable: number | string;
  newRS: number;
  oldRS: number;
}[] = [
  { replicas: 1, maxSurge: "25%", maxUnavailable: "25%", newRS: 1, oldRS: 1 },
  { replicas: 1, maxSurge: 0, maxUnavailable: 1, newRS: 0, oldRS: 0 },
  { replicas: 1, maxSurge: 1, maxUnavailable: 0, newRS: 1, oldRS: 1 },
  { replicas: 1, maxSurge: "100%", maxUnavailable: 0, newRS: 1, oldRS: 1 },
  { replicas: 1, maxSurge: 0, maxUnavailable: "100%", newRS: 0, oldRS: 0 },
  { replicas: 1, maxSurge: "0%", maxUnavailable: "10%", newRS: 0, oldRS: 0 },
  { replicas: 1, maxSurge: "50%", maxUnavailable: "50%", newRS: 1, oldRS: 1 },
  { replicas: 3, maxSurge: "25%", maxUnavailable: "25%", newRS: 1, oldRS: 3 },
  { replicas: 3, maxSurge: 1, maxUnavailable: 1, newRS: 1, oldRS: 2 },
  { replicas: 3, maxSurge: 0, maxUnavailable: 1, newRS: 0, oldRS: 2 },
  { replicas: 3, maxSurge: 2, maxUnavailable: 0, newRS: 2, oldRS: 3 },
  { replicas: 3, maxSurge: "100%", maxUnavailable: 0, newRS: 3, oldRS: 3 },
  { replicas: 3, maxSurge: 0, maxUnavailable: "100%", newRS: 0, oldRS: 0 },
  { replicas: 3, maxSurge: "50%", maxUnavailable: "50%", newRS: 2, oldRS: 2 },
  { replicas: 3, maxSurge: "0%", maxUnavailable: "10%", newRS: 0, oldRS: 2 },
  { replicas: 3, maxSurge: 5, maxUnavailable: 5, newRS: 3, oldRS: 0 },
  { replicas: 10, maxSurge: "25%", maxUnavailable: "25%", newRS: 3, oldRS: 8 },
  { replicas: 10, maxSurge: 0, maxUnavailable: 1, newRS: 0, oldRS: 9 },
  { replicas: 10, maxSurge: 1, maxUnavailable: 0, newRS: 1, oldRS: 10 },
  { replicas: 10, maxSurge: 3, maxUnavailable: 2, newRS: 3, oldRS: 8 },
  { replicas: 10, maxSurge: "100%", maxUnavailable: 0, newRS: 10, oldRS: 10 },
  { replicas: 10, maxSurge: 0, maxUnavailable: "100%", newRS: 0, oldRS: 0 },
  { replicas: 10, maxSurge: "10%", maxUnavailable: "10%", newRS: 1, oldRS: 9 },
  { replicas: 10, maxSurge: "0%", maxUnavailable: "5%", newRS: 0, oldRS: 9 },
  { replicas: 10, maxSurge: "30%", maxUnavailable: "0%", newRS: 3, oldRS: 10 },
  { replicas: 10, maxSurge: 5, maxUnavailable: "25%", newRS: 5, oldRS: 8 },
];

/** ResolveFenceposts, written out independently for the invariants below. */
function fenceposts(c: (typeof ROLLING_CASES)[number]): { surge: number; unavailable: number } {
  const resolve = (v: number | string, up: boolean) =>
    typeof v === "number"
      ? v
      : (up ? Math.ceil : Math.floor)((Number(v.slice(0, -1)) * c.replicas) / 100);
  const surge = resolve(c.maxSurge, true);
  const unavailable = resolve(c.maxUnavailable, false);
  return { surge, unavailable: surge === 0 && unavailable === 0 ? 1 : unavailable };
}

for (const c of ROLLING_CASES) {
  const label =
    `replicas ${c.replicas}, maxSurge ${c.maxSurge}, maxUnavailable ${c.maxUnavailable}`;
  const start = (): World => {
    const { replicas, maxSurge, maxUnavailable } = c;
    const old = replicaSet("web-old", {
      image: "v1",
      replicas,
      revision: 1,
      desired: replicas,
      max: replicas + fenceposts(c).surge,
    });
    const d = deployment({
      replicas,
      maxSurge,
      maxUnavailable,
      generation: 2,
      annotations: { [REVISION_ANNOTATION]: "1" },
      status: { ...completeStatus(replicas, "web-old"), observedGeneration: 1 },
    });
    return { d, rss: [old] };
  };

  Deno.test(`planDeployment() takes the first rolling step right (${label})`, () => {
    const { d, rss } = start();
    const plan = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
    const created = plan.createReplicaSet;
    assert.ok(created, "the new ReplicaSet is created");
    assert.equal(spec(created), c.newRS, "new ReplicaSet replicas");
    assert.equal(replicasAfter(plan, rss[0]!), c.oldRS, "old ReplicaSet replicas");
  });

  Deno.test(`planDeployment() rolls out within maxSurge and maxUnavailable (${label})`, () => {
    const { surge, unavailable } = fenceposts(c);
    const end = rollout(start(), (w) => {
      const total = w.rss.reduce((n, rs) => n + spec(rs), 0);
      assert.ok(total <= c.replicas + surge, `${total} pods exceed replicas + maxSurge`);
      const up = w.rss.reduce((n, rs) => n + Math.min(spec(rs), available(rs)), 0);
      assert.ok(up >= c.replicas - unavailable, `only ${up} pods stay available`);
    });
    const byName = new Map(end.rss.map((rs) => [rs.metadata.name, rs]));
    assert.equal(spec(byName.get("web-old")!), 0);
    const newRS = end.rss.find((rs) => rs.metadata.name !== "web-old")!;
    assert.equal(spec(newRS), c.replicas);
    assert.equal(newRS.metadata.annotations?.[REVISION_ANNOTATION], "2");
    assert.equal(end.d.metadata.annotations?.[REVISION_ANNOTATION], "2");
    const status = end.d.status as DeploymentStatus;
    assert.equal(status.updatedReplicas, c.replicas);
    assert.equal(status.availableReplicas, c.replicas);
    assert.equal(status.replicas, c.replicas);
    assert.equal(status.observedGeneration, 2);
    assert.equal(condition(status, "Progressing")?.reason, "NewReplicaSetAvailable");
    assert.equal(condition(status, "Available")?.status, "True");
  });
}

Deno.test("planDeployment() scales up the new ReplicaSet by maxSurge", () => {
  const d = deployment({ replicas: 10, status: completeStatus(10, "web-old") });
  const old = replicaSet("web-old", {
    image: "v1",
    replicas: 8,
    revision: 1,
    desired: 10,
    max: 13,
  });
  const newRS = replicaSet("web-new", {
    image: "v2",
    replicas: 3,
    revision: 2,
    desired: 10,
    max: 13,
    created: T0 - 60_000,
  });
  const plan = planDeployment({ deployment: d, replicaSets: [old, newRS], now: T0 });
  assert.equal(replicasAfter(plan, newRS), 5);
  assert.equal(replicasAfter(plan, old), 8, "one step per sync: old ones wait for the next");
  assert.deepEqual(messages(plan), ["Scaled up replica set web-new from 3 to 5"]);
});

Deno.test("planDeployment() scales down old ReplicaSets as far as maxUnavailable allows", () => {
  const d = deployment({ replicas: 10 });
  const old = replicaSet("web-old", {
    image: "v1",
    replicas: 8,
    revision: 1,
    desired: 10,
    max: 13,
  });
  const newRS = replicaSet("web-new", {
    image: "v2",
    replicas: 5,
    revision: 2,
    desired: 10,
    max: 13,
  });
  const plan = planDeployment({ deployment: d, replicaSets: [old, newRS], now: T0 });
  assert.equal(replicasAfter(plan, old), 3);
  assert.deepEqual(messages(plan), ["Scaled down replica set web-old from 8 to 3"]);
  const rs = updated(plan, "web-old");
  assert.equal(rs?.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION], "10");
  assert.equal(rs?.metadata.annotations?.[MAX_REPLICAS_ANNOTATION], "13");
});

Deno.test("planDeployment() does not scale old ReplicaSets down while new pods are unavailable", () => {
  const d = deployment({ replicas: 10 });
  const old = replicaSet("web-old", {
    image: "v1",
    replicas: 8,
    revision: 1,
    desired: 10,
    max: 13,
  });
  const newRS = replicaSet("web-new", {
    image: "v2",
    replicas: 5,
    available: 0,
    revision: 2,
    desired: 10,
    max: 13,
  });
  const plan = planDeployment({ deployment: d, replicaSets: [old, newRS], now: T0 });
  assert.deepEqual(plan.updateReplicaSets, []);
});

Deno.test("planDeployment() scales unhealthy old replicas down first", () => {
  const d = deployment({ replicas: 10, image: "v3" });
  const healthy = replicaSet("web-a", {
    image: "v1",
    replicas: 5,
    revision: 1,
    desired: 10,
    max: 13,
    created: T0 - 3 * HOUR,
  });
  const unhealthy = replicaSet("web-b", {
    image: "v2",
    replicas: 5,
    available: 2,
    revision: 2,
    desired: 10,
    max: 13,
    created: T0 - 2 * HOUR,
  });
  const newRS = replicaSet("web-c", {
    image: "v3",
    replicas: 3,
    available: 0,
    revision: 3,
    desired: 10,
    max: 13,
  });
  const plan = planDeployment({ deployment: d, replicaSets: [healthy, unhealthy, newRS], now: T0 });
  // 13 pods - 8 minimum available - 3 unavailable new ones: 2 may go, and they are unhealthy ones.
  assert.equal(replicasAfter(plan, unhealthy), 3);
  assert.equal(replicasAfter(plan, healthy), 5);
  assert.deepEqual(messages(plan), ["Scaled down replica set web-b from 5 to 3"]);
});

Deno.test("planDeployment() stops scaling down while an old ReplicaSet's status lags its spec", () => {
  const d = deployment({ replicas: 10 });
  const old = replicaSet("web-old", {
    image: "v1",
    replicas: 3,
    current: 8,
    available: 8,
    revision: 1,
    desired: 10,
    max: 13,
  });
  const newRS = replicaSet("web-new", {
    image: "v2",
    replicas: 10,
    revision: 2,
    desired: 10,
    max: 13,
  });
  const plan = planDeployment({ deployment: d, replicaSets: [old, newRS], now: T0 });
  assert.deepEqual(plan.updateReplicaSets, []);
});

// ----- undo -----------------------------------------------------------------------------------

Deno.test("planDeployment() makes an old ReplicaSet current again on undo, with a new revision", () => {
  const d = deployment({
    image: "v1",
    generation: 3,
    annotations: { [REVISION_ANNOTATION]: "2", "kubernetes.io/change-cause": "deploy v1" },
    status: { ...completeStatus(3, "web-bbb"), observedGeneration: 2 },
  });
  const a = replicaSet("web-aaa", {
    image: "v1",
    replicas: 0,
    revision: 1,
    created: T0 - 2 * HOUR,
  });
  const b = replicaSet("web-bbb", { image: "v2", replicas: 3, revision: 2, desired: 3, max: 4 });
  const plan = planDeployment({ deployment: d, replicaSets: [a, b], now: T0 });
  assert.equal(plan.createReplicaSet, undefined, "the old ReplicaSet is reused");
  const rs = updated(plan, "web-aaa");
  assert.deepEqual(rs?.metadata.annotations, {
    [REVISION_ANNOTATION]: "3",
    [REVISION_HISTORY_ANNOTATION]: "1",
    [DESIRED_REPLICAS_ANNOTATION]: "3",
    [MAX_REPLICAS_ANNOTATION]: "4",
    "kubernetes.io/change-cause": "deploy v1",
  });
  assert.equal(spec(rs!), 1);
  assert.equal(plan.revision, "3");
  assert.deepEqual(messages(plan), ["Scaled up replica set web-aaa from 0 to 1"]);

  const end = rollout({ d, rss: [a, b] });
  const byName = new Map(end.rss.map((rs) => [rs.metadata.name, rs]));
  assert.equal(end.rss.length, 2);
  assert.equal(spec(byName.get("web-aaa")!), 3);
  assert.equal(spec(byName.get("web-bbb")!), 0);
  assert.equal(byName.get("web-aaa")!.metadata.annotations?.[REVISION_ANNOTATION], "3");
  assert.equal(byName.get("web-bbb")!.metadata.annotations?.[REVISION_ANNOTATION], "2");
  assert.equal(end.d.metadata.annotations?.[REVISION_ANNOTATION], "3");
});

Deno.test("planDeployment() appends to revision-history on a second undo", () => {
  const d = deployment({ image: "v1", annotations: { [REVISION_ANNOTATION]: "4" } });
  const a = replicaSet("web-aaa", {
    image: "v1",
    replicas: 0,
    revision: 3,
    created: T0 - 2 * HOUR,
  });
  a.metadata.annotations![REVISION_HISTORY_ANNOTATION] = "1";
  const b = replicaSet("web-bbb", { image: "v2", replicas: 3, revision: 4, desired: 3, max: 4 });
  const plan = planDeployment({ deployment: d, replicaSets: [a, b], now: T0 });
  const ann = updated(plan, "web-aaa")?.metadata.annotations;
  assert.equal(ann?.[REVISION_ANNOTATION], "5");
  assert.equal(ann?.[REVISION_HISTORY_ANNOTATION], "1,3");
});

// ----- history --------------------------------------------------------------------------------

function history(status: DeploymentStatus) {
  const d = deployment({ revisionHistoryLimit: 2, status });
  const old = (name: string, revision: number, created: number, o: Partial<RsOptions> = {}) =>
    replicaSet(name, { image: `v-${name}`, replicas: 0, revision, created, ...o });
  const rss = [
    old("web-r1", 1, T0 - 1.5 * HOUR),
    old("web-r2", 2, T0 - 4 * HOUR, { current: 1 }),
    old("web-r3", 3, T0 - 5 * HOUR),
    old("web-r4", 4, T0 - 3 * HOUR),
    old("web-r5", 5, T0 - 2 * HOUR),
    old("web-gone", 0, T0 - 9 * HOUR, { deleting: true }),
    replicaSet("web-new", { image: "v2", replicas: 3, revision: 6, desired: 3, max: 4 }),
  ];
  return planDeployment({ deployment: d, replicaSets: rss, now: T0 });
}

Deno.test("planDeployment() prunes idle ReplicaSets beyond revisionHistoryLimit, oldest revision first", () => {
  const plan = history(completeStatus(3, "web-new"));
  // 5 old ones (web-gone is already being deleted), limit 2: the 3 lowest revisions are
  // candidates, and web-r2 still has a pod.
  assert.deepEqual(plan.deleteReplicaSets, ["web-r1", "web-r3"]);
  assert.deepEqual(plan.updateReplicaSets, []);
});

Deno.test("planDeployment() keeps history while the rollout is incomplete", () => {
  const plan = history({ ...completeStatus(3, "web-new"), availableReplicas: 2 });
  assert.deepEqual(plan.deleteReplicaSets, []);
});

// ----- progress -------------------------------------------------------------------------------

Deno.test("planDeployment() reports ProgressDeadlineExceeded after progressDeadlineSeconds without progress", () => {
  const rss = [
    replicaSet("web-old", {
      image: "v1",
      replicas: 2,
      revision: 1,
      desired: 3,
      max: 4,
      created: T0 - 2 * HOUR,
    }),
    replicaSet("web-new", {
      image: "v2",
      replicas: 2,
      available: 0,
      revision: 2,
      desired: 3,
      max: 4,
    }),
  ];
  // What the previous sync wrote: one pod of the new ReplicaSet, an hour ago.
  const before: DeploymentStatus = {
    observedGeneration: 1,
    replicas: 4,
    updatedReplicas: 1,
    readyReplicas: 3,
    availableReplicas: 3,
    unavailableReplicas: 1,
    conditions: [
      { ...completeStatus(3, "web-old").conditions![0]! },
      {
        type: "Progressing",
        status: "True",
        lastUpdateTime: time(T0 - HOUR),
        lastTransitionTime: time(T0 - 2 * HOUR),
        reason: "ReplicaSetUpdated",
        message: 'ReplicaSet "web-new" is progressing.',
      },
    ],
  };
  const first = planDeployment({
    deployment: deployment({ status: before }),
    replicaSets: rss,
    now: T0,
  });
  const progressing = condition(first.status, "Progressing");
  assert.equal(progressing?.reason, "ReplicaSetUpdated");
  assert.equal(progressing?.message, 'ReplicaSet "web-new" is progressing.');
  assert.equal(progressing?.lastUpdateTime, time(T0));
  assert.equal(progressing?.lastTransitionTime, time(T0 - 2 * HOUR), "still True: kept");

  const d = deployment({ status: first.status });
  const waiting = planDeployment({ deployment: d, replicaSets: rss, now: T0 + 300_000 });
  assert.equal(waiting.statusChanged, false);
  assert.deepEqual(waiting.status, first.status);
  assert.equal(waiting.requeueAfterMs, 301_000);

  const atDeadline = planDeployment({ deployment: d, replicaSets: rss, now: T0 + 600_000 });
  assert.equal(atDeadline.statusChanged, false, "the deadline itself is not yet past");

  const late = T0 + 601_000;
  const timedOut = planDeployment({ deployment: d, replicaSets: rss, now: late });
  assert.equal(timedOut.statusChanged, true);
  assert.deepEqual(condition(timedOut.status, "Progressing"), {
    type: "Progressing",
    status: "False",
    lastUpdateTime: time(late),
    lastTransitionTime: time(late),
    reason: "ProgressDeadlineExceeded",
    message: 'ReplicaSet "web-new" has timed out progressing.',
  });
  assert.equal(timedOut.requeueAfterMs, undefined);

  const recovered = planDeployment({
    deployment: deployment({ status: timedOut.status }),
    replicaSets: [rss[0]!, podsAvailable(rss[1]!)],
    now: late + 5000,
  });
  const cond = condition(recovered.status, "Progressing");
  assert.equal(cond?.reason, "ReplicaSetUpdated");
  assert.equal(cond?.lastTransitionTime, time(late + 5000), "False to True is a transition");
});

Deno.test("planDeployment() keeps lastTransitionTime while a condition's status holds", () => {
  const d = deployment({ status: completeStatus(3, "web-new") });
  const rss = [
    replicaSet("web-new", { image: "v2", replicas: 3, revision: 1, desired: 3, max: 4 }),
  ];
  const steady = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
  assert.equal(steady.statusChanged, false);
  assert.deepEqual(steady.status, completeStatus(3, "web-new"));
  assert.equal(steady.requeueAfterMs, undefined);

  const lost = [{ ...rss[0]!, status: { replicas: 3, readyReplicas: 1, availableReplicas: 1 } }];
  const down = planDeployment({ deployment: d, replicaSets: lost, now: T0 + 1000 });
  assert.deepEqual(condition(down.status, "Available"), {
    type: "Available",
    status: "False",
    lastUpdateTime: time(T0 + 1000),
    lastTransitionTime: time(T0 + 1000),
    reason: "MinimumReplicasUnavailable",
    message: "Deployment does not have minimum availability.",
  });
  assert.deepEqual(
    condition(down.status, "Progressing"),
    condition(completeStatus(3, "web-new"), "Progressing"),
    "a finished rollout is not re-estimated",
  );
});

Deno.test("planDeployment() fills in every status field from the ReplicaSets", () => {
  const d = deployment({
    replicas: 3,
    maxSurge: 1,
    maxUnavailable: 0,
    generation: 4,
    status: completeStatus(3, "web-old"),
  });
  const rss = [
    replicaSet("web-old", {
      image: "v1",
      replicas: 2,
      revision: 1,
      desired: 3,
      max: 4,
      created: T0 - 2 * HOUR,
    }),
    replicaSet("web-new", {
      image: "v2",
      replicas: 2,
      available: 1,
      revision: 2,
      desired: 3,
      max: 4,
    }),
  ];
  const plan = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
  assert.deepEqual(plan.updateReplicaSets, [], "4 pods is the limit and only 3 are available");
  const { conditions, ...counts } = plan.status;
  assert.deepEqual(counts, {
    observedGeneration: 4,
    replicas: 4,
    updatedReplicas: 2,
    readyReplicas: 3,
    availableReplicas: 3,
    unavailableReplicas: 1,
  });
  assert.deepEqual(
    conditions?.find((c) => c.type === "Available"),
    completeStatus(3, "x").conditions?.[0],
  );
});

Deno.test("planDeployment() surfaces a ReplicaSet's ReplicaFailure condition", () => {
  const rs = replicaSet("web-new", { image: "v2", replicas: 3, current: 0, revision: 1 });
  (rs.status as Record<string, unknown>).conditions = [{
    type: "ReplicaFailure",
    status: "True",
    lastTransitionTime: time(T0 - 60_000),
    reason: "FailedCreate",
    message: 'pods "web-new-x" is forbidden: exceeded quota',
  }];
  const plan = planDeployment({ deployment: deployment(), replicaSets: [rs], now: T0 });
  assert.deepEqual(condition(plan.status, "ReplicaFailure"), {
    type: "ReplicaFailure",
    status: "True",
    lastUpdateTime: time(T0 - 60_000),
    lastTransitionTime: time(T0 - 60_000),
    reason: "FailedCreate",
    message: 'pods "web-new-x" is forbidden: exceeded quota',
  });
});

// ----- scaling, pausing, Recreate, deletion ---------------------------------------------------

Deno.test("planDeployment() scales the only active ReplicaSet when replicas change", () => {
  const d = deployment({ replicas: 5, status: completeStatus(3, "web-new") });
  const rss = [
    replicaSet("web-new", { image: "v2", replicas: 3, revision: 1, desired: 3, max: 4 }),
  ];
  const plan = planDeployment({ deployment: d, replicaSets: rss, now: T0 });
  assert.deepEqual(messages(plan), ["Scaled up replica set web-new from 3 to 5"]);
  const ann = updated(plan, "web-new")?.metadata.annotations;
  assert.equal(ann?.[DESIRED_REPLICAS_ANNOTATION], "5");
  assert.equal(ann?.[MAX_REPLICAS_ANNOTATION], "7");
});

Deno.test("planDeployment() scales proportionally when replicas change mid-rollout", () => {
  const rss = [
    replicaSet("web-old", {
      image: "v1",
      replicas: 8,
      revision: 1,
      desired: 10,
      max: 13,
      created: T0 - 2 * HOUR,
    }),
    replicaSet("web-new", { image: "v2", replicas: 5, revision: 2, desired: 10, max: 13 }),
  ];
  const up = planDeployment({
    deployment: deployment({ replicas: 20 }),
    replicaSets: rss,
    now: T0,
  });
  // 20 + 25% surge = 25 pods, shared 8:5 as before.
  assert.equal(replicasAfter(up, rss[0]!), 15);
  assert.equal(replicasAfter(up, rss[1]!), 10);
  assert.deepEqual(messages(up), [
    "Scaled up replica set web-old from 8 to 15",
    "Scaled up replica set web-new from 5 to 10",
  ]);
  for (const rs of up.updateReplicaSets) {
    assert.equal(rs.metadata.annotations?.[DESIRED_REPLICAS_ANNOTATION], "20");
    assert.equal(rs.metadata.annotations?.[MAX_REPLICAS_ANNOTATION], "25");
  }

  const down = planDeployment({
    deployment: deployment({ replicas: 5 }),
    replicaSets: rss,
    now: T0,
  });
  // 5 + 2 surge = 7 pods.
  assert.equal(replicasAfter(down, rss[0]!), 4);
  assert.equal(replicasAfter(down, rss[1]!), 3);
  assert.deepEqual(messages(down), [
    "Scaled down replica set web-old from 8 to 4",
    "Scaled down replica set web-new from 5 to 3",
  ]);
});

Deno.test("planDeployment() makes no rollout progress while paused, but still scales", () => {
  const old = replicaSet("web-old", { image: "v1", replicas: 3, revision: 1, desired: 3, max: 4 });
  const paused = planDeployment({
    deployment: deployment({ paused: true, status: completeStatus(3, "web-old") }),
    replicaSets: [old],
    now: T0,
  });
  assert.equal(paused.createReplicaSet, undefined);
  assert.deepEqual(paused.updateReplicaSets, []);
  assert.deepEqual(condition(paused.status, "Progressing"), {
    type: "Progressing",
    status: "Unknown",
    lastUpdateTime: time(T0),
    lastTransitionTime: time(T0),
    reason: "DeploymentPaused",
    message: "Deployment is paused",
  });
  assert.equal(paused.requeueAfterMs, undefined);

  const scaled = planDeployment({
    deployment: deployment({ paused: true, replicas: 5, status: paused.status }),
    replicaSets: [old],
    now: T0 + 1000,
  });
  assert.equal(scaled.createReplicaSet, undefined);
  assert.deepEqual(messages(scaled), ["Scaled up replica set web-old from 3 to 5"]);
  assert.equal(condition(scaled.status, "Progressing")?.lastUpdateTime, time(T0));

  const resumed = planDeployment({
    deployment: deployment({ status: paused.status }),
    replicaSets: [old],
    now: T0 + 2000,
  });
  assert.ok(resumed.createReplicaSet, "resuming continues the rollout");
  assert.equal(condition(resumed.status, "Progressing")?.reason, "NewReplicaSetCreated");
});

Deno.test("planDeployment() does not hide a missed deadline behind a pause", () => {
  const status: DeploymentStatus = {
    conditions: [{
      type: "Progressing",
      status: "False",
      lastUpdateTime: time(T0 - HOUR),
      lastTransitionTime: time(T0 - HOUR),
      reason: "ProgressDeadlineExceeded",
      message: 'ReplicaSet "web-new" has timed out progressing.',
    }],
  };
  const plan = planDeployment({
    deployment: deployment({ paused: true, status }),
    replicaSets: [],
    now: T0,
  });
  assert.equal(condition(plan.status, "Progressing")?.reason, "ProgressDeadlineExceeded");
});

Deno.test("planDeployment() with Recreate waits for old pods to stop before creating new ones", () => {
  const d = deployment({ recreate: true, status: completeStatus(3, "web-old") });
  let old = replicaSet("web-old", { image: "v1", replicas: 3, revision: 1, desired: 3, max: 3 });

  const down = planDeployment({ deployment: d, replicaSets: [old], pods: [], now: T0 });
  assert.equal(down.createReplicaSet, undefined);
  assert.deepEqual(messages(down), ["Scaled down replica set web-old from 3 to 0"]);

  old = updated(down, "web-old")!;
  const stillReported = planDeployment({ deployment: d, replicaSets: [old], pods: [], now: T0 });
  assert.equal(stillReported.createReplicaSet, undefined, "status.replicas is still 3");

  old = { ...old, status: { replicas: 0, observedGeneration: 1 } };
  const pods = [pod("web-old-1", "web-old", "Running"), pod("web-old-2", "web-old", "Failed")];
  const running = planDeployment({ deployment: d, replicaSets: [old], pods, now: T0 });
  assert.equal(running.createReplicaSet, undefined, "a pod still runs");
  assert.deepEqual(running.events, []);

  const finished = [
    pod("web-old-1", "web-old", "Succeeded"),
    pod("web-old-2", "web-old", "Failed"),
  ];
  const up = planDeployment({ deployment: d, replicaSets: [old], pods: finished, now: T0 });
  const name = up.createReplicaSet?.metadata.name;
  assert.equal(spec(up.createReplicaSet!), 3);
  assert.equal(up.createReplicaSet?.metadata.annotations?.[MAX_REPLICAS_ANNOTATION], "3");
  assert.deepEqual(messages(up), [`Scaled up replica set ${name} from 0 to 3`]);
});

Deno.test("planDeployment() only updates the status of a deployment being deleted", () => {
  const d = deployment({ deleting: true, status: completeStatus(3, "web-old") });
  const old = replicaSet("web-old", { image: "v1", replicas: 3, revision: 1, desired: 3, max: 4 });
  const plan = planDeployment({ deployment: d, replicaSets: [old], now: T0 });
  assert.equal(plan.createReplicaSet, undefined);
  assert.deepEqual(plan.updateReplicaSets, []);
  assert.equal(plan.status.updatedReplicas, undefined, "no new ReplicaSet: 0, left out");
  assert.equal(plan.status.availableReplicas, 3);
});

Deno.test("planDeployment() rejects what it cannot plan", () => {
  const noUid = deployment();
  delete noUid.metadata.uid;
  assert.throws(
    () => planDeployment({ deployment: noUid, replicaSets: [], now: T0 }),
    /Cannot plan deployment 'web': metadata.name and metadata.uid are required/,
  );
  assert.throws(
    () => planDeployment({ deployment: deployment({ recreate: true }), replicaSets: [], now: T0 }),
    /Cannot plan deployment 'web': strategy Recreate needs the pods of its ReplicaSets/,
  );
});
