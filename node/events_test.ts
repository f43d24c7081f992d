import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";
import { EventRecorder, type EventSink } from "./events.ts";

const T0 = Date.parse("2024-01-01T00:00:00Z");

const POD: KubeObject = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name: "web", namespace: "apps", uid: "uid-1", resourceVersion: "7" },
};

/** An API that keeps Events by path and can be told to fail. */
class FakeSink implements EventSink {
  readonly calls: string[] = [];
  readonly events = new Map<string, Record<string, unknown>>();
  failing: Error | undefined;
  /** resolved by the test to let a held write finish */
  hold: Promise<void> | undefined;

  async create(collectionPath: string, obj: unknown): Promise<unknown> {
    await this.hold;
    const event = obj as KubeObject;
    this.calls.push(`POST ${collectionPath} count=${event.count}`);
    if (this.failing) throw this.failing;
    this.events.set(`${collectionPath}/${event.metadata.name}`, { ...event });
    return event;
  }

  async patch(path: string, patch: unknown, type?: string): Promise<unknown> {
    await this.hold;
    const p = patch as Record<string, unknown>;
    this.calls.push(`PATCH ${path} count=${p.count} ${type ?? "merge"}`);
    if (this.failing) throw this.failing;
    const event = this.events.get(path);
    if (!event) throw new ApiError("NotFound", `events "${path}" not found`);
    Object.assign(event, p);
    return event;
  }
}

function setup(maxQueued?: number) {
  const clock = new FakeClock(T0);
  const sink = new FakeSink();
  const recorder = new EventRecorder({
    client: sink,
    clock,
    nodeName: "edge-1",
    ...(maxQueued ? { maxQueued } : {}),
  });
  return { clock, sink, recorder };
}

Deno.test("EventRecorder.record() creates a kubelet-shaped core/v1 Event in the pod's namespace", async () => {
  const { sink, recorder } = setup();
  recorder.record(POD, "Started", "Normal", "Started container c", "spec.containers{c}");
  await recorder.flush();
  const [path, event] = [...sink.events][0] ?? [];
  assert.match(path ?? "", /^\/api\/v1\/namespaces\/apps\/events\/web\.[0-9a-f]+$/);
  assert.deepEqual({ ...event, metadata: undefined }, {
    apiVersion: "v1",
    kind: "Event",
    metadata: undefined,
    involvedObject: {
      apiVersion: "v1",
      kind: "Pod",
      name: "web",
      namespace: "apps",
      uid: "uid-1",
      resourceVersion: "7",
      fieldPath: "spec.containers{c}",
    },
    reason: "Started",
    message: "Started container c",
    type: "Normal",
    source: { component: "kubelet", host: "edge-1" },
    reportingComponent: "kubelet",
    reportingInstance: "edge-1",
    firstTimestamp: "2024-01-01T00:00:00Z",
    lastTimestamp: "2024-01-01T00:00:00Z",
    count: 1,
  });
});

Deno.test("EventRecorder.record() PATCHes count and lastTimestamp on a repeat within 10 minutes", async () => {
  const { clock, sink, recorder } = setup();
  recorder.record(POD, "BackOff", "Warning", "Back-off restarting failed container c");
  await recorder.flush();
  await clock.advance(60_000);
  recorder.record(POD, "BackOff", "Warning", "Back-off restarting failed container c");
  await recorder.flush();
  const [path] = [...sink.events.keys()];
  assert.deepEqual(sink.calls, [
    "POST /api/v1/namespaces/apps/events count=1",
    `PATCH ${path} count=2 merge`,
  ]);
  assert.equal(sink.events.get(path!)?.lastTimestamp, "2024-01-01T00:01:00Z");
  assert.equal(sink.events.get(path!)?.firstTimestamp, "2024-01-01T00:00:00Z");

  // A different message, or the same one after more than 10 minutes, is a new Event.
  recorder.record(POD, "BackOff", "Warning", "Back-off restarting failed container d");
  await clock.advance(10 * 60_000 + 1);
  recorder.record(POD, "BackOff", "Warning", "Back-off restarting failed container c");
  await recorder.flush();
  assert.equal(sink.events.size, 3);
  assert.deepEqual(sink.calls.slice(2), [
    "POST /api/v1/namespaces/apps/events count=1",
    "POST /api/v1/namespaces/apps/events count=1",
  ]);
});

Deno.test("EventRecorder.record() folds repeats made while a write is pending into one write", async () => {
  const { sink, recorder } = setup();
  let release = () => {};
  sink.hold = new Promise((resolve) => release = resolve);
  for (let i = 0; i < 5; i++) recorder.record(POD, "Unhealthy", "Warning", "probe failed");
  release();
  await recorder.flush();
  assert.deepEqual(sink.calls.map((c) => c.split(" ")[0] + " " + c.split(" ")[2]), [
    "POST count=1",
    "PATCH count=5",
  ]);
});

Deno.test("EventRecorder.record() drops Events beyond maxQueued while the API is slow", async () => {
  const { sink, recorder } = setup(2);
  let release = () => {};
  sink.hold = new Promise((resolve) => release = resolve);
  for (let i = 0; i < 10; i++) recorder.record(POD, "Created", "Normal", `Created container c${i}`);
  // c0 is being written; c1 and c2 wait; the rest were dropped.
  assert.equal(recorder.queued, 2);
  release();
  await recorder.flush();
  assert.deepEqual(
    [...sink.events.values()].map((e) => e.message),
    ["Created container c0", "Created container c1", "Created container c2"],
  );
});

Deno.test("EventRecorder.record() swallows API failures and creates the Event on the next repeat", async () => {
  const { sink, recorder } = setup();
  sink.failing = new TypeError("error sending request: connection refused");
  recorder.record(POD, "Killing", "Normal", "Stopping container c");
  await recorder.flush();
  assert.equal(sink.events.size, 0);
  sink.failing = undefined;
  recorder.record(POD, "Killing", "Normal", "Stopping container c");
  await recorder.flush();
  assert.deepEqual([...sink.events.values()].map((e) => e.count), [2]);

  // An Event deleted on the server (TTL) is created again rather than patched forever.
  sink.events.clear();
  recorder.record(POD, "Killing", "Normal", "Stopping container c");
  await recorder.flush();
  assert.deepEqual([...sink.events.values()].map((e) => e.count), [3]);
});

Deno.test("EventRecorder.close() drops what is queued and records nothing more", async () => {
  const { sink, recorder } = setup();
  let release = () => {};
  sink.hold = new Promise((resolve) => release = resolve);
  recorder.record(POD, "Created", "Normal", "Created container a");
  recorder.record(POD, "Created", "Normal", "Created container b");
  recorder.close();
  recorder.record(POD, "Created", "Normal", "Created container c");
  release();
  await recorder.flush();
  assert.deepEqual([...sink.events.values()].map((e) => e.message), ["Created container a"]);
});
