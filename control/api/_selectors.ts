/**
 * `labelSelector` and `fieldSelector` query parameters compiled into one predicate.
 *
 * @module
 */

import { matchesFieldSelector, parseFieldSelector } from "../../storage/fields.ts";
import { matchesLabelSelector, parseLabelSelector } from "../../storage/labels.ts";
import type { KubeObject } from "../../storage/object.ts";
import type { ResourceType } from "../../storage/resource.ts";

/** The request's selectors as a predicate, or undefined when it has none. */
export function compileSelectors(
  rt: ResourceType,
  url: URL,
): ((obj: KubeObject) => boolean) | undefined {
  const labels = url.searchParams.get("labelSelector") ?? "";
  const fields = url.searchParams.get("fieldSelector") ?? "";
  const labelSel = labels.trim() ? parseLabelSelector(labels) : undefined;
  const fieldSel = fields.trim() ? parseFieldSelector(fields, rt) : undefined;
  if (!labelSel && !fieldSel) return undefined;
  return (obj) =>
    (!labelSel || matchesLabelSelector(labelSel, obj.metadata.labels ?? {})) &&
    (!fieldSel || matchesFieldSelector(fieldSel, rt, obj));
}
