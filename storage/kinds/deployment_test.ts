import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { type Deployment, deployments } from "./deployment.ts";
import { type ReplicaSet, replicaSets } from "./replica_set.ts";

const template = {
  metadata: { labels: { app: "web" } },
  spec: { containers: [{ name: "web", image: "nginx:1.25" }] },
};

function causes(rt = deployments, body: unknown, old?: KubeObject): [string, string][] {
  try {
    validateObject(rt, body, { fieldValidation: "Strict", ...(old ? { old } : {}) });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

Deno.test("deployments schema applies replicas, strategy, history and deadline defaults", () => {
  const d = validateObject(deployments, {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, template },
  }, { fieldValidation: "Strict" }).object as unknown as Deployment;
  assert.equal(d.spec.replicas, 1);
  assert.deepEqual(d.spec.strategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: "25%", maxSurge: "25%" },
  });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.progressDeadlineSeconds, 600);
  assert.equal(d.spec.template.spec.restartPolicy, "Always");
  assert.equal(d.spec.template.spec.containers[0]?.imagePullPolicy, "IfNotPresent");
  const recreate = validateObject(deployments, {
    metadata: { name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, template, strategy: { type: "Recreate" } },
  }, { fieldValidation: "Strict" }).object as unknown as Deployment;
  assert.deepEqual(recreate.spec.strategy, { type: "Recreate" });
});

Deno.test("deployments validation requires a selector that matches the template labels", () => {
  assert.deepEqual(
    causes(deployments, {
      metadata: { name: "web" },
      spec: { selector: { matchLabels: { app: "db" } }, template },
    }),
    [
      [
        "spec.template.metadata.labels",
        'Invalid value: {"app":"web"}: `selector` does not match template `labels`',
      ],
    ],
  );
  assert.deepEqual(causes(deployments, { metadata: { name: "web" }, spec: { template } }), [[
    "spec.selector",
    "Required value",
  ]]);
  assert.deepEqual(
    causes(deployments, { metadata: { name: "web" }, spec: { selector: {}, template } }),
    [
      ["spec.selector", "Invalid value: {}: empty selector is invalid for deployment"],
    ],
  );
});

Deno.test("deployments validation rejects maxSurge and maxUnavailable both 0", () => {
  const got = causes(deployments, {
    metadata: { name: "web" },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template,
      strategy: { rollingUpdate: { maxSurge: 0, maxUnavailable: "0%" } },
    },
  });
  assert.deepEqual(got, [[
    "spec.strategy.rollingUpdate.maxUnavailable",
    'Invalid value: "0%": may not be 0 when `maxSurge` is 0',
  ]]);
  const bad = causes(deployments, {
    metadata: { name: "web" },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template,
      strategy: { rollingUpdate: { maxSurge: "x", maxUnavailable: "150%" } },
    },
  });
  assert.deepEqual(bad.map(([f]) => f), [
    "spec.strategy.rollingUpdate.maxSurge",
    "spec.strategy.rollingUpdate.maxUnavailable",
  ]);
});

Deno.test("deployments validation rejects a template restartPolicy other than Always", () => {
  const got = causes(deployments, {
    metadata: { name: "web" },
    spec: {
      selector: { matchLabels: { app: "web" } },
      template: { ...template, spec: { ...template.spec, restartPolicy: "Never" } },
    },
  });
  assert.deepEqual(got, [[
    "spec.template.spec.restartPolicy",
    'Unsupported value: "Never": supported values: "Always"',
  ]]);
});

Deno.test("deployments validation keeps the selector immutable on update", () => {
  const old = validateObject(deployments, {
    metadata: { name: "web" },
    spec: { selector: { matchLabels: { app: "web" } }, template },
  }, { fieldValidation: "Strict" }).object;
  const got = causes(deployments, {
    metadata: { name: "web" },
    spec: {
      selector: { matchLabels: { app: "web", tier: "x" } },
      template: { ...template, metadata: { labels: { app: "web", tier: "x" } } },
    },
  }, old);
  assert.equal(got[0]?.[0], "spec.selector");
  assert.match(got[0]?.[1] ?? "", /field is immutable/);
});

Deno.test("deployments columns show ready/desired, counts, containers, images and selector", () => {
  const d: KubeObject = {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name: "web" },
    spec: {
      replicas: 3,
      selector: { matchLabels: { app: "web" } },
      template: {
        spec: { containers: [{ name: "a", image: "i:1" }, { name: "b", image: "j:2" }] },
      },
    },
    status: { readyReplicas: 2, updatedReplicas: 3, availableReplicas: 2 },
  };
  const cells = deployments.columns.map((c) => c.cell(d, new Date()));
  assert.deepEqual(cells, ["web", "2/3", 3, 2, "<unknown>", "a,b", "i:1,j:2", "app=web"]);
});

Deno.test("replicasets default replicas to 1 and show Desired/Current/Ready", () => {
  const rs = validateObject(replicaSets, {
    metadata: { name: "web-1" },
    spec: { selector: { matchLabels: { app: "web" } }, template },
  }, { fieldValidation: "Strict" }).object as unknown as ReplicaSet;
  assert.equal(rs.spec.replicas, 1);
  const cells = replicaSets.columns.map((c) =>
    c.cell(
      { ...rs, status: { replicas: 1, readyReplicas: 1 } } as unknown as KubeObject,
      new Date(),
    )
  );
  assert.deepEqual(cells, ["web-1", 1, 1, 1, "<unknown>", "web", "nginx:1.25", "app=web"]);
  assert.deepEqual(
    causes(replicaSets, {
      metadata: { name: "web-1" },
      spec: { selector: { matchLabels: { app: "x" } }, template },
    }).map(([f]) => f),
    ["spec.template.metadata.labels"],
  );
});
