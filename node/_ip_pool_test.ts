import assert from "node:assert/strict";
import { IpPool } from "./_ip_pool.ts";

Deno.test("IpPool gives addresses after the gateway, round the subnet, never twice", () => {
  const pool = IpPool.of("10.244.1.0/29")!; // .2 to .6: .0 network, .1 gateway, .7 broadcast
  assert.equal(pool.allocate("a"), "10.244.1.2");
  assert.equal(pool.allocate("a"), "10.244.1.2", "the same pod keeps its address");
  assert.equal(pool.allocate("b"), "10.244.1.3");
  pool.release("a");
  assert.equal(pool.allocate("c"), "10.244.1.4", "a freed address is not reused at once");
  assert.equal(pool.allocate("d"), "10.244.1.5");
  assert.equal(pool.allocate("e"), "10.244.1.6");
  assert.equal(pool.allocate("f"), "10.244.1.2", "then the pool goes round");
  assert.equal(pool.allocate("g"), undefined, "full");
  assert.equal(pool.size, 5);
});

Deno.test("IpPool.hold() seeds addresses seen on sandboxes, ours or not", () => {
  const pool = IpPool.of("10.244.1.0/24")!;
  pool.hold("old", "10.244.1.2");
  pool.hold("", "10.244.1.3"); // in use by something we did not make
  pool.hold("x", "10.99.0.5"); // another network's: ignored
  pool.hold("y", "10.244.1.1"); // the gateway: ignored
  assert.equal(pool.allocate("new"), "10.244.1.4");
  assert.equal(pool.allocate("old"), "10.244.1.2");
  pool.release("old");
  pool.release("nobody");
  assert.equal(pool.size, 2);
  assert.ok(pool.contains("10.244.1.254"));
  assert.ok(!pool.contains("10.244.1.255"));
  assert.ok(!pool.contains("10.244.1.1"));
  pool.hold("new", "10.244.1.9"); // a pod moved: its old address is free again
  assert.equal(pool.size, 2);
});

Deno.test("IpPool.of() takes IPv4 networks of /8 to /30 only", () => {
  for (const bad of ["10.244.1.0/31", "10.0.0.0/7", "10.244.1.5/24", "fd00::/64", "x"]) {
    assert.equal(IpPool.of(bad), undefined, bad);
  }
  assert.equal(IpPool.of("10.244.1.0/30")!.allocate("a"), "10.244.1.2");
});
