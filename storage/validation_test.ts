import assert from "node:assert/strict";
import { configMaps } from "./kinds/config_map.ts";
import { namespaces } from "./kinds/namespace.ts";
import { pods } from "./kinds/pod.ts";
import { RESOURCE_TYPES } from "./registry.ts";
import type { ResourceType } from "./resource.ts";
import { ApiError, type StatusCause } from "./status.ts";
import {
  dns1123LabelErrors,
  dns1123SubdomainErrors,
  formatPath,
  isDns1123Label,
  isDns1123Subdomain,
  qualifiedNameErrors,
  validateObject,
} from "./validation.ts";

function invalidCauses(rt: ResourceType, body: unknown): StatusCause[] {
  try {
    validateObject(rt, body, { fieldValidation: "Strict" });
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 422, e.message);
    return e.details?.causes ?? [];
  }
  assert.fail("expected an Invalid error");
}

function badRequest(rt: ResourceType, body: unknown): string {
  try {
    validateObject(rt, body, { fieldValidation: "Strict" });
  } catch (e) {
    assert.ok(e instanceof ApiError, String(e));
    assert.equal(e.code, 400, e.message);
    return e.message;
  }
  assert.fail("expected a BadRequest error");
}

const cm = (extra: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "app-config", namespace: "default" },
  data: { "app.conf": "x=1" },
  ...extra,
});

Deno.test("isDns1123Label() and isDns1123Subdomain() apply Kubernetes' rules and lengths", () => {
  assert.equal(isDns1123Label("web-1"), true);
  assert.equal(isDns1123Label("a".repeat(63)), true);
  assert.equal(isDns1123Label("a".repeat(64)), false);
  assert.equal(isDns1123Label("web.1"), false);
  assert.equal(isDns1123Label("-web"), false);
  assert.equal(isDns1123Label("Web"), false);
  assert.equal(isDns1123Label(""), false);
  assert.equal(isDns1123Subdomain("web.example.com"), true);
  assert.equal(
    isDns1123Subdomain(`${"a".repeat(63)}.${"b".repeat(63)}.${"c".repeat(63)}.${"d".repeat(61)}`),
    true,
  );
  assert.equal(isDns1123Subdomain("a".repeat(254)), false);
  assert.equal(isDns1123Subdomain("web..x"), false);
  assert.equal(isDns1123Subdomain("web."), false);
});

Deno.test("dns1123LabelErrors() words errors as Kubernetes does", () => {
  assert.deepEqual(dns1123LabelErrors("a.b"), ["must not contain dots"]);
  assert.deepEqual(dns1123LabelErrors("A"), [
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
  ]);
  assert.equal(dns1123LabelErrors("a".repeat(64))[0], "must be no more than 63 characters");
  assert.deepEqual(dns1123SubdomainErrors("a_b"), [
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')",
  ]);
});

Deno.test("qualifiedNameErrors() checks prefix and name parts", () => {
  assert.deepEqual(qualifiedNameErrors("example.com/app"), []);
  assert.deepEqual(qualifiedNameErrors("app.kubernetes.io/name"), []);
  assert.equal(qualifiedNameErrors("/app")[0], "prefix part must be non-empty");
  assert.equal(qualifiedNameErrors("a/")[0], "name part must be non-empty");
  assert.match(qualifiedNameErrors("a/b/c")[0] ?? "", /^a qualified name must consist of/);
  assert.match(
    qualifiedNameErrors("Bad_Prefix/x")[0] ?? "",
    /^prefix part a lowercase RFC 1123 subdomain/,
  );
});

Deno.test("formatPath() prints Kubernetes field paths", () => {
  assert.equal(formatPath(["spec", "containers", 0, "image"]), "spec.containers[0].image");
  assert.equal(formatPath(["data", "my key"]), "data[my key]");
  assert.equal(
    formatPath(["spec", "selector", "matchLabels", "app"]),
    "spec.selector.matchLabels[app]",
  );
  assert.equal(formatPath(["spec", "selector", "app"]), "spec.selector[app]");
});

