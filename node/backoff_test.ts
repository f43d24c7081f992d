import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { Backoff, formatDuration } from "./backoff.ts";

Deno.test("Backoff.next() starts at 10s and doubles to a 5m cap", () => {
  const clock = new FakeClock(0);
  const backoff = new Backoff(clock);
  const delays: number[] = [];
  for (let i = 0; i < 8; i++) {
    backoff.next("c", i * 1_000);
    delays.push(backoff.get("c"));
  }
  assert.deepEqual(delays, [10_000, 20_000, 40_000, 80_000, 160_000, 300_000, 300_000, 300_000]);
});

Deno.test("Backoff.isInBackOffSince() is true until the delay after the event has passed", async () => {
  const clock = new FakeClock(0);
  const backoff = new Backoff(clock);
  assert.equal(backoff.isInBackOffSince("c", 0), false);
  backoff.next("c", 0);
  await clock.advance(5_000);
  assert.equal(backoff.isInBackOffSince("c", 0), true);
  assert.equal(backoff.remaining("c", 0), 5_000);
  await clock.advance(5_000);
  assert.equal(backoff.isInBackOffSince("c", 0), false);
});

Deno.test("Backoff.next() starts over when the failure comes more than 10m after the last", () => {
  const backoff = new Backoff(new FakeClock(0));
  backoff.next("c", 0);
  backoff.next("c", 1_000);
  assert.equal(backoff.get("c"), 20_000);
  backoff.next("c", 1_000 + 600_001);
  assert.equal(backoff.get("c"), 10_000);
});

Deno.test("formatDuration() prints like Go's time.Duration", () => {
  assert.equal(formatDuration(10_000), "10s");
  assert.equal(formatDuration(160_000), "2m40s");
  assert.equal(formatDuration(300_000), "5m0s");
});
