import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { storeWithNamespaces } from "./_testing.ts";
import { EventRecorder } from "./events.ts";

const POD: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web-1", namespace: "default", uid: "uid-1", resourceVersion: "7" },
};

Deno.test("EventRecorder writes an Event about an object and counts repeats in it", async () => {
  const store = await storeWithNamespaces();
  try {
    const clock = new FakeClock(Date.parse("2026-11-22T10:00:00Z"));
    const events = new EventRecorder({ store, component: "test-controller", clock });
    await events.record(POD, "Normal", "Started", "one");
    await clock.advance(5_000);
    await events.record(POD, "Normal", "Started", "one");
    await events.record(POD, "Warning", "Failed", "two");
    const listed = (await store.list("/core/events/default/")).items;
    assert.equal(listed.length, 2);
    const started = listed.find((e) => e.reason === "Started")!;
    assert.equal(started.count, 2);
    assert.equal(started.firstTimestamp, "2026-11-22T10:00:00Z");
    assert.equal(started.lastTimestamp, "2026-11-22T10:00:05Z");
    assert.deepEqual(started.involvedObject, {
      kind: "Pod",
      namespace: "default",
      name: "web-1",
      uid: "uid-1",
      apiVersion: "v1",
      resourceVersion: "7",
    });
    assert.deepEqual(started.source, { component: "test-controller" });
    assert.match(started.metadata.name!, /^web-1\.[0-9a-f]+$/);
    assert.equal(listed.find((e) => e.reason === "Failed")?.type, "Warning");
  } finally {
    await store.close();
  }
});

Deno.test("EventRecorder logs instead of throwing when the Event cannot be written", async () => {
  const store = await storeWithNamespaces();
  const logged: unknown[] = [];
  const error = console.error;
  console.error = (...args: unknown[]) => logged.push(args);
  try {
    const events = new EventRecorder({ store, component: "test-controller" });
    // no namespace "nowhere": the create is refused
    await events.record(
      { ...POD, metadata: { ...POD.metadata, namespace: "nowhere" } },
      "Normal",
      "X",
      "y",
    );
    assert.equal(logged.length, 1);
  } finally {
    console.error = error;
    await store.close();
  }
});
