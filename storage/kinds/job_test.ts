import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { type Job, jobs } from "./job.ts";

const UID = "3f2a1c9e-0b7d-4e55-9a61-2c8f4d7e1b20";

const template = {
  spec: {
    containers: [{ name: "pi", image: "perl:5.34" }],
    restartPolicy: "Never",
  },
};

/** A Job body as a client sends it on create, with the uid the API server assigned. */
function job(spec: Record<string, unknown>, meta: Record<string, unknown> = {}) {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi", uid: UID, ...meta },
    spec: { template, ...spec },
  };
}

function valid(body: unknown, old?: KubeObject): Job {
  return validateObject(jobs, body, { fieldValidation: "Strict", ...(old ? { old } : {}) })
    .object as unknown as Job;
}

function causes(body: unknown, old?: KubeObject): [string, string][] {
  try {
    validateObject(jobs, body, { fieldValidation: "Strict", ...(old ? { old } : {}) });
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field, c.message]);
  }
  assert.fail("expected Invalid");
}

/** The generated template labels, in the order they are added. */
const GENERATED = {
  "job-name": "pi",
  "batch.kubernetes.io/job-name": "pi",
  "controller-uid": UID,
  "batch.kubernetes.io/controller-uid": UID,
};

Deno.test("jobs schema applies SetDefaults_Job", () => {
  const j = valid(job({}));
  assert.equal(j.spec.completions, 1);
  assert.equal(j.spec.parallelism, 1);
  assert.equal(j.spec.backoffLimit, 6);
  assert.equal(j.spec.completionMode, "NonIndexed");
  assert.equal(j.spec.suspend, false);
  assert.equal(j.spec.manualSelector, false);
  assert.equal(j.spec.podReplacementPolicy, "TerminatingOrFailed");
  assert.equal(j.spec.template.spec.restartPolicy, "Never");
  assert.equal(j.spec.template.spec.containers[0]?.imagePullPolicy, "IfNotPresent");
  // a work queue: parallelism without completions keeps completions unset
  const queue = valid(job({ parallelism: 4 }));
  assert.equal(queue.spec.completions, undefined);
  assert.equal(queue.spec.parallelism, 4);
  const fixed = valid(job({ completions: 5 }));
  assert.equal(fixed.spec.completions, 5);
  assert.equal(fixed.spec.parallelism, 1);
  const perIndex = valid(
    job({ completionMode: "Indexed", completions: 3, backoffLimitPerIndex: 1 }),
  );
  assert.equal(perIndex.spec.backoffLimit, 2147483647);
  const withPolicy = valid(job({
    podFailurePolicy: {
      rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }],
    },
  }));
  assert.equal(withPolicy.spec.podReplacementPolicy, "Failed");
  assert.deepEqual(withPolicy.spec.podFailurePolicy?.rules?.[0]?.onPodConditions, [
    { type: "DisruptionTarget", status: "True" },
  ]);
});

Deno.test("jobs create generates the selector and template labels from uid and name", () => {
  const j = valid(job({ template: { ...template, metadata: { labels: { app: "pi" } } } }));
  assert.deepEqual(j.spec.selector, {
    matchLabels: { "batch.kubernetes.io/controller-uid": UID },
  });
  assert.deepEqual(j.spec.template.metadata?.labels, { app: "pi", ...GENERATED });
  // the Job's own labels default to the (generated) template labels
  assert.deepEqual(j.metadata.labels, { app: "pi", ...GENERATED });
  const labelled = valid(job({}, { labels: { team: "a" } }));
  assert.deepEqual(labelled.metadata.labels, { team: "a" });
  assert.deepEqual(labelled.spec.template.metadata?.labels, GENERATED);
});

Deno.test("jobs create with manualSelector keeps the user's selector and labels", () => {
  const manual = valid(job({
    manualSelector: true,
    selector: { matchLabels: { app: "pi" } },
    template: { ...template, metadata: { labels: { app: "pi" } } },
  }));
  assert.deepEqual(manual.spec.selector, { matchLabels: { app: "pi" } });
  assert.deepEqual(manual.spec.template.metadata?.labels, { app: "pi" });
  assert.deepEqual(causes(job({ manualSelector: true })), [
    ["spec.selector", "Required value"],
    [
      "spec.template.metadata.labels",
      "Invalid value: {}: `selector` does not match template `labels`",
    ],
  ]);
});

