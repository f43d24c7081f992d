import assert from "node:assert/strict";
import { ApiError } from "../../storage/status.ts";
import { decodeProtobufObject, PROTOBUF_MEDIA_TYPE } from "./protobuf.ts";
import { MESSAGES } from "./_protobuf_schema.ts";

const TESTDATA = new URL("./testdata/", import.meta.url);

// --- a tiny protobuf encoder for hand-built bodies ---

type Part = number[];

function varint(value: number | bigint): Part {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
  return out;
}
const key = (field: number, wire: number): Part => varint((field << 3) | wire);
const int = (field: number, value: number | bigint): Part => [...key(field, 0), ...varint(value)];
const bytes = (field: number, payload: Part | Uint8Array): Part => [
  ...key(field, 2),
  ...varint(payload.length),
  ...payload,
];
const str = (field: number, s: string): Part => bytes(field, new TextEncoder().encode(s));
const msg = (field: number, ...parts: Part[]): Part => bytes(field, parts.flat());
const entry = (field: number, k: string, value: Part): Part => msg(field, str(1, k), value);

/** A full request body: magic, then runtime.Unknown{typeMeta, raw}. */
function body(apiVersion: string, kind: string, ...raw: Part[]): Uint8Array {
  return new Uint8Array([
    0x6b,
    0x38,
    0x73,
    0x00,
    ...msg(1, str(1, apiVersion), str(2, kind)),
    ...bytes(2, raw.flat()),
  ]);
}

function decodeError(bytes: Uint8Array): ApiError {
  try {
    decodeProtobufObject(bytes);
  } catch (e) {
    assert.ok(e instanceof ApiError, `expected ApiError, got ${e}`);
    return e;
  }
  assert.fail("expected decodeProtobufObject() to throw");
}

// --- bodies captured from kubectl 1.32 ---

const CAPTURED: [fixture: string, command: string][] = [
  ["create_namespace", "create namespace demo"],
  ["create_configmap", "create configmap c --from-literal=a=b --from-literal=c=d"],
  ["create_secret_generic", "create secret generic s --from-literal=p=q"],
  ["create_secret_docker_registry", "create secret docker-registry reg --docker-server=r.io …"],
  ["create_serviceaccount", "create serviceaccount sa1"],
  ["create_deployment", "create deployment web --image=busybox:1 --replicas=2 --port=8080"],
  ["create_service_clusterip", "create service clusterip svc --tcp=80:8080"],
  ["create_service_nodeport", "create service nodeport np --tcp=80:8080 --node-port=30080"],
  ["create_service_externalname", "create service externalname en --external-name=x.example.com"],
  ["create_job", "create job j --image=busybox:1"],
  ["create_cronjob", "create cronjob cj --image=busybox:1 --schedule='*/1 * * * *'"],
];

for (const [fixture, command] of CAPTURED) {
  Deno.test(`decodeProtobufObject() yields the JSON of kubectl ${command}`, async () => {
    const pb = await Deno.readFile(new URL(`${fixture}.pb`, TESTDATA));
    // The .json is what `kubectl <command> --dry-run=client -o json` printed.
    const want = JSON.parse(await Deno.readTextFile(new URL(`${fixture}.json`, TESTDATA)));
    const got = decodeProtobufObject(pb);
    assert.deepEqual(got, want);
    assert.equal(JSON.stringify(got), JSON.stringify(want), "same key order as Go");
  });
}

Deno.test("decodeProtobufObject() yields the full Pod sent by kubectl debug --copy-to", async () => {
  // kubectl debug rich --copy-to=rich-copy --container=debugger --image=busybox:1
  //   --keep-annotations --keep-liveness --keep-readiness --keep-startup --share-processes=false
  // copies a Pod with probes, env sources, volumes, affinity, tolerations and security
  // contexts. The .json is the source Pod as read back as JSON, with the changes debug makes.
  const pb = await Deno.readFile(new URL("debug_copy_to_pod.pb", TESTDATA));
  const want = JSON.parse(await Deno.readTextFile(new URL("debug_copy_to_pod.json", TESTDATA)));
  assert.deepEqual(decodeProtobufObject(pb), want);
});

// --- value types ---

Deno.test("decodeProtobufObject() renders Time as RFC 3339 seconds and an empty Time as null", () => {
  const pod = decodeProtobufObject(body(
    "v1",
    "Pod",
    msg(1, str(1, "p"), msg(8, int(1, 1767323045), int(2, 999_000_000)), msg(9)),
  ));
  assert.deepEqual(pod.metadata, {
    name: "p",
    creationTimestamp: "2026-01-02T03:04:05Z",
    deletionTimestamp: null,
  });
});

