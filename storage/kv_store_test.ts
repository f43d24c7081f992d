import assert from "node:assert/strict";
import { type KvStore, type KvStoreOptions, openKvStore } from "./kv_store.ts";
import type { KubeObject } from "./object.ts";
import { StoreError, type StoreErrorCode, type StoreEvent, type StoreWatch } from "./store.ts";

/** Runs `fn` on a store at `path` (default `:memory:`), closing it in `finally`. */
async function withStore(
  fn: (store: KvStore) => Promise<void>,
  options: KvStoreOptions = {},
  path = ":memory:",
): Promise<void> {
  const store = await openKvStore(path, options);
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

/** Runs `fn` with the path of a fresh KV file in a temporary directory, removed afterwards. */
async function withDbFile(fn: (path: string) => Promise<void>): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "kv_store_test_" });
  try {
    await fn(`${dir}/store.db`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `fn` on a raw Deno KV handle of `path` (to inspect the layout), closing it afterwards. */
async function withRawKv<T>(path: string, fn: (kv: Deno.Kv) => Promise<T>): Promise<T> {
  const kv = await Deno.openKv(path);
  try {
    return await fn(kv);
  } finally {
    kv.close();
  }
}

function cmKey(name: string, namespace = "default"): string {
  return `/core/configmaps/${namespace}/${name}`;
}

function configMap(
  name: string,
  data: Record<string, string> = {},
  namespace = "default",
): KubeObject {
  return { apiVersion: "v1", kind: "ConfigMap", metadata: { name, namespace }, data };
}

function rv(obj: KubeObject | null): number {
  return Number(obj?.metadata.resourceVersion);
}

function isStoreError(code: StoreErrorCode): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof StoreError, `expected StoreError ${code}, got ${error}`);
    assert.equal(error.code, code, error.message);
    return true;
  };
}

