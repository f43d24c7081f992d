/**
 * PATCH bodies as kube-apiserver applies them: JSON Patch (RFC 6902), JSON Merge Patch
 * (RFC 7386) and strategic merge patch, chosen by the request's `Content-Type`
 * ({@linkcode applyPatch}); plus the merge patches `kubectl apply` computes client-side.
 *
 * @module
 */

export {
  APPLY_PATCH,
  applyPatch,
  JSON_PATCH,
  MERGE_PATCH,
  STRATEGIC_MERGE_PATCH,
  SUPPORTED_PATCH_TYPES,
} from "./apply_patch.ts";
export { applyJsonPatch, MAX_JSON_PATCH_OPERATIONS, parseJsonPatch } from "./json_patch.ts";
export type { JsonPatchOperation } from "./json_patch.ts";
export { applyMergePatch, createMergePatch, createThreeWayMergePatch } from "./merge_patch.ts";
export { applyStrategicMergePatch } from "./strategic_merge_patch.ts";
export type { PatchMeta, PatchStrategy } from "./strategic_merge_patch.ts";
export { patchMetaFor } from "./patch_meta.ts";
