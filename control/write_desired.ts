/**
 * The write at the end of a reconcile that keeps one object in a desired shape (Endpoints,
 * EndpointSlices): create it, or update the current copy, and sort the expected failures from
 * the real ones.
 *
 * @module
 */

import type { KubeObject } from "../storage/object.ts";
import type { ResourceType } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import type { Objects } from "./api/objects.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;

/**
 * How a {@linkcode writeDesired} ended: `written`; `stale` when the informer was behind (a
 * newer or new object, or one deleted meanwhile: look again later); `closed` when a create
 * was refused because the namespace is being deleted (nothing may be created in it any more).
 */
export type WriteOutcome = "written" | "stale" | "closed";

/**
 * Update `current` to `next` (which carries current's resourceVersion) or, without `current`,
 * create `next`. Other failures are thrown.
 */
export async function writeDesired(
  objects: Objects,
  rt: ResourceType,
  namespace: string,
  current: KubeObject | undefined,
  next: KubeObject,
): Promise<WriteOutcome> {
  try {
    if (current) await objects.update(rt, namespace, next.metadata.name!, next, WRITE);
    else await objects.create(rt, namespace, next, WRITE);
    return "written";
  } catch (e) {
    if (e instanceof ApiError && (e.code === 409 || e.code === 404)) return "stale";
    if (!current && e instanceof ApiError && e.code === 403) return "closed";
    throw e;
  }
}
