import assert from "node:assert/strict";
import type { KubeObject } from "../storage/object.ts";
import type { ApiClient, WatchEvent } from "./api_client.ts";
import { ObjectCache } from "./object_cache.ts";

function svc(namespace: string, name: string, rv: string): KubeObject {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { namespace, name, resourceVersion: rv },
    spec: { clusterIP: "10.96.0.20" },
  };
}

/** An API that lists `items` at `rv` and then streams the events pushed with `send`. */
function fakeApi(items: KubeObject[], rv: string) {
  const queries: Array<Record<string, string>> = [];
  let push: ((ev: WatchEvent | undefined) => void) | undefined;
  const pending: WatchEvent[] = [];
  const client = {
    list: () => Promise.resolve({ items, resourceVersion: rv }),
    async *watch(
      _path: string,
      query: Record<string, string>,
      signal: AbortSignal,
      onOpen?: () => void,
    ): AsyncGenerator<WatchEvent> {
      queries.push(query);
      onOpen?.();
      while (!signal.aborted) {
        const next = pending.shift() ?? await new Promise<WatchEvent | undefined>((resolve) => {
          push = resolve;
          signal.addEventListener("abort", () => resolve(undefined), { once: true });
        });
        if (next) yield next;
      }
    },
  };
  return {
    client: client as unknown as ApiClient,
    queries,
    send(ev: WatchEvent) {
      const p = push;
      push = undefined;
      if (p) p(ev);
      else pending.push(ev);
    },
  };
}

/** An API that cannot be reached. */
const OFFLINE = {
  list: () => Promise.reject(new Error("unreachable")),
  watch: () => {
    throw new Error("unreachable");
  },
} as unknown as ApiClient;

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  assert.ok(check(), "condition not reached within 1 s");
}

Deno.test("ObjectCache lists by namespace, follows the watch and tells its listeners", async () => {
  const api = fakeApi([svc("a", "web", "5"), svc("b", "db", "6")], "6");
  const cache = await ObjectCache.open({ client: api.client, path: "/api/v1/services" });
  const seen: string[] = [];
  cache.subscribe((type, o) => seen.push(`${type} ${o.metadata.namespace}/${o.metadata.name}`));
  assert.equal(cache.synced, false);
  cache.start();
  try {
    assert.equal(await cache.waitSynced(1_000), true);
    assert.deepEqual(cache.list("a").map((s) => s.metadata.name), ["web"]);
    assert.equal(cache.list().length, 2);
    assert.equal(cache.get("b", "db")?.metadata.resourceVersion, "6");
    api.send({ type: "ADDED", object: svc("a", "api", "7") });
    await until(() => seen.length === 3);
    api.send({ type: "DELETED", object: svc("b", "db", "8") });
    await until(() => seen.length === 4);
    assert.deepEqual(seen, ["ADDED a/web", "ADDED b/db", "ADDED a/api", "DELETED b/db"]);
    assert.deepEqual(cache.list("a").map((s) => s.metadata.name).sort(), ["api", "web"]);
    assert.deepEqual(cache.list("b"), []);
  } finally {
    await cache.stop();
  }
});

Deno.test("ObjectCache.waitSynced() gives up after its deadline", async () => {
  const cache = await ObjectCache.open({ client: OFFLINE, path: "/api/v1/services", retryMs: 10 });
  cache.start();
  try {
    assert.equal(await cache.waitSynced(50), false);
    assert.deepEqual(cache.list(), []);
  } finally {
    await cache.stop();
  }
});

Deno.test("ObjectCache with persist starts from the kept copy and resumes the watch there", async () => {
  const kv = await Deno.openKv(":memory:");
  const persist = { kv, prefix: "services" };
  try {
    const api = fakeApi([svc("a", "web", "5")], "5");
    const first = await ObjectCache.open({ client: api.client, path: "/api/v1/services", persist });
    first.start();
    assert.ok(await first.waitSynced(1_000));
    api.send({ type: "ADDED", object: svc("a", "api", "9") });
    await until(() => first.list("a").length === 2);
    await first.stop();

    const restarted = await ObjectCache.open({ client: OFFLINE, path: "/x", persist });
    assert.equal(restarted.synced, true);
    assert.deepEqual(restarted.list("a").map((s) => s.metadata.name).sort(), ["api", "web"]);

    const back = fakeApi([], "0");
    const resumed = await ObjectCache.open({ client: back.client, path: "/x", persist });
    resumed.start();
    await until(() => back.queries.length > 0);
    assert.equal(back.queries[0]!.resourceVersion, "9");
    await resumed.stop();
  } finally {
    kv.close();
  }
});
