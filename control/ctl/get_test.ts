import assert from "node:assert/strict";
import { fakeFetch, notFound, run } from "./_testing.ts";

const podTable = (rows: { ns: string; name: string; cells: unknown[]; labels?: object }[]) => ({
  kind: "Table",
  apiVersion: "meta.k8s.io/v1",
  metadata: { resourceVersion: "10" },
  columnDefinitions: [
    { name: "Name", type: "string", format: "name", priority: 0 },
    { name: "Ready", type: "string", priority: 0 },
    { name: "Status", type: "string", priority: 0 },
    { name: "Restarts", type: "integer", priority: 0 },
    { name: "Age", type: "string", priority: 0 },
    { name: "IP", type: "string", priority: 1 },
  ],
  rows: rows.map((r) => ({
    cells: [r.name, ...r.cells],
    object: { metadata: { name: r.name, namespace: r.ns, labels: r.labels ?? {} } },
  })),
});

const PODS = podTable([
  {
    ns: "default",
    name: "web-1",
    cells: ["1/1", "Running", 0, "5m", "10.1.0.4"],
    labels: { app: "web", tier: "fe" },
  },
  { ns: "kube-system", name: "dns-abcdef", cells: ["0/1", "Pending", 12, "3d", null] },
]);

Deno.test("runCtl(get) prints the server's Table like kubectl, asking for a Table", async () => {
  const api = fakeFetch(() => ({ body: PODS }));
  const res = await run(["get", "pods"], api.fetch);
  assert.equal(
    res.stdout,
    `NAME         READY   STATUS    RESTARTS   AGE
web-1        1/1     Running   0          5m
dns-abcdef   0/1     Pending   12         3d
`,
  );
  assert.equal(api.requests[0]!.path, "/api/v1/namespaces/default/pods");
  assert.match(api.requests[0]!.headers.get("accept")!, /as=Table;v=v1;g=meta.k8s.io/);
});

Deno.test("runCtl(get) -o wide -A --show-labels adds NAMESPACE, priority-1 columns and LABELS", async () => {
  const api = fakeFetch(() => ({ body: PODS }));
  const res = await run(["get", "po", "-A", "-o", "wide", "--show-labels"], api.fetch);
  assert.equal(
    res.stdout,
    `NAMESPACE     NAME         READY   STATUS    RESTARTS   AGE   IP         LABELS
default       web-1        1/1     Running   0          5m    10.1.0.4   app=web,tier=fe
kube-system   dns-abcdef   0/1     Pending   12         3d    <none>     <none>
`,
  );
  assert.equal(api.requests[0]!.path, "/api/v1/pods");
});

Deno.test("runCtl(get) --no-headers passes selectors and prints rows only", async () => {
  const api = fakeFetch(() => ({ body: PODS }));
  const res = await run(
    ["get", "pods", "--no-headers", "-l", "app=web", "--field-selector", "spec.nodeName=n1"],
    api.fetch,
  );
  assert.equal(
    res.stdout,
    "web-1        1/1   Running   0    5m\ndns-abcdef   0/1   Pending   12   3d\n",
  );
  assert.equal(api.requests[0]!.query.get("labelSelector"), "app=web");
  assert.equal(api.requests[0]!.query.get("fieldSelector"), "spec.nodeName=n1");
});

Deno.test("runCtl(get) reports an empty namespace on stderr", async () => {
  const api = fakeFetch(() => ({ body: podTable([]) }));
  const res = await run(["get", "pods", "-n", "web"], api.fetch);
  assert.equal(res.stdout, "");
  assert.equal(res.stderr, "No resources found in web namespace.\n");
  assert.equal(res.code, 0);
});

Deno.test("runCtl(get all) prints one table per kind with kind-prefixed names", async () => {
  const api = fakeFetch((req) => {
    if (req.path.endsWith("/pods")) {
      return {
        body: podTable([{ ns: "default", name: "web-1", cells: ["1/1", "Running", 0, "5m", ""] }]),
      };
    }
    if (req.path.endsWith("/services")) {
      return {
        body: {
          kind: "Table",
          columnDefinitions: [{ name: "Name", type: "string", priority: 0 }, {
            name: "Type",
            type: "string",
            priority: 0,
          }],
          rows: [{ cells: ["web", "ClusterIP"], object: { metadata: { name: "web" } } }],
        },
      };
    }
    return {
      body: { kind: "Table", columnDefinitions: [{ name: "Name", priority: 0 }], rows: [] },
    };
  });
  const res = await run(["get", "all"], api.fetch);
  assert.equal(
    res.stdout,
    `NAME        READY   STATUS    RESTARTS   AGE
pod/web-1   1/1     Running   0          5m

NAME          TYPE
service/web   ClusterIP
`,
  );
});