Deno.test("decodeProtobufObject() renders MicroTime with microseconds", () => {
  const lease = decodeProtobufObject(body(
    "coordination.k8s.io/v1",
    "Lease",
    msg(1, str(1, "leader")),
    msg(2, str(1, "node-a"), int(2, 15), msg(4, int(1, 1767323045), int(2, 123_456_789))),
  ));
  assert.deepEqual(lease, {
    kind: "Lease",
    apiVersion: "coordination.k8s.io/v1",
    metadata: { name: "leader", creationTimestamp: null },
    spec: {
      holderIdentity: "node-a",
      leaseDurationSeconds: 15,
      renewTime: "2026-01-02T03:04:05.123456Z",
    },
  });
});

Deno.test("decodeProtobufObject() renders the zero Time (0001-01-01) as null", () => {
  const event = decodeProtobufObject(body(
    "v1",
    "Event",
    msg(1, str(1, "e")),
    msg(6, int(1, -62135596800)),
    msg(10),
  ));
  assert.equal(event.firstTimestamp, null);
  assert.equal(event.eventTime, null);
  assert.equal(event.reportingComponent, "");
});

Deno.test("decodeProtobufObject() renders IntOrString as a number or a string", () => {
  const deployment = decodeProtobufObject(body(
    "apps/v1",
    "Deployment",
    msg(
      2,
      msg(
        4,
        str(1, "RollingUpdate"),
        msg(2, msg(1, int(1, 0), int(2, 1)), msg(2, int(1, 1), str(3, "25%"))),
      ),
    ),
  ));
  const spec = deployment.spec as Record<string, unknown>;
  assert.deepEqual(spec.strategy, {
    type: "RollingUpdate",
    rollingUpdate: { maxUnavailable: 1, maxSurge: "25%" },
  });
  assert.equal(spec.selector, null, "DeploymentSpec.selector has no omitempty");
});

Deno.test("decodeProtobufObject() base64-encodes Secret data and ConfigMap binaryData", () => {
  const secret = decodeProtobufObject(body(
    "v1",
    "Secret",
    entry(2, "bin", bytes(2, [0xff, 0x00, 0xfe])),
    entry(2, "empty", []),
    entry(4, "plain", str(2, "text")),
    str(3, "Opaque"),
    int(5, 1),
  ));
  assert.deepEqual(secret.data, { bin: "/wD+", empty: "" });
  assert.deepEqual(secret.stringData, { plain: "text" });
  assert.equal(secret.type, "Opaque");
  assert.equal(secret.immutable, true);
  const cm = decodeProtobufObject(body("v1", "ConfigMap", entry(3, "b", bytes(2, [1, 2, 3]))));
  assert.deepEqual(cm.binaryData, { b: "AQID" });
});

Deno.test("decodeProtobufObject() decodes Quantity maps and keeps map keys as own properties", () => {
  const pod = decodeProtobufObject(body(
    "v1",
    "Pod",
    msg(1, entry(11, "__proto__", str(2, "x")), entry(11, "a", str(2, "1"))),
    msg(
      2,
      msg(2, str(1, "c"), msg(8, entry(1, "cpu", msg(2, str(1, "500m"))), entry(2, "memory", []))),
    ),
  ));
  const metadata = pod.metadata as Record<string, unknown>;
  const labels = metadata.labels as Record<string, unknown>;
  assert.deepEqual(Object.keys(labels), ["__proto__", "a"]);
  assert.equal(Object.getPrototypeOf(labels), Object.prototype);
  const containers = (pod.spec as Record<string, unknown>).containers as Record<string, unknown>[];
  assert.deepEqual(containers[0]?.resources, {
    limits: { cpu: "500m" },
    requests: { memory: "0" },
  });
});

Deno.test("decodeProtobufObject() accepts packed and unpacked repeated numbers", () => {
  const packed = decodeProtobufObject(body(
    "v1",
    "Pod",
    msg(2, msg(14, bytes(4, [...varint(4000), ...varint(5000)]), int(4, 6000))),
  ));
  const spec = packed.spec as Record<string, Record<string, unknown>>;
  assert.deepEqual(spec.securityContext?.supplementalGroups, [4000, 5000, 6000]);
});

Deno.test("decodeProtobufObject() sign-extends negative int32 and int64 varints", () => {
  const pod = decodeProtobufObject(body("v1", "Pod", msg(2, int(25, -1), int(4, -30))));
  const spec = pod.spec as Record<string, unknown>;
  assert.equal(spec.priority, -1);
  assert.equal(spec.terminationGracePeriodSeconds, -30);
});

