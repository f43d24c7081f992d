import assert from "node:assert/strict";
import { milliValue, wholeValue } from "./quantity.ts";

Deno.test("milliValue() converts cpu quantities to millicores exactly, rounding up", () => {
  assert.equal(milliValue("250m"), 250);
  assert.equal(milliValue("0.1"), 100);
  assert.equal(milliValue("1.5"), 1500);
  assert.equal(milliValue(2), 2000);
  assert.equal(milliValue("100u"), 1);
  assert.equal(milliValue("1e-3"), 1);
  assert.equal(milliValue("1k"), 1_000_000);
});

Deno.test("wholeValue() converts memory quantities to bytes, binary and decimal suffixes", () => {
  assert.equal(wholeValue("128Mi"), 128 * 1024 * 1024);
  assert.equal(wholeValue("1Gi"), 2 ** 30);
  assert.equal(wholeValue("1.5k"), 1500);
  assert.equal(wholeValue("1e3"), 1000);
  assert.equal(wholeValue("500m"), 1);
  assert.equal(wholeValue("110"), 110);
});

Deno.test("milliValue() rejects what is not a quantity, naming the value", () => {
  assert.throws(() => milliValue("12x"), /Cannot parse quantity "12x"/);
  assert.throws(() => milliValue("."), /Cannot parse quantity "\."/);
  assert.throws(() => milliValue(undefined), /Cannot parse quantity undefined/);
});
