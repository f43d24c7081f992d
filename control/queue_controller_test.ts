import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { QueueController, type QueueControllerOptions } from "./queue_controller.ts";

/** Records when each key is reconciled; keys in `failing` throw. */
class Recorder extends QueueController {
  readonly calls: [string, number][] = [];
  readonly failing = new Set<string>();
  readonly #clock: FakeClock;

  constructor(clock: FakeClock, options: QueueControllerOptions = {}) {
    super("test controller", { ...options, clock });
    this.#clock = clock;
  }

  add(key: string): void {
    this.queue.add(key);
  }

  override reconcile(key: string): Promise<boolean> {
    this.calls.push([key, this.#clock.now()]);
    if (this.failing.has(key)) return Promise.reject(new Error(`${key} failed`));
    return Promise.resolve(false);
  }
}

Deno.test("QueueController reconciles queued keys from start() until stop()", async () => {
  const clock = new FakeClock();
  const controller = new Recorder(clock);
  controller.add("default/a");
  await clock.advance(0);
  assert.deepEqual(controller.calls, [], "nothing runs before start()");
  controller.start();
  await clock.advance(0);
  assert.deepEqual(controller.calls, [["default/a", 0]]);
  await controller.stop();
  controller.add("default/b");
  await clock.advance(0);
  assert.deepEqual(controller.calls, [["default/a", 0]], "nothing runs after stop()");
});

Deno.test("QueueController logs a failed reconcile under its name and backs off to maxRetryMs", async () => {
  const clock = new FakeClock();
  const controller = new Recorder(clock, { retryMs: 1000, maxRetryMs: 3000 });
  const error = console.error;
  const logged: string[] = [];
  console.error = (...args: unknown[]) => logged.push(args.join(" "));
  try {
    controller.failing.add("default/a");
    controller.add("default/a");
    controller.start();
    await clock.advance(9000);
    assert.deepEqual(controller.calls.map(([, at]) => at), [0, 1000, 3000, 6000, 9000]);
    assert.equal(logged[0], "test controller: sync default/a: Error: default/a failed");
  } finally {
    await controller.stop();
    console.error = error;
  }
});
