/**
 * Pods for the pod worker's tests, defaulted the way the API stores them.
 *
 * @module
 */

import { pods, PodSchema } from "../storage/kinds/pod.ts";
import type { KubeObject } from "../storage/object.ts";

/** A defaulted Pod `p` in `default` with uid `uid-1` from a partial spec. */
export function testPod(spec: Record<string, unknown>, name = "p"): KubeObject {
  const pod = PodSchema.parse({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: "default", uid: "uid-1", labels: { app: "web" } },
    spec: { nodeName: "edge-1", ...spec },
  }) as KubeObject;
  pods.normalize?.(pod);
  return pod;
}
