import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { WorkQueue } from "./work_queue.ts";

/** A queue whose reconcile records each key and answers from `results` (default: done). */
function recording(
  results: (key: string, call: number) => boolean | Error = () => false,
  retryMs = 1000,
) {
  const clock = new FakeClock();
  const calls: string[] = [];
  const errors: [string, unknown][] = [];
  const queue = new WorkQueue({
    reconcile: (key) => {
      calls.push(key);
      const result = results(key, calls.length);
      return result instanceof Error ? Promise.reject(result) : Promise.resolve(result);
    },
    onError: (key, error) => errors.push([key, error]),
    retryMs,
    clock,
  });
  return { clock, calls, errors, queue };
}

Deno.test("WorkQueue.add() runs a key once however often it was added while waiting", async () => {
  const { clock, calls, queue } = recording();
  queue.add("a");
  queue.add("b");
  queue.add("a");
  assert.deepEqual(calls, [], "nothing runs before start()");
  queue.start();
  await clock.advance(0);
  assert.deepEqual(calls, ["a", "b"]);
  queue.add("a");
  await clock.advance(0);
  assert.deepEqual(calls, ["a", "b", "a"], "a key is taken again once it has run");
  await queue.stop();
});

Deno.test("WorkQueue.add() of a key being reconciled runs it again afterwards", async () => {
  const clock = new FakeClock();
  const calls: string[] = [];
  const release = Promise.withResolvers<boolean>();
  const queue = new WorkQueue({
    reconcile: (key) => {
      calls.push(key);
      return calls.length === 1 ? release.promise : Promise.resolve(false);
    },
    onError: () => {},
    retryMs: 1000,
    clock,
  });
  queue.add("a");
  queue.start();
  await clock.advance(0);
  queue.add("a");
  await clock.advance(0);
  assert.deepEqual(calls, ["a"], "one reconcile at a time");
  release.resolve(false);
  await clock.advance(0);
  assert.deepEqual(calls, ["a", "a"]);
  await queue.stop();
});

Deno.test("WorkQueue retries a key retryMs after its reconcile returns true", async () => {
  const { clock, calls, errors, queue } = recording((_key, call) => call === 1, 500);
  queue.add("a");
  queue.start();
  await clock.advance(499);
  assert.deepEqual(calls, ["a"]);
  await clock.advance(1);
  assert.deepEqual(calls, ["a", "a"]);
  await clock.advance(10_000);
  assert.deepEqual(calls, ["a", "a"], "a key that converged is not retried");
  assert.deepEqual(errors, []);
  await queue.stop();
});

Deno.test("WorkQueue hands a reconcile's error to onError and retries the key", async () => {
  const boom = new Error("boom");
  const { clock, calls, errors, queue } = recording((_key, call) => call === 1 ? boom : false);
  queue.add("a");
  queue.start();
  await clock.advance(0);
  assert.deepEqual(errors, [["a", boom]]);
  await clock.advance(1000);
  assert.deepEqual(calls, ["a", "a"]);
  assert.equal(errors.length, 1);
  await queue.stop();
});

Deno.test("WorkQueue.stop() waits for the running reconcile and leaves no timers", async () => {
  let finished = false;
  const started = Promise.withResolvers<void>();
  const queue = new WorkQueue({
    reconcile: async () => {
      started.resolve();
      await new Promise((resolve) => setTimeout(resolve, 10));
      finished = true;
      return true;
    },
    onError: () => {},
    retryMs: 60_000,
  });
  queue.add("a");
  queue.addAfter("b", 60_000);
  queue.start();
  await started.promise;
  await queue.stop();
  assert.ok(finished);
  queue.add("c");
  queue.addAfter("d", 60_000);
  // the sanitizers fail this test if a retry timer or the worker outlived stop()
});

Deno.test("WorkQueue.stop() before start() resolves at once, and start() then runs nothing", async () => {
  const { calls, queue } = recording();
  queue.add("a");
  await queue.stop();
  queue.start();
  assert.deepEqual(calls, []);
  await queue.stop();
});

Deno.test("WorkQueue backs off failing keys exponentially up to maxRetryMs and forgets on success", async () => {
  const clock = new FakeClock();
  const at: number[] = [];
  let failuresLeft = 5;
  const queue = new WorkQueue({
    reconcile: () => {
      at.push(clock.now());
      return failuresLeft-- > 0 ? Promise.reject(new Error("down")) : Promise.resolve(false);
    },
    onError: () => {},
    retryMs: 100,
    maxRetryMs: 500,
    clock,
  });
  queue.start();
  queue.add("a");
  await clock.advance(10_000);
  // failures at 0, 100, 300, 700, 1200; retries after 100, 200, 400, 500 (capped), 500
  assert.deepEqual(at, [0, 100, 300, 700, 1200, 1700]);
  failuresLeft = 1;
  queue.add("a");
  await clock.advance(10_000);
  assert.equal(at.at(-1)! - at.at(-2)!, 100, "a success reset the back-off");
  await queue.stop();
});
