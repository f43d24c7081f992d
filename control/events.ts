/**
 * {@linkcode EventRecorder}: core/v1 Events written by the control plane's components (the
 * scheduler, the controllers), in the form `kubectl describe` and `kubectl get events` show.
 * A repeat of the same reason and message about the same object updates that Event's `count`
 * and `lastTimestamp` instead of adding another, as client-go's event correlator does.
 *
 * Recording is best effort: a failure is logged, never thrown, so it cannot fail a reconcile.
 *
 * @example
 * ```ts
 * const events = new EventRecorder({ store, component: "replicaset-controller" });
 * await events.record(rs, "Normal", "SuccessfulCreate", "Created pod: web-7d9c5-x2k4q");
 * ```
 *
 * @module
 */

import { type Clock, systemClock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { findKind } from "../storage/registry.ts";
import { apiVersionOf } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import type { Store } from "../storage/store.ts";
import { Objects, timestamp } from "./api/objects.ts";

const WRITE = { fieldValidation: "Ignore", dryRun: false } as const;
/** How many distinct events are remembered for aggregation. */
const REMEMBERED = 4096;

/** Options of {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  store: Store;
  /** `source.component` and `reportingComponent`, e.g. `deployment-controller` */
  component: string;
  clock?: Clock;
}

interface Recorded {
  name: string;
  count: number;
  firstTimestamp: string;
}

/** Writes Events about objects; see the module documentation. */
export class EventRecorder {
  readonly #objects: Objects;
  readonly #component: string;
  readonly #clock: Clock;
  /** uid/reason/message → the Event written for it (insertion order = age) */
  readonly #recorded = new Map<string, Recorded>();
  #sequence = 0;

  constructor(options: EventRecorderOptions) {
    this.#objects = new Objects(options.store);
    this.#component = options.component;
    this.#clock = options.clock ?? systemClock;
  }

  /** Records (or counts again) an Event about `obj`; never throws. */
  async record(
    obj: KubeObject,
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ): Promise<void> {
    const rt = findKind("v1", "Event");
    const { namespace = "default", name = "", uid = "" } = obj.metadata;
    const now = timestamp(new Date(this.#clock.now()));
    const key = `${uid}/${reason}/${message}`;
    const last = this.#recorded.get(key);
    const record: Recorded = last
      ? { ...last, count: last.count + 1 }
      : { name: `${name}.${this.#suffix()}`, count: 1, firstTimestamp: now };
    const event: KubeObject = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: record.name, namespace },
      involvedObject: {
        kind: obj.kind,
        namespace: obj.metadata.namespace,
        name,
        uid,
        apiVersion: obj.apiVersion,
        resourceVersion: obj.metadata.resourceVersion,
      },
      reason,
      message,
      source: { component: this.#component },
      firstTimestamp: record.firstTimestamp,
      lastTimestamp: now,
      count: record.count,
      type,
      reportingComponent: this.#component,
    };
    try {
      if (!rt) throw new Error("the Event kind is not served");
      event.apiVersion = apiVersionOf(rt);
      if (last) {
        try {
          await this.#objects.update(rt, namespace, record.name, event, WRITE);
        } catch (e) {
          if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
          await this.#objects.create(rt, namespace, event, WRITE);
        }
      } else {
        await this.#objects.create(rt, namespace, event, WRITE);
      }
      this.#recorded.delete(key);
      this.#recorded.set(key, record);
      if (this.#recorded.size > REMEMBERED) {
        this.#recorded.delete(this.#recorded.keys().next().value!);
      }
    } catch (e) {
      console.error(`${this.#component}: recording event ${reason} for ${namespace}/${name}:`, e);
    }
  }

  /** kube's event name suffix: the time in nanoseconds, in hex (unique within the process). */
  #suffix(): string {
    const nanos = BigInt(this.#clock.now()) * 1_000_000n + BigInt(this.#sequence++ % 1_000_000);
    return nanos.toString(16);
  }
}