Deno.test("validateObject() fills in apiVersion and kind and returns no warnings", () => {
  const { object, warnings } = validateObject(configMaps, { metadata: { name: "c" } }, {
    fieldValidation: "Strict",
  });
  assert.equal(object.apiVersion, "v1");
  assert.equal(object.kind, "ConfigMap");
  assert.deepEqual(warnings, []);
});

Deno.test("validateObject() rejects a mismatched apiVersion or kind with BadRequest", () => {
  assert.equal(
    badRequest(configMaps, cm({ apiVersion: "apps/v1" })),
    "the API version in the data (apps/v1) does not match the expected API version (v1)",
  );
  assert.match(badRequest(configMaps, cm({ kind: "Secret" })), /Secret/);
});

Deno.test("validateObject() rejects bodies that are not JSON objects with BadRequest", () => {
  for (const body of [null, [], [cm()], "x", 3, true, undefined]) badRequest(configMaps, body);
});

Deno.test("validateObject() Strict rejects unknown fields with Kubernetes' wording", () => {
  const body = cm({ bar: 1, metadata: { name: "c", lables: { a: "b" } } });
  assert.equal(
    badRequest(configMaps, body),
    'strict decoding error: unknown field "metadata.lables", unknown field "bar"',
  );
  assert.equal(
    badRequest(pods, {
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "i", imagePullPolicy: "Always", foo: 1 }], foo: 2 },
    }),
    'strict decoding error: unknown field "spec.containers[0].foo", unknown field "spec.foo"',
  );
});

Deno.test("validateObject() Warn returns unknown fields as warnings and drops them", () => {
  const { object, warnings } = validateObject(configMaps, cm({ bar: 1 }), {
    fieldValidation: "Warn",
  });
  assert.deepEqual(warnings, ['unknown field "bar"']);
  assert.equal("bar" in object, false);
});

Deno.test("validateObject() Ignore drops unknown fields silently", () => {
  const { object, warnings } = validateObject(configMaps, cm({ bar: 1 }), {
    fieldValidation: "Ignore",
  });
  assert.deepEqual(warnings, []);
  assert.equal("bar" in object, false);
});

Deno.test("validateObject() treats null members as absent (creationTimestamp: null)", () => {
  const { object } = validateObject(
    configMaps,
    cm({ metadata: { name: "c", creationTimestamp: null }, binaryData: null }),
    { fieldValidation: "Strict" },
  );
  assert.equal("creationTimestamp" in object.metadata, false);
});

Deno.test("validateObject() reports type errors, enums and ranges with field paths", () => {
  const causes = invalidCauses(pods, {
    metadata: { name: "p" },
    spec: {
      restartPolicy: "Sometimes",
      terminationGracePeriodSeconds: "30",
      containers: [{ name: "c", image: "i", ports: [{ containerPort: 1e10 }] }],
    },
  });
  assert.deepEqual(causes.map((c) => [c.field, c.reason, c.message]), [
    [
      "spec.containers[0].ports[0].containerPort",
      "FieldValueInvalid",
      "Invalid value: 10000000000: must be less than or equal to 2147483647",
    ],
    [
      "spec.restartPolicy",
      "FieldValueNotSupported",
      'Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"',
    ],
    [
      "spec.terminationGracePeriodSeconds",
      "FieldValueInvalid",
      'Invalid value: "string": must be of type number',
    ],
  ]);
});

Deno.test("validateObject() reports missing required fields as Required value", () => {
  const causes = invalidCauses(pods, {
    metadata: { name: "p" },
    spec: { containers: [{ image: "i" }] },
  });
  assert.deepEqual(causes.map((c) => [c.field, c.message]), [[
    "spec.containers[0].name",
    "Required value",
  ]]);
  const none = invalidCauses(pods, { metadata: { name: "p" } });
  assert.deepEqual(none.map((c) => [c.field, c.message]), [["spec.containers", "Required value"]]);
  // a missing enum is required, not an unsupported `undefined`
  const noEffect = invalidCauses(pods, {
    metadata: { name: "p" },
    spec: {
      containers: [{ name: "c", image: "i" }],
      topologySpreadConstraints: [{ maxSkew: 1, topologyKey: "zone" }],
    },
  });
  assert.deepEqual(noEffect.map((c) => [c.field, c.message]), [[
    "spec.topologySpreadConstraints[0].whenUnsatisfiable",
    "Required value",
  ]]);
});

