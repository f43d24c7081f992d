/**
 * {@linkcode EndpointSliceMirrorController}: keeps the EndpointSlices of every Endpoints object
 * equal to what `mirror.ts` makes of it and its Service. Events only put the Endpoints'
 * `namespace/name` on the work queue: an Endpoints object's changes, a Service's creation or
 * deletion (the slices' owner), and any change to a slice this controller manages (so a slice
 * edited or deleted by hand is put back). `reconcile(key)` creates and updates the slices that
 * differ from the desired ones first, then deletes the managed slices no longer desired (a new
 * port set gets its new slice before the old one goes), and writes nothing when all agree.
 *
 * A desired name taken by a slice of another manager is not overwritten: reconcile records a
 * Warning Event on the Endpoints and fails, to be retried with back-off. A Service being
 * deleted counts as gone (its slices are deleted, not put back while a foreground deletion
 * waits for them).
 *
 * @module
 */

import type { Clock } from "../../storage/clock.ts";
import type { KubeObject } from "../../storage/object.ts";
import { findKind } from "../../storage/registry.ts";
import { type ResourceType, storeKey } from "../../storage/resource.ts";
import { ApiError } from "../../storage/status.ts";
import type { Store } from "../../storage/store.ts";
import { Objects } from "../api/objects.ts";
import type { EventRecorder } from "../events.ts";
import {
  errorMessage,
  type Informer,
  type InformerEvent,
  queueKey,
  splitQueueKey,
} from "../informer.ts";
import { QueueController } from "../queue_controller.ts";
import { writeDesired } from "../write_desired.ts";
import {
  isMirrored,
  MANAGED_BY_LABEL,
  mirrorKey,
  sliceEqual,
  slicesFor,
  withDesired,
} from "./mirror.ts";

/** Index of the EndpointSlice informer: the `namespace/name` of the Endpoints a slice mirrors. */
export const SLICE_MIRROR_INDEX = "mirror";

/** Index values for {@linkcode SLICE_MIRROR_INDEX}: the key of a mirrored slice, none for others. */
export function byMirrorKey(slice: KubeObject): string[] {
  const key = mirrorKey(slice);
  return key ? [key] : [];
}

/** Options of {@linkcode EndpointSliceMirrorController}. */
export interface EndpointSliceMirrorControllerOptions {
  store: Store;
  /** informer of `/core/endpoints/` */
  endpoints: Informer;
  /** informer of `/core/services/` */
  services: Informer;
  /** informer of `/discovery.k8s.io/endpointslices/`, with {@linkcode SLICE_MIRROR_INDEX} */
  slices: Informer;
  events: EventRecorder;
  clock?: Clock;
  /** first retry after a failed reconcile (default 1 s, doubling up to 5 min) */
  retryMs?: number;
}

/** The EndpointSlice mirroring controller; see the module documentation. */
export class EndpointSliceMirrorController extends QueueController {
  readonly #objects: Objects;
  readonly #endpoints: Informer;
  readonly #services: Informer;
  readonly #slices: Informer;
  readonly #events: EventRecorder;
  readonly #endpointsType: ResourceType;
  readonly #serviceType: ResourceType;
  readonly #sliceType: ResourceType;

  constructor(options: EndpointSliceMirrorControllerOptions) {
    super("endpointslice mirroring controller", options);
    this.#objects = new Objects(options.store);
    this.#endpoints = options.endpoints;
    this.#services = options.services;
    this.#slices = options.slices;
    this.#events = options.events;
    this.#endpointsType = findKind("v1", "Endpoints")!;
    this.#serviceType = findKind("v1", "Service")!;
    this.#sliceType = findKind("discovery.k8s.io/v1", "EndpointSlice")!;
    this.#endpoints.onEvent((ev) => this.queue.add(queueKey(ev.object)));
    // only the Service's identity and deletion matter (a relist may show a Service deleted and
    // created again as an update with a new uid)
    this.#services.onEvent((ev) => {
      if (
        ev.type !== "update" || ev.old.metadata.uid !== ev.object.metadata.uid ||
        ev.old.metadata.deletionTimestamp !== ev.object.metadata.deletionTimestamp
      ) {
        this.queue.add(queueKey(ev.object));
      }
    });
    this.#slices.onEvent((ev) => this.#onSlice(ev));
  }

  /** Converge the slices of one Endpoints object (`namespace/name`); true to look again later. */
  override async reconcile(key: string): Promise<boolean> {
    const [namespace, name] = splitQueueKey(key);
    const endpoints = this.#endpoints.get(storeKey(this.#endpointsType, namespace, name));
    const service = this.#services.get(storeKey(this.#serviceType, namespace, name));
    // a Service being deleted counts as gone: slices put back now would only hold up a
    // foreground deletion, whose garbage collector deletes them again
    const live = service && !service.metadata.deletionTimestamp ? service : undefined;
    const desired = endpoints && live ? slicesFor(endpoints, live) : [];
    let again = false;
    for (const want of desired) {
      const sliceName = want.metadata.name!;
      const have = this.#slices.get(storeKey(this.#sliceType, namespace, sliceName));
      if (have && !isMirrored(have)) {
        const manager = have.metadata.labels?.[MANAGED_BY_LABEL] ?? "nobody";
        this.#fail(
          endpoints!,
          new Error(`EndpointSlice ${namespace}/${sliceName} exists and is managed by ${manager}`),
        );
      }
      if (have && sliceEqual(have, want)) continue;
      try {
        const next = have ? withDesired(have, want) : want;
        const outcome = await writeDesired(this.#objects, this.#sliceType, namespace, have, next);
        if (outcome === "stale") again = true;
      } catch (e) {
        this.#fail(endpoints!, e);
      }
    }
    const wanted = new Set(desired.map((s) => s.metadata.name));
    for (const have of this.#slices.byIndex(SLICE_MIRROR_INDEX, key)) {
      if (wanted.has(have.metadata.name)) continue;
      try {
        await this.#objects.delete(this.#sliceType, namespace, have.metadata.name!, {
          dryRun: false,
        });
      } catch (e) {
        if (e instanceof ApiError && e.code === 404) continue;
        throw e;
      }
    }
    return again;
  }

  /** Records a Warning Event on the Endpoints and throws `e` (the key is retried). */
  #fail(endpoints: KubeObject, e: unknown): never {
    const { namespace, name } = endpoints.metadata;
    void this.#events.record(
      endpoints,
      "Warning",
      "FailedToUpdateEndpointSlices",
      `Error updating EndpointSlices for Endpoints ${namespace}/${name}: ${errorMessage(e)}`,
    );
    throw e;
  }

  #onSlice(ev: InformerEvent): void {
    const keys = new Set([mirrorKey(ev.object)]);
    if (ev.type === "update") keys.add(mirrorKey(ev.old));
    for (const key of keys) if (key) this.queue.add(key);
  }
}
