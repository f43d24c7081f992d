import assert from "node:assert/strict";
import { ApiError } from "../status.ts";
import { validateObject } from "../validation.ts";
import { configMaps } from "./config_map.ts";

Deno.test("configMaps validation checks keys, binaryData and immutability", () => {
  assert.throws(
    () =>
      validateObject(configMaps, { metadata: { name: "c" }, data: { "..x": "1", "a b": "2" } }, {
        fieldValidation: "Strict",
      }),
    (e) =>
      e instanceof ApiError && e.code === 422 &&
      e.details?.causes?.map((c) => c.field).join() === "data[..x],data[a b]",
  );
  const old =
    validateObject(configMaps, { metadata: { name: "c" }, data: { a: "1" }, immutable: true }, {
      fieldValidation: "Strict",
    }).object;
  assert.throws(
    () =>
      validateObject(configMaps, { metadata: { name: "c" }, data: { a: "2" }, immutable: true }, {
        fieldValidation: "Strict",
        old,
      }),
    /data: Forbidden: field is immutable when `immutable` is set/,
  );
});

Deno.test("configMaps Data column counts data and binaryData keys", () => {
  const { object } = validateObject(configMaps, {
    metadata: { name: "c" },
    data: { a: "1" },
    binaryData: { b: "AAE=" },
  }, { fieldValidation: "Strict" });
  assert.equal(configMaps.columns[1]?.cell(object, new Date()), 2);
});
