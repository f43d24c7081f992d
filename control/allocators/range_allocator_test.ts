import assert from "node:assert/strict";
import { AllocationError, RangeAllocator, rangeOffset } from "./range_allocator.ts";

function code(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AllocationError, `expected an AllocationError, got ${e}`);
    return e.code;
  }
  assert.fail("expected an AllocationError");
}

Deno.test("RangeAllocator.allocateNext() hands out every slot once, then reports Full", () => {
  const range = new RangeAllocator(10);
  const seen = new Set<number>();
  for (let i = 0; i < 10; i++) seen.add(range.allocateNext());
  assert.equal(seen.size, 10);
  assert.equal(range.used, 10);
  assert.equal(range.free, 0);
  assert.equal(code(() => range.allocateNext()), "Full");
  assert.throws(() => range.allocateNext(), /range is full/);
});

Deno.test("RangeAllocator.allocate() honours a chosen slot and refuses it twice or out of range", () => {
  const range = new RangeAllocator(100);
  range.allocate(42);
  assert.ok(range.has(42));
  assert.equal(code(() => range.allocate(42)), "Allocated");
  assert.throws(() => range.allocate(42), /slot 42 is already allocated/);
  assert.equal(code(() => range.allocate(100)), "OutOfRange");
  assert.equal(code(() => range.allocate(-1)), "OutOfRange");
  assert.equal(code(() => range.allocate(1.5)), "OutOfRange");
  assert.equal(range.used, 1);
});

Deno.test("RangeAllocator.release() frees a slot for reuse and ignores free ones", () => {
  const range = new RangeAllocator(3, { strategy: "sequential" });
  assert.deepEqual([range.allocateNext(), range.allocateNext(), range.allocateNext()], [0, 1, 2]);
  assert.equal(range.release(1), true);
  assert.equal(range.release(1), false);
  assert.equal(range.release(7), false);
  assert.equal(range.allocateNext(), 1);
  assert.equal(range.used, 3);
});

Deno.test("RangeAllocator.allocateNext() sequential continues after the last slot and wraps", () => {
  const range = new RangeAllocator(4, { strategy: "sequential" });
  assert.equal(range.allocateNext(), 0);
  assert.equal(range.allocateNext(), 1);
  range.release(0);
  assert.equal(range.allocateNext(), 2, "a freed slot is reused only after a wrap");
  assert.equal(range.allocateNext(), 3);
  assert.equal(range.allocateNext(), 0);
});

Deno.test("RangeAllocator.allocateNext() random fills the part above the offset first", () => {
  const values = [0.5, 0.99, 0, 0.3];
  let i = 0;
  const range = new RangeAllocator(20, { offset: 16, random: () => values[i++ % values.length]! });
  const upper = [range.allocateNext(), range.allocateNext(), range.allocateNext()];
  assert.deepEqual(upper, [18, 19, 16]);
  assert.equal(range.allocateNext(), 17);
  const lower = range.allocateNext();
  assert.ok(lower < 16, `once [16, 20) is full the lower part is used, got ${lower}`);
});

Deno.test("RangeAllocator rejects impossible sizes and offsets", () => {
  assert.throws(() => new RangeAllocator(0), /must hold 1 to/);
  assert.throws(() => new RangeAllocator(10, { offset: 10 }), /offset of a 10-slot range/);
});

Deno.test("rangeOffset() is Kubernetes' min(max(16, size/step), max)", () => {
  assert.equal(rangeOffset(14, 16, 256), 0);
  assert.equal(rangeOffset(65534, 16, 256), 256);
  assert.equal(rangeOffset(254, 16, 256), 16);
  assert.equal(rangeOffset(2768, 32, 128), 86);
});
