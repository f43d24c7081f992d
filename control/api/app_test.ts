import assert from "node:assert/strict";
import { ensureServingPki, SERVING_CA_ANNOTATION } from "../../net/pki.ts";
import { acquireClient, openAgentClients, releaseClient } from "./logs.ts";
import { openKvStore } from "../../storage/kv_store.ts";
import type { Store } from "../../storage/store.ts";
import { createApiApp } from "./app.ts";
import { Objects } from "./objects.ts";
import { RESOURCE_TYPES } from "../../storage/registry.ts";
import { NamespaceController } from "../namespace_controller.ts";

const TOKEN = "test-token";
const AUTH = { authorization: `Bearer ${TOKEN}` };
const CM = "/api/v1/namespaces/default/configmaps";
const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";

type App = ReturnType<typeof createApiApp>;

async function withApp(
  fn: (app: App, store: Store) => Promise<void>,
  options: { maxBodyBytes?: number } = {},
): Promise<void> {
  const store = await openKvStore(":memory:");
  try {
    const objects = new Objects(store);
    const nsType = RESOURCE_TYPES.find((rt) => rt.kind === "Namespace")!;
    for (const name of ["default", "kube-system"]) {
      await objects.create(nsType, undefined, { metadata: { name } }, {
        fieldValidation: "Strict",
        dryRun: false,
      });
    }
    const app = createApiApp({ store, tokens: [TOKEN], bookmarkEveryMs: 50, ...options });
    await fn(app, store);
  } finally {
    await store.close();
  }
}

async function call(
  app: App,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; json: Record<string, unknown>; headers: Headers }> {
  const init: RequestInit = { method, headers: { ...AUTH, ...headers } };
  if (body !== undefined) {
    init.body = typeof body === "string" ? body : JSON.stringify(body);
    (init.headers as Record<string, string>)["content-type"] ??= "application/json";
  }
  const res = await app.request(path, init);
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {}, headers: res.headers };
}

function cm(
  name: string,
  data: Record<string, string> = { a: "1" },
  labels?: Record<string, string>,
) {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, ...(labels ? { labels } : {}) },
    data,
  };
}

function deployment(name: string, image = "busybox:1") {
  return {
    apiVersion: "apps/v1",
    kind: "Deployment",
    metadata: { name },
    spec: {
      selector: { matchLabels: { app: name } },
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "main", image }] },
      },
    },
  };
}

async function snapshot(store: Store): Promise<string> {
  const all = await store.list("/");
  return JSON.stringify({ rev: all.revision, items: all.items });
}

Deno.test("API rejects requests without the admin token with 401 Unauthorized", async () => {
  await withApp(async (app) => {
    const attempts: Record<string, string>[] = [{}, { authorization: "Bearer wrong" }, {
      authorization: "Basic x",
    }];
    for (const headers of attempts) {
      const res = await app.request(CM, { headers });
      assert.equal(res.status, 401);
      const body = await res.json();
      assert.equal(body.kind, "Status");
      assert.equal(body.reason, "Unauthorized");
    }
    assert.equal((await app.request("/healthz")).status, 200);
  });
});

