/**
 * The `pods/binding` subresource: assign a pod to a node, as the scheduler does.
 *
 * A binding only succeeds for a pod that has no node yet and is not being deleted; the write
 * is a compare-and-swap on the pod's resourceVersion, so two schedulers racing for one pod
 * cannot both win (the loser gets 409 Conflict and re-plans).
 *
 * @module
 */

import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import type { ResourceType } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import { isDns1123Subdomain } from "../../storage/validation.ts";
import { type Objects, timestamp } from "./objects.ts";

/** Parse a `Binding` body; returns the target node's name. */
export function bindingTarget(body: unknown, podName: string): string {
  if (!isPlainObject(body)) throw ApiError.badRequest("a Binding object is required");
  const target = isPlainObject(body.target) ? body.target : undefined;
  const name = target?.name;
  if (typeof name !== "string" || !isDns1123Subdomain(name)) {
    throw ApiError.invalid({ group: "", resource: "bindings", kind: "Binding" }, podName, [{
      reason: "FieldValueInvalid",
      field: "target.name",
      message: `Invalid value: ${JSON.stringify(name ?? "")}: must be a node name`,
    }]);
  }
  if (target?.kind !== undefined && target.kind !== "Node") {
    throw ApiError.invalid({ group: "", resource: "bindings", kind: "Binding" }, podName, [{
      reason: "FieldValueNotSupported",
      field: "target.kind",
      message: `Unsupported value: ${JSON.stringify(target.kind)}: supported values: "Node"`,
    }]);
  }
  return name;
}

/**
 * Bind `namespace/name` to `node`. When `expectedResourceVersion` is given the pod must not
 * have changed since the caller looked at it.
 */
export async function bindPod(
  objects: Objects,
  pods: ResourceType,
  namespace: string,
  name: string,
  node: string,
  expectedResourceVersion?: string,
): Promise<KubeObject> {
  const pod = await objects.get(pods, namespace, name);
  const ref = { group: "", resource: "pods", kind: "Pod" };
  const spec = isPlainObject(pod.spec) ? pod.spec : {};
  if (typeof spec.nodeName === "string" && spec.nodeName !== "") {
    throw ApiError.conflict(
      ref,
      name,
      `pod ${name} is already assigned to node "${spec.nodeName}"`,
    );
  }
  if (pod.metadata.deletionTimestamp) {
    throw ApiError.conflict(
      ref,
      name,
      `pod ${name} is being deleted, cannot be assigned to a host`,
    );
  }
  if (
    expectedResourceVersion !== undefined &&
    expectedResourceVersion !== pod.metadata.resourceVersion
  ) {
    throw ApiError.conflict(
      ref,
      name,
      "the object has been modified; please apply your changes to the latest version and try again",
    );
  }
  const next = cloneJson(pod);
  next.spec = { ...spec, nodeName: node };
  const status = isPlainObject(next.status) ? next.status : {};
  const conditions = Array.isArray(status.conditions)
    ? status.conditions.filter((c) => !(isPlainObject(c) && c.type === "PodScheduled"))
    : [];
  conditions.push({
    type: "PodScheduled",
    status: "True",
    lastProbeTime: null,
    lastTransitionTime: timestamp(new Date()),
  });
  next.status = { ...status, conditions };
  const bound = await objects.update(pods, namespace, name, next, {
    fieldValidation: "Ignore",
    dryRun: false,
    allowStatus: true,
    binding: true,
  });
  return bound.object;
}