Deno.test("validateObject() requires a name unless generateName is set", () => {
  const causes = invalidCauses(configMaps, { data: {} });
  assert.deepEqual(causes, [{
    reason: "FieldValueRequired",
    field: "metadata.name",
    message: "Required value: name or generateName is required",
  }]);
  assert.throws(
    () =>
      validateObject(configMaps, { metadata: { generateName: "Bad_" } }, {
        fieldValidation: "Strict",
      }),
    /metadata.generateName/,
  );
  const ok = validateObject(configMaps, { metadata: { generateName: "web-" } }, {
    fieldValidation: "Strict",
  });
  assert.equal(ok.object.metadata.generateName, "web-");
});

Deno.test("validateObject() rejects hostile names with 422 on metadata.name", () => {
  const hostile = [
    "a;b",
    "$(reboot)",
    "../etc",
    "a b",
    "UPPER",
    "a/b",
    "-a",
    "a-",
    "é",
    "a\nb",
    "a".repeat(300),
  ];
  for (const name of hostile) {
    for (const rt of [configMaps, namespaces]) {
      const causes = invalidCauses(rt, { metadata: { name } });
      assert.ok(
        causes.length > 0 && causes.every((c) => c.field === "metadata.name"),
        `${rt.kind} ${name}`,
      );
    }
  }
  const dotted = invalidCauses(namespaces, { metadata: { name: "a.b" } });
  assert.equal(dotted[0]?.message, 'Invalid value: "a.b": must not contain dots');
});

Deno.test("validateObject() checks namespace, label and annotation rules", () => {
  const causes = invalidCauses(configMaps, {
    metadata: {
      name: "c",
      namespace: "Bad NS",
      labels: { "bad key!": "v", ok: "bad value!" },
      annotations: { big: "x".repeat(256 * 1024) },
    },
  });
  assert.deepEqual(causes.map((c) => [c.field, c.reason]), [
    ["metadata.namespace", "FieldValueInvalid"],
    ["metadata.labels", "FieldValueInvalid"],
    ["metadata.labels", "FieldValueInvalid"],
    ["metadata.annotations", "FieldValueTooLong"],
  ]);
  assert.equal(causes[3]?.message, "Too long: may not be more than 262144 bytes");
});

Deno.test("validateObject() drops metadata.namespace of cluster-scoped kinds", () => {
  const { object } = validateObject(namespaces, { metadata: { name: "x", namespace: "y" } }, {
    fieldValidation: "Strict",
  });
  assert.equal(object.metadata.namespace, undefined);
});