Deno.test("decodeProtobufObject() merges a message that appears twice, as Go does", () => {
  const ns = decodeProtobufObject(body(
    "v1",
    "Namespace",
    msg(1, str(1, "demo"), entry(11, "a", str(2, "1"))),
    msg(1, entry(11, "b", str(2, "2")), str(14, "f1")),
  ));
  assert.deepEqual(ns.metadata, {
    name: "demo",
    creationTimestamp: null,
    labels: { a: "1", b: "2" },
    finalizers: ["f1"],
  });
});

Deno.test("decodeProtobufObject() skips unknown fields of every wire type", () => {
  const unknown = [
    ...int(90, 7),
    ...key(91, 1),
    ...[1, 2, 3, 4, 5, 6, 7, 8],
    ...str(92, "x"),
    ...key(93, 5),
    ...[1, 2, 3, 4],
    ...key(94, 3),
    ...int(1, 1),
    ...key(95, 3),
    ...key(95, 4),
    ...key(94, 4),
  ];
  const ns = decodeProtobufObject(
    body("v1", "Namespace", unknown, msg(1, unknown, str(1, "demo"))),
  );
  assert.deepEqual(ns, {
    kind: "Namespace",
    apiVersion: "v1",
    metadata: { name: "demo", creationTimestamp: null },
    spec: {},
    status: {},
  });
});

Deno.test("decodeProtobufObject() decodes DeleteOptions under any apiVersion", () => {
  const opts = decodeProtobufObject(body(
    "apps/v1",
    "DeleteOptions",
    int(1, 0),
    msg(2, str(1, "uid-1")),
    str(4, "Foreground"),
    str(5, "All"),
  ));
  assert.deepEqual(opts, {
    kind: "DeleteOptions",
    apiVersion: "apps/v1",
    gracePeriodSeconds: 0,
    preconditions: { uid: "uid-1" },
    propagationPolicy: "Foreground",
    dryRun: ["All"],
  });
});

Deno.test("decodeProtobufObject() keeps managedFields with their fieldsV1 JSON", () => {
  const ns = decodeProtobufObject(body(
    "v1",
    "Namespace",
    msg(
      1,
      msg(
        17,
        str(1, "kubectl"),
        str(2, "Update"),
        str(6, "FieldsV1"),
        msg(7, str(1, '{"f:spec":{}}')),
      ),
    ),
  ));
  assert.deepEqual((ns.metadata as Record<string, unknown>).managedFields, [
    { manager: "kubectl", operation: "Update", fieldsType: "FieldsV1", fieldsV1: { "f:spec": {} } },
  ]);
});

Deno.test("decodeProtobufObject() keeps a UTF-8 byte order mark and replaces invalid UTF-8", () => {
  const ns = decodeProtobufObject(
    body("v1", "Namespace", msg(1, bytes(1, [0xef, 0xbb, 0xbf, 0x61, 0xff]))),
  );
  assert.equal((ns.metadata as Record<string, unknown>).name, "\ufeffa\ufffd");
});

// --- errors ---