Deno.test("runCtl(get) prints found rows, then NotFound errors, and exits 1", async () => {
  const api = fakeFetch((req) =>
    req.path.endsWith("/web-1")
      ? {
        body: podTable([{ ns: "default", name: "web-1", cells: ["1/1", "Running", 0, "5m", ""] }]),
      }
      : notFound("pods", "nope")
  );
  const res = await run(["get", "pods", "web-1", "nope"], api.fetch);
  assert.equal(
    res.stdout,
    "NAME    READY   STATUS    RESTARTS   AGE\nweb-1   1/1     Running   0          5m\n",
  );
  assert.equal(res.stderr, 'Error from server (NotFound): pods "nope" not found\n');
  assert.equal(res.code, 1);
});

const CM = {
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "app", namespace: "default" },
  data: { b: "2", a: "1" },
};

Deno.test("runCtl(get -o yaml|json) prints one named object, else a List", async () => {
  const api = fakeFetch((req) =>
    req.path.endsWith("/app")
      ? { body: CM }
      : { body: { kind: "ConfigMapList", items: [{ metadata: CM.metadata, data: CM.data }] } }
  );
  const yaml = await run(["get", "cm", "app", "-o", "yaml"], api.fetch);
  assert.equal(
    yaml.stdout,
    'apiVersion: v1\ndata:\n  a: "1"\n  b: "2"\nkind: ConfigMap\nmetadata:\n  name: app\n  namespace: default\n',
  );
  const json = await run(["get", "configmaps", "-o", "json"], api.fetch);
  assert.deepEqual(JSON.parse(json.stdout), {
    apiVersion: "v1",
    items: [CM],
    kind: "List",
    metadata: { resourceVersion: "" },
  });
  assert.match(json.stdout, /^\{\n {4}"apiVersion": "v1",/);
  const name = await run(["get", "cm", "-o", "name"], api.fetch);
  assert.equal(name.stdout, "configmap/app\n");
});

Deno.test("runCtl(get -w) prints the table, then one row per change until the stream ends", async () => {
  const event = (type: string, name: string, status: string) =>
    JSON.stringify({
      type,
      object: podTable([{ ns: "default", name, cells: ["0/1", status, 0, "1s", ""] }]),
    });
  const api = fakeFetch((req) => {
    if (req.query.get("watch") === "1") {
      assert.equal(req.query.get("resourceVersion"), "10");
      return {
        text: [
          event("ADDED", "web-2", "Pending"),
          JSON.stringify({
            type: "BOOKMARK",
            object: { kind: "Pod", metadata: { resourceVersion: "12" } },
          }),
          event("MODIFIED", "web-2", "Running"),
          "",
        ].join("\n"),
      };
    }
    return {
      body: podTable([{ ns: "default", name: "web-1", cells: ["1/1", "Running", 0, "5m", ""] }]),
    };
  });
  const res = await run(["get", "pods", "-w"], api.fetch);
  assert.equal(
    res.stdout,
    `NAME    READY   STATUS    RESTARTS   AGE
web-1   1/1     Running   0          5m
web-2   0/1     Pending   0          1s
web-2   0/1     Running   0          1s
`,
  );
  assert.equal(res.code, 0);
});

Deno.test("runCtl(get) rejects an unknown resource type and output format", async () => {
  const api = fakeFetch(() => undefined);
  const unknown = await run(["get", "widgets"], api.fetch);
  assert.equal(unknown.stderr, 'error: the server doesn\'t have a resource type "widgets"\n');
  assert.equal(unknown.code, 1);
  const format = await run(["get", "pods", "-o", "xml"], api.fetch);
  assert.match(
    format.stderr,
    /^error: unable to match a printer suitable for the output format "xml"/,
  );
});
