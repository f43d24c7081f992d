import assert from "node:assert/strict";
import { openKvStore } from "../../storage/kv_store.ts";
import type { KubeObject } from "../../storage/object.ts";
import { type Store, StoreError, type StoreWatch } from "../../storage/store.ts";
import { GatedStore } from "./_testing.ts";
import { AllocationError, RangeAllocator } from "./range_allocator.ts";
import { StoreClaims } from "./store_claims.ts";

const PREFIX = "/core/configmaps/default/";

/** A ConfigMap holding slot `slot` of pool `n`. */
function holder(name: string, slot: number): KubeObject {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name, namespace: "default" },
    data: { slot: String(slot) },
  };
}

function claimsOver(store: Store, fixed: number[] = []): StoreClaims {
  return new StoreClaims({
    store,
    prefix: "/core/configmaps/",
    name: "test claims",
    pools: { n: new RangeAllocator(4, { strategy: "sequential" }) },
    fixed: { n: fixed },
    slotsOf: (obj) => ({ n: [Number((obj.data as Record<string, string>).slot)] }),
    retryMs: 5,
  });
}

/** Runs `fn` with an in-memory store, always closed afterwards. */
async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await openKvStore(":memory:");
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

function allocationCode(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof AllocationError) return e.code;
    throw e;
  }
  return "none";
}

Deno.test("StoreClaims.start() takes what the stored objects hold, and the fixed slots", async () => {
  await withStore(async (store) => {
    await store.create(`${PREFIX}a`, holder("a", 1));
    await store.create(`${PREFIX}b`, holder("b", 9)); // outside the range: ignored
    const claims = claimsOver(store, [3]);
    await claims.start();
    try {
      assert.equal(claims.used("n"), 2);
      assert.ok(claims.has("n", 1) && claims.has("n", 3));
      const r = claims.reserve();
      assert.equal(allocationCode(() => r.take("n", 1)), "Allocated");
      assert.equal(allocationCode(() => r.take("n", 3)), "Allocated");
      assert.deepEqual([r.takeNext("n"), r.takeNext("n")], [0, 2]);
      assert.equal(allocationCode(() => r.takeNext("n")), "Full");
      r.abort();
      assert.equal(claims.used("n"), 2, "an aborted reservation gives its slots back");
    } finally {
      await claims.stop();
    }
  });
});

Deno.test("StoreClaims reservation commit() keeps the slot until the watch shows the write", async () => {
  await withStore(async (inner) => {
    const store = new GatedStore(inner);
    const claims = claimsOver(store);
    await claims.start();
    try {
      store.pause();
      const r = claims.reserve();
      const slot = r.takeNext("n");
      const stored = await store.create(`${PREFIX}a`, holder("a", slot));
      const revision = Number(stored.metadata.resourceVersion);
      r.commit(revision);
      assert.ok(claims.has("n", slot), "committed, not yet observed: still reserved");
      store.resume();
      await claims.observed(revision);
      assert.ok(claims.has("n", slot), "observed: now held by the object");
      assert.equal(claims.used("n"), 1);

      store.pause();
      const deleted = await store.delete(`${PREFIX}a`);
      assert.ok(claims.has("n", slot), "deleted but not observed: still taken");
      store.resume();
      await claims.observed(Number(deleted.metadata.resourceVersion));
      assert.ok(!claims.has("n", slot), "the deletion was observed: free");
    } finally {
      await claims.stop();
    }
  });
});

Deno.test("StoreClaims counts a slot two objects hold until both let go", async () => {
  await withStore(async (store) => {
    await store.create(`${PREFIX}a`, holder("a", 2));
    await store.create(`${PREFIX}b`, holder("b", 2));
    const claims = claimsOver(store);
    await claims.start();
    try {
      const first = await store.delete(`${PREFIX}a`);
      await claims.observed(Number(first.metadata.resourceVersion));
      assert.ok(claims.has("n", 2));
      const moved = await store.update(`${PREFIX}b`, holder("b", 0));
      await claims.observed(Number(moved.metadata.resourceVersion));
      assert.ok(!claims.has("n", 2) && claims.has("n", 0));
    } finally {
      await claims.stop();
    }
  });
});

/** A store whose first watch fails with Expired (as after a compaction) once told to. */
class ExpiringStore extends GatedStore {
  readonly expire = Promise.withResolvers<void>();
  #failed = false;
  override watch(prefix: string, fromRevision: number): StoreWatch {
    if (this.#failed) return super.watch(prefix, fromRevision);
    this.#failed = true;
    const expired = this.expire.promise.then(() => {
      throw new StoreError("Expired", prefix);
    });
    return {
      close() {},
      [Symbol.asyncIterator]: () => ({ next: () => expired }),
    };
  }
}

Deno.test("StoreClaims lists again when its watch fails, and frees what went meanwhile", async () => {
  await withStore(async (inner) => {
    await inner.create(`${PREFIX}a`, holder("a", 1));
    const store = new ExpiringStore(inner);
    const claims = claimsOver(store);
    const logged: unknown[] = [];
    const error = console.error;
    console.error = (...args: unknown[]) => logged.push(args);
    try {
      await claims.start();
      assert.ok(claims.has("n", 1));
      const deleted = await inner.delete(`${PREFIX}a`);
      store.expire.resolve();
      await claims.observed(Number(deleted.metadata.resourceVersion));
      assert.ok(!claims.has("n", 1), "the new list no longer has the object");
      assert.equal(logged.length, 1, "the failed watch is logged once");
    } finally {
      console.error = error;
      await claims.stop();
    }
  });
});