const MALFORMED: [what: string, bytes: Uint8Array, message: RegExp][] = [
  ["a body without the magic", new TextEncoder().encode('{"kind":"Namespace"}'), /magic/],
  ["an empty body", new Uint8Array(), /magic/],
  ["a truncated varint", body("v1", "Namespace", [0x38, 0x80]), /truncated varint/],
  [
    "a varint longer than 10 bytes",
    body("v1", "Namespace", [0x38, ...Array(11).fill(0xff), 1]),
    /longer than 10 bytes/,
  ],
  ["a length past the end", body("v1", "Namespace", [0x0a, 0x05, 0x0a]), /runs past the end/],
  [
    "a wrong wire type",
    body("v1", "Namespace", msg(1, int(1, 3))),
    /wrong wire type 0 for Namespace\.metadata\.name/,
  ],
  ["wire type 7", body("v1", "Namespace", [0x0f]), /invalid wire type 7/],
  ["field number 0", body("v1", "Namespace", [0x00, 0x00]), /invalid field number 0/],
  ["an unterminated group", body("v1", "Namespace", key(9, 3), int(1, 1)), /unterminated group 9/],
  [
    "a mismatched end group",
    body("v1", "Namespace", key(9, 3), key(8, 4)),
    /mismatched end of group 8/,
  ],
  ["a stray end group", body("v1", "Namespace", key(9, 4)), /unexpected end of group/],
  ["a truncated fixed64", body("v1", "Namespace", key(9, 1), [1, 2]), /truncated 64-bit value/],
  [
    "an int64 beyond 2^53",
    body("v1", "Pod", msg(2, int(4, 2n ** 60n))),
    /cannot be represented in JSON/,
  ],
  [
    "an IntOrString of type 2",
    body("v1", "Service", msg(2, msg(1, msg(4, int(1, 2))))),
    /IntOrString type 2/,
  ],
  [
    "an empty quantity",
    body("v1", "Pod", msg(2, entry(32, "cpu", msg(2, str(1, ""))))),
    /empty quantity/,
  ],
  [
    "a timestamp after 9999",
    body("v1", "Namespace", msg(1, msg(8, int(1, 253402300800)))),
    /outside years 0000-9999/,
  ],
  [
    "fieldsV1 that is not JSON",
    body("v1", "Namespace", msg(1, msg(17, msg(7, str(1, "{"))))),
    /not valid JSON/,
  ],
  ["an envelope without a kind", body("v1", ""), /Kind' is missing/],
];

for (const [what, bytes, message] of MALFORMED) {
  Deno.test(`decodeProtobufObject() rejects ${what} with BadRequest`, () => {
    const err = decodeError(bytes);
    assert.equal(err.reason, "BadRequest");
    assert.equal(err.code, 400);
    assert.match(err.message, message);
  });
}

Deno.test("decodeProtobufObject() rejects an encoded or non-protobuf raw payload", () => {
  const withExtras = (extra: Part) => new Uint8Array([...body("v1", "Namespace"), ...extra]);
  assert.match(decodeError(withExtras(str(3, "gzip"))).message, /contentEncoding "gzip"/);
  assert.match(decodeError(withExtras(str(4, "application/json"))).message, /contentType/);
  const ok = decodeProtobufObject(withExtras(str(4, PROTOBUF_MEDIA_TYPE)));
  assert.equal(ok.kind, "Namespace");
});

Deno.test("decodeProtobufObject() answers a kind without a schema with UnsupportedMediaType", () => {
  for (const [apiVersion, kind] of [["rbac.authorization.k8s.io/v1", "Role"], ["v2", "Pod"]]) {
    const err = decodeError(body(apiVersion!, kind!));
    assert.equal(err.reason, "UnsupportedMediaType");
    assert.equal(err.code, 415);
    assert.equal(
      err.message,
      "the body of the request was in an unknown format - accepted media types include: " +
        "application/json, application/yaml",
    );
  }
});

Deno.test("decodeProtobufObject() throws only ApiError for random and mutated bodies", async () => {
  // A fixed-seed xorshift PRNG keeps failures reproducible.
  let seed = 0x2545f491;
  const next = () => {
    seed ^= seed << 13;
    seed ^= seed >>> 17;
    seed ^= seed << 5;
    return (seed >>> 0) / 0x100000000;
  };
  const randomBytes = (n: number) => Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
  const seeds = await Promise.all(
    ["create_deployment", "create_cronjob", "debug_copy_to_pod"].map((f) =>
      Deno.readFile(new URL(`${f}.pb`, TESTDATA))
    ),
  );
  const cases: Uint8Array[] = [];
  for (let i = 0; i < 2000; i++) {
    cases.push(randomBytes(Math.floor(next() * 64)));
    cases.push(new Uint8Array([0x6b, 0x38, 0x73, 0x00, ...randomBytes(Math.floor(next() * 128))]));
    cases.push(body("v1", "Pod", [...randomBytes(Math.floor(next() * 128))]));
    const base = seeds[i % seeds.length]!;
    const mutated = base.slice(0, Math.max(4, Math.floor(next() * base.length * 1.1)));
    for (let flips = 1 + Math.floor(next() * 4); flips > 0; flips--) {
      const at = 4 + Math.floor(next() * (mutated.length - 4));
      if (at < mutated.length) mutated[at] = Math.floor(next() * 256);
    }
    cases.push(mutated);
  }
  let decoded = 0;
  for (const c of cases) {
    try {
      JSON.stringify(decodeProtobufObject(c));
      decoded++;
    } catch (e) {
      if (!(e instanceof ApiError)) throw e;
      assert.ok(e.code === 400 || e.code === 415, `unexpected code ${e.code}: ${e.message}`);
    }
  }
  assert.ok(decoded > 0, "some mutated bodies still decode");
});

// --- the schema table ---

Deno.test("MESSAGES has unique field numbers and JSON names in every message", () => {
  for (const [name, fields] of Object.entries(MESSAGES)) {
    const numbers = fields.map(([n]) => n);
    assert.equal(new Set(numbers).size, numbers.length, `${name}: duplicate field number`);
    const names = fields.map(([, tag]) => tag.split(",")[0]).filter((n) => n !== "");
    assert.equal(new Set(names).size, names.length, `${name}: duplicate JSON name`);
  }
});
