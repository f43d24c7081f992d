/**
 * Test helpers shared by unit tests across folders (not used by production code).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ApiError } from "./status.ts";

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
