/**
 * Fuzz tests: thousands of malformed or invalid request bodies, generated from a seeded PRNG,
 * on POST, PUT and PATCH (JSON, merge and strategic merge) of several resources. Every one
 * must be answered with a 4xx `kind: Status` (never a 5xx, never a hang) and the store must
 * be exactly as before (every object, every resourceVersion, and the revision).
 *
 * The bulk runs in-process (`createApiApp` over an in-memory KV store, `app.request()`); a
 * smaller sample, including bodies over the size limit, goes through the real HTTP server.
 *
 * Set `FUZZ_SEED` to reproduce a run; the seed is printed when a run fails.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createApiApp } from "../control/api/app.ts";
import { openKvStore } from "../storage/kv_store.ts";
import { startCluster } from "./_harness.ts";

const TOKEN = "fuzz-admin-token";
const SEED = Number(Deno.env.get("FUZZ_SEED") ?? 20_240_611);
const IN_PROCESS_CASES = 3_000;
const HTTP_CASES = 300;
const HTTP_CONCURRENCY = 4;
/** A request that takes longer than this counts as a hang. */
const HANG_MS = 20_000;
/** kube-apiserver's (and our default) request body limit. */
const BODY_LIMIT = 3 * 1024 * 1024;
const NS = "fuzz";

/** mulberry32: a small, fast, seedable PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

class Random {
  constructor(readonly next: () => number) {}
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  pick<T>(items: readonly T[]): T {
    const item = items[Math.floor(this.next() * items.length)];
    if (item === undefined) throw new Error("pick from an empty list");
    return item;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  bytes(n: number): Uint8Array {
    return Uint8Array.from({ length: n }, () => this.int(0, 255));
  }
}

type Json = Record<string, unknown>;

/** One resource the fuzzer targets, with a valid object that already exists. */
interface Target {
  resource: string;
  collection: string;
  /** path of the existing object named `base` */
  item: string;
  valid: () => Json;
}

const TARGETS: readonly Target[] = [
  {
    resource: "configmaps",
    collection: `/api/v1/namespaces/${NS}/configmaps`,
    item: `/api/v1/namespaces/${NS}/configmaps/base`,
    valid: () => ({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "base", labels: { app: "base" } },
      data: { a: "1" },
    }),
  },
  {
    resource: "secrets",
    collection: `/api/v1/namespaces/${NS}/secrets`,
    item: `/api/v1/namespaces/${NS}/secrets/base`,
    valid: () => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "base" },
      type: "Opaque",
      data: { k: btoa("v") },
    }),
  },
  {
    resource: "services",
    collection: `/api/v1/namespaces/${NS}/services`,
    item: `/api/v1/namespaces/${NS}/services/base`,
    valid: () => ({
      apiVersion: "v1",
      kind: "Service",
      metadata: { name: "base" },
      spec: { selector: { app: "base" }, ports: [{ port: 80, targetPort: 8080 }] },
    }),
  },
  {
    resource: "deployments",
    collection: `/apis/apps/v1/namespaces/${NS}/deployments`,
    item: `/apis/apps/v1/namespaces/${NS}/deployments/base`,
    valid: () => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "base" },
      spec: {
        replicas: 1,
        selector: { matchLabels: { app: "base" } },
        template: {
          metadata: { labels: { app: "base" } },
          spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
        },
      },
    }),
  },
  {
    resource: "namespaces",
    collection: "/api/v1/namespaces",
    item: `/api/v1/namespaces/${NS}`,
    valid: () => ({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }),
  },
];

/** Names Kubernetes rejects (DNS-1123 subdomain / label rules). */
const BAD_NAMES: readonly string[] = [
  "a;b",
  "$(reboot)",
  "`id`",
  "../etc",
  "..",
  ".",
  "a/b",
  "a b",
  " lead",
  "UPPER",
  "Mixed-Case",
  "",
  "x".repeat(300),
  "__proto__",
  "-start",
  "end-",
  "ñame",
  "a\nb",
  "a\u0000b",
  "%2e%2e",
  "name?x=1",
  "a*",
];

const BROKEN_JSON: readonly string[] = [
  "",
  " ",
  "{",
  "}",
  "{]",
  '{"a":}',
  '{"a" 1}',
  "{'a': 1}",
  "{}x",
  '{"a":1,}',
  "[1,2",
  "NaN",
  "undefined",
  '{"a":"\\x"}',
  '{"a":"\u0000',
  "\uFEFF{",
  "nul",
  "tru",
  '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"},"data":{"a":"1"}',
];

