import assert from "node:assert/strict";
import { storeWithNamespaces } from "../_testing.ts";
import { createApiApp } from "../api/app.ts";
import { contains, parseCidr, requireIPv4 } from "./cidr.ts";
import { resolveClusterNetwork } from "./cluster_network.ts";
import { startServiceAllocator } from "./service_allocator.ts";

const TOKEN = "test-token";
const SVC = "/api/v1/namespaces/default/services";

type App = ReturnType<typeof createApiApp>;

async function withApp(fn: (app: App) => Promise<void>): Promise<void> {
  const store = await storeWithNamespaces();
  const running = await startServiceAllocator(store, resolveClusterNetwork());
  try {
    await fn(createApiApp({ store, tokens: [TOKEN] }));
  } finally {
    await running.stop();
    await store.close();
  }
}

async function call(
  app: App,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await app.request(path, {
    method,
    headers: { authorization: `Bearer ${TOKEN}`, "content-type": contentType },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, json: await res.json() };
}

function service(name: string, spec: Record<string, unknown> = {}) {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name },
    spec: { ports: [{ port: 80 }], ...spec },
  };
}

// deno-lint-ignore no-explicit-any
type Json = any;

Deno.test("POST services assigns a clusterIP from the service CIDR", async () => {
  await withApp(async (app) => {
    const res = await call(app, "POST", SVC, service("web"));
    assert.equal(res.status, 201);
    const spec = (res.json as Json).spec;
    assert.ok(contains(parseCidr("10.96.0.0/16"), requireIPv4(spec.clusterIP)), spec.clusterIP);
    assert.deepEqual(spec.clusterIPs, [spec.clusterIP]);
    const got = await call(app, "GET", `${SVC}/web`);
    assert.equal((got.json as Json).spec.clusterIP, spec.clusterIP);
  });
});

Deno.test("POST services with a taken clusterIP is 422 Invalid with the field", async () => {
  await withApp(async (app) => {
    assert.equal(
      (await call(app, "POST", SVC, service("a", { clusterIP: "10.96.0.50" }))).status,
      201,
    );
    const res = await call(app, "POST", SVC, service("b", { clusterIP: "10.96.0.50" }));
    assert.equal(res.status, 422);
    const status = res.json as Json;
    assert.equal(status.reason, "Invalid");
    assert.equal(status.details.causes[0].field, "spec.clusterIPs");
    assert.match(
      status.message,
      /failed to allocate IP 10\.96\.0\.50: provided IP is already allocated/,
    );
  });
});

Deno.test("PUT and PATCH of a service keep its clusterIP and refuse to change it", async () => {
  await withApp(async (app) => {
    const created = await call(app, "POST", SVC, service("web"));
    const ip = (created.json as Json).spec.clusterIP;
    const put = await call(app, "PUT", `${SVC}/web`, service("web", { ports: [{ port: 8080 }] }));
    assert.equal(put.status, 200);
    assert.equal((put.json as Json).spec.clusterIP, ip);
    const changed = await call(
      app,
      "PUT",
      `${SVC}/web`,
      service("web", { clusterIP: "10.96.9.9" }),
    );
    assert.equal(changed.status, 422);
    assert.match(
      (changed.json as Json).message,
      /spec\.clusterIP: Invalid value: "10\.96\.9\.9": field is immutable/,
    );
    const patched = await call(
      app,
      "PATCH",
      `${SVC}/web`,
      { spec: { type: "NodePort" } },
      "application/strategic-merge-patch+json",
    );
    assert.equal(patched.status, 200);
    const port = (patched.json as Json).spec.ports[0];
    assert.ok(port.nodePort >= 30000 && port.nodePort <= 32767, String(port.nodePort));
    assert.equal((patched.json as Json).spec.clusterIP, ip);
  });
});
