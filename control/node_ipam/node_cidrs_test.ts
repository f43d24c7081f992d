import assert from "node:assert/strict";
import { parseCidr } from "../allocators/cidr.ts";
import { NodeCidrSpace } from "./node_cidrs.ts";

Deno.test("NodeCidrSpace numbers the /24s of a /16", () => {
  const space = new NodeCidrSpace(parseCidr("10.244.0.0/16"), 24);
  assert.equal(space.count, 256);
  assert.equal(space.cidrAt(0), "10.244.0.0/24");
  assert.equal(space.cidrAt(255), "10.244.255.0/24");
  assert.equal(space.slotOf("10.244.7.0/24"), 7);
  assert.throws(() => space.cidrAt(256), RangeError);
});

Deno.test("NodeCidrSpace.slotOf() ignores CIDRs that are not its own", () => {
  const space = new NodeCidrSpace(parseCidr("10.244.0.0/16"), 24);
  for (
    const other of ["10.245.0.0/24", "10.244.0.0/25", "10.244.0.0/23", "10.244.0.1/24", "x", ""]
  ) {
    assert.equal(space.slotOf(other), undefined, other);
  }
});

Deno.test("NodeCidrSpace accepts other mask sizes and refuses one that does not fit", () => {
  assert.equal(new NodeCidrSpace(parseCidr("10.244.0.0/16"), 26).count, 1024);
  assert.equal(new NodeCidrSpace(parseCidr("10.244.0.0/16"), 26).cidrAt(5), "10.244.1.64/26");
  assert.throws(() => new NodeCidrSpace(parseCidr("10.244.0.0/16"), 12), RangeError);
});
