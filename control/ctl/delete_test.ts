import assert from "node:assert/strict";
import { fakeFetch, notFound, run } from "./_testing.ts";

Deno.test("runCtl(delete) deletes by name with kubectl 1.32 wording and reports NotFound", async () => {
  const api = fakeFetch((req) =>
    req.path.endsWith("/missing") ? notFound("configmaps", "missing") : { body: {} }
  );
  const res = await run(["delete", "cm", "app", "missing"], api.fetch);
  assert.equal(res.stdout, 'configmap "app" deleted\n');
  assert.equal(res.stderr, 'Error from server (NotFound): configmaps "missing" not found\n');
  assert.equal(res.code, 1);
  assert.equal(api.requests[0]!.method, "DELETE");
  assert.equal(api.requests[0]!.path, "/api/v1/namespaces/default/configmaps/app");
});

Deno.test("runCtl(delete) --ignore-not-found succeeds on missing objects", async () => {
  const api = fakeFetch(() => notFound("deployments.apps", "web"));
  const res = await run(["delete", "deployment.apps/web", "--ignore-not-found"], api.fetch);
  assert.deepEqual([res.code, res.stdout, res.stderr], [0, "", ""]);
  assert.equal(api.requests[0]!.path, "/apis/apps/v1/namespaces/default/deployments/web");
});

Deno.test("runCtl(delete -f) names the file in errors", async () => {
  const api = fakeFetch((
    req,
  ) => (req.path.endsWith("/a") ? { body: {} } : notFound("configmaps", "b")));
  const res = await run(["delete", "-f", "-"], api.fetch, {
    stdin:
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n",
  });
  assert.equal(res.stdout, 'configmap "a" deleted\n');
  assert.equal(
    res.stderr,
    'Error from server (NotFound): error when deleting "STDIN": configmaps "b" not found\n',
  );
});

Deno.test("runCtl(delete -l) deletes what the selector lists, or says none were found", async () => {
  const api = fakeFetch((req) =>
    req.method === "GET"
      ? {
        body: {
          kind: "PodList",
          items: [{ metadata: { name: "p1" } }, { metadata: { name: "p2" } }],
        },
      }
      : { body: {} }
  );
  const res = await run(["delete", "pods", "-l", "app=web"], api.fetch);
  assert.equal(res.stdout, 'pod "p1" deleted\npod "p2" deleted\n');
  assert.equal(api.requests[0]!.query.get("labelSelector"), "app=web");

  const none = fakeFetch(() => ({ body: { items: [] } }));
  assert.equal((await run(["delete", "pods", "--all"], none.fetch)).stdout, "No resources found\n");
});

Deno.test("runCtl(delete) without names is a usage error", async () => {
  const res = await run(["delete", "pods"], fakeFetch(() => undefined).fetch);
  assert.equal(res.code, 1);
  assert.match(
    res.stderr,
    /^error: resource\(s\) were provided, but no name was specified\n\nDelete/,
  );
});
