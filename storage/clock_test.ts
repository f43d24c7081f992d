import assert from "node:assert/strict";
import { FakeClock, systemClock } from "./clock.ts";

Deno.test("FakeClock.advance() wakes sleepers in time order and not before their time", async () => {
  const clock = new FakeClock(1000);
  const woke: string[] = [];
  clock.sleep(300).then(() => woke.push(`b@${clock.now()}`));
  clock.sleep(100).then(() => woke.push(`a@${clock.now()}`));
  await clock.advance(99);
  assert.deepEqual(woke, []);
  await clock.advance(200);
  assert.deepEqual(woke, ["a@1100"]);
  await clock.advance(1);
  assert.deepEqual(woke, ["a@1100", "b@1300"]);
  assert.equal(clock.now(), 1300);
  assert.equal(clock.pending, 0);
});

Deno.test("FakeClock.advance() runs sleeps scheduled by woken code within the same advance", async () => {
  const clock = new FakeClock(0);
  const ticks: number[] = [];
  (async () => {
    for (let i = 0; i < 3; i++) {
      await clock.sleep(10);
      ticks.push(clock.now());
    }
  })();
  await clock.advance(30);
  assert.deepEqual(ticks, [10, 20, 30]);
});

Deno.test("Clock.sleep() returns at once when its signal aborts", async () => {
  const fake = new FakeClock(0);
  const ac = new AbortController();
  const sleeping = fake.sleep(1_000_000, ac.signal);
  ac.abort();
  await sleeping;
  assert.equal(fake.pending, 0);
  const ac2 = new AbortController();
  const real = systemClock.sleep(60_000, ac2.signal);
  ac2.abort();
  await real;
});
