/**
 * Dispatches a PATCH body to JSON Patch, JSON Merge Patch or strategic merge patch by its
 * `Content-Type`, as kube-apiserver's `PatchResource` handler does.
 *
 * @example
 * ```ts
 * const next = applyPatch(
 *   "application/strategic-merge-patch+json",
 *   deployment,
 *   { spec: { template: { spec: { containers: [{ name: "app", image: "app:2" }] } } } },
 *   "apps/v1",
 *   "Deployment",
 * );
 * ```
 *
 * @module
 */

import { ApiError } from "../../storage/status.ts";
import { isObject, patchNotApplicable } from "./_internal.ts";
import { applyJsonPatch } from "./json_patch.ts";
import { applyMergePatch } from "./merge_patch.ts";
import { patchMetaFor } from "./patch_meta.ts";
import { applyStrategicMergePatch } from "./strategic_merge_patch.ts";

/** `Content-Type` of an RFC 6902 JSON Patch. */
export const JSON_PATCH = "application/json-patch+json";
/** `Content-Type` of an RFC 7386 JSON Merge Patch. */
export const MERGE_PATCH = "application/merge-patch+json";
/** `Content-Type` of a Kubernetes strategic merge patch. */
export const STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json";
/** `Content-Type` of a server-side apply request (not supported yet). */
export const APPLY_PATCH = "application/apply-patch+yaml";

/** The patch types we accept, in kube-apiserver's order. */
export const SUPPORTED_PATCH_TYPES: readonly string[] = [
  JSON_PATCH,
  MERGE_PATCH,
  STRATEGIC_MERGE_PATCH,
];

const ACCEPTED = `accepted media types include: ${SUPPORTED_PATCH_TYPES.join(", ")}`;

/**
 * Applies a decoded PATCH body to `doc` (the stored object of `apiVersion`/`kind`) according
 * to `contentType`, ignoring any `;charset=` parameter. Neither `doc` nor `patchBody` is
 * modified.
 *
 * @throws {ApiError} 415 UnsupportedMediaType for another content type (server-side apply
 * included); otherwise the errors of {@linkcode applyJsonPatch}, {@linkcode applyMergePatch}
 * (400 when the body is not an object) and {@linkcode applyStrategicMergePatch}; 422 when the
 * patched document is no longer an object.
 */
export function applyPatch(
  contentType: string,
  doc: unknown,
  patchBody: unknown,
  apiVersion: string,
  kind: string,
): Record<string, unknown> {
  const mediaType = contentType.split(";", 1)[0]?.trim() ?? "";
  let result: unknown;
  switch (mediaType) {
    case JSON_PATCH:
      result = applyJsonPatch(doc, patchBody);
      break;
    case MERGE_PATCH:
      // evanphx/json-patch's ErrBadJSONPatch, which kube-apiserver returns as 400.
      if (!isObject(patchBody)) throw ApiError.badRequest("Invalid JSON Patch");
      result = applyMergePatch(doc, patchBody);
      break;
    case STRATEGIC_MERGE_PATCH:
      result = applyStrategicMergePatch(doc, patchBody, patchMetaFor(apiVersion, kind));
      break;
    case APPLY_PATCH:
      throw new ApiError(
        "UnsupportedMediaType",
        `server-side apply (${APPLY_PATCH}) is not supported yet; use client-side ` +
          `"kubectl apply" - ${ACCEPTED}`,
      );
    default:
      throw new ApiError(
        "UnsupportedMediaType",
        `the body of the request was in an unknown format - ${ACCEPTED}`,
      );
  }
  if (!isObject(result)) throw patchNotApplicable("the patched document is not a JSON object");
  return result;
}
