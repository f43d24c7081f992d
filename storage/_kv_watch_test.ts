import assert from "node:assert/strict";
import { EventWindow, KvWatch } from "./_kv_watch.ts";
import { StoreError, type StoreEvent } from "./store.ts";

function event(revision: number, key = "/core/pods/ns/a"): StoreEvent {
  return { type: "ADDED", key, revision, object: { apiVersion: "v1", kind: "Pod", metadata: {} } };
}

Deno.test("EventWindow.trim() drops the oldest events and raises floor", () => {
  const window = new EventWindow(10);
  for (let r = 11; r <= 2100; r++) window.append(event(r));
  window.trim(5);
  assert.equal(window.floor, 2095);
  assert.equal(window.last, 2100);
  assert.equal(window.at(2095), undefined);
  assert.equal(window.at(2096)?.revision, 2096);
  assert.equal(window.at(2101), undefined);
  assert.throws(() => window.append(event(2102)), /Cannot append the event of revision 2102/);
});

Deno.test("KvWatch.next() replays the window, then live events, and copies objects", async () => {
  const window = new EventWindow(0);
  window.append(event(1));
  window.append(event(2, "/core/services/ns/a"));
  let ended = 0;
  const watch = new KvWatch("/core/pods/", 0, window, 10, () => ended++);
  const live = event(3);
  window.append(live);
  watch.offer(live);
  assert.deepEqual((await watch.next()).value?.revision, 1);
  const third = await watch.next();
  assert.equal(third.value?.revision, 3);
  assert.notEqual(third.value?.object, live.object);
  watch.close();
  watch.close();
  assert.equal(ended, 1);
  assert.deepEqual(await watch.next(), { done: true, value: undefined });
});

Deno.test("KvWatch.offer() beyond the buffer size ends the watch with Expired", async () => {
  const window = new EventWindow(0);
  const watch = new KvWatch("/", 0, window, 2, () => {});
  for (let r = 1; r <= 3; r++) {
    const e = event(r);
    window.append(e);
    watch.offer(e);
  }
  await assert.rejects(
    watch.next(),
    (e: unknown) => e instanceof StoreError && e.code === "Expired",
  );
  assert.deepEqual(await watch.next(), { done: true, value: undefined });
});