/** Random, incompressible base64 text of about `bytes` characters. */
function randomText(bytes: number): string {
  const raw = new Uint8Array(Math.ceil((bytes * 3) / 4));
  for (let at = 0; at < raw.length; at += 65536) {
    crypto.getRandomValues(raw.subarray(at, at + 65536));
  }
  let binary = "";
  for (const b of raw) binary += String.fromCharCode(b);
  return btoa(binary).slice(0, bytes);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Waits until `condition` holds, failing after 5 s. */
async function eventually(
  condition: () => boolean | Promise<boolean>,
  what: string,
): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting until ${what}`);
    await delay(5);
  }
}

/** The next `n` events of `watch` (fewer if it ends), failing after 5 s. */
async function take(watch: StoreWatch, n: number): Promise<StoreEvent[]> {
  const iterator = watch[Symbol.asyncIterator]();
  const events: StoreEvent[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`Timed out after ${events.length} of ${n} events`)),
      5000,
    );
  });
  try {
    while (events.length < n) {
      const result = await Promise.race([iterator.next(), timeout]);
      if (result.done) break;
      events.push(result.value);
    }
  } finally {
    clearTimeout(timer);
  }
  return events;
}

function summary(events: StoreEvent[]): string[] {
  return events.map((e) => `${e.revision} ${e.type} ${e.key}`);
}

Deno.test("KvStore.create() sets resourceVersion to the new revision and get() returns the object", async () => {
  await withStore(async (store) => {
    assert.equal(store.revision(), 0);
    const created = await store.create(cmKey("a"), configMap("a", { x: "1" }));
    assert.equal(created.metadata.resourceVersion, "1");
    assert.equal(store.revision(), 1);
    assert.deepEqual(await store.get(cmKey("a")), created);
    assert.equal(await store.get(cmKey("missing")), null);
  });
});

Deno.test("KvStore.create() rejects an existing key with AlreadyExists and changes nothing", async () => {
  await withStore(async (store) => {
    const first = await store.create(cmKey("a"), configMap("a", { x: "1" }));
    await assert.rejects(
      store.create(cmKey("a"), configMap("a", { x: "2" })),
      isStoreError("AlreadyExists"),
    );
    assert.equal(store.revision(), 1);
    assert.deepEqual(await store.get(cmKey("a")), first);
  });
});

Deno.test("KvStore.update() rejects a stale expectedRevision with Conflict and changes nothing", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(cmKey("a"), configMap("a", { x: "1" }));
    const v2 = await store.update(cmKey("a"), configMap("a", { x: "2" }), rv(v1));
    assert.equal(v2.metadata.resourceVersion, "2");
    await assert.rejects(
      store.update(cmKey("a"), configMap("a", { x: "3" }), rv(v1)),
      (error: unknown) =>
        isStoreError("Conflict")(error) &&
        /expected resourceVersion 1 but it is 2/.test(String(error)),
    );
    assert.equal(store.revision(), 2);
    assert.deepEqual(await store.get(cmKey("a")), v2);
    const events = await take(store.watch("/core/", 0), 2);
    assert.deepEqual(summary(events), [`1 ADDED ${cmKey("a")}`, `2 MODIFIED ${cmKey("a")}`]);
  });
});

Deno.test("KvStore.delete() rejects a stale expectedRevision with Conflict and changes nothing", async () => {
  await withStore(async (store) => {
    const v1 = await store.create(cmKey("a"), configMap("a"));
    const v2 = await store.update(cmKey("a"), configMap("a", { x: "2" }));
    await assert.rejects(store.delete(cmKey("a"), rv(v1)), isStoreError("Conflict"));
    assert.equal(store.revision(), 2);
    assert.deepEqual(await store.get(cmKey("a")), v2);
    const deleted = await store.delete(cmKey("a"), rv(v2));
    assert.equal(deleted.metadata.resourceVersion, "3");
    assert.equal(await store.get(cmKey("a")), null);
  });
});

Deno.test("KvStore.update() and delete() reject a missing key with NotFound", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.update(cmKey("a"), configMap("a")), isStoreError("NotFound"));
    await assert.rejects(store.delete(cmKey("a")), isStoreError("NotFound"));
    await store.create(cmKey("a"), configMap("a"));
    await store.delete(cmKey("a"));
    await assert.rejects(store.delete(cmKey("a")), isStoreError("NotFound"));
    assert.equal(store.revision(), 2);
  });
});

Deno.test("KvStore.update() from concurrent writers with the same expectedRevision lets exactly one win", async () => {
  await withStore(async (store) => {
    const base = await store.create(cmKey("a"), configMap("a"));
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) => store.update(cmKey("a"), configMap("a", { w: String(i) }), rv(base)),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1);
    assert.equal(lost.length, 19);
    for (const r of lost) isStoreError("Conflict")(r.reason);
    assert.deepEqual(await store.get(cmKey("a")), won[0]?.value);
    assert.equal(store.revision(), 2);
  });
});

Deno.test("KvStore.create() of one key from concurrent writers lets exactly one win", async () => {
  await withStore(async (store) => {
    const results = await Promise.allSettled(
      Array.from(
        { length: 20 },
        (_, i) => store.create(cmKey("a"), configMap("a", { w: String(i) })),
      ),
    );
    const won = results.filter((r) => r.status === "fulfilled");
    const lost = results.filter((r) => r.status === "rejected");
    assert.equal(won.length, 1);
    for (const r of lost) isStoreError("AlreadyExists")(r.reason);
    assert.deepEqual(await store.get(cmKey("a")), won[0]?.value);
    assert.equal(store.revision(), 1);
  });
});

Deno.test("KvStore.revision() increases by one per create, update and delete and not on failures", async () => {
  await withStore(async (store) => {
    const seen: number[] = [];
    const record = (obj: KubeObject) => {
      seen.push(rv(obj));
      assert.equal(store.revision(), rv(obj));
    };
    record(await store.create(cmKey("a"), configMap("a")));
    record(await store.create(cmKey("b"), configMap("b")));
    await assert.rejects(store.create(cmKey("a"), configMap("a")));
    record(await store.update(cmKey("a"), configMap("a", { x: "1" })));
    await assert.rejects(store.update(cmKey("a"), configMap("a"), 1));
    record(await store.delete(cmKey("b")));
    record(await store.create(cmKey("b"), configMap("b")));
    assert.deepEqual(seen, [1, 2, 3, 4, 5]);
  });
});

Deno.test("KvStore.delete() returns the last state with the deletion revision as resourceVersion", async () => {
  await withStore(async (store) => {
    await store.create(cmKey("a"), configMap("a", { x: "1" }));
    await store.create(cmKey("b"), configMap("b"));
    const deleted = await store.delete(cmKey("a"));
    assert.deepEqual(deleted, {
      ...configMap("a", { x: "1" }),
      metadata: { name: "a", namespace: "default", resourceVersion: "3" },
    });
    const [event] = await take(store.watch("/core/configmaps/default/", 2), 1);
    assert.deepEqual(event, { type: "DELETED", key: cmKey("a"), revision: 3, object: deleted });
  });
});

Deno.test("KvStore.get(), list(), create() and watch() hand out copies", async () => {
  await withStore(async (store) => {
    const input = configMap("a", { x: "1" });
    const created = await store.create(cmKey("a"), input);
    input.metadata.labels = { changed: "input" };
    created.metadata.labels = { changed: "result" };
    const got = await store.get(cmKey("a"));
    assert.ok(got);
    (got.data as Record<string, string>).x = "mutated";
    const listed = (await store.list("/core/configmaps/")).items[0];
    assert.ok(listed);
    listed.metadata.name = "mutated";
    const [event] = await take(store.watch("/core/", 0), 1);
    assert.ok(event);
    event.object.metadata.annotations = { changed: "event" };
    const again = await take(store.watch("/core/", 0), 1);
    assert.deepEqual(again[0]?.object, {
      ...configMap("a", { x: "1" }),
      metadata: { name: "a", namespace: "default", resourceVersion: "1" },
    });
    assert.deepEqual(await store.get(cmKey("a")), again[0]?.object);
  });
});

Deno.test("KvStore.list() matches whole segments of the prefix, in key order", async () => {
  await withStore(async (store) => {
    const keys = [
      cmKey("b", "default"),
      cmKey("a", "default"),
      cmKey("a", "default2"),
      cmKey("z", "kube-system"),
      "/core/namespaces/default",
      "/core/namespaces/default2",
      "/apps/deployments/default/web",
    ];
    for (const key of keys) await store.create(key, configMap(key.split("/").at(-1) as string));
    const listKeys = async (prefix: string) =>
      (await store.list(prefix)).items.map((o) =>
        `${o.metadata.name}@${o.metadata.resourceVersion}`
      );
    assert.deepEqual(await listKeys("/core/configmaps/default/"), ["a@2", "b@1"]);
    assert.deepEqual(await listKeys("/core/configmaps/default2/"), ["a@3"]);
    assert.deepEqual(await listKeys("/core/configmaps/"), ["a@2", "b@1", "a@3", "z@4"]);
    assert.deepEqual(await listKeys("/core/"), [
      "a@2",
      "b@1",
      "a@3",
      "z@4",
      "default@5",
      "default2@6",
    ]);
    assert.deepEqual((await listKeys("/")).length, keys.length);
    assert.deepEqual((await listKeys("/"))[0], "web@7");
    assert.deepEqual(await listKeys("/core/configmaps/def/"), []);
    assert.deepEqual(await listKeys("/batch/"), []);
    const result = await store.list("/core/namespaces/");
    assert.equal(result.revision, 7);
    assert.equal(result.next, undefined);
    assert.equal(result.remaining, undefined);
  });
});

Deno.test("KvStore.list() pages with limit, startAfter, next and remaining", async () => {
  await withStore(async (store) => {
    const names = Array.from({ length: 10 }, (_, i) => `cm-${String(i).padStart(2, "0")}`);
    for (const name of names.toReversed()) await store.create(cmKey(name), configMap(name));
    await store.create(cmKey("zz", "other"), configMap("zz"));
    const pages: string[][] = [];
    let startAfter: string | undefined;
    const remaining: (number | undefined)[] = [];
    do {
      const page = await store.list("/core/configmaps/default/", { limit: 4, startAfter });
      assert.equal(page.revision, 11);
      pages.push(page.items.map((o) => o.metadata.name as string));
      remaining.push(page.remaining);
      startAfter = page.next;
    } while (startAfter !== undefined);
    assert.deepEqual(pages, [names.slice(0, 4), names.slice(4, 8), names.slice(8)]);
    assert.deepEqual(remaining, [6, 2, undefined]);
    const exact = await store.list("/core/configmaps/default/", { limit: 10 });
    assert.equal(exact.items.length, 10);
    assert.equal(exact.next, undefined);
    const after = await store.list("/core/configmaps/default/", { startAfter: cmKey("cm-08") });
    assert.deepEqual(after.items.map((o) => o.metadata.name), ["cm-09"]);
    const beforePrefix = await store.list("/core/configmaps/default/", {
      startAfter: "/a",
      limit: 1,
    });
    assert.deepEqual(beforePrefix.items.map((o) => o.metadata.name), ["cm-00"]);
    await assert.rejects(store.list("/core/", { limit: -1 }), RangeError);
  });
});

Deno.test("KvStore.list() applies filter before limit", async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 10; i++) {
      await store.create(
        cmKey(`cm-${i}`),
        configMap(`cm-${i}`, { parity: i % 2 === 0 ? "even" : "odd" }),
      );
    }
    const odd = (o: KubeObject) => (o.data as Record<string, string>).parity === "odd";
    const page = await store.list("/core/configmaps/", { limit: 2, filter: odd });
    assert.deepEqual(page.items.map((o) => o.metadata.name), ["cm-1", "cm-3"]);
    assert.equal(page.next, cmKey("cm-3"));
    assert.equal(page.remaining, 3);
    const rest = await store.list("/core/configmaps/", { startAfter: page.next, filter: odd });
    assert.deepEqual(rest.items.map((o) => o.metadata.name), ["cm-5", "cm-7", "cm-9"]);
  });
});

Deno.test("KvStore.watch() from an old revision replays history, then continues live", async () => {
  await withStore(async (store) => {
    await store.create(cmKey("a"), configMap("a"));
    await store.create(cmKey("b"), configMap("b"));
    await store.update(cmKey("a"), configMap("a", { x: "1" }));
    const watch = store.watch("/core/configmaps/", 1);
    const replayed = await take(watch, 2);
    assert.deepEqual(summary(replayed), [`2 ADDED ${cmKey("b")}`, `3 MODIFIED ${cmKey("a")}`]);
    assert.deepEqual(replayed[1]?.object, await store.get(cmKey("a")));
    const pending = take(watch, 2);
    await store.delete(cmKey("b"));
    await store.create(cmKey("c"), configMap("c"));
    assert.deepEqual(summary(await pending), [`4 DELETED ${cmKey("b")}`, `5 ADDED ${cmKey("c")}`]);
    watch.close();
  });
});

Deno.test("KvStore.watch() delivers only keys under its prefix", async () => {
  await withStore(async (store) => {
    const watch = store.watch("/core/configmaps/default/", 0);
    await store.create(cmKey("a", "default2"), configMap("a"));
    await store.create("/core/secrets/default/a", configMap("a"));
    await store.create(cmKey("a", "default"), configMap("a"));
    await store.create("/core/configmaps/default", configMap("default"));
    await store.create(cmKey("b", "default"), configMap("b"));
    assert.deepEqual(summary(await take(watch, 2)), [
      `3 ADDED ${cmKey("a")}`,
      `5 ADDED ${cmKey("b")}`,
    ]);
    const all = store.watch("/", 0);
    assert.deepEqual((await take(all, 5)).map((e) => e.revision), [1, 2, 3, 4, 5]);
  });
});

Deno.test("KvStore.watch() from a revision ahead of the store waits for it", async () => {
  await withStore(async (store) => {
    await store.create(cmKey("a"), configMap("a"));
    const watch = store.watch("/core/", 3);
    const pending = take(watch, 1);
    await store.create(cmKey("b"), configMap("b"));
    await store.create(cmKey("c"), configMap("c"));
    await store.create(cmKey("d"), configMap("d"));
    assert.deepEqual(summary(await pending), [`4 ADDED ${cmKey("d")}`]);
  });
});

Deno.test("KvStore.watch() from a compacted revision throws Expired", async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 12; i++) await store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`));
    await eventually(
      () => store.oldestWatchableRevision() === 7,
      "the window holds the last 5 events",
    );
    assert.throws(() => store.watch("/core/", 6), isStoreError("Expired"));
    assert.throws(() => store.watch("/core/", 0), isStoreError("Expired"));
    const watch = store.watch("/core/", 7);
    assert.deepEqual((await take(watch, 5)).map((e) => e.revision), [8, 9, 10, 11, 12]);
  }, { historyLimit: 5 });
});

