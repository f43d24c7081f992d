import assert from "node:assert/strict";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import type { Store } from "../../storage/store.ts";
import { storeWithNamespaces } from "../_testing.ts";
import { parseCidr } from "../allocators/cidr.ts";
import { Objects } from "../api/objects.ts";
import { EventRecorder } from "../events.ts";
import { NodeIpamController, podCidrsOf } from "./controller.ts";

const NODES = findKind("v1", "Node")!;
const WRITE = { fieldValidation: "Strict", dryRun: false } as const;

function controllerOver(store: Store, clusterCidr = "10.244.0.0/16"): NodeIpamController {
  return new NodeIpamController({
    store,
    clusterCidr: parseCidr(clusterCidr),
    nodeCidrMaskSize: 24,
    events: new EventRecorder({ store, component: "node-ipam-controller" }),
    retryMs: 10,
  });
}

async function addNode(store: Store, name: string, podCIDR?: string): Promise<KubeObject> {
  const spec = podCIDR ? { podCIDR, podCIDRs: [podCIDR] } : {};
  const res = await new Objects(store).create(NODES, undefined, {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name },
    spec,
  }, WRITE);
  return res.object;
}

/** Polls (bounded: 1000 × 10 ms) until `check` returns a value. */
async function eventually<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 1000; i++) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function cidrOf(store: Store, name: string): Promise<string> {
  return await eventually(`node ${name} to get a pod CIDR`, async () => {
    const node = await store.get(`/core/nodes/${name}`);
    return node ? podCidrsOf(node)[0] : undefined;
  });
}

async function withStore(fn: (store: Store) => Promise<void>): Promise<void> {
  const store = await storeWithNamespaces();
  try {
    await fn(store);
  } finally {
    await store.close();
  }
}

Deno.test("NodeIpamController gives each Node its own /24 and leaves assigned ones alone", async () => {
  await withStore(async (store) => {
    await addNode(store, "kept", "10.244.0.0/24");
    await addNode(store, "foreign", "192.168.7.0/24");
    await addNode(store, "a");
    const controller = controllerOver(store);
    await controller.start();
    try {
      await addNode(store, "b");
      const a = await cidrOf(store, "a");
      const b = await cidrOf(store, "b");
      assert.notEqual(a, b);
      for (const cidr of [a, b]) {
        assert.match(cidr, /^10\.244\.\d+\.0\/24$/);
        assert.notEqual(cidr, "10.244.0.0/24", "the kept CIDR is not handed out again");
      }
      const node = (await store.get("/core/nodes/a"))!;
      assert.deepEqual((node.spec as Record<string, unknown>).podCIDRs, [a]);
      assert.equal(await cidrOf(store, "kept"), "10.244.0.0/24");
      assert.equal(await cidrOf(store, "foreign"), "192.168.7.0/24");
      assert.equal(controller.used, 3);
    } finally {
      await controller.stop();
    }
  });
});

Deno.test("NodeIpamController after a restart knows every CIDR given before", async () => {
  await withStore(async (store) => {
    const first = controllerOver(store, "10.244.0.0/22");
    await first.start();
    for (const name of ["a", "b", "c"]) await addNode(store, name);
    const before = new Set<string>();
    for (const name of ["a", "b", "c"]) before.add(await cidrOf(store, name));
    await first.stop();

    const second = controllerOver(store, "10.244.0.0/22");
    await second.start();
    try {
      assert.equal(second.used, 3);
      await addNode(store, "d");
      const d = await cidrOf(store, "d");
      assert.ok(!before.has(d), `${d} is new`);
      assert.equal(second.used, 4);
    } finally {
      await second.stop();
    }
  });
});

Deno.test("NodeIpamController records CIDRNotAvailable when full and assigns once a Node is gone", async () => {
  await withStore(async (store) => {
    const controller = controllerOver(store, "10.244.0.0/23");
    const error = console.error;
    const logged: string[] = [];
    console.error = (...args: unknown[]) => logged.push(args.join(" "));
    await controller.start();
    try {
      await addNode(store, "a");
      await addNode(store, "b");
      const a = await cidrOf(store, "a");
      await cidrOf(store, "b");
      await addNode(store, "c");
      const event = await eventually("a CIDRNotAvailable event", async () => {
        const { items } = await store.list("/core/events/default/");
        return items.find((e) => e.reason === "CIDRNotAvailable");
      });
      assert.equal(event.type, "Warning");
      assert.match(
        String(event.message),
        /^Node c status is now: CIDRNotAvailable \(every \/24 of 10\.244\.0\.0\/23 is in use\)$/,
      );
      assert.deepEqual(podCidrsOf((await store.get("/core/nodes/c"))!), []);
      assert.ok(logged.some((line) => line.includes("CIDRNotAvailable")));

      await new Objects(store).delete(NODES, undefined, "a", { dryRun: false });
      assert.equal(await cidrOf(store, "c"), a, "the deleted Node's CIDR goes to the waiting one");
    } finally {
      await controller.stop();
      console.error = error;
    }
  });
});
