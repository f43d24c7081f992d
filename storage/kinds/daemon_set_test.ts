import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { type DaemonSet, daemonSets } from "./daemon_set.ts";

const template = {
  metadata: { labels: { app: "agent" } },
  spec: { containers: [{ name: "agent", image: "busybox:1.36" }] },
};

function ds(spec: Record<string, unknown>): Record<string, unknown> {
  return { apiVersion: "apps/v1", kind: "DaemonSet", metadata: { name: "agent" }, spec };
}

function valid(spec: Record<string, unknown>): DaemonSet {
  return validateObject(daemonSets, ds(spec), { fieldValidation: "Strict" })
    .object as unknown as DaemonSet;
}

function causes(spec: Record<string, unknown>, old?: KubeObject): [string, string][] {
  try {
    validateObject(daemonSets, ds(spec), { fieldValidation: "Strict", ...(old ? { old } : {}) });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

const selector = { matchLabels: { app: "agent" } };

Deno.test("daemonsets schema applies the update strategy, history and template defaults", () => {
  const d = valid({ selector, template });
  assert.deepEqual(d.spec.updateStrategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: 1, maxSurge: 0 },
  });
  assert.equal(d.spec.revisionHistoryLimit, 10);
  assert.equal(d.spec.minReadySeconds, undefined);
  assert.equal(d.spec.template.spec.restartPolicy, "Always");
  assert.equal(d.spec.template.spec.containers[0]?.imagePullPolicy, "IfNotPresent");
  assert.equal(d.status, undefined);
  const partial = valid({
    selector,
    template,
    updateStrategy: { rollingUpdate: { maxUnavailable: "20%" } },
  });
  assert.deepEqual(partial.spec.updateStrategy.rollingUpdate, {
    maxUnavailable: "20%",
    maxSurge: 0,
  });
  const onDelete = valid({ selector, template, updateStrategy: { type: "OnDelete" } });
  assert.deepEqual(onDelete.spec.updateStrategy, { type: "OnDelete" });
});

Deno.test("daemonsets status defaults the four counters Kubernetes always writes", () => {
  const d = validateObject(daemonSets, { ...ds({ selector, template }), status: {} }, {
    fieldValidation: "Strict",
  }).object as unknown as DaemonSet;
  assert.deepEqual(d.status, {
    currentNumberScheduled: 0,
    numberMisscheduled: 0,
    desiredNumberScheduled: 0,
    numberReady: 0,
  });
});

Deno.test("daemonsets validation requires a non-empty selector that matches the template", () => {
  assert.deepEqual(causes({ selector: { matchLabels: { app: "db" } }, template }), [[
    "spec.template.metadata.labels",
    'Invalid value: {"app":"agent"}: `selector` does not match template `labels`',
  ]]);
  // as apps/v1: an absent selector selects nothing, so it cannot match the template
  assert.deepEqual(causes({ template }), [[
    "spec.template.metadata.labels",
    'Invalid value: {"app":"agent"}: `selector` does not match template `labels`',
  ]]);
  assert.deepEqual(causes({ selector: {}, template }), [[
    "spec.selector",
    "Invalid value: {}: empty selector is invalid for daemonset",
  ]]);
  assert.deepEqual(
    causes({
      selector: { matchExpressions: [{ key: "app", operator: "Is", values: ["agent"] }] },
      template,
    }),
    [[
      "spec.selector.matchExpressions[0].operator",
      'Unsupported value: "Is": supported values: "In", "NotIn", "Exists", "DoesNotExist"',
    ]],
  );
});

Deno.test("daemonsets validation wants restartPolicy Always and no activeDeadlineSeconds", () => {
  assert.deepEqual(
    causes({
      selector,
      template: {
        ...template,
        spec: { ...template.spec, restartPolicy: "OnFailure", activeDeadlineSeconds: 30 },
      },
    }),
    [
      [
        "spec.template.spec.restartPolicy",
        'Unsupported value: "OnFailure": supported values: "Always"',
      ],
      [
        "spec.template.spec.activeDeadlineSeconds",
        "Forbidden: activeDeadlineSeconds in DaemonSet is not Supported",
      ],
    ],
  );
  assert.deepEqual(
    causes({ selector, template: { ...template, spec: { containers: [] } } }),
    [["spec.template.spec.containers", "Required value"]],
  );
});

Deno.test("daemonsets validation rejects negative minReadySeconds and revisionHistoryLimit", () => {
  assert.deepEqual(causes({ selector, template, minReadySeconds: -1, revisionHistoryLimit: -2 }), [
    ["spec.minReadySeconds", "Invalid value: -1: must be greater than or equal to 0"],
    ["spec.revisionHistoryLimit", "Invalid value: -2: must be greater than or equal to 0"],
  ]);
});