/** A request to try: the description is what a failure report shows. */
interface Case {
  kind: string;
  method: "GET" | "POST" | "PUT" | "PATCH";
  path: string;
  contentType: string;
  body?: string | Uint8Array;
}

const PATCH_TYPES = {
  json: "application/json-patch+json",
  merge: "application/merge-patch+json",
  strategic: "application/strategic-merge-patch+json",
} as const;

function setPath(obj: Json, path: readonly string[], value: unknown): Json {
  let cursor: Json = obj;
  for (const key of path.slice(0, -1)) {
    const next = cursor[key];
    if (typeof next !== "object" || next === null || Array.isArray(next)) cursor[key] = {};
    cursor = cursor[key] as Json;
  }
  const last = path[path.length - 1];
  if (last !== undefined) cursor[last] = value;
  return obj;
}

/** `depth` nested arrays or objects, built as text (no recursion anywhere). */
function deep(depth: number, r: Random): string {
  return r.chance(0.5)
    ? "[".repeat(depth) + "]".repeat(depth)
    : '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
}

/** A body that makes a valid object invalid; every variant must be rejected. */
function invalidObject(
  target: Target,
  r: Random,
  forPut: boolean,
): { kind: string; body: string; query?: string } {
  const obj = target.valid();
  const name = forPut ? "base" : `new-${r.int(0, 1e6)}`;
  setPath(obj, ["metadata", "name"], name);
  const wrongTypes: [string[], unknown][] = [
    [["metadata"], r.pick(["meta", 1, [], true])],
    [["metadata", "name"], r.pick([1, {}, [], true, 1.5])],
    [["metadata", "labels"], r.pick([[], "x", { app: 1 }, { app: {} }])],
    [["metadata", "annotations"], r.pick([[], 7, { a: { b: "c" } }, { a: false }])],
    [["kind"], r.pick([1, {}, [], true])],
    [["apiVersion"], r.pick([1, {}, [], false])],
    [["metadata", "namespace"], r.pick([1, [], {}])],
  ];
  if (target.resource === "configmaps" || target.resource === "secrets") {
    wrongTypes.push([["data"], r.pick([[], "x", 5, { a: 1 }, { a: ["x"] }, { a: {} }])]);
  }
  if (target.resource === "secrets") {
    wrongTypes.push([["data"], { k: r.pick(["not base64!", "%%%", "a"]) }]);
    wrongTypes.push([["stringData"], r.pick([[], 3, { k: 3 }])]);
  }
  if (target.resource === "deployments") {
    wrongTypes.push([["spec", "replicas"], r.pick(["three", -1, 1.5, [], {}])]);
    wrongTypes.push([["spec", "selector"], r.pick(["app=base", [], 5])]);
    wrongTypes.push([["spec", "template", "spec", "containers"], r.pick([{}, "x", [], [{}]])]);
    wrongTypes.push([["spec", "template", "metadata", "labels"], { app: "other" }]);
  }
  if (target.resource === "services") {
    wrongTypes.push([
      ["spec", "ports"],
      r.pick(["80", {}, [{ port: "80" }], [{ port: 70_000 }], [{ port: 0 }]]),
    ]);
    wrongTypes.push([["spec", "type"], r.pick(["Bogus", 1])]);
  }

  const variant = r.int(0, 11);
  switch (variant) {
    case 0: {
      const [path, value] = r.pick(wrongTypes);
      return {
        kind: `wrong type at ${path.join(".")}`,
        body: JSON.stringify(setPath(obj, path, value)),
      };
    }
    case 1: {
      if (forPut) {
        return {
          kind: "name differs from URL",
          body: JSON.stringify(setPath(obj, ["metadata", "name"], "other")),
        };
      }
      return {
        kind: "invalid metadata.name",
        body: JSON.stringify(setPath(obj, ["metadata", "name"], r.pick(BAD_NAMES))),
      };
    }
    case 2: {
      const [field, value] = r.pick(
        [
          ["kind", r.pick(["Foo", "configmap", "Pod", "ConfigMapList", "Status"])],
          ["apiVersion", r.pick(["v2", "apps/v9", "v1/extra", "../v1", "bogus.io/v1"])],
        ] as const,
      );
      if (field === "kind" && value === obj.kind) {
        return { kind: "kind Foo", body: JSON.stringify({ ...obj, kind: "Foo" }) };
      }
      return { kind: `unknown ${field}`, body: JSON.stringify({ ...obj, [field]: value }) };
    }
    case 3: {
      const depth = r.pick([64, 1_000, 10_000, 100_000]);
      if (target.resource === "configmaps" || target.resource === "secrets") {
        return {
          kind: "deep nesting in data",
          body: JSON.stringify(obj).replace(/"data":\{[^}]*\}/, `"data":${deep(depth, r)}`),
        };
      }
      return {
        kind: "deep nesting in an unknown field (strict)",
        body: JSON.stringify(obj).replace(/^\{/, `{"bogus":${deep(depth, r)},`),
        query: "fieldValidation=Strict",
      };
    }
    case 4:
      return {
        kind: "unknown field (strict)",
        body: JSON.stringify({
          ...obj,
          [r.pick(["bogus", "Data", "metadata2", "spec2"])]: { x: 1 },
        }),
        query: "fieldValidation=Strict",
      };
    case 5: {
      const key = r.pick([
        "__proto__",
        "bad key",
        "-x",
        "a/b/c",
        "x".repeat(64),
        "prefix.example.com/",
        "",
      ]);
      const labels = JSON.stringify({ [key]: "v" });
      const metadata = `{"name":${JSON.stringify(name)},"labels":${labels}}`;
      return {
        kind: "invalid label key",
        body: JSON.stringify({ ...obj, metadata: "M" }).replace('"M"', metadata),
      };
    }
    case 6:
      return {
        kind: "invalid label value",
        body: JSON.stringify(
          setPath(obj, ["metadata", "labels"], {
            app: r.pick(["a b", "x".repeat(64), "-x", "a;b", "$(x)"]),
          }),
        ),
      };
    case 7:
      return {
        kind: "__proto__ pollution",
        body: `{"__proto__":{"kind":"Secret","isAdmin":true},${
          JSON.stringify({ ...obj, metadata: { name: "__proto__" } }).slice(1)
        }`,
      };
    case 8: {
      if (target.resource === "namespaces") {
        return {
          kind: "invalid namespace name",
          body: JSON.stringify(setPath(obj, ["metadata", "name"], r.pick(BAD_NAMES))),
        };
      }
      if (forPut) {
        return {
          kind: "stale resourceVersion",
          body: JSON.stringify(
            setPath(
              obj,
              ["metadata", "resourceVersion"],
              r.pick(["1", "999999999", "abc", "-1", "0x10"]),
            ),
          ),
        };
      }
      return {
        kind: "namespace differs from URL",
        body: JSON.stringify(setPath(obj, ["metadata", "namespace"], "other")),
      };
    }
    case 9:
      return {
        kind: "invalid generateName",
        body: JSON.stringify({
          ...obj,
          metadata: { generateName: r.pick(["UPPER-", "a;b-", "$(x)", "_-"]) },
        }),
      };
    case 10: {
      const size = r.pick([300_000, 1_100_000, 2_000_000]);
      if (target.resource === "configmaps") {
        return {
          kind: "ConfigMap data over 1 MiB / annotations over 256 KiB",
          body: JSON.stringify(
            setPath(obj, ["data", "big"], "x".repeat(Math.max(size, 1_100_000))),
          ),
        };
      }
      return {
        kind: "annotations over 256 KiB",
        body: JSON.stringify(setPath(obj, ["metadata", "annotations"], { big: "x".repeat(size) })),
      };
    }
    default:
      return {
        kind: "huge invalid name",
        body: JSON.stringify(
          setPath(obj, ["metadata", "name"], "a".repeat(r.pick([254, 1_000, 100_000]))),
        ),
      };
  }
}