Deno.test("KvStore.watch() whose replay falls out of the kept history ends with Expired", async () => {
  await withStore(async (store) => {
    for (let i = 0; i < 5; i++) await store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`));
    const lagging = store.watch("/core/", 0);
    const follower = store.watch("/core/", 5);
    for (let i = 5; i < 10; i++) await store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`));
    assert.equal((await take(follower, 5)).length, 5);
    await assert.rejects(take(lagging, 10), isStoreError("Expired"));
  }, { historyLimit: 5 });
});

Deno.test("KvStore.watch() ends a consumer that falls too far behind with Expired", async () => {
  await withStore(async (store) => {
    const slow = store.watch("/core/", 0);
    const fast = store.watch("/core/", 0)[Symbol.asyncIterator]();
    // the fast consumer takes each event before the next write, so it never has 3 waiting
    for (let i = 0; i < 10; i++) {
      await store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`));
      assert.equal((await fast.next()).value?.key, cmKey(`cm-${i}`));
    }
    await assert.rejects(
      take(slow, 10),
      (error: unknown) =>
        isStoreError("Expired")(error) && /more than 3 events/.test(String(error)),
    );
    const iterator = slow[Symbol.asyncIterator]();
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });
  }, { watchBufferSize: 3 });
});

Deno.test("KvStore.watch() close() or leaving a for-await loop ends iteration, also a pending next()", async () => {
  await withStore(async (store) => {
    await store.create(cmKey("a"), configMap("a"));
    const watch = store.watch("/core/", 1);
    const iterator = watch[Symbol.asyncIterator]();
    const pending = iterator.next();
    watch.close();
    assert.deepEqual(await pending, { done: true, value: undefined });
    assert.deepEqual(await iterator.next(), { done: true, value: undefined });

    const looped = store.watch("/core/", 0);
    const seen: number[] = [];
    for await (const event of looped) {
      seen.push(event.revision);
      looped.close();
    }
    assert.deepEqual(seen, [1]);

    const broken = store.watch("/core/", 0);
    for await (const _ of broken) break;
    assert.deepEqual(await broken[Symbol.asyncIterator]().next(), { done: true, value: undefined });
  });
});

Deno.test("KvStore.close() ends watches, is harmless twice and rejects later writes", async () => {
  const store = await openKvStore(":memory:");
  await store.create(cmKey("a"), configMap("a"));
  const watch = store.watch("/core/", 1);
  const pending = watch[Symbol.asyncIterator]().next();
  const closing = store.create(cmKey("b"), configMap("b"));
  await Promise.all([store.close(), store.close()]);
  assert.equal(rv(await closing), 2, "a write queued before close() completes");
  assert.deepEqual(await pending, { done: true, value: undefined });
  await assert.rejects(store.create(cmKey("c"), configMap("c")), /store is closed/);
  assert.throws(() => store.watch("/core/", 0), /store is closed/);
  assert.equal(rv(await store.get(cmKey("b"))), 2);
  await store.close();
});

Deno.test("KvStore rejects malformed keys, prefixes and revisions with a TypeError or RangeError", async () => {
  await withStore(async (store) => {
    await assert.rejects(store.create("core/configmaps/default/a", configMap("a")), TypeError);
    await assert.rejects(store.create("/core/configmaps/default/a/", configMap("a")), TypeError);
    await assert.rejects(store.create("/core//a", configMap("a")), TypeError);
    await assert.rejects(store.get(""), TypeError);
    await assert.rejects(store.list("/core/configmaps"), TypeError);
    await assert.rejects(
      store.create(cmKey("a"), { kind: "x" } as unknown as KubeObject),
      TypeError,
    );
    await assert.rejects(store.update(cmKey("a"), configMap("a"), -1), RangeError);
    assert.throws(() => store.watch("/core", 0), TypeError);
    assert.throws(() => store.watch("/core/", 1.5), RangeError);
    assert.equal(store.revision(), 0);
  });
});

Deno.test("openKvStore() rejects out-of-range options", async () => {
  await assert.rejects(
    openKvStore(":memory:", { historyLimit: 0 }),
    /historyLimit must be an integer/,
  );
  await assert.rejects(openKvStore(":memory:", { maxObjectBytes: 800 * 1024 }), /maxObjectBytes/);
  await assert.rejects(openKvStore(":memory:", { watchBufferSize: 1.5 }), /watchBufferSize/);
});

Deno.test("KvStore chunks a ~300 KiB object through create, get, list, watch and restart", async () => {
  await withDbFile(async (path) => {
    const payload = randomText(300 * 1024);
    let created: KubeObject | undefined;
    await withStore(
      async (store) => {
        const watch = store.watch("/core/", 0);
        created = await store.create(cmKey("big"), configMap("big", { payload }));
        assert.equal((created.data as Record<string, string>).payload, payload);
        assert.deepEqual(await store.get(cmKey("big")), created);
        assert.deepEqual((await store.list("/core/configmaps/default/")).items, [created]);
        const [event] = await take(watch, 1);
        assert.deepEqual(event?.object, created);
      },
      {},
      path,
    );
    const chunks = await withRawKv(path, (kv) => Array.fromAsync(kv.list({ prefix: ["d", 1] })));
    assert.equal(chunks.length, 6, "300 KiB of JSON takes 6 chunks of at most 60000 bytes");
    await withStore(
      async (store) => {
        assert.deepEqual(await store.get(cmKey("big")), created);
        const [event] = await take(store.watch("/core/", 0), 1);
        assert.deepEqual(event?.object, created);
        const updated = await store.update(
          cmKey("big"),
          configMap("big", { payload: payload.toLowerCase() }),
        );
        assert.equal((updated.data as Record<string, string>).payload, payload.toLowerCase());
      },
      {},
      path,
    );
  });
});

Deno.test("KvStore.create() and update() reject an object beyond maxObjectBytes with TooLarge", async () => {
  await withStore(async (store) => {
    const near = await store.create(
      cmKey("near"),
      configMap("near", { payload: randomText(690 * 1024) }),
    );
    assert.deepEqual(await store.get(cmKey("near")), near);
    await assert.rejects(
      store.create(cmKey("big"), configMap("big", { payload: randomText(701 * 1024) })),
      (error: unknown) =>
        isStoreError("TooLarge")(error) &&
        /Cannot create '\/core\/configmaps\/default\/big': the object is 71\d{4} bytes as JSON, more than the limit of 716800 bytes/
          .test(String(error)),
    );
    await assert.rejects(
      store.update(cmKey("near"), configMap("near", { payload: randomText(701 * 1024) })),
      isStoreError("TooLarge"),
    );
    assert.deepEqual(await store.get(cmKey("near")), near);
    assert.equal(store.revision(), 1);
    assert.equal(rv(await store.delete(cmKey("near"))), 2);
  });
  await withStore(async (store) => {
    await store.create(cmKey("small"), configMap("small", { payload: "x".repeat(100) }));
    await assert.rejects(
      store.create(cmKey("big"), configMap("big", { payload: "x".repeat(1000) })),
      isStoreError("TooLarge"),
    );
  }, { maxObjectBytes: 1000 });
});

Deno.test("openKvStore() on the same file keeps every object, the revision and the watchable history", async () => {
  await withDbFile(async (path) => {
    let before: KubeObject[] = [];
    await withStore(
      async (store) => {
        for (let i = 0; i < 5; i++) {
          await store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`, { i: String(i) }));
        }
        await store.update(cmKey("cm-1"), configMap("cm-1", { i: "one" }));
        await store.delete(cmKey("cm-2"));
        await store.create("/core/namespaces/default", configMap("default"));
        before = (await store.list("/")).items;
        assert.equal(store.revision(), 8);
      },
      {},
      path,
    );
    await withStore(
      async (store) => {
        assert.equal(store.revision(), 8);
        assert.deepEqual((await store.list("/")).items, before);
        assert.equal(store.oldestWatchableRevision(), 0);
        const watch = store.watch("/core/configmaps/", 5);
        const events = await take(watch, 2);
        assert.deepEqual(summary(events), [
          `6 MODIFIED ${cmKey("cm-1")}`,
          `7 DELETED ${cmKey("cm-2")}`,
        ]);
        assert.deepEqual(events[1]?.object, {
          ...configMap("cm-2", { i: "2" }),
          metadata: { name: "cm-2", namespace: "default", resourceVersion: "7" },
        });
        const created = await store.create(cmKey("cm-9"), configMap("cm-9"));
        assert.equal(rv(created), 9);
        assert.deepEqual(summary(await take(watch, 1)), [`9 ADDED ${cmKey("cm-9")}`]);
      },
      {},
      path,
    );
  });
});