Deno.test("daemonsets validation checks the rolling update as Kubernetes does", () => {
  const rolling = (rollingUpdate: Record<string, unknown>) =>
    causes({ selector, template, updateStrategy: { type: "RollingUpdate", rollingUpdate } });
  const p = "spec.updateStrategy.rollingUpdate";
  assert.deepEqual(rolling({ maxUnavailable: 1, maxSurge: 1 }), [
    [`${p}.maxSurge`, "Invalid value: 1: may not be set when maxUnavailable is non-zero"],
  ]);
  assert.deepEqual(rolling({ maxUnavailable: "0%", maxSurge: 0 }), [
    [`${p}.maxUnavailable`, "Required value: cannot be 0 when maxSurge is 0"],
  ]);
  assert.deepEqual(rolling({ maxUnavailable: 0, maxSurge: "150%" }), [
    [`${p}.maxSurge`, 'Invalid value: "150%": must not be greater than 100%'],
  ]);
  assert.deepEqual(rolling({ maxUnavailable: -1, maxSurge: 0 }), [
    [`${p}.maxUnavailable`, "Invalid value: -1: must be greater than or equal to 0"],
  ]);
  assert.deepEqual(rolling({ maxUnavailable: "one", maxSurge: "0%" }), [
    [
      `${p}.maxUnavailable`,
      "Invalid value: \"one\": a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')",
    ],
    [`${p}.maxUnavailable`, "Required value: cannot be 0 when maxSurge is 0"],
  ]);
  assert.deepEqual(
    causes({ selector, template, updateStrategy: { type: "Sometimes" } }),
    [[
      "spec.updateStrategy.type",
      'Unsupported value: "Sometimes": supported values: "RollingUpdate", "OnDelete"',
    ]],
  );
});

Deno.test("daemonsets validation keeps the selector immutable but lets the template change", () => {
  const old = valid({ selector, template }) as unknown as KubeObject;
  const moved = causes({
    selector: { matchLabels: { app: "agent", tier: "edge" } },
    template: { ...template, metadata: { labels: { app: "agent", tier: "edge" } } },
  }, old);
  assert.equal(moved.length, 1);
  assert.equal(moved[0]?.[0], "spec.selector");
  assert.match(moved[0]?.[1] ?? "", /field is immutable$/);
  const updated = validateObject(
    daemonSets,
    ds({
      selector,
      template: { ...template, spec: { containers: [{ name: "agent", image: "busybox:1.37" }] } },
    }),
    { fieldValidation: "Strict", old },
  ).object as unknown as DaemonSet;
  assert.equal(updated.spec.template.spec.containers[0]?.image, "busybox:1.37");
});

Deno.test("daemonsets columns print counts, node selector and the wide template cells", () => {
  const d: KubeObject = {
    apiVersion: "apps/v1",
    kind: "DaemonSet",
    metadata: { name: "agent" },
    spec: {
      selector: { matchLabels: { app: "agent" } },
      template: {
        spec: {
          nodeSelector: { "kubernetes.io/os": "linux", edge: "true" },
          containers: [{ name: "a", image: "i:1" }, { name: "b", image: "j:2" }],
        },
      },
    },
    status: {
      desiredNumberScheduled: 3,
      currentNumberScheduled: 3,
      numberReady: 2,
      updatedNumberScheduled: 1,
      numberAvailable: 2,
    },
  };
  assert.deepEqual(daemonSets.columns.map((c) => c.name), [
    "Name",
    "Desired",
    "Current",
    "Ready",
    "Up-to-date",
    "Available",
    "Node Selector",
    "Age",
    "Containers",
    "Images",
    "Selector",
  ]);
  assert.deepEqual(daemonSets.columns.map((c) => c.priority), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1]);
  const cells = daemonSets.columns.map((c) => c.cell(d, new Date()));
  assert.deepEqual(cells, [
    "agent",
    3,
    3,
    2,
    1,
    2,
    "edge=true,kubernetes.io/os=linux",
    "<unknown>",
    "a,b",
    "i:1,j:2",
    "app=agent",
  ]);
  const fresh = { ...d, spec: { template: { spec: { containers: [] } } }, status: {} };
  assert.deepEqual(daemonSets.columns.map((c) => c.cell(fresh, new Date())), [
    "agent",
    0,
    0,
    0,
    0,
    0,
    "<none>",
    "<unknown>",
    "",
    "",
    "<none>",
  ]);
});

Deno.test("daemonsets are served as apps/v1 with the ds short name in category all", () => {
  assert.equal(daemonSets.group, "apps");
  assert.deepEqual(daemonSets.shortNames, ["ds"]);
  assert.deepEqual(daemonSets.categories, ["all"]);
  assert.deepEqual(daemonSets.subresources, ["status"]);
  assert.equal(daemonSets.tracksGeneration, true);
});