/** A JSON patch that cannot apply or makes the object invalid. */
function invalidJsonPatch(target: Target, r: Random): { kind: string; body: string } {
  const ops: [string, unknown][] = [
    ["not an array", { op: "add", path: "/data/x", value: "1" }],
    ["unknown op", [{
      op: r.pick(["bogus", "ADD", "", "merge"]),
      path: "/metadata/labels/x",
      value: "1",
    }]],
    ["path without leading slash", [{ op: "add", path: "metadata/labels/x", value: "1" }]],
    ["replace of a missing path", [{
      op: "replace",
      path: "/metadata/labels/missing",
      value: "1",
    }]],
    ["remove of a missing path", [{ op: "remove", path: "/metadata/annotations/missing" }]],
    ["move from a missing path", [{ op: "move", from: "/nope", path: "/metadata/labels/x" }]],
    ["failing test then add", [{ op: "test", path: "/metadata/name", value: "not-base" }, {
      op: "add",
      path: "/metadata/labels/x",
      value: "1",
    }]],
    ["rename", [{
      op: "replace",
      path: "/metadata/name",
      value: r.pick(["other", "__proto__", "UPPER"]),
    }]],
    ["change kind", [{
      op: "replace",
      path: "/kind",
      value: r.pick([otherKind(target), "Foo", 5]),
    }]],
    ["change apiVersion", [{ op: "replace", path: "/apiVersion", value: "v9" }]],
    ["remove metadata", [{ op: "remove", path: "/metadata" }]],
    ["invalid label key", [{ op: "add", path: "/metadata/labels/bad key", value: "v" }]],
    ["__proto__ path", [{ op: "add", path: "/__proto__/polluted", value: "yes" }, {
      op: "replace",
      path: "/metadata/name",
      value: "x y",
    }]],
    ["op missing path", [{ op: "add", value: "1" }]],
    ["array index out of range", [{ op: "add", path: "/metadata/finalizers/5", value: "x" }]],
    ["wrong value type", [{ op: "add", path: "/metadata/labels", value: r.pick([[], 3, "x"]) }]],
  ];
  if (target.resource === "configmaps") {
    ops.push(["data value not a string", [{
      op: "add",
      path: "/data/n",
      value: r.pick([1, {}, [], true]),
    }]]);
  }
  if (target.resource === "deployments") {
    ops.push(["replicas not an integer", [{
      op: "replace",
      path: "/spec/replicas",
      value: r.pick(["x", -3, 0.5]),
    }]]);
  }
  if (target.resource === "services") {
    ops.push(["port out of range", [{
      op: "replace",
      path: "/spec/ports/0/port",
      value: r.pick([0, 70_000, "80"]),
    }]]);
  }
  if (r.chance(0.03)) {
    return {
      kind: "10 001 operations",
      body: JSON.stringify(
        Array.from({ length: 10_001 }, () => ({ op: "test", path: "/kind", value: "Nope" })),
      ),
    };
  }
  const [kind, body] = r.pick(ops);
  return { kind, body: JSON.stringify(body) };
}

