import assert from "node:assert/strict";
import { FakeClock } from "../storage/clock.ts";
import { ControllerExpectations, EXPECTATIONS_TIMEOUT_MS } from "./expectations.ts";

const KEY = "default/web";

function setup(ttlMs?: number) {
  const clock = new FakeClock(1_000_000);
  const expectations = new ControllerExpectations(
    ttlMs === undefined ? { clock } : { clock, ttlMs },
  );
  return { clock, expectations };
}

Deno.test("ControllerExpectations.satisfied() is true for a key that never expected anything", () => {
  const { expectations } = setup();
  assert.equal(expectations.satisfied(KEY), true);
  assert.equal(expectations.pending(KEY), undefined);
});

Deno.test("ControllerExpectations.satisfied() waits until every expected creation is observed", () => {
  const { expectations } = setup();
  expectations.expectCreations(KEY, 3);
  assert.equal(expectations.satisfied(KEY), false);
  expectations.creationObserved(KEY);
  expectations.creationObserved(KEY);
  assert.deepEqual(expectations.pending(KEY), { add: 1, del: 0 });
  assert.equal(expectations.satisfied(KEY), false);
  expectations.creationObserved(KEY);
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.creationObserved() takes a count for creations never attempted", () => {
  const { expectations } = setup();
  expectations.expectCreations(KEY, 10);
  expectations.creationObserved(KEY, 7);
  assert.deepEqual(expectations.pending(KEY), { add: 3, del: 0 });
  expectations.creationObserved(KEY, 3);
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.creationObserved() beyond what was expected stays satisfied", () => {
  const { expectations } = setup();
  expectations.expectCreations(KEY, 1);
  expectations.creationObserved(KEY);
  expectations.creationObserved(KEY);
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.creationObserved() does nothing for a key that expects nothing", () => {
  const { expectations } = setup();
  expectations.creationObserved(KEY);
  assert.equal(expectations.pending(KEY), undefined);
  expectations.expectCreations(KEY, 1);
  assert.equal(expectations.satisfied(KEY), false, "an early observation is not banked");
});

Deno.test("ControllerExpectations.deletionObserved() counts each expected uid once", () => {
  const { expectations } = setup();
  expectations.expectDeletions(KEY, ["uid-a", "uid-b"]);
  assert.deepEqual(expectations.pending(KEY), { add: 0, del: 2 });
  expectations.deletionObserved(KEY, "uid-a");
  // The pod's deletionTimestamp was seen first, now the DELETED event: it counts once.
  expectations.deletionObserved(KEY, "uid-a");
  assert.equal(expectations.satisfied(KEY), false);
  expectations.deletionObserved(KEY, "uid-b");
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.deletionObserved() ignores pods that were not expected to go", () => {
  const { expectations } = setup();
  expectations.expectDeletions(KEY, ["uid-a"]);
  expectations.deletionObserved(KEY, "uid-other");
  expectations.deletionObserved(KEY);
  assert.deepEqual(expectations.pending(KEY), { add: 0, del: 1 });
  assert.equal(expectations.satisfied(KEY), false);
});

Deno.test("ControllerExpectations.expectDeletions() with a number counts any observed deletion", () => {
  const { expectations } = setup();
  expectations.expectDeletions(KEY, 2);
  expectations.deletionObserved(KEY);
  expectations.deletionObserved(KEY, "uid-x");
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.expectDeletions() with no uids is satisfied at once", () => {
  const { expectations } = setup();
  expectations.expectDeletions(KEY, []);
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations.expectCreations() replaces what the key expected before", () => {
  const { expectations } = setup();
  expectations.expectDeletions(KEY, ["uid-a"]);
  expectations.expectCreations(KEY, 1);
  assert.deepEqual(expectations.pending(KEY), { add: 1, del: 0 });
  expectations.creationObserved(KEY);
  assert.equal(expectations.satisfied(KEY), true, "the deletion of uid-a is no longer awaited");
});

Deno.test("ControllerExpectations.satisfied() is true once expectations outlive the TTL", async () => {
  const { clock, expectations } = setup();
  expectations.expectCreations(KEY, 5);
  await clock.advance(EXPECTATIONS_TIMEOUT_MS);
  assert.equal(expectations.satisfied(KEY), false, "exactly the TTL still holds");
  await clock.advance(1);
  assert.equal(expectations.satisfied(KEY), true);
  // Setting expectations again restarts the TTL.
  expectations.expectCreations(KEY, 5);
  assert.equal(expectations.satisfied(KEY), false);
});

Deno.test("ControllerExpectations takes a TTL of its own", async () => {
  const { clock, expectations } = setup(10_000);
  expectations.expectDeletions(KEY, ["uid-a"]);
  await clock.advance(10_001);
  assert.equal(expectations.satisfied(KEY), true);
});

Deno.test("ControllerExpectations keeps keys apart", () => {
  const { expectations } = setup();
  expectations.expectCreations(KEY, 1);
  expectations.creationObserved("default/other");
  assert.equal(expectations.satisfied(KEY), false);
  assert.equal(expectations.satisfied("default/other"), true);
});

Deno.test("ControllerExpectations.delete() forgets a key", () => {
  const { expectations } = setup();
  expectations.expectCreations(KEY, 2);
  expectations.delete(KEY);
  assert.equal(expectations.satisfied(KEY), true);
  assert.equal(expectations.pending(KEY), undefined);
});

Deno.test("ControllerExpectations rejects counts that are negative or not whole", () => {
  const { expectations } = setup();
  assert.throws(() => expectations.expectCreations(KEY, -1), {
    name: "RangeError",
    message:
      "Cannot count -1 creations for 'default/web': the count must be a whole number, 0 or more",
  });
  assert.throws(() => expectations.expectDeletions(KEY, 1.5), RangeError);
  assert.throws(() => expectations.creationObserved(KEY, Number.NaN), RangeError);
});