Deno.test("KvStore group commit: 200 concurrent creates succeed with consecutive revisions in one commit", async () => {
  await withDbFile(async (path) => {
    await withStore(
      async (store) => {
        await store.create(cmKey("first"), configMap("first"));
        const created = await Promise.all(
          Array.from(
            { length: 200 },
            (_, i) => store.create(cmKey(`cm-${i}`), configMap(`cm-${i}`)),
          ),
        );
        assert.deepEqual(created.map(rv), Array.from({ length: 200 }, (_, i) => i + 2));
        assert.equal(store.revision(), 201);
        assert.equal((await store.list("/core/configmaps/")).items.length, 201);
      },
      {},
      path,
    );
    const stamps = await withRawKv(path, async (kv) => {
      const pointers = await Array.fromAsync(
        kv.list({ prefix: ["k", "core", "configmaps", "default"] }),
      );
      return new Set(pointers.filter((e) => e.key.at(-1) !== "first").map((e) => e.versionstamp));
    });
    assert.equal(stamps.size, 1, "the 200 creates queued together share one atomic commit");
  });
});

Deno.test("KvStore group commit: writes failing their preconditions in a batch fail alone", async () => {
  await withDbFile(async (path) => {
    await withStore(
      async (store) => {
        await store.create(cmKey("a"), configMap("a"));
        await store.create(cmKey("b"), configMap("b"));
        const results = await Promise.allSettled([
          store.create(cmKey("c"), configMap("c")), // 3
          store.create(cmKey("a"), configMap("a")), // AlreadyExists
          store.update(cmKey("b"), configMap("b"), 1), // Conflict
          store.update(cmKey("b"), configMap("b", { x: "1" }), 2), // 4
          store.delete(cmKey("missing")), // NotFound
          store.delete(cmKey("a"), 1), // 5
          store.create(cmKey("c"), configMap("c")), // AlreadyExists: created earlier in the batch
          store.update(cmKey("c"), configMap("c", { x: "1" }), 3), // 6: sees the create before it
          store.create(cmKey("a"), configMap("a", { again: "yes" })), // 7: sees the delete before it
        ]);
        const outcome = results.map((r) =>
          r.status === "fulfilled" ? rv(r.value) : (r.reason as StoreError).code
        );
        assert.deepEqual(outcome, [
          3,
          "AlreadyExists",
          "Conflict",
          4,
          "NotFound",
          5,
          "AlreadyExists",
          6,
          7,
        ]);
        assert.equal(store.revision(), 7);
        assert.deepEqual((await store.get(cmKey("a")))?.data, { again: "yes" });
        assert.deepEqual((await store.get(cmKey("c")))?.data, { x: "1" });
        const events = await take(store.watch("/core/", 2), 5);
        assert.deepEqual(summary(events), [
          `3 ADDED ${cmKey("c")}`,
          `4 MODIFIED ${cmKey("b")}`,
          `5 DELETED ${cmKey("a")}`,
          `6 MODIFIED ${cmKey("c")}`,
          `7 ADDED ${cmKey("a")}`,
        ]);
      },
      {},
      path,
    );
    const stamps = await withRawKv(path, async (kv) => {
      const log = await Array.fromAsync(kv.list({ start: ["log", 3], end: ["log", 8] }));
      return new Set(log.map((e) => e.versionstamp));
    });
    assert.equal(stamps.size, 1, "the successful writes of the batch share one atomic commit");
  });
});