/** A merge or strategic merge patch that makes the object invalid. */
function invalidMergePatch(
  target: Target,
  r: Random,
  strategic: boolean,
): { kind: string; body: string } {
  const patches: [string, string][] = [
    ["top-level array", "[1,2]"],
    ["top-level scalar", r.pick(["5", '"x"', "true"])],
    ["rename", JSON.stringify({ metadata: { name: r.pick(["other", "UPPER", "__proto__"]) } })],
    ["change kind", JSON.stringify({ kind: r.pick([otherKind(target), "Foo"]) })],
    ["change apiVersion", JSON.stringify({ apiVersion: "v9" })],
    ["metadata wrong type", JSON.stringify({ metadata: r.pick(["x", 5, []]) })],
    ["labels wrong type", JSON.stringify({ metadata: { labels: r.pick([[], "x", { a: 1 }]) } })],
    ["invalid label key", JSON.stringify({ metadata: { labels: { "bad key": "v" } } })],
    [
      "stale resourceVersion precondition",
      JSON.stringify({ metadata: { resourceVersion: "999999999" }, data: { z: "1" } }),
    ],
    ["__proto__ pollution", '{"__proto__":{"polluted":"yes"},"metadata":{"name":"x y"}}'],
    ["deep nesting", `{"metadata":{"labels":${deep(r.pick([100, 10_000, 100_000]), r)}}}`],
  ];
  if (target.resource === "configmaps" || target.resource === "secrets") {
    patches.push(["data wrong type", JSON.stringify({ data: r.pick([5, "x", [], { a: 1 }]) })]);
  }
  if (target.resource === "deployments") {
    patches.push([
      "replicas wrong type",
      JSON.stringify({ spec: { replicas: r.pick(["x", -1, 1.5]) } }),
    ]);
    if (!strategic) {
      // (a strategic patch merges lists by key, so `[]` there is a no-op, not an error)
      patches.push([
        "empty containers",
        JSON.stringify({ spec: { template: { spec: { containers: [] } } } }),
      ]);
    } else {
      patches.push([
        "container without merge key",
        JSON.stringify({ spec: { template: { spec: { containers: [{ image: "x" }] } } } }),
      ]);
    }
  }
  if (strategic) {
    patches.push(["unknown $patch directive", JSON.stringify({ $patch: r.pick(["bogus", 5]) })]);
  }
  const [kind, body] = r.pick(patches);
  return { kind, body };
}