Deno.test("jobs validation rejects generated labels and selectors that do not fit", () => {
  assert.deepEqual(
    causes(job({ template: { ...template, metadata: { labels: { "job-name": "other" } } } })),
    [[
      "spec.template.metadata.labels[job-name]",
      `Invalid value: ${
        JSON.stringify({
          "job-name": "other",
          "batch.kubernetes.io/job-name": "pi",
          "controller-uid": UID,
          "batch.kubernetes.io/controller-uid": UID,
        })
      }: must be 'pi'`,
    ]],
  );
  assert.deepEqual(
    causes(job({ selector: { matchLabels: { "batch.kubernetes.io/controller-uid": "x" } } })),
    [
      [
        "spec.selector",
        'Invalid value: {"matchLabels":{"batch.kubernetes.io/controller-uid":"x"}}: `selector` not auto-generated',
      ],
      [
        "spec.template.metadata.labels",
        `Invalid value: ${
          JSON.stringify(GENERATED)
        }: \`selector\` does not match template \`labels\``,
      ],
    ],
  );
  // without a uid the generated selector would select "controller-uid="
  const noUid = job({});
  delete (noUid.metadata as { uid?: string }).uid;
  assert.deepEqual(causes(noUid)[0], ["metadata.uid", "Required value"]);
});

Deno.test("jobs validation wants restartPolicy OnFailure or Never", () => {
  const restart = (spec: Record<string, unknown>) =>
    causes(job({ template: { spec: { containers: template.spec.containers, ...spec } } }));
  const required: [string, string][] = [[
    "spec.template.spec.restartPolicy",
    'Required value: valid values: "OnFailure", "Never"',
  ]];
  assert.deepEqual(restart({}), required);
  assert.deepEqual(restart({ restartPolicy: "Always" }), required);
  assert.deepEqual(
    causes(job({
      template: { spec: { ...template.spec, restartPolicy: "OnFailure" } },
      podFailurePolicy: {
        rules: [{ action: "FailJob", onExitCodes: { operator: "In", values: [42] } }],
      },
    })),
    [[
      "spec.template.spec.restartPolicy",
      'Invalid value: "OnFailure": only "Never" is supported when podFailurePolicy is specified',
    ]],
  );
});

Deno.test("jobs validation rejects negative counts and limits", () => {
  assert.deepEqual(
    causes(job({
      parallelism: -1,
      completions: -2,
      activeDeadlineSeconds: -3,
      backoffLimit: -4,
      ttlSecondsAfterFinished: -5,
    })),
    [
      ["spec.parallelism", "Invalid value: -1: must be greater than or equal to 0"],
      ["spec.completions", "Invalid value: -2: must be greater than or equal to 0"],
      ["spec.activeDeadlineSeconds", "Invalid value: -3: must be greater than or equal to 0"],
      ["spec.backoffLimit", "Invalid value: -4: must be greater than or equal to 0"],
      ["spec.ttlSecondsAfterFinished", "Invalid value: -5: must be greater than or equal to 0"],
    ],
  );
});

Deno.test("jobs validation checks the completion mode rules", () => {
  assert.deepEqual(causes(job({ completionMode: "Indexed", parallelism: 2 })), [
    ["spec.completions", "Required value: when completion mode is Indexed"],
  ]);
  assert.deepEqual(
    causes(job({ completionMode: "Indexed", completions: 3 }, { name: "Pi" })).map(([f]) => f),
    ["metadata.name", "metadata.name"],
  );
  assert.deepEqual(
    causes(job({ completionMode: "Indexed", completions: 2 }, { name: "a.b" }))[0],
    [
      "metadata.name",
      'Invalid value: "a.b": will not able to create pod with invalid DNS label: a.b-1',
    ],
  );
  assert.deepEqual(causes(job({ backoffLimitPerIndex: 1, maxFailedIndexes: 1 })), [
    ["spec.backoffLimitPerIndex", "Invalid value: 1: requires indexed completion mode"],
    ["spec.maxFailedIndexes", "Invalid value: 1: requires indexed completion mode"],
  ]);
  assert.deepEqual(
    causes(job({ completionMode: "Indexed", completions: 2, maxFailedIndexes: 3 })),
    [
      ["spec.backoffLimitPerIndex", "Required value: when maxFailedIndexes is specified"],
      ["spec.maxFailedIndexes", "Invalid value: 3: must be less than or equal to completions"],
    ],
  );
  assert.deepEqual(causes(job({ completionMode: "Sometimes" })), [[
    "spec.completionMode",
    'Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"',
  ]]);
});