Deno.test("KvStore group commit retries a batch that Deno KV rejects write by write, so only the bad write fails", async () => {
  await withStore(async (store) => {
    const longKey = cmKey("x".repeat(3000));
    const results = await Promise.allSettled([
      store.create(cmKey("a"), configMap("a")),
      store.create(longKey, configMap("long")),
      store.create(cmKey("b"), configMap("b")),
    ]);
    const outcome = results.map((r) =>
      r.status === "fulfilled" ? rv(r.value) : (r.reason as StoreError).code
    );
    assert.deepEqual(outcome, [1, "TooLarge", 2]);
    assert.match(
      String((results[1] as PromiseRejectedResult).reason),
      /Cannot create '.*': Key too large/,
    );
    assert.equal(store.revision(), 2);
    assert.equal(await store.get(longKey), null);
    assert.deepEqual(summary(await take(store.watch("/core/", 0), 2)), [
      `1 ADDED ${cmKey("a")}`,
      `2 ADDED ${cmKey("b")}`,
    ]);
  });
});

Deno.test("KvStore group commit splits a batch that would exceed Deno KV's commit size", async () => {
  await withDbFile(async (path) => {
    await withStore(
      async (store) => {
        const payload = randomText(300 * 1024);
        const created = await Promise.all(
          Array.from(
            { length: 6 },
            (_, i) => store.create(cmKey(`big-${i}`), configMap(`big-${i}`, { payload })),
          ),
        );
        assert.deepEqual(created.map(rv), [1, 2, 3, 4, 5, 6]);
      },
      {},
      path,
    );
    const stamps = await withRawKv(path, async (kv) => {
      const log = await Array.fromAsync(kv.list({ prefix: ["log"] }));
      return new Set(log.map((e) => e.versionstamp));
    });
    assert.equal(stamps.size, 3, "two 300 KiB objects fit in one commit, three do not");
  });
});

