import assert from "node:assert/strict";
import { formatIPv4, parseIPv4 } from "./ipv4.ts";

Deno.test("parseIPv4() accepts strict dotted quads only", () => {
  assert.equal(parseIPv4("10.96.0.10"), 0x0a60000a);
  assert.equal(parseIPv4("255.255.255.255"), 0xffffffff);
  assert.equal(parseIPv4("0.0.0.0"), 0);
  for (
    const bad of [
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3.00",
      "1.2.3",
      "1.2.3.4.5",
      "1..2.3",
      "1.2.3.",
      " 1.2.3.4",
      "1.2.3.4/32",
      "1.2.3.1000",
      "",
      "::1",
    ]
  ) {
    assert.equal(parseIPv4(bad), undefined, bad);
  }
});

Deno.test("formatIPv4() writes back what parseIPv4() read", () => {
  for (const text of ["0.0.0.0", "10.96.0.1", "127.0.0.1", "192.168.255.254", "255.255.255.255"]) {
    assert.equal(formatIPv4(parseIPv4(text)!), text);
  }
  assert.equal(formatIPv4(0x0a600001), "10.96.0.1");
});