/** Draws one case. */
function drawCase(r: Random): Case {
  const target = r.pick(TARGETS);
  const roll = r.next();

  // Bodies that are not JSON at all, on every verb and content type.
  if (roll < 0.15) {
    const method = r.pick(["POST", "PUT", "PATCH"] as const);
    const contentType = method === "PATCH"
      ? r.pick(Object.values(PATCH_TYPES))
      : "application/json";
    const path = method === "POST" ? target.collection : target.item;
    const valid = JSON.stringify(target.valid());
    const choice = r.int(0, 3);
    const body = choice === 0
      ? r.pick(BROKEN_JSON)
      : choice === 1
      ? valid.slice(0, r.int(0, valid.length - 1))
      : choice === 2
      ? r.bytes(r.int(1, 512))
      : r.pick(["null", "[]", "1", '"str"', "true", "[null]"]);
    const kind = choice === 3 ? "JSON that is not an object" : "malformed JSON";
    if (choice === 3 && method === "PATCH") {
      return {
        kind: `${kind} (patch)`,
        method,
        path,
        contentType: PATCH_TYPES.json,
        body: r.pick(["null", "1", '"str"', "true", "[null]"]),
      };
    }
    return { kind, method, path, contentType, body };
  }

  // Unsupported media types.
  if (roll < 0.18) {
    const method = r.pick(["POST", "PUT", "PATCH"] as const);
    return {
      kind: "unsupported content type",
      method,
      path: method === "POST" ? target.collection : target.item,
      contentType: r.pick([
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "image/png",
      ]),
      body: JSON.stringify({ ...target.valid(), metadata: { name: "ctype" } }),
    };
  }

  if (roll < 0.5) {
    const { kind, body, query } = invalidObject(target, r, false);
    const path = target.collection + (query ? `?${query}` : "");
    return { kind: `POST ${kind}`, method: "POST", path, contentType: "application/json", body };
  }

  if (roll < 0.53 && target.resource !== "namespaces") {
    const body = JSON.stringify({ ...target.valid(), metadata: { name: "orphan" } });
    return {
      kind: "POST into a namespace that does not exist",
      method: "POST",
      path: target.collection.replace(`/namespaces/${NS}/`, "/namespaces/no-such-ns/"),
      contentType: "application/json",
      body,
    };
  }

  if (roll < 0.72) {
    if (r.chance(0.1)) {
      const name = r.pick(
        BAD_NAMES.filter((n) => n !== "" && !n.includes("/") && n !== "." && n !== ".."),
      );
      const body = JSON.stringify({ ...target.valid(), metadata: { name } });
      return {
        kind: "PUT to an invalid or missing name",
        method: "PUT",
        path: `${target.collection}/${encodeURIComponent(name)}`,
        contentType: "application/json",
        body,
      };
    }
    const { kind, body, query } = invalidObject(target, r, true);
    const path = target.item + (query ? `?${query}` : "");
    return { kind: `PUT ${kind}`, method: "PUT", path, contentType: "application/json", body };
  }

  const patchType = r.pick(["json", "merge", "strategic"] as const);
  const patch = patchType === "json"
    ? invalidJsonPatch(target, r)
    : invalidMergePatch(target, r, patchType === "strategic");
  return {
    kind: `PATCH (${patchType}) ${patch.kind}`,
    method: "PATCH",
    path: target.item,
    contentType: PATCH_TYPES[patchType],
    body: patch.body,
  };
}

/** Bodies over the limit, on every verb. */
function oversizedCases(r: Random): Case[] {
  return TARGETS.flatMap((target) => {
    const size = BODY_LIMIT + r.int(1, 2 * 1024 * 1024);
    const body = JSON.stringify(
      setPath(target.valid(), ["metadata", "annotations"], { big: "x".repeat(size) }),
    );
    return [
      {
        kind: "body over the limit",
        method: "POST" as const,
        path: target.collection,
        contentType: "application/json",
        body: body.replace('"name":"base"', '"name":"huge"'),
      },
      {
        kind: "body over the limit",
        method: "PUT" as const,
        path: target.item,
        contentType: "application/json",
        body,
      },
      {
        kind: "body over the limit",
        method: "PATCH" as const,
        path: target.item,
        contentType: PATCH_TYPES.merge,
        body: JSON.stringify({ metadata: { annotations: { big: "x".repeat(size) } } }),
      },
    ];
  });
}