Deno.test("KvStore compaction deletes old log entries and their data, but keeps live data", async () => {
  await withDbFile(async (path) => {
    const layout = (kv: Deno.Kv) =>
      Promise.all([
        Array.fromAsync(kv.list<number>({ prefix: ["log"] })).then((l) =>
          l.map((e) => e.key[1] as number)
        ),
        Array.fromAsync(kv.list({ prefix: ["d"] })).then((d) => [
          ...new Set(d.map((e) => e.key[1] as number)),
        ]),
      ]);
    await withStore(
      async (store) => {
        await store.create(cmKey("keep"), configMap("keep")); // 1, stays live
        for (let i = 0; i < 10; i++) {
          await store.create(cmKey(`tmp-${i}`), configMap(`tmp-${i}`));
          await store.delete(cmKey(`tmp-${i}`));
        } // 2..21
        await withRawKv(path, async (kv) => {
          await eventually(
            async () => (await layout(kv))[0].length === 4,
            "the log holds 4 entries",
          );
          const [log, data] = await layout(kv);
          assert.deepEqual(log, [18, 19, 20, 21]);
          assert.deepEqual(data, [1, 18, 19, 20, 21], "revision 1 is live; older tmp data is gone");
        });
        assert.equal(store.oldestWatchableRevision(), 17);
        assert.throws(() => store.watch("/core/", 16), isStoreError("Expired"));
        await store.update(cmKey("keep"), configMap("keep", { x: "1" })); // 22
        await withRawKv(path, async (kv) => {
          await eventually(async () => (await layout(kv))[0][0] === 19, "the log starts at 19");
          const [, data] = await layout(kv);
          assert.deepEqual(
            data,
            [19, 20, 21, 22],
            "the update dropped the compacted data of revision 1",
          );
        });
      },
      { historyLimit: 4 },
      path,
    );
    await withStore(
      async (store) => {
        assert.equal(store.oldestWatchableRevision(), 18);
        assert.deepEqual((await store.list("/")).items.map((o) => o.metadata.name), ["keep"]);
        assert.deepEqual(
          summary(await take(store.watch("/core/", 18), 4)).at(-1),
          `22 MODIFIED ${cmKey("keep")}`,
        );
      },
      { historyLimit: 4 },
      path,
    );
  });
});

Deno.test("KvStore fails writes once another writer changed its data file", async () => {
  await withDbFile(async (path) => {
    await withStore(
      async (store) => {
        await store.create(cmKey("a"), configMap("a"));
        await withRawKv(path, (kv) => kv.set(["rev"], 1));
        await assert.rejects(store.create(cmKey("b"), configMap("b")), /changed by another writer/);
        await assert.rejects(store.update(cmKey("a"), configMap("a")), /changed by another writer/);
        assert.equal(await store.get(cmKey("b")), null);
      },
      {},
      path,
    );
  });
});
