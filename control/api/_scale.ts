/**
 * The `scale` subresource: an autoscaling/v1 Scale view of a Deployment or ReplicaSet.
 *
 * @module
 */

import { cloneJson, isPlainObject, type KubeObject } from "../../storage/object.ts";
import { formatLabelSelector } from "../../storage/labels.ts";
import { ApiError } from "../../storage/status.ts";

/** The Scale object for a scalable workload. */
export function toScale(obj: KubeObject): KubeObject {
  const spec = isPlainObject(obj.spec) ? obj.spec : {};
  const status = isPlainObject(obj.status) ? obj.status : {};
  const selector = isPlainObject(spec.selector) ? formatLabelSelector(spec.selector) : "";
  return {
    kind: "Scale",
    apiVersion: "autoscaling/v1",
    metadata: {
      name: obj.metadata.name!,
      namespace: obj.metadata.namespace!,
      uid: obj.metadata.uid!,
      resourceVersion: obj.metadata.resourceVersion!,
      creationTimestamp: obj.metadata.creationTimestamp!,
    },
    spec: { replicas: typeof spec.replicas === "number" ? spec.replicas : 0 },
    status: {
      replicas: typeof status.replicas === "number" ? status.replicas : 0,
      selector,
    },
  };
}

/** Apply a Scale's spec.replicas (and resourceVersion precondition) to the workload. */
export function fromScale(current: KubeObject, scale: unknown): KubeObject {
  if (!isPlainObject(scale) || !isPlainObject(scale.spec)) {
    throw ApiError.badRequest("a Scale object with spec.replicas is required");
  }
  const replicas = scale.spec.replicas;
  if (typeof replicas !== "number" || !Number.isInteger(replicas) || replicas < 0) {
    throw ApiError.invalid(
      { group: "autoscaling", resource: "scale", kind: "Scale" },
      current.metadata.name!,
      [{
        reason: "FieldValueInvalid",
        field: "spec.replicas",
        message: `Invalid value: ${JSON.stringify(replicas)}: must be greater than or equal to 0`,
      }],
    );
  }
  const next = cloneJson(current);
  next.spec = { ...(isPlainObject(next.spec) ? next.spec : {}), replicas };
  const meta = isPlainObject(scale.metadata) ? scale.metadata : {};
  next.metadata.resourceVersion = typeof meta.resourceVersion === "string"
    ? meta.resourceVersion
    : "";
  return next;
}