type Send = (c: Case) => Promise<{ status: number; contentType: string; text: string }>;

interface Failure {
  c: Case;
  problem: string;
  status?: number;
  response?: string;
}

/** Sends one case and describes what is wrong with the answer, if anything. */
async function check(send: Send, c: Case): Promise<Failure | undefined> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hang = new Promise<"hang">((resolve) => timer = setTimeout(() => resolve("hang"), HANG_MS));
  try {
    const answer = await Promise.race([send(c), hang]);
    if (answer === "hang") return { c, problem: `no answer within ${HANG_MS} ms` };
    const { status, text } = answer;
    const excerpt = text.slice(0, 400);
    if (status < 400 || status > 499) {
      return { c, problem: `status ${status}`, status, response: excerpt };
    }
    let body: Json;
    try {
      body = JSON.parse(text) as Json;
    } catch {
      return { c, problem: "body is not JSON", status, response: excerpt };
    }
    if (body.kind !== "Status" || body.apiVersion !== "v1" || body.status !== "Failure") {
      return { c, problem: "body is not a Failure Status", status, response: excerpt };
    }
    if (body.code !== status) {
      return {
        c,
        problem: `Status.code ${body.code} != HTTP ${status}`,
        status,
        response: excerpt,
      };
    }
    if (typeof body.reason !== "string" || typeof body.message !== "string") {
      return { c, problem: "Status without reason or message", status, response: excerpt };
    }
    return undefined;
  } catch (error) {
    return { c, problem: `request threw: ${error}` };
  } finally {
    clearTimeout(timer);
  }
}

/** Runs cases with at most `concurrency` in flight. */
async function runCases(
  send: Send,
  cases: readonly Case[],
  concurrency: number,
): Promise<Failure[]> {
  const failures: Failure[] = [];
  let next = 0;
  const worker = async () => {
    while (next < cases.length) {
      const c = cases[next++];
      if (!c) break;
      const failure = await check(send, c);
      if (failure) failures.push(failure);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

function describeFailures(failures: readonly Failure[], total: number): string {
  const byKind = new Map<string, Failure[]>();
  for (const f of failures) {
    const key = `${f.c.kind}: ${f.problem.replace(/\d+ ms/, "N ms")}`;
    byKind.set(key, [...(byKind.get(key) ?? []), f]);
  }
  const lines = [
    `${failures.length} of ${total} cases failed (FUZZ_SEED=${SEED}); one example per kind:`,
  ];
  for (const [key, group] of byKind) {
    const f = group[0]!;
    const body = f.c.body instanceof Uint8Array
      ? `<${f.c.body.length} random bytes>`
      : f.c.body ?? "";
    const shown = body.length > 300 ? `${body.slice(0, 300)}… (${body.length} chars)` : body;
    lines.push(
      `- [${group.length}×] ${key}\n    ${f.c.method} ${
        f.c.path.slice(0, 200)
      } (${f.c.contentType})\n    body: ${shown}` +
        (f.status === undefined ? "" : `\n    -> ${f.status} ${f.response}`),
    );
  }
  return lines.join("\n");
}

async function seed(send: Send): Promise<void> {
  const namespace = await send({
    kind: "seed",
    method: "POST",
    path: "/api/v1/namespaces",
    contentType: "application/json",
    body: JSON.stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: NS } }),
  });
  assert.equal(namespace.status, 201, `seeding namespace ${NS}: ${namespace.text}`);
  for (const target of TARGETS.filter((t) => t.resource !== "namespaces")) {
    const created = await send({
      kind: "seed",
      method: "POST",
      path: target.collection,
      contentType: "application/json",
      body: JSON.stringify(target.valid()),
    });
    assert.equal(created.status, 201, `seeding ${target.collection}: ${created.text}`);
  }
}

/** A kind other than the target's, for patches that try to change it. */
function otherKind(target: Target): string {
  return target.valid().kind === "Secret" ? "ConfigMap" : "Secret";
}

