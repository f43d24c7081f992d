import assert from "node:assert/strict";
import { validateObject } from "../validation.ts";
import { namespaces } from "./namespace.ts";

Deno.test("namespaces default spec.finalizers and status.phase", () => {
  const { object } = validateObject(namespaces, { metadata: { name: "team-a" } }, {
    fieldValidation: "Strict",
  });
  assert.deepEqual(object.spec, { finalizers: ["kubernetes"] });
  assert.deepEqual(object.status, { phase: "Active" });
  assert.deepEqual(namespaces.columns.map((c) => c.cell(object, new Date())), [
    "team-a",
    "Active",
    "<unknown>",
  ]);
});
