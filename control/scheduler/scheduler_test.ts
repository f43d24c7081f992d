import assert from "node:assert/strict";
import { openKvStore } from "../../storage/kv_store.ts";
import type { KubeObject } from "../../storage/object.ts";
import { RESOURCE_TYPES } from "../../storage/registry.ts";
import type { ResourceType } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import { testNode, testPod } from "./_testing.ts";
import { bindByUpdate, type BindFunction, Scheduler } from "./scheduler.ts";

const WRITE = { fieldValidation: "Strict", dryRun: false } as const;

function kind(name: string): ResourceType {
  const rt = RESOURCE_TYPES.find((t) => t.group === "" && t.kind === name);
  assert.ok(rt, name);
  return rt;
}

const NAMESPACES = kind("Namespace");
const NODES = kind("Node");
const PODS = kind("Pod");

/** A store with the `default` namespace, closed after `fn` whatever happens. */
async function withCluster(fn: (store: Store, objects: Objects) => Promise<void>): Promise<void> {
  const store = await openKvStore(":memory:");
  try {
    const objects = new Objects(store);
    await objects.create(
      NAMESPACES,
      undefined,
      { apiVersion: "v1", kind: "Namespace", metadata: { name: "default" } },
      WRITE,
    );
    await fn(store, objects);
  } finally {
    await store.close();
  }
}

/** Poll `probe` until it returns a value, failing after a bounded wait. */
async function eventually<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

interface Condition {
  type: string;
  status: string;
  reason?: string;
  message?: string;
}

function podScheduled(pod: KubeObject): Condition | undefined {
  const status = pod.status as { conditions?: Condition[] } | undefined;
  return status?.conditions?.find((c) => c.type === "PodScheduled");
}

function nodeNameOf(pod: KubeObject): string | undefined {
  return (pod.spec as { nodeName?: string }).nodeName;
}

Deno.test("Scheduler marks an unschedulable pod, records an Event, then binds it when a node fits", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("small", { cpu: "1" }), WRITE);
    const created = await objects.create(PODS, "default", testPod("big", { cpu: "2" }), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      const message = "0/1 nodes are available: 1 Insufficient cpu.";
      const condition = await eventually("the Unschedulable condition", async () => {
        const c = podScheduled(await objects.get(PODS, "default", "big"));
        return c?.status === "False" ? c : undefined;
      });
      assert.equal(condition.reason, "Unschedulable");
      assert.equal(condition.message, message);

      const event = await eventually("the FailedScheduling event", async () => {
        const { items } = await store.list("/core/events/default/");
        return items.find((e) => e.reason === "FailedScheduling");
      });
      assert.equal(event.type, "Warning");
      assert.equal(event.message, message);
      assert.deepEqual(event.source, { component: "default-scheduler" });
      assert.equal(event.reportingComponent, "default-scheduler");
      assert.ok((event.count as number) >= 1);
      assert.ok(event.firstTimestamp && event.lastTimestamp);
      const involved = event.involvedObject as Record<string, unknown>;
      assert.equal(involved.kind, "Pod");
      assert.equal(involved.apiVersion, "v1");
      assert.equal(involved.namespace, "default");
      assert.equal(involved.name, "big");
      assert.equal(involved.uid, created.object.metadata.uid);
      assert.ok(involved.resourceVersion);

      await objects.create(NODES, undefined, testNode("large", { cpu: "4" }), WRITE);
      const bound = await eventually("the pod to be bound", async () => {
        const pod = await objects.get(PODS, "default", "big");
        return nodeNameOf(pod) ? pod : undefined;
      });
      assert.equal(nodeNameOf(bound), "large");
      const scheduled = await eventually("PodScheduled=True", async () => {
        const c = podScheduled(await objects.get(PODS, "default", "big"));
        return c?.status === "True" ? c : undefined;
      });
      assert.equal(scheduled.type, "PodScheduled");
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("Scheduler re-plans from fresh state when it loses a bind race", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const real = bindByUpdate(objects, PODS);
    const calls: string[] = [];
    const bind: BindFunction = async (pod, nodeName, expectedResourceVersion) => {
      calls.push(expectedResourceVersion);
      if (calls.length === 1) {
        await objects.patch(
          PODS,
          "default",
          pod.metadata.name ?? "",
          "application/merge-patch+json",
          { metadata: { labels: { touched: "yes" } } },
          WRITE,
        );
        throw ApiError.conflict(
          { group: "", resource: "pods" },
          "web",
          "the object has been modified",
        );
      }
      await real(pod, nodeName, expectedResourceVersion);
    };
    const created = await objects.create(PODS, "default", testPod("web"), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, bind, retryMs: 10 });
    await scheduler.start();
    try {
      const bound = await eventually("the pod to be bound", async () => {
        const pod = await objects.get(PODS, "default", "web");
        return nodeNameOf(pod) ? pod : undefined;
      });
      assert.equal(nodeNameOf(bound), "n1");
      assert.equal(bound.metadata.labels?.touched, "yes");
      assert.equal(calls.length, 2);
      assert.equal(calls[0], created.object.metadata.resourceVersion);
      assert.notEqual(calls[1], calls[0]);
    } finally {
      await scheduler.stop();
    }
  });
});

Deno.test("bindByUpdate() refuses a stale resourceVersion and an already bound pod with Conflict", async () => {
  await withCluster(async (_store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const { object: pod } = await objects.create(PODS, "default", testPod("web"), WRITE);
    const bind = bindByUpdate(objects, PODS);
    await assert.rejects(
      bind(pod, "n1", "1"),
      (e) => e instanceof ApiError && e.reason === "Conflict",
    );
    await bind(pod, "n1", pod.metadata.resourceVersion ?? "");
    const bound = await objects.get(PODS, "default", "web");
    assert.equal(nodeNameOf(bound), "n1");
    await assert.rejects(
      bind(bound, "n1", bound.metadata.resourceVersion ?? ""),
      (e) => e instanceof ApiError && e.reason === "Conflict" && /already assigned/.test(e.message),
    );
  });
});

Deno.test("Scheduler ignores pods for another scheduler and stops cleanly", async () => {
  await withCluster(async (store, objects) => {
    await objects.create(NODES, undefined, testNode("n1"), WRITE);
    const other = testPod("custom", { spec: { schedulerName: "other-scheduler" } });
    await objects.create(PODS, "default", other, WRITE);
    await objects.create(PODS, "default", testPod("mine"), WRITE);
    const scheduler = new Scheduler({ store, objects, types: RESOURCE_TYPES, retryMs: 10 });
    await scheduler.start();
    try {
      await eventually("the default-scheduler pod to be bound", async () => {
        return nodeNameOf(await objects.get(PODS, "default", "mine"));
      });
      assert.equal(nodeNameOf(await objects.get(PODS, "default", "custom")), undefined);
      const { items } = await store.list("/core/events/default/");
      assert.equal(items.length, 0);
    } finally {
      await scheduler.stop();
    }
  });
});