Deno.test("validateObject() refuses __proto__ keys with Invalid and never pollutes prototypes", () => {
  for (const fieldValidation of ["Strict", "Warn", "Ignore"] as const) {
    const body = JSON.parse(
      '{"metadata":{"name":"c","labels":{"__proto__":"v"}},"__proto__":{"polluted":true}}',
    );
    assert.throws(
      () => validateObject(configMaps, body, { fieldValidation }),
      (e: unknown) =>
        e instanceof ApiError && e.code === 422 &&
        e.details?.causes?.[0]?.field === "metadata.labels.__proto__",
    );
  }
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

Deno.test("validateObject() reports constructor keys as unknown fields", () => {
  const body = JSON.parse('{"metadata":{"name":"c"},"constructor":1}');
  assert.equal(badRequest(configMaps, body), 'strict decoding error: unknown field "constructor"');
  const { object } = validateObject(configMaps, body, { fieldValidation: "Ignore" });
  assert.equal(Object.getPrototypeOf(object), Object.prototype);
});

Deno.test("validateObject() rejects too deeply nested bodies with BadRequest", () => {
  let deep: unknown = {};
  for (let i = 0; i < 100_000; i++) deep = { a: deep };
  badRequest(configMaps, { metadata: { name: "c" }, data: deep });
  let deepArray: unknown = [];
  for (let i = 0; i < 100_000; i++) deepArray = [deepArray];
  badRequest(configMaps, { metadata: { name: "c" }, data: { a: deepArray } });
});

Deno.test("validateObject() handles 1 MB strings quickly", () => {
  const big = "a".repeat(1 << 20);
  const start = performance.now();
  invalidCauses(configMaps, { metadata: { name: big } });
  invalidCauses(configMaps, { metadata: { name: "c", labels: { [big]: big } } });
  invalidCauses(configMaps, { metadata: { name: `${big}!` } });
  assert.ok(performance.now() - start < 2000);
});

/** A small deterministic PRNG (mulberry32). */
function prng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const KEYS = [
  "apiVersion",
  "kind",
  "metadata",
  "name",
  "namespace",
  "labels",
  "annotations",
  "spec",
  "status",
  "containers",
  "image",
  "ports",
  "port",
  "containerPort",
  "targetPort",
  "selector",
  "matchLabels",
  "template",
  "replicas",
  "data",
  "stringData",
  "type",
  "strategy",
  "rollingUpdate",
  "maxSurge",
  "volumes",
  "env",
  "__proto__",
  "constructor",
  "toString",
  "subsets",
  "addresses",
  "ip",
  "involvedObject",
  "generateName",
  "finalizers",
  "ownerReferences",
  "immutable",
  "binaryData",
];
const STRINGS = [
  "",
  "a",
  "web",
  "Bad Name",
  "a;b",
  "$(x)",
  "../",
  "25%",
  "TCP",
  "Always",
  "v1",
  "apps/v1",
  "80",
  "x".repeat(300),
  "é",
  "0",
];

function junk(rand: () => number, depth: number): unknown {
  const r = rand();
  if (depth > 5 || r < 0.3) {
    const p = rand();
    if (p < 0.3) return STRINGS[Math.floor(rand() * STRINGS.length)];
    if (p < 0.5) return Math.floor(rand() * 200000) - 1000;
    if (p < 0.6) return rand() * 1e12;
    if (p < 0.7) return rand() < 0.5;
    return null;
  }
  if (r < 0.5) return Array.from({ length: Math.floor(rand() * 4) }, () => junk(rand, depth + 1));
  const obj: Record<string, unknown> = {};
  for (let i = Math.floor(rand() * 6); i > 0; i--) {
    Object.defineProperty(obj, KEYS[Math.floor(rand() * KEYS.length)] ?? "x", {
      value: junk(rand, depth + 1),
      enumerable: true,
      configurable: true,
      writable: true,
    });
  }
  return obj;
}

Deno.test("validateObject() throws only ApiError for thousands of random bodies", () => {
  const rand = prng(20240501);
  const start = performance.now();
  let accepted = 0;
  for (let i = 0; i < 3000; i++) {
    const rt = RESOURCE_TYPES[i % RESOURCE_TYPES.length]!;
    const body = junk(rand, 0);
    const withName =
      rand() < 0.5 && typeof body === "object" && body !== null && !Array.isArray(body)
        ? { ...body, metadata: { name: "x" } }
        : body;
    for (const fieldValidation of ["Strict", "Warn", "Ignore"] as const) {
      try {
        validateObject(rt, withName, { fieldValidation });
        accepted++;
      } catch (e) {
        if (!(e instanceof ApiError)) {
          throw new Error(`${rt.kind} threw ${e} for ${JSON.stringify(withName)}`);
        }
        assert.ok(e.code === 400 || e.code === 422);
      }
    }
  }
  assert.ok(accepted > 0);
  assert.ok(performance.now() - start < 20_000);
});
