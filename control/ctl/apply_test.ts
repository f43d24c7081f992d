import assert from "node:assert/strict";
import { LAST_APPLIED } from "./_apply_patch.ts";
import { fakeFetch, notFound, run, status } from "./_testing.ts";

const MANIFEST = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  a: "1"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: 2
`;

Deno.test("runCtl(apply) creates missing objects with the last-applied annotation", async () => {
  const api = fakeFetch((req) => {
    if (req.method === "GET") return notFound(req.path.split("/").at(-2)!, "x");
    return req.method === "POST" ? { status: 201, body: req.body } : undefined;
  });
  const res = await run(["apply", "-f", "-"], api.fetch, { stdin: MANIFEST });
  assert.equal(res.stdout, "configmap/app created\ndeployment.apps/web created\n");
  assert.equal(res.code, 0);
  const posts = api.requests.filter((r) => r.method === "POST");
  assert.deepEqual(posts.map((r) => r.path), [
    "/api/v1/namespaces/default/configmaps",
    "/apis/apps/v1/namespaces/default/deployments",
  ]);
  const body = posts[0]!.body as { metadata: { annotations: Record<string, string> } };
  assert.equal(
    body.metadata.annotations[LAST_APPLIED],
    '{"apiVersion":"v1","data":{"a":"1"},"kind":"ConfigMap","metadata":{"annotations":{},"name":"app","namespace":"default"}}\n',
  );
  assert.equal(api.requests[0]!.headers.get("authorization"), "Bearer t0k3n");
});

Deno.test("runCtl(apply) reports unchanged without writing and configured with a merge patch", async () => {
  const first = fakeFetch((req) =>
    req.method === "GET" ? notFound("configmaps", "app") : { status: 201, body: req.body }
  );
  await run(["apply", "-f", "-"], first.fetch, { stdin: MANIFEST });
  const stored = first.requests.find((r) => r.method === "POST")!.body as Record<string, unknown>;
  const live = {
    ...stored,
    metadata: { ...(stored.metadata as object), uid: "u", resourceVersion: "3" },
  };

  const same = fakeFetch((req) => (req.method === "GET" ? { body: live } : undefined));
  const unchanged = await run(["apply", "-f", "-"], same.fetch, {
    stdin: MANIFEST.split("---")[0]!,
  });
  assert.equal(unchanged.stdout, "configmap/app unchanged\n");
  assert.deepEqual(same.requests.map((r) => r.method), ["GET"]);

  const changed = fakeFetch((req) => (req.method === "GET" ? { body: live } : { body: live }));
  const res = await run(["apply", "-f", "-"], changed.fetch, {
    stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: app}\ndata: {b: '2'}\n",
  });
  assert.equal(res.stdout, "configmap/app configured\n");
  const patch = changed.requests[1]!;
  assert.equal(patch.method, "PATCH");
  assert.equal(patch.headers.get("content-type"), "application/merge-patch+json");
  const body = patch.body as { data: unknown; metadata: { annotations: Record<string, string> } };
  assert.deepEqual(body.data, { a: null, b: "2" });
  assert.match(body.metadata.annotations[LAST_APPLIED]!, /"data":\{"b":"2"\}/);
});

Deno.test("runCtl(apply) prints each failure like kubectl, continues and exits 1", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(
      `${dir}/b.yaml`,
      "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: Bad}\n",
    );
    await Deno.writeTextFile(
      `${dir}/a.json`,
      JSON.stringify({
        kind: "List",
        apiVersion: "v1",
        items: [{ apiVersion: "v9", kind: "Foo", metadata: { name: "f" } }, {
          apiVersion: "v1",
          kind: "ConfigMap",
          metadata: { name: "ok" },
        }],
      }),
    );
    await Deno.writeTextFile(`${dir}/notes.txt`, "ignored");
    const api = fakeFetch((req) => {
      if (req.method === "GET") return notFound("configmaps", "x");
      const name = (req.body as { metadata: { name: string } }).metadata.name;
      if (name === "Bad") {
        return {
          status: 422,
          body: status(
            "Invalid",
            422,
            'ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters',
          ),
        };
      }
      return { status: 201, body: req.body };
    });
    const res = await run(["apply", "-f", dir], api.fetch);
    assert.equal(res.code, 1);
    assert.equal(res.stdout, "configmap/ok created\n");
    assert.equal(
      res.stderr,
      `error: resource mapping not found for name: "f" namespace: "" from "${dir}/a.json": no matches for kind "Foo" in version "v9"
ensure CRDs are installed first
Error from server (Invalid): error when creating "${dir}/b.yaml": ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters
`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("runCtl(apply) refuses an object of another namespace than an explicit -n", async () => {
  const api = fakeFetch(() => undefined);
  const res = await run(["apply", "-n", "web", "-f", "-"], api.fetch, {
    stdin: "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: db}\n",
  });
  assert.equal(res.code, 1);
  assert.equal(
    res.stderr,
    `error: the namespace from the provided object "db" does not match the namespace "web". You must pass '--namespace=db' to perform this operation.\n`,
  );
  assert.equal(api.requests.length, 0);
});