Deno.test("API create, get, update, delete a ConfigMap with Kubernetes metadata", async () => {
  await withApp(async (app) => {
    const created = await call(app, "POST", CM, cm("app"));
    assert.equal(created.status, 201);
    const meta = created.json.metadata as Record<string, unknown>;
    assert.match(String(meta.uid), /^[0-9a-f-]{36}$/);
    assert.match(String(meta.creationTimestamp), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    assert.equal(meta.namespace, "default");
    const got = await call(app, "GET", `${CM}/app`);
    assert.deepEqual(got.json, created.json);
    const updated = await call(app, "PUT", `${CM}/app`, {
      ...got.json,
      data: { a: "2" },
    });
    assert.equal(updated.status, 200);
    assert.ok(
      Number((updated.json.metadata as Record<string, string>).resourceVersion) >
        Number(meta.resourceVersion),
    );
    const deleted = await call(app, "DELETE", `${CM}/app`);
    assert.equal(deleted.status, 200);
    assert.equal(deleted.json.status, "Success");
    assert.equal((await call(app, "GET", `${CM}/app`)).status, 404);
  });
});

Deno.test("API returns each error reason as a Status and a rejected request changes nothing", async () => {
  await withApp(async (app, store) => {
    await call(app, "POST", CM, cm("app"));
    const before = await snapshot(store);
    const cases: Array<[string, string, unknown, number, string, Record<string, string>?]> = [
      ["GET", `${CM}/missing`, undefined, 404, "NotFound"],
      ["POST", CM, cm("app"), 409, "AlreadyExists"],
      [
        "PUT",
        `${CM}/app`,
        { ...cm("app"), metadata: { name: "app", resourceVersion: "1" } },
        409,
        "Conflict",
      ],
      ["POST", CM, cm("Bad_Name"), 422, "Invalid"],
      ["POST", CM, "{not json", 400, "BadRequest"],
      ["POST", CM, { ...cm("x"), data: "x".repeat(5000) }, 413, "RequestEntityTooLarge"],
      ["PUT", CM, cm("app"), 405, "MethodNotAllowed"],
      ["POST", "/api/v1/namespaces/nope/configmaps", cm("y"), 404, "NotFound"],
      ["PATCH", `${CM}/app`, { data: { b: "1" } }, 415, "UnsupportedMediaType", {
        "content-type": "text/plain",
      }],
    ];
    for (const [method, path, body, code, reason, headers] of cases) {
      const res = await call(app, method, path, body, headers);
      assert.equal(res.status, code, `${method} ${path}: ${JSON.stringify(res.json)}`);
      assert.equal(res.json.kind, "Status");
      assert.equal(res.json.reason, reason);
      assert.equal(res.json.code, code);
    }
    assert.equal(await snapshot(store), before);
  }, { maxBodyBytes: 4096 });
});

Deno.test("API Invalid errors name the field in details.causes", async () => {
  await withApp(async (app) => {
    const res = await call(app, "POST", CM, cm("Bad;Name"));
    assert.equal(res.status, 422);
    const details = res.json.details as { causes: Array<{ field: string }>; kind: string };
    assert.equal(details.kind, "ConfigMap");
    assert.ok(details.causes.some((c) => c.field === "metadata.name"));
  });
});

Deno.test("API fieldValidation Strict rejects unknown fields, Warn answers with a Warning header", async () => {
  await withApp(async (app, store) => {
    const body = { ...cm("app"), spec: { nope: 1 } };
    const before = await snapshot(store);
    const strict = await call(app, "POST", `${CM}?fieldValidation=Strict`, body);
    assert.equal(strict.status, 400);
    assert.match(String(strict.json.message), /unknown field "spec"/);
    assert.equal(await snapshot(store), before);
    const warn = await call(app, "POST", CM, body);
    assert.equal(warn.status, 201);
    assert.match(warn.headers.get("warning") ?? "", /unknown field/);
    assert.equal(warn.json.spec, undefined);
  });
});

Deno.test("API list filters by label selectors (equality and set-based) and field selectors", async () => {
  await withApp(async (app) => {
    await call(app, "POST", CM, cm("a", {}, { app: "web", tier: "front" }));
    await call(app, "POST", CM, cm("b", {}, { app: "web", tier: "back" }));
    await call(app, "POST", CM, cm("c", {}, { app: "db" }));
    const names = async (q: string) => {
      const res = await call(app, "GET", `${CM}?${q}`);
      assert.equal(res.status, 200, JSON.stringify(res.json));
      return (res.json.items as Array<{ metadata: { name: string } }>).map((i) => i.metadata.name);
    };
    assert.deepEqual(await names("labelSelector=app%3Dweb"), ["a", "b"]);
    assert.deepEqual(await names("labelSelector=app!%3Dweb"), ["c"]);
    assert.deepEqual(await names("labelSelector=tier%20in%20(front,back)"), ["a", "b"]);
    assert.deepEqual(await names("labelSelector=tier%20notin%20(front)"), ["b", "c"]);
    assert.deepEqual(await names("labelSelector=!tier"), ["c"]);
    assert.deepEqual(await names("fieldSelector=metadata.name%3Db"), ["b"]);
    assert.deepEqual(await names("fieldSelector=metadata.name!%3Db"), ["a", "c"]);
    const bad = await call(app, "GET", `${CM}?fieldSelector=spec.nope%3Dx`);
    assert.equal(bad.status, 400);
    const badLabel = await call(app, "GET", `${CM}?labelSelector=a%20in%20(`);
    assert.equal(badLabel.status, 400);
  });
});

Deno.test("API list paginates with limit/continue at one resourceVersion", async () => {
  await withApp(async (app) => {
    for (const n of ["a", "b", "c", "d", "e"]) await call(app, "POST", CM, cm(n));
    const seen: string[] = [];
    let cont = "";
    let rv = "";
    let pages = 0;
    do {
      const res = await call(app, "GET", `${CM}?limit=2${cont ? `&continue=${cont}` : ""}`);
      assert.equal(res.status, 200);
      const meta = res.json.metadata as {
        continue?: string;
        resourceVersion: string;
        remainingItemCount?: number;
      };
      if (rv) assert.equal(meta.resourceVersion, rv);
      rv = meta.resourceVersion;
      for (const i of res.json.items as Array<{ metadata: { name: string } }>) {
        seen.push(i.metadata.name);
      }
      if (pages === 0) assert.equal(meta.remainingItemCount, 3);
      cont = meta.continue ?? "";
      pages++;
    } while (cont);
    assert.deepEqual(seen, ["a", "b", "c", "d", "e"]);
    assert.equal(pages, 3);
    const bad = await call(app, "GET", `${CM}?limit=2&continue=garbage`);
    assert.equal(bad.status, 400);
  });
});

Deno.test("API PATCH supports json-patch, merge-patch and strategic-merge-patch", async () => {
  await withApp(async (app) => {
    await call(app, "POST", CM, cm("app", { a: "1", b: "2" }));
    const json = await call(app, "PATCH", `${CM}/app`, [
      { op: "replace", path: "/data/a", value: "x" },
      { op: "remove", path: "/data/b" },
    ], { "content-type": "application/json-patch+json" });
    assert.equal(json.status, 200, JSON.stringify(json.json));
    assert.deepEqual(json.json.data, { a: "x" });
    const merge = await call(app, "PATCH", `${CM}/app`, { data: { a: null, c: "3" } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.deepEqual(merge.json.data, { c: "3" });
    await call(app, "POST", DEPLOY, {
      ...deployment("web"),
      spec: {
        ...deployment("web").spec,
        template: {
          metadata: { labels: { app: "web" } },
          spec: {
            containers: [{ name: "main", image: "busybox:1" }, {
              name: "side",
              image: "busybox:1",
            }],
          },
        },
      },
    });
    const smp = await call(app, "PATCH", `${DEPLOY}/web`, {
      spec: { template: { spec: { containers: [{ name: "side", image: "busybox:2" }] } } },
    }, { "content-type": "application/strategic-merge-patch+json" });
    assert.equal(smp.status, 200, JSON.stringify(smp.json));
    const containers = (smp.json.spec as {
      template: { spec: { containers: Array<{ name: string; image: string }> } };
    })
      .template.spec.containers;
    assert.deepEqual(containers.map((c) => `${c.name}=${c.image}`), [
      "main=busybox:1",
      "side=busybox:2",
    ]);
    assert.equal((smp.json.metadata as { generation: number }).generation, 2);
    const failing = await call(app, "PATCH", `${CM}/app`, [{
      op: "test",
      path: "/data/c",
      value: "no",
    }], {
      "content-type": "application/json-patch+json",
    });
    assert.ok(failing.status >= 400 && failing.status < 500);
  });
});

Deno.test("API returns a Table for kubectl's Accept header", async () => {
  await withApp(async (app) => {
    await call(app, "POST", CM, cm("app", { a: "1", b: "2" }));
    const accept =
      "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    const res = await call(app, "GET", CM, undefined, { accept });
    assert.equal(res.json.kind, "Table");
    assert.equal(res.json.apiVersion, "meta.k8s.io/v1");
    const cols = (res.json.columnDefinitions as Array<{ name: string }>).map((c) => c.name);
    assert.deepEqual(cols.slice(0, 3), ["Name", "Data", "Age"]);
    const rows = res.json.rows as Array<
      { cells: unknown[]; object: { metadata: { name: string } } }
    >;
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.cells[0], "app");
    assert.equal(rows[0]!.cells[1], 2);
    assert.equal(rows[0]!.object.metadata.name, "app");
    const one = await call(app, "GET", `${CM}/app`, undefined, { accept });
    assert.equal(one.json.kind, "Table");
  });
});

Deno.test("API serves discovery: /version, /api, /apis (legacy and aggregated), resource lists, OpenAPI v3", async () => {
  await withApp(async (app) => {
    const version = await call(app, "GET", "/version");
    assert.equal(version.json.major, "1");
    const legacy = await call(app, "GET", "/api");
    assert.equal(legacy.json.kind, "APIVersions");
    const aggregated = await call(app, "GET", "/apis", undefined, {
      accept:
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json",
    });
    assert.equal(aggregated.json.kind, "APIGroupDiscoveryList");
    assert.match(aggregated.headers.get("content-type") ?? "", /as=APIGroupDiscoveryList/);
    const v1 = await call(app, "GET", "/api/v1");
    assert.equal(v1.json.kind, "APIResourceList");
    const names = (v1.json.resources as Array<{ name: string }>).map((r) => r.name);
    assert.ok(names.includes("configmaps") && names.includes("pods/status"));
    const apps = await call(app, "GET", "/apis/apps/v1");
    assert.ok(
      (apps.json.resources as Array<{ name: string }>).some((r) => r.name === "deployments/scale"),
    );
    const root = await call(app, "GET", "/openapi/v3");
    const paths = root.json.paths as Record<string, { serverRelativeURL: string }>;
    assert.ok(paths["api/v1"] && paths["apis/apps/v1"]);
    const doc = await call(app, "GET", paths["api/v1"]!.serverRelativeURL);
    assert.equal(doc.status, 200);
    assert.ok(JSON.stringify(doc.json).includes("fieldValidation"));
    assert.equal((await call(app, "GET", "/apis/nope/v1")).status, 404);
  });
});

Deno.test("API watch streams newline-delimited events from a resourceVersion", async () => {
  await withApp(async (app) => {
    const first = await call(app, "POST", CM, cm("a"));
    const rv = (first.json.metadata as { resourceVersion: string }).resourceVersion;
    const ac = new AbortController();
    const res = await app.request(`${CM}?watch=1&resourceVersion=${rv}&allowWatchBookmarks=true`, {
      headers: AUTH,
      signal: ac.signal,
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    await call(app, "POST", CM, cm("b"));
    await call(app, "PATCH", `${CM}/b`, { data: { x: "y" } }, {
      "content-type": "application/merge-patch+json",
    });
    await call(app, "DELETE", `${CM}/b`);
    const types: string[] = [];
    let buffer = "";
    while (types.filter((t) => t !== "BOOKMARK").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        const ev = JSON.parse(line);
        assert.ok(ev.object, "every event carries an object");
        types.push(ev.type);
      }
    }
    assert.deepEqual(types.filter((t) => t !== "BOOKMARK"), ["ADDED", "MODIFIED", "DELETED"]);
    await reader.cancel();
    ac.abort();
  });
});

Deno.test("API watch without resourceVersion starts with synthetic ADDED events and honours timeoutSeconds", async () => {
  await withApp(async (app) => {
    await call(app, "POST", CM, cm("a", {}, { app: "web" }));
    await call(app, "POST", CM, cm("b", {}, { app: "db" }));
    const res = await app.request(`${CM}?watch=true&labelSelector=app%3Dweb&timeoutSeconds=1`, {
      headers: AUTH,
    });
    const text = await res.text();
    const events = text.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(events.map((e) => `${e.type}:${e.object.metadata.name}`), ["ADDED:a"]);
  });
});

Deno.test("API watch turns a label change into ADDED/DELETED for a selector", async () => {
  await withApp(async (app) => {
    const a = await call(app, "POST", CM, cm("a", {}, { app: "web" }));
    const rv = (a.json.metadata as { resourceVersion: string }).resourceVersion;
    const ac = new AbortController();
    const res = await app.request(`${CM}?watch=1&resourceVersion=${rv}&labelSelector=app%3Dweb`, {
      headers: AUTH,
      signal: ac.signal,
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    const patch = (labels: Record<string, string>) =>
      call(app, "PATCH", `${CM}/a`, { metadata: { labels } }, {
        "content-type": "application/merge-patch+json",
      });
    await patch({ app: "db" });
    await patch({ app: "web" });
    let buffer = "";
    while (buffer.split("\n").length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
    }
    const types = buffer.trim().split("\n").map((l) => JSON.parse(l).type);
    assert.deepEqual(types, ["DELETED", "ADDED"]);
    await reader.cancel();
    ac.abort();
  });
});

Deno.test("API watch from an older resourceVersion replays a deletion the listing no longer shows", async () => {
  await withApp(async (app) => {
    // kubectl delete --wait: list by name, then watch from the list's revision; the object
    // goes in between (its last finalizer removed) and the DELETED must still arrive
    const created = await call(app, "POST", CM, cm("gone", {}, { app: "web" }));
    await call(app, "POST", CM, cm("later", {}, { app: "web" }));
    const rv = (created.json.metadata as { resourceVersion: string }).resourceVersion;
    await call(app, "DELETE", `${CM}/gone`);
    await call(app, "POST", CM, cm("new", {}, { app: "web" }));
    for (
      const [selector, expected] of [
        ["fieldSelector=metadata.name%3Dgone", ["DELETED:gone"]],
        ["labelSelector=app%3Dweb", ["DELETED:gone", "ADDED:new"]],
      ] as const
    ) {
      const res = await app.request(
        `${CM}?watch=1&resourceVersion=${rv}&${selector}&timeoutSeconds=1`,
        { headers: AUTH },
      );
      const events = (await res.text()).trim().split("\n").map((l) => JSON.parse(l));
      assert.deepEqual(
        events.map((e) => `${e.type}:${e.object.metadata.name}`).filter((e) =>
          !e.endsWith("later")
        ),
        expected,
        selector,
      );
    }
  });
});

Deno.test("API watch from a compacted resourceVersion reports 410 Expired", async () => {
  const store = await openKvStore(":memory:", { historyLimit: 5 });
  try {
    const app = createApiApp({ store, tokens: [TOKEN] });
    const objects = new Objects(store);
    const nsType = RESOURCE_TYPES.find((rt) => rt.kind === "Namespace")!;
    await objects.create(nsType, undefined, { metadata: { name: "default" } }, {
      fieldValidation: "Strict",
      dryRun: false,
    });
    for (let i = 0; i < 40; i++) await call(app, "POST", CM, cm(`c${i}`));
    let expired = false;
    for (let i = 0; i < 50 && !expired; i++) {
      const res = await app.request(`${CM}?watch=1&resourceVersion=1&timeoutSeconds=1`, {
        headers: AUTH,
      });
      const text = await res.text();
      if (res.status === 410) expired = true;
      else if (text.includes('"type":"ERROR"')) {
        const ev = JSON.parse(text.trim().split("\n")[0]!);
        assert.equal(ev.object.code, 410);
        assert.equal(ev.object.reason, "Expired");
        expired = true;
      } else await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(expired, "a watch from a compacted revision must be told 410 Expired");
  } finally {
    await store.close();
  }
});

Deno.test("API Secret stringData is folded into base64 data", async () => {
  await withApp(async (app) => {
    const res = await call(app, "POST", "/api/v1/namespaces/default/secrets", {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s" },
      stringData: { password: "hunter2" },
    });
    assert.equal(res.status, 201, JSON.stringify(res.json));
    assert.deepEqual(res.json.data, { password: btoa("hunter2") });
    assert.equal(res.json.stringData, undefined);
    assert.equal(res.json.type, "Opaque");
  });
});

Deno.test("API status subresource changes only status; main resource keeps status", async () => {
  await withApp(async (app) => {
    const created = await call(app, "POST", DEPLOY, deployment("web"));
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const withStatus = await call(app, "PUT", `${DEPLOY}/web/status`, {
      ...created.json,
      spec: { ...(created.json.spec as object), replicas: 9 },
      status: { replicas: 1 },
    });
    assert.equal(withStatus.status, 200, JSON.stringify(withStatus.json));
    assert.deepEqual(withStatus.json.status, { replicas: 1 });
    assert.equal((withStatus.json.spec as { replicas: number }).replicas, 1);
    const main = await call(app, "PUT", `${DEPLOY}/web`, {
      ...withStatus.json,
      status: { replicas: 5 },
    });
    assert.deepEqual(main.json.status, { replicas: 1 });
  });
});

Deno.test("API scale subresource reads and writes spec.replicas", async () => {
  await withApp(async (app) => {
    await call(app, "POST", DEPLOY, deployment("web"));
    const scale = await call(app, "GET", `${DEPLOY}/web/scale`);
    assert.equal(scale.json.kind, "Scale");
    assert.equal((scale.json.spec as { replicas: number }).replicas, 1);
    assert.equal((scale.json.status as { selector: string }).selector, "app=web");
    const patched = await call(app, "PATCH", `${DEPLOY}/web/scale`, { spec: { replicas: 3 } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal((patched.json.spec as { replicas: number }).replicas, 3);
    const d = await call(app, "GET", `${DEPLOY}/web`);
    assert.equal((d.json.spec as { replicas: number }).replicas, 3);
  });
});

Deno.test("API delete with finalizers marks deletionTimestamp; removing the last finalizer deletes", async () => {
  await withApp(async (app) => {
    await call(app, "POST", CM, {
      ...cm("held"),
      metadata: { name: "held", finalizers: ["example.com/hold"] },
    });
    const del = await call(app, "DELETE", `${CM}/held`);
    assert.equal(del.status, 202);
    const meta = del.json.metadata as { deletionTimestamp?: string };
    assert.ok(meta.deletionTimestamp);
    const still = await call(app, "GET", `${CM}/held`);
    assert.equal(still.status, 200);
    const added = await call(app, "PATCH", `${CM}/held`, {
      metadata: { finalizers: ["example.com/hold", "x/y"] },
    }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal(added.status, 422);
    const cleared = await call(app, "PATCH", `${CM}/held`, { metadata: { finalizers: null } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal(cleared.status, 200);
    assert.equal((await call(app, "GET", `${CM}/held`)).status, 404);
  });
});

Deno.test("API delete with propagationPolicy Foreground adds the foregroundDeletion finalizer", async () => {
  await withApp(async (app) => {
    await call(app, "POST", DEPLOY, deployment("web"));
    const res = await call(app, "DELETE", `${DEPLOY}/web`, { propagationPolicy: "Foreground" });
    assert.equal(res.status, 202);
    assert.deepEqual((res.json.metadata as { finalizers: string[] }).finalizers, [
      "foregroundDeletion",
    ]);
    const bad = await call(app, "DELETE", `${DEPLOY}/web?propagationPolicy=Sideways`);
    assert.equal(bad.status, 400);
  });
});

Deno.test("API metadata.generation bumps on spec changes only", async () => {
  await withApp(async (app) => {
    const c = await call(app, "POST", DEPLOY, deployment("web"));
    assert.equal((c.json.metadata as { generation: number }).generation, 1);
    const labelled = await call(
      app,
      "PATCH",
      `${DEPLOY}/web`,
      { metadata: { labels: { x: "y" } } },
      {
        "content-type": "application/merge-patch+json",
      },
    );
    assert.equal((labelled.json.metadata as { generation: number }).generation, 1);
    const changed = await call(app, "PATCH", `${DEPLOY}/web`, { spec: { replicas: 2 } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal((changed.json.metadata as { generation: number }).generation, 2);
  });
});

Deno.test("API generateName makes a unique name and dryRun writes nothing", async () => {
  await withApp(async (app, store) => {
    const gen = await call(app, "POST", CM, { ...cm(""), metadata: { generateName: "job-" } });
    assert.equal(gen.status, 201);
    assert.match((gen.json.metadata as { name: string }).name, /^job-[a-z0-9]{5}$/);
    const long = await call(app, "POST", CM, {
      ...cm(""),
      metadata: { generateName: "x".repeat(70) },
    });
    assert.equal(long.status, 201, "a long base is cut to fit 63 characters");
    assert.match((long.json.metadata as { name: string }).name, /^x{58}[a-z0-9]{5}$/);
    const before = await snapshot(store);
    const dry = await call(app, "POST", `${CM}?dryRun=All`, cm("dry"));
    assert.equal(dry.status, 201);
    assert.equal(await snapshot(store), before);
  });
});

Deno.test("Namespace deletion removes the objects in it, then the namespace", async () => {
  await withApp(async (app, store) => {
    const controller = new NamespaceController({ store, types: RESOURCE_TYPES, retryMs: 20 });
    await controller.start();
    try {
      await call(app, "POST", "/api/v1/namespaces", {
        apiVersion: "v1",
        kind: "Namespace",
        metadata: { name: "team" },
      });
      for (const n of ["a", "b"]) {
        await call(app, "POST", "/api/v1/namespaces/team/configmaps", cm(n));
      }
      const del = await call(app, "DELETE", "/api/v1/namespaces/team");
      assert.ok(del.status === 200 || del.status === 202);
      const refused = await call(app, "POST", "/api/v1/namespaces/team/configmaps", cm("c"));
      assert.ok(refused.status === 403 || refused.status === 404, JSON.stringify(refused.json));
      // bounded (15 s) but generous: the suite's other tests may be loading the machine
      for (let i = 0; i < 750; i++) {
        if ((await call(app, "GET", "/api/v1/namespaces/team")).status === 404) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal((await call(app, "GET", "/api/v1/namespaces/team")).status, 404);
      assert.equal((await store.list("/core/configmaps/team/")).items.length, 0);
    } finally {
      await controller.stop();
    }
  });
});

Deno.test("API rejects hostile names in URLs and bodies with 4xx and no change", async () => {
  await withApp(async (app, store) => {
    const before = await snapshot(store);
    for (const name of ["a;b", "$(id)", "..", "a b", "UPPER", "x".repeat(300)]) {
      const res = await call(app, "POST", CM, cm(name));
      assert.equal(res.status, 422, name);
      // ".." in a URL is resolved by the URL parser before it reaches the server.
      if (name === "..") continue;
      const get = await call(app, "GET", `${CM}/${encodeURIComponent(name)}`);
      assert.equal(get.status, 400, name);
    }
    assert.equal(await snapshot(store), before);
  });
});

Deno.test("API answers __proto__ keys, deep nesting and malformed resourceVersions with 4xx and no change", async () => {
  await withApp(async (app, store) => {
    await call(app, "POST", CM, cm("base"));
    const before = await snapshot(store);
    const proto = await call(
      app,
      "POST",
      CM,
      '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p","labels":{"__proto__":"v"}}}',
    );
    assert.equal(proto.status, 422, JSON.stringify(proto.json));
    assert.equal(
      (proto.json.details as { causes: Array<{ field: string }> }).causes[0]!.field,
      "metadata.labels.__proto__",
    );
    const deep = `{"metadata":{"labels":${"[".repeat(10_000)}${"]".repeat(10_000)}}}`;
    for (const type of ["application/merge-patch+json", "application/strategic-merge-patch+json"]) {
      const res = await call(app, "PATCH", `${CM}/base`, deep, { "content-type": type });
      assert.equal(res.status, 400, type);
    }
    for (const rv of ["-1", "1.5", "abc", "99999999999999999999"]) {
      const res = await call(app, "PUT", `${CM}/base`, {
        ...cm("base"),
        metadata: { name: "base", resourceVersion: rv },
      });
      assert.equal(res.status, 400, rv);
    }
    assert.equal(await snapshot(store), before);
  });
});

Deno.test("API pods/binding assigns a node once (409 for a second); no update moves the pod", async () => {
  await withApp(async (app) => {
    const PODS = "/api/v1/namespaces/default/pods";
    const created = await call(app, "POST", PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { containers: [{ name: "c", image: "busybox:1" }] },
    });
    assert.equal(created.status, 201, JSON.stringify(created.json));
    const binding = (node: string) => ({
      apiVersion: "v1",
      kind: "Binding",
      metadata: { name: "p" },
      target: { apiVersion: "v1", kind: "Node", name: node },
    });
    const results = await Promise.all([
      call(app, "POST", `${PODS}/p/binding`, binding("edge-a")),
      call(app, "POST", `${PODS}/p/binding`, binding("edge-b")),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [201, 409]);
    const pod = await call(app, "GET", `${PODS}/p`);
    const winner = results[0]!.status === 201 ? "edge-a" : "edge-b";
    assert.equal((pod.json.spec as { nodeName: string }).nodeName, winner);
    const conditions = (pod.json.status as { conditions: Array<{ type: string; status: string }> })
      .conditions;
    assert.ok(conditions.some((c) => c.type === "PodScheduled" && c.status === "True"));
    const bad = await call(app, "POST", `${PODS}/p/binding`, binding("Not_A_Node"));
    assert.equal(bad.status, 422);
    const get = await call(app, "GET", `${PODS}/p/binding`);
    assert.equal(get.status, 405);

    // no update may move the pod; a status write keeps the stored spec whatever its body says
    const bound = (await call(app, "GET", `${PODS}/p`)).json;
    const moved = await call(app, "PUT", `${PODS}/p`, {
      ...bound,
      spec: { ...(bound.spec as object), nodeName: "elsewhere" },
    });
    assert.equal(moved.status, 422);
    assert.match(String(moved.json.message), /pod updates may not change fields other than/);
    const stale = await call(
      app,
      "PATCH",
      `${PODS}/p/status`,
      { spec: { nodeName: "elsewhere" }, status: { phase: "Running" } },
      { "content-type": "application/merge-patch+json" },
    );
    assert.equal(stale.status, 200, JSON.stringify(stale.json));
    const after = (await call(app, "GET", `${PODS}/p`)).json;
    assert.equal((after.status as { phase: string }).phase, "Running");
    assert.equal((after.spec as { nodeName: string }).nodeName, winner);
  });
});

Deno.test("API pods/log proxies to the agent over HTTPS, trusting only the CA its Node publishes", async () => {
  const dir = await Deno.makeTempDir({ prefix: "edge-agent-pki-" });
  const pki = await ensureServingPki(`${dir}/agent`, ["127.0.0.1"], {
    ca: "edge-agent-ca",
    server: "system:node:edge-1",
  });
  const impostor = await ensureServingPki(`${dir}/other`, ["127.0.0.1"], {
    ca: "edge-agent-ca",
    server: "system:node:edge-1",
  });
  const seen: string[] = [];
  const agent = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: pki.cert,
    key: pki.key,
    onListen: () => {},
  }, (req) => {
    seen.push(
      `${new URL(req.url).pathname}${new URL(req.url).search} ${req.headers.get("authorization")}`,
    );
    return new Response("line 1\nline 2\n", { headers: { "content-type": "text/plain" } });
  });
  try {
    await withApp(async (app) => {
      const PODS = "/api/v1/namespaces/default/pods";
      const node = (name: string, ca?: string) => ({
        apiVersion: "v1",
        kind: "Node",
        metadata: { name, ...(ca ? { annotations: { [SERVING_CA_ANNOTATION]: ca } } : {}) },
        status: {
          addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
          daemonEndpoints: { kubeletEndpoint: { Port: agent.addr.port } },
        },
      });
      await call(app, "POST", "/api/v1/nodes", node("edge-1", impostor.caCert));
      await call(app, "POST", "/api/v1/nodes", node("edge-2"));
      for (const [pod, on] of [["p", "edge-1"], ["q", "edge-2"]]) {
        await call(app, "POST", PODS, {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: pod },
          spec: { containers: [{ name: "a", image: "x:1" }, { name: "b", image: "x:1" }] },
        });
        if (pod === "p") {
          const unbound = await call(app, "GET", `${PODS}/p/log?container=a`);
          assert.equal(unbound.status, 400);
        }
        await call(app, "POST", `${PODS}/${pod}/binding`, { target: { kind: "Node", name: on } });
      }
      const ambiguous = await call(app, "GET", `${PODS}/p/log`);
      assert.equal(ambiguous.status, 400);
      assert.match(String(ambiguous.json.message), /choose one of: \[a b\]/);

      // a certificate of another CA than the Node's: the token is never sent
      const clientsBefore = openAgentClients();
      const wrong = await call(app, "GET", `${PODS}/p/log?container=b`);
      assert.equal(wrong.status, 503);
      assert.equal(openAgentClients(), clientsBefore + 1, "one client for edge-1");
      assert.match(String(wrong.json.message), /^cannot reach the node agent at 127\.0\.0\.1:/);
      const none = await call(app, "GET", `${PODS}/q/log?container=b`);
      assert.equal(none.status, 503);
      assert.match(String(none.json.message), /node edge-2 does not publish the CA/);
      assert.deepEqual(seen, []);

      await call(app, "PATCH", "/api/v1/nodes/edge-1", {
        metadata: { annotations: { [SERVING_CA_ANNOTATION]: pki.caCert } },
      }, { "content-type": "application/merge-patch+json" });
      const res = await app.request(`${PODS}/p/log?container=b&tailLines=2&follow=true`, {
        headers: AUTH,
      });
      assert.equal(res.status, 200);
      assert.equal(await res.text(), "line 1\nline 2\n");
      assert.deepEqual(seen, [
        `/containerLogs/default/p/b?follow=true&tailLines=2 Bearer ${TOKEN}`,
      ]);
      assert.equal(openAgentClients(), clientsBefore + 1, "the client of the old CA was closed");
      // a CA replaced while a stream still uses its client: closed after that stream
      const streaming = acquireClient("edge-9", impostor.caCert);
      const next = acquireClient("edge-9", pki.caCert);
      assert.notEqual(next.client, streaming.client);
      assert.equal(openAgentClients(), clientsBefore + 3);
      releaseClient(streaming);
      assert.equal(openAgentClients(), clientsBefore + 2);
      releaseClient(next);
      assert.equal(acquireClient("edge-9", pki.caCert), next, "one client per node and CA");
      releaseClient(next);
    });
  } finally {
    await agent.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("API deletes a bound pod gracefully: status updates keep it, a grace-0 delete removes it", async () => {
  await withApp(async (app) => {
    const PODS = "/api/v1/namespaces/default/pods";
    await call(app, "POST", PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "p" },
      spec: { terminationGracePeriodSeconds: 7, containers: [{ name: "c", image: "x:1" }] },
    });
    const unbound = await call(app, "POST", PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "q" },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    });
    assert.equal(unbound.status, 201);
    assert.equal(
      (await call(app, "DELETE", `${PODS}/q`)).status,
      200,
      "an unbound pod goes at once",
    );
    await call(app, "POST", `${PODS}/p/binding`, { target: { kind: "Node", name: "edge-1" } });
    const del = await call(app, "DELETE", `${PODS}/p`);
    assert.equal(del.status, 202);
    const meta = del.json.metadata as {
      deletionTimestamp?: string;
      deletionGracePeriodSeconds?: number;
    };
    assert.ok(meta.deletionTimestamp);
    assert.equal(meta.deletionGracePeriodSeconds, 7);
    const status = await call(app, "PATCH", `${PODS}/p/status`, { status: { phase: "Running" } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal(status.status, 200);
    assert.equal((await call(app, "GET", `${PODS}/p`)).status, 200, "still terminating");
    const shorter = await call(app, "DELETE", `${PODS}/p`, { gracePeriodSeconds: 3 });
    assert.equal(
      (shorter.json.metadata as { deletionGracePeriodSeconds: number }).deletionGracePeriodSeconds,
      3,
    );
    assert.equal((await call(app, "DELETE", `${PODS}/p`, { gracePeriodSeconds: 0 })).status, 200);
    assert.equal((await call(app, "GET", `${PODS}/p`)).status, 404);

    // an unbound pod held by a finalizer gets grace 0: it goes once the finalizer does
    await call(app, "POST", PODS, {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "held", finalizers: ["example.com/hold"] },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    });
    const held = await call(app, "DELETE", `${PODS}/held`);
    assert.equal(
      (held.json.metadata as { deletionGracePeriodSeconds: number }).deletionGracePeriodSeconds,
      0,
    );
    const released = await call(app, "PATCH", `${PODS}/held`, { metadata: { finalizers: [] } }, {
      "content-type": "application/merge-patch+json",
    });
    assert.equal(released.status, 200);
    assert.equal((await call(app, "GET", `${PODS}/held`)).status, 404);
  });
});

Deno.test("API generation ignores the key order of an unchanged spec", async () => {
  await withApp(async (app) => {
    const DEPLOY = "/apis/apps/v1/namespaces/default/deployments";
    const template = {
      metadata: { labels: { app: "w" } },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    };
    const created = await call(app, "POST", DEPLOY, {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "w" },
      spec: { selector: { matchLabels: { app: "w" } }, template },
    });
    assert.equal(created.status, 201);
    const body = created.json as { spec: Record<string, unknown>; metadata: object };
    const reordered = Object.fromEntries(Object.entries(body.spec).reverse());
    const updated = await call(app, "PUT", `${DEPLOY}/w`, { ...body, spec: reordered });
    assert.equal(updated.status, 200);
    assert.equal((updated.json.metadata as { generation: number }).generation, 1);
  });
});
