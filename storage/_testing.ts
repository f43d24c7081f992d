/**
 * Test helpers shared by unit tests across folders (not used by production code).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { KubeObject } from "./object.ts";
import type { ResourceType } from "./resource.ts";
import { ApiError } from "./status.ts";
import { validateObject } from "./validation.ts";

/** Assert that `fn` throws an `ApiError` with this code and reason (and message); return it. */
export function assertApiError(
  fn: () => unknown,
  code: number,
  reason: string,
  message?: RegExp,
): ApiError {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof ApiError, `expected an ApiError, got ${caught}`);
  assert.equal(caught.code, code);
  assert.equal(caught.reason, reason);
  if (message) assert.match(caught.message, message);
  return caught;
}

/**
 * `rt`'s validation of `body` (Strict field validation; an update of `old` when given): the
 * object as it would be stored. Throws what validation throws.
 */
export function validated<T = KubeObject>(rt: ResourceType, body: unknown, old?: KubeObject): T {
  return validateObject(rt, body, { fieldValidation: "Strict", ...(old ? { old } : {}) })
    .object as unknown as T;
}

/** The `[field, message]` causes of the 422 that validating `body` gives; fails when valid. */
export function invalidCauses(
  rt: ResourceType,
  body: unknown,
  old?: KubeObject,
): [string, string][] {
  try {
    validated(rt, body, old);
  } catch (e) {
    assert.ok(e instanceof ApiError && e.code === 422, String(e));
    return (e.details?.causes ?? []).map((c) => [c.field ?? "", c.message ?? ""]);
  }
  assert.fail("expected Invalid");
}