Deno.test("jobs validation checks podFailurePolicy rules", () => {
  const rules = (...r: unknown[]) => causes(job({ podFailurePolicy: { rules: r } }));
  const p = "spec.podFailurePolicy.rules[0]";
  assert.deepEqual(rules({ onExitCodes: { operator: "In", values: [1] } }), [
    [`${p}.action`, 'Required value: valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'],
  ]);
  assert.deepEqual(rules({ action: "Retry", onExitCodes: { operator: "In", values: [1] } }), [
    [
      `${p}.action`,
      'Unsupported value: "Retry": supported values: "Count", "FailIndex", "FailJob", "Ignore"',
    ],
  ]);
  assert.deepEqual(rules({ action: "FailIndex", onExitCodes: { operator: "In", values: [1] } }), [
    [`${p}.action`, 'Invalid value: "FailIndex": requires the backoffLimitPerIndex to be set'],
  ]);
  assert.deepEqual(
    rules({
      action: "FailJob",
      onExitCodes: { containerName: "nope", operator: "In", values: [3, 0, 3] },
    }),
    [
      [
        `${p}.onExitCodes.containerName`,
        'Invalid value: "nope": must be one of the container or initContainer names in the pod template',
      ],
      [`${p}.onExitCodes.values[1]`, "Invalid value: 0: must not be 0 for the In operator"],
      [`${p}.onExitCodes.values[2]`, "Duplicate value: 3"],
      [`${p}.onExitCodes.values`, "Invalid value: [3,0,3]: must be ordered"],
    ],
  );
  assert.deepEqual(rules({ action: "Count", onExitCodes: { values: [] } }), [
    [`${p}.onExitCodes.operator`, 'Required value: valid values: ["In" "NotIn"]'],
    [`${p}.onExitCodes.values`, "Invalid value: []: at least one value is required"],
  ]);
  assert.deepEqual(
    rules({ action: "Ignore", onPodConditions: [{ type: "bad type", status: "Maybe" }] }),
    [
      [
        `${p}.onPodConditions[0].type`,
        `Invalid value: "bad type": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
      ],
      [
        `${p}.onPodConditions[0].status`,
        'Unsupported value: "Maybe": supported values: "False", "True", "Unknown"',
      ],
    ],
  );
  assert.deepEqual(rules({ action: "Ignore" }), [
    [p, "Invalid value: specifying one of OnExitCodes and OnPodConditions is required"],
  ]);
  assert.deepEqual(
    rules({
      action: "Ignore",
      onExitCodes: { operator: "NotIn", values: [0] },
      onPodConditions: [{ type: "DisruptionTarget" }],
    }),
    [[p, "Invalid value: specifying both OnExitCodes and OnPodConditions is not supported"]],
  );
  const many = Array.from({ length: 21 }, () => ({
    action: "Ignore",
    onPodConditions: [{ type: "DisruptionTarget" }],
  }));
  assert.deepEqual(rules(...many), [
    ["spec.podFailurePolicy.rules", "Too many: 21: must have at most 20 items"],
  ]);
});

Deno.test("jobs validation checks successPolicy", () => {
  assert.deepEqual(
    causes(job({ successPolicy: { rules: [{ succeededCount: 1 }] } })),
    [[
      "spec.successPolicy",
      'Invalid value: {"rules":[{"succeededCount":1}]}: requires indexed completion mode',
    ]],
  );
  const indexed = (successPolicy: unknown) =>
    causes(job({ completionMode: "Indexed", completions: 5, successPolicy }));
  assert.deepEqual(indexed({ rules: [] }), [[
    "spec.successPolicy.rules",
    "Required value: at least one rules must be specified when the successPolicy is specified",
  ]]);
  const r = "spec.successPolicy.rules[0]";
  assert.deepEqual(indexed({ rules: [{}] }), [[
    r,
    "Required value: at least one of succeededCount or succeededIndexes must be specified",
  ]]);
  assert.deepEqual(indexed({ rules: [{ succeededIndexes: "0,2-1" }] }), [[
    `${r}.succeededIndexes`,
    'Invalid value: "0,2-1": error parsing succeededIndexes: non-increasing order, previous: 2, current: 1',
  ]]);
  assert.deepEqual(indexed({ rules: [{ succeededIndexes: "1-9" }] }), [[
    `${r}.succeededIndexes`,
    'Invalid value: "1-9": error parsing succeededIndexes: too large index: "9"',
  ]]);
  assert.deepEqual(indexed({ rules: [{ succeededIndexes: "0,2-3", succeededCount: 6 }] }), [
    [
      `${r}.succeededCount`,
      "Invalid value: 6: must be less than or equal to 5 (the number of specified completions)",
    ],
    [
      `${r}.succeededCount`,
      "Invalid value: 6: must be less than or equal to 3 (the number of indexes in the specified succeededIndexes field)",
    ],
  ]);
  assert.equal(
    valid(job({
      completionMode: "Indexed",
      completions: 5,
      successPolicy: { rules: [{ succeededIndexes: "0,2-4", succeededCount: 2 }] },
    })).spec.successPolicy?.rules?.length,
    1,
  );
});

Deno.test("jobs validation checks managedBy and podReplacementPolicy", () => {
  assert.deepEqual(causes(job({ managedBy: "kueue" })), [[
    "spec.managedBy",
    'Invalid value: "kueue": must be a domain-prefixed path (such as "acme.io/foo")',
  ]]);
  assert.equal(
    valid(job({ managedBy: "kueue.x-k8s.io/multikueue" })).spec.managedBy,
    "kueue.x-k8s.io/multikueue",
  );
  assert.deepEqual(causes(job({ podReplacementPolicy: "Never" })), [[
    "spec.podReplacementPolicy",
    'Unsupported value: "Never": supported values: "Failed", "TerminatingOrFailed"',
  ]]);
  assert.deepEqual(
    causes(job({
      podReplacementPolicy: "TerminatingOrFailed",
      podFailurePolicy: {
        rules: [{ action: "Ignore", onPodConditions: [{ type: "DisruptionTarget" }] }],
      },
    })),
    [[
      "spec.podReplacementPolicy",
      'Unsupported value: "TerminatingOrFailed": supported values: "Failed"',
    ]],
  );
});

Deno.test("jobs update keeps template, completions and selector immutable", () => {
  const old = valid(job({ completions: 2 })) as unknown as KubeObject;
  const next = structuredClone(old) as unknown as Job;
  next.spec.template.spec.containers[0]!.image = "perl:5.36";
  next.spec.completions = 3;
  next.spec.selector = { matchLabels: { ...next.spec.selector?.matchLabels, extra: "x" } };
  const got = causes(next, old);
  assert.deepEqual(got.map(([f, m]) => [f, m.replace(/^Invalid value: .*: /, "")]), [
    ["spec.selector", "`selector` not auto-generated"],
    ["spec.template.metadata.labels", "`selector` does not match template `labels`"],
    ["spec.completions", "field is immutable"],
    ["spec.selector", "field is immutable"],
    ["spec.template", "field is immutable"],
  ]);
  // the metadata-only changes kubectl apply makes are fine, and a PUT without the uid keeps it
  const relabel = structuredClone(old) as unknown as Job;
  relabel.metadata.labels = { ...relabel.metadata.labels, team: "a" };
  delete relabel.metadata.uid;
  relabel.spec.activeDeadlineSeconds = 600;
  relabel.spec.suspend = true;
  assert.equal(valid(relabel, old).spec.activeDeadlineSeconds, 600);
});

Deno.test("jobs update lets a suspended, unstarted Job change its scheduling directives", () => {
  const old = valid(job({ suspend: true })) as unknown as KubeObject;
  const next = structuredClone(old) as unknown as Job;
  next.spec.template.spec.nodeSelector = { zone: "b" };
  next.spec.template.spec.tolerations = [{ key: "edge", operator: "Exists" }];
  next.spec.template.metadata!.annotations = { note: "moved" };
  next.spec.suspend = false;
  assert.deepEqual(valid(next, old).spec.template.spec.nodeSelector, { zone: "b" });
  const started = { ...old, status: { startTime: "2025-01-01T00:00:00Z" } };
  assert.deepEqual(causes(next, started).map(([f]) => f), ["spec.template"]);
  const running = valid(job({})) as unknown as KubeObject;
  const moved = structuredClone(running) as unknown as Job;
  moved.spec.template.spec.nodeSelector = { zone: "b" };
  assert.deepEqual(causes(moved, running).map(([f]) => f), ["spec.template"]);
});

Deno.test("jobs update lets an Indexed Job scale completions with parallelism", () => {
  const old = valid(
    job({ completionMode: "Indexed", completions: 2, parallelism: 2 }),
  ) as unknown as KubeObject;
  const next = structuredClone(old) as unknown as Job;
  next.spec.completions = 4;
  next.spec.parallelism = 4;
  assert.equal(valid(next, old).spec.completions, 4);
  next.spec.parallelism = 3;
  assert.deepEqual(causes(next, old), [[
    "spec.completions",
    "Invalid value: 4: can only be modified in tandem with spec.parallelism",
  ]]);
});

Deno.test("jobs columns print status, completions and duration as kubectl 1.32", () => {
  const now = new Date("2025-01-01T00:10:00Z");
  const base: KubeObject = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: "pi", creationTimestamp: "2025-01-01T00:00:00Z" },
    spec: {
      completions: 3,
      parallelism: 1,
      selector: { matchLabels: { "batch.kubernetes.io/controller-uid": UID } },
      template: { spec: { containers: [{ name: "pi", image: "perl:5.34" }] } },
    },
  };
  assert.deepEqual(jobs.columns.map((c) => c.name), [
    "Name",
    "Status",
    "Completions",
    "Duration",
    "Age",
    "Containers",
    "Images",
    "Selector",
  ]);
  assert.deepEqual(jobs.columns.map((c) => c.cell(base, now)), [
    "pi",
    "Running",
    "0/3",
    "",
    "10m",
    "pi",
    "perl:5.34",
    `batch.kubernetes.io/controller-uid=${UID}`,
  ]);
  const cells = (o: Partial<KubeObject>) =>
    jobs.columns.slice(1, 4).map((c) => c.cell({ ...base, ...o }, now));
  assert.deepEqual(
    cells({
      status: {
        startTime: "2025-01-01T00:00:05Z",
        completionTime: "2025-01-01T00:00:47Z",
        succeeded: 3,
        conditions: [{ type: "SuccessCriteriaMet", status: "True" }, {
          type: "Complete",
          status: "True",
        }],
      },
    }),
    ["Complete", "3/3", "42s"],
  );
  assert.deepEqual(
    cells({
      status: {
        startTime: "2025-01-01T00:07:00Z",
        failed: 7,
        conditions: [{ type: "Failed", status: "True" }],
      },
    }),
    ["Failed", "0/3", "3m"],
  );
  assert.deepEqual(
    cells({ status: { conditions: [{ type: "Suspended", status: "True" }] } }),
    ["Suspended", "0/3", ""],
  );
  assert.deepEqual(
    cells({ status: { conditions: [{ type: "Suspended", status: "False" }] } })[0],
    "Running",
  );
  assert.deepEqual(
    cells({ metadata: { ...base.metadata, deletionTimestamp: "2025-01-01T00:09:00Z" } })[0],
    "Terminating",
  );
  const queue = {
    ...base,
    spec: { ...(base.spec as object), completions: undefined, parallelism: 4 },
  };
  assert.equal(jobs.columns[2]?.cell(queue as KubeObject, now), "0/1 of 4");
  const single = {
    ...base,
    spec: { ...(base.spec as object), completions: undefined, parallelism: 1 },
  };
  assert.equal(jobs.columns[2]?.cell(single as KubeObject, now), "0/1");
  assert.equal(
    jobs.fieldSelectors["status.successful"]?.({ ...base, status: { succeeded: 2 } }),
    "2",
  );
});

Deno.test("jobs are served as batch/v1 with no short name, in category all", () => {
  assert.equal(jobs.group, "batch");
  assert.deepEqual(jobs.shortNames, []);
  assert.deepEqual(jobs.categories, ["all"]);
  assert.deepEqual(jobs.subresources, ["status"]);
  assert.equal(jobs.tracksGeneration, true);
});
