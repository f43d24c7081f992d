import assert from "node:assert/strict";
import { startControlPlane } from "../control/server.ts";
import { ApiClient } from "../node/api_client.ts";
import { Reflector } from "../node/reflector.ts";
import type { KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";

const CMS = "/api/v1/namespaces/default/configmaps";

async function until(what: string, check: () => boolean | Promise<boolean>, ms = 10_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function cm(name: string, data: Record<string, string>) {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data };
}

Deno.test("ApiClient maps Status errors back to ApiError and reads objects over HTTPS", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-client-" });
  const cp = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
  const client = new ApiClient({ server: cp.url, token: cp.token, caCert: cp.caCert });
  try {
    await client.create(CMS, cm("a", { k: "v" }));
    assert.equal((await client.get(`${CMS}/a`))?.metadata.name, "a");
    assert.equal(await client.get(`${CMS}/missing`), null);
    await assert.rejects(
      client.create(CMS, cm("a", {})),
      (e: unknown) => e instanceof ApiError && e.reason === "AlreadyExists" && e.code === 409,
    );
    const patched = await client.patch(`${CMS}/a`, { data: { k: "w" } });
    assert.deepEqual(patched.data, { k: "w" });
    assert.equal(await client.delete(`${CMS}/a`), true);
    assert.equal(await client.delete(`${CMS}/a`), false);
    const wrong = new ApiClient({ server: cp.url, token: "nope", caCert: cp.caCert });
    await assert.rejects(
      wrong.list(CMS),
      (e: unknown) => e instanceof ApiError && e.reason === "Unauthorized",
    );
    wrong.close();
  } finally {
    client.close();
    await cp.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});

Deno.test("Reflector follows changes, survives the control plane going away and resumes after it returns", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "edge-reflector-" });
  let cp = await startControlPlane({ dataDir, listen: "127.0.0.1:0" });
  const listen = new URL(cp.url).host;
  const client = new ApiClient({ server: cp.url, token: cp.token, caCert: cp.caCert });
  const seen: string[] = [];
  const reflector = new Reflector({
    client,
    path: CMS,
    retryMs: 50,
    onChange: (type, obj: KubeObject) => seen.push(`${type}:${obj.metadata.name}`),
  });
  try {
    await client.create(CMS, cm("one", { v: "1" }));
    reflector.start();
    await until("the initial list", () => seen.includes("ADDED:one"));
    await client.create(CMS, cm("two", { v: "2" }));
    await client.patch(`${CMS}/one`, { data: { v: "1b" } });
    await client.delete(`${CMS}/two`);
    await until("live events", () => seen.includes("DELETED:two"));
    assert.deepEqual(seen, ["ADDED:one", "ADDED:two", "MODIFIED:one", "DELETED:two"]);

    await cp.stop();
    await until("the reflector to notice", () => !reflector.connected);
    assert.deepEqual(reflector.items().map((o) => o.data), [{ v: "1b" }]);

    cp = await startControlPlane({ dataDir, listen });
    const before = seen.length;
    await client.create(CMS, cm("three", { v: "3" }));
    await until("events after the restart", () => seen.includes("ADDED:three"));
    assert.deepEqual(
      seen.slice(before),
      ["ADDED:three"],
      "resumed from its resourceVersion, no relist",
    );
    assert.deepEqual(reflector.items().map((o) => o.metadata.name).sort(), ["one", "three"]);
  } finally {
    await reflector.stop();
    client.close();
    await cp.stop();
    await Deno.remove(dataDir, { recursive: true });
  }
});
