import assert from "node:assert/strict";
import { ipv4AddressProblem, isPort, parseIPv4Cidr } from "./_nft_ip.ts";

Deno.test("parseIPv4Cidr() refuses host bits and bad prefixes", () => {
  assert.deepEqual(parseIPv4Cidr("10.96.0.0/16"), {
    base: 0x0a600000,
    bits: 16,
    text: "10.96.0.0/16",
  });
  assert.equal(parseIPv4Cidr("10.96.0.1/16"), undefined);
  assert.equal(parseIPv4Cidr("10.96.0.0/33"), undefined);
  assert.equal(parseIPv4Cidr("10.96.0.0/016"), undefined);
  assert.equal(parseIPv4Cidr("10.96.0.0"), undefined);
  assert.ok(parseIPv4Cidr("0.0.0.0/0"));
});

Deno.test("ipv4AddressProblem() refuses special and non-IPv4 addresses", () => {
  assert.equal(ipv4AddressProblem("10.244.1.5"), undefined);
  assert.match(ipv4AddressProblem("fd00::1")!, /IPv6/);
  assert.match(ipv4AddressProblem("127.0.0.1")!, /loopback/);
  assert.match(ipv4AddressProblem("169.254.1.1")!, /link-local/);
  assert.match(ipv4AddressProblem("224.0.0.1")!, /multicast/);
  assert.match(ipv4AddressProblem("0.1.2.3")!, /0\.0\.0\.0\/8/);
  assert.match(ipv4AddressProblem("1.2.3.4; flush ruleset")!, /not an IPv4 address/);
});

Deno.test("isPort() accepts integers 1..65535", () => {
  assert.ok(isPort(1) && isPort(65535));
  assert.ok(!isPort(0) && !isPort(65536) && !isPort(80.5) && !isPort("80"));
});