/** What differs between two listings: objects added, removed, or written to. */
function diffObjects(before: readonly unknown[], after: readonly unknown[]): string[] {
  const index = (items: readonly unknown[]) =>
    new Map(items.map((item) => {
      const o = item as { kind?: string; metadata?: { namespace?: string; name?: string } };
      return [`${o.kind} ${o.metadata?.namespace ?? ""}/${o.metadata?.name}`, JSON.stringify(o)];
    }));
  const was = index(before);
  const now = index(after);
  const changes: string[] = [];
  for (const [key, json] of now) {
    const old = was.get(key);
    if (old === undefined) changes.push(`added ${key}: ${json.slice(0, 300)}`);
    else if (old !== json) changes.push(`changed ${key}: ${json.slice(0, 300)}`);
  }
  for (const key of was.keys()) if (!now.has(key)) changes.push(`removed ${key}`);
  return changes;
}

/** Fails with one report of the bad answers and of what changed in the store. */
function assertClean(
  failures: readonly Failure[],
  changes: readonly string[],
  total: number,
): void {
  const report: string[] = [];
  if (failures.length > 0) report.push(describeFailures(failures, total));
  if (changes.length > 0) {
    report.push(
      `the store changed during the fuzz run (${changes.length} differences):\n` +
        changes.slice(0, 20).map((c) => `- ${c}`).join("\n"),
    );
  }
  assert.ok(report.length === 0, report.join("\n\n"));
}

function drawCases(r: Random, n: number): Case[] {
  return [...oversizedCases(r), ...Array.from({ length: n }, () => drawCase(r))];
}

Deno.test("API rejects thousands of malformed bodies in-process with 4xx Status and no change", async () => {
  const store = await openKvStore(":memory:");
  try {
    const app = createApiApp({ store, tokens: [TOKEN] });
    const send: Send = async (c) => {
      const response = await app.request(c.path, {
        method: c.method,
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": c.contentType },
        body: c.body as BodyInit | undefined,
      });
      return {
        status: response.status,
        contentType: response.headers.get("content-type") ?? "",
        text: await response.text(),
      };
    };
    await seed(send);
    const before = { revision: store.revision(), items: (await store.list("/")).items };

    const cases = drawCases(new Random(prng(SEED)), IN_PROCESS_CASES);
    const failures = await runCases(send, cases, 1);

    const after = { revision: store.revision(), items: (await store.list("/")).items };
    const changes = diffObjects(before.items, after.items);
    if (after.revision !== before.revision) {
      changes.unshift(`store revision ${before.revision} -> ${after.revision}`);
    }
    assertClean(failures, changes, cases.length);
  } finally {
    await store.close();
  }
});

/** Every object the fuzzer could touch, as listed through the API. */
async function listAll(send: Send): Promise<Json[]> {
  const lists: Json[] = [];
  for (const target of TARGETS) {
    const got = await send({
      kind: "list",
      method: "GET",
      path: target.collection,
      contentType: "application/json",
    });
    assert.equal(got.status, 200, `listing ${target.collection}: ${got.text}`);
    const list = JSON.parse(got.text) as { items: Json[] };
    lists.push(...list.items);
  }
  return lists;
}

/**
 * The listing once the controllers are done with the seeded objects (the deployment
 * controller gives the Deployment its revision annotation and status, say): two listings
 * half a second apart that agree, within 15 s.
 */
async function settled(send: Send): Promise<Json[]> {
  let last = JSON.stringify(await listAll(send));
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await listAll(send);
    if (JSON.stringify(now) === last) return now;
    last = JSON.stringify(now);
  }
  throw new Error("the seeded objects kept changing for 15 s");
}

Deno.test("API over HTTP rejects malformed and oversized bodies with 4xx Status and no change", async () => {
  await using cluster = await startCluster({ mode: "server" });
  const send: Send = async (c) => {
    const response = await fetch(cluster.url + c.path, {
      method: c.method,
      headers: { authorization: `Bearer ${cluster.token}`, "content-type": c.contentType },
      body: c.body as BodyInit | undefined,
      client: cluster.endpoint.client,
    });
    return {
      status: response.status,
      contentType: response.headers.get("content-type") ?? "",
      text: await response.text(),
    };
  };
  await seed(send);
  const before = await settled(send);

  const cases = drawCases(new Random(prng(SEED + 1)), HTTP_CASES);
  const failures = await runCases(send, cases, HTTP_CONCURRENCY);

  const after = await listAll(send);
  assertClean(failures, diffObjects(before, after), cases.length);
});
