import assert from "node:assert/strict";
import {
  addressAt,
  contains,
  containsCidr,
  indexOf,
  isIPv4,
  parseCidr,
  requireIPv4,
  subnetAt,
  subnetCount,
} from "./cidr.ts";
import { formatIPv4 } from "../../net/ipv4.ts";

Deno.test("requireIPv4() reads strict dotted quads and formatIPv4() writes them back", () => {
  for (const text of ["0.0.0.0", "10.96.0.1", "192.168.255.254", "255.255.255.255"]) {
    assert.equal(formatIPv4(requireIPv4(text)), text);
  }
  assert.equal(requireIPv4("10.96.0.1"), 0x0a600001);
  assert.equal(requireIPv4("255.255.255.255"), 0xffffffff);
});

Deno.test("requireIPv4() rejects malformed addresses and names them", () => {
  for (const bad of ["", "10.96.0", "10.96.0.1.2", "10.96.0.256", "010.96.0.1", "a.b.c.d", "::1"]) {
    assert.throws(
      () => requireIPv4(bad),
      new RegExp(`invalid IPv4 address ${JSON.stringify(bad)}`),
    );
    assert.equal(isIPv4(bad), false, bad);
  }
});

Deno.test("parseCidr() gives network, prefix and size", () => {
  const cidr = parseCidr("10.96.0.0/16");
  assert.deepEqual(cidr, {
    network: requireIPv4("10.96.0.0"),
    prefix: 16,
    size: 65536,
    text: "10.96.0.0/16",
  });
  assert.equal(parseCidr("0.0.0.0/0").size, 2 ** 32);
  assert.equal(parseCidr("10.0.0.7/32").size, 1);
});

Deno.test("parseCidr() rejects bad blocks with a message naming the value", () => {
  assert.throws(() => parseCidr("10.96.0.0"), /invalid CIDR "10.96.0.0": must be IPv4\/PREFIX/);
  assert.throws(() => parseCidr("10.96.0.0/33"), /"10.96.0.0\/33": the prefix length must be 0-32/);
  assert.throws(() => parseCidr("10.96.0.0/016"), /must be IPv4\/PREFIX/);
  assert.throws(() => parseCidr("10.96.0/16"), /"10.96.0" is not an IPv4 address/);
  assert.throws(
    () => parseCidr("10.96.0.1/16"),
    /"10.96.0.1\/16": host bits are set \(did you mean 10.96.0.0\/16\?\)/,
  );
});

Deno.test("contains() and indexOf() map addresses to offsets in the block", () => {
  const cidr = parseCidr("10.96.0.0/16");
  assert.ok(contains(cidr, requireIPv4("10.96.255.255")));
  assert.ok(!contains(cidr, requireIPv4("10.97.0.0")));
  assert.ok(!contains(cidr, requireIPv4("10.95.255.255")));
  assert.equal(indexOf(cidr, requireIPv4("10.96.1.2")), 258);
  assert.equal(indexOf(cidr, requireIPv4("10.97.0.0")), undefined);
  assert.equal(formatIPv4(addressAt(cidr, 258)), "10.96.1.2");
  assert.throws(() => addressAt(cidr, 65536), /offset 65536 is outside 10.96.0.0\/16/);
  assert.throws(() => addressAt(cidr, -1), RangeError);
});

Deno.test("subnetAt() and subnetCount() cut a block into smaller ones", () => {
  const cluster = parseCidr("10.244.0.0/16");
  assert.equal(subnetCount(cluster, 24), 256);
  assert.equal(subnetAt(cluster, 24, 0).text, "10.244.0.0/24");
  assert.equal(subnetAt(cluster, 24, 255).text, "10.244.255.0/24");
  assert.throws(() => subnetAt(cluster, 24, 256), /subnet 256 is outside the 256 \/24 blocks/);
  assert.throws(() => subnetCount(cluster, 15), /a \/15 block does not fit in 10.244.0.0\/16/);
  assert.ok(containsCidr(cluster, parseCidr("10.244.3.0/24")));
  assert.ok(!containsCidr(cluster, parseCidr("10.245.3.0/24")));
  assert.ok(!containsCidr(parseCidr("10.244.0.0/24"), cluster));
});
