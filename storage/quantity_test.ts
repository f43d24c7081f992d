import assert from "node:assert/strict";
import { milliValue, QUANTITY_PATTERN, scaledValue, wholeValue } from "./quantity.ts";

Deno.test("milliValue() converts cpu quantities to millicores exactly, rounding up", () => {
  assert.equal(milliValue("250m"), 250);
  assert.equal(milliValue("500m"), 500);
  assert.equal(milliValue("1"), 1000);
  assert.equal(milliValue("0.1"), 100);
  assert.equal(milliValue("0.5"), 500);
  assert.equal(milliValue("1.5"), 1500);
  assert.equal(milliValue(".5"), 500);
  assert.equal(milliValue("1."), 1000);
  assert.equal(milliValue(2), 2000);
  assert.equal(milliValue("100u"), 1);
  assert.equal(milliValue("1e-3"), 1);
  assert.equal(milliValue("1k"), 1_000_000);
});

Deno.test("wholeValue() converts memory quantities to bytes, binary and decimal suffixes", () => {
  assert.equal(wholeValue("64Mi"), 67108864);
  assert.equal(wholeValue("128Mi"), 128 * 1024 * 1024);
  assert.equal(wholeValue("1Gi"), 2 ** 30);
  assert.equal(wholeValue("1.5Gi"), 1610612736);
  assert.equal(wholeValue("1G"), 1e9);
  assert.equal(wholeValue("1.5k"), 1500);
  assert.equal(wholeValue("1e3"), 1000);
  assert.equal(wholeValue("129e6"), 129e6);
  assert.equal(wholeValue("1E5"), 1e5);
  assert.equal(wholeValue("128974848"), 128974848);
  assert.equal(wholeValue("500m"), 1);
  assert.equal(wholeValue("110"), 110);
});

Deno.test("scaledValue() rounds up towards +∞, so negative values round towards zero", () => {
  assert.equal(scaledValue("1.5", 0), 2n);
  assert.equal(scaledValue("-1.5", 0), -1n);
  assert.equal(scaledValue("-250m", 3), -250n);
  assert.equal(scaledValue("0", 3), 0n);
  assert.equal(scaledValue("1n", 9), 1n);
  assert.equal(scaledValue("0.1", 9) + scaledValue("0.2", 9), scaledValue("300m", 9));
});

Deno.test("scaledValue() caps at 2^63 - 1 units and stays fast for extreme exponents", () => {
  const max = 2n ** 63n - 1n;
  assert.equal(scaledValue("9223372036854775807", 0), max);
  assert.equal(scaledValue("9223372036854775808", 0), max);
  assert.equal(scaledValue("8Ei", 0), max);
  assert.equal(scaledValue("1e30", 3), max * 1000n);
  assert.equal(scaledValue("-1e30", 0), -max);
  assert.equal(scaledValue("1e999999999", 0), max);
  assert.equal(scaledValue("1e-999999999", 3), 1n);
  assert.equal(scaledValue("-1e-999999999", 3), 0n);
});

Deno.test("milliValue() rejects what is not a quantity, naming the value", () => {
  assert.throws(() => milliValue("12x"), RangeError);
  assert.throws(() => milliValue("12x"), /Cannot parse quantity "12x"/);
  assert.throws(() => wholeValue("12XB"), RangeError);
  assert.throws(() => milliValue("."), /Cannot parse quantity "\."/);
  assert.throws(() => milliValue(" 1"), /Cannot parse quantity " 1"/);
  assert.throws(() => milliValue(Number.NaN), /Cannot parse quantity NaN: not a finite number/);
  assert.throws(() => milliValue(undefined), TypeError);
  assert.throws(() => milliValue(undefined), /Cannot parse quantity undefined/);
});

Deno.test("QUANTITY_PATTERN accepts Kubernetes' quantity syntax only", () => {
  for (const ok of ["1", "+1", "-1.5", ".5", "1.", "500m", "1Gi", "1e3", "1E-3", "2Ei"]) {
    assert.ok(QUANTITY_PATTERN.test(ok), ok);
  }
  for (const bad of ["", ".", "1KB", "1 Gi", "1gi", "e3", "--1"]) {
    assert.ok(!QUANTITY_PATTERN.test(bad), bad);
  }
});
