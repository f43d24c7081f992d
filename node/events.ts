/**
 * `EventRecorder`: the agent's pod Events (`Pulled`, `Created`, `Started`, `Killing`, `BackOff`,
 * `Unhealthy`, `Failed`, `FailedMount`), worded and shaped as kubelet's so `kubectl describe pod`
 * shows them. The local-path provisioner records on claims and volumes through a recorder of
 * its own (`component`); the involved object's kind comes from the object (Pod when unset).
 *
 * Like client-go's event correlator, a repeat of the same (pod uid, reason, message) within
 * 10 minutes of its last occurrence bumps the existing Event's `count` and `lastTimestamp`
 * (a merge PATCH) instead of creating another Event. Sending is best effort and asynchronous:
 * {@linkcode EventRecorder.record} never blocks or throws, repeats that pile up while a send is
 * pending are folded into one write, the queue is bounded, and a write the control plane does
 * not take (unreachable, rejected) is dropped.
 *
 * @example
 * ```ts
 * const events = new EventRecorder({ client, clock: systemClock, nodeName: "edge-1" });
 * events.record(pod, "Started", "Normal", "Started container web", "spec.containers{web}");
 * ```
 *
 * @module
 */

import type { Clock } from "../storage/clock.ts";
import type { KubeObject } from "../storage/object.ts";
import { ApiError } from "../storage/status.ts";

/** An Event's `type`. */
export type EventType = "Normal" | "Warning";

/**
 * Records one occurrence of an Event about `pod` (or another object carrying `kind` and
 * `apiVersion`); `fieldPath` names the container, e.g. `spec.containers{web}`.
 */
export type RecordEvent = (
  pod: KubeObject,
  reason: string,
  type: EventType,
  message: string,
  fieldPath?: string,
) => void;

/** The part of {@linkcode ApiClient} the recorder writes through. */
export interface EventSink {
  create(collectionPath: string, obj: unknown): Promise<unknown>;
  patch(path: string, patch: unknown, type?: string): Promise<unknown>;
}

/** Options of {@linkcode EventRecorder}. */
export interface EventRecorderOptions {
  client: EventSink;
  clock: Clock;
  /** `source.host` and `reportingInstance` */
  nodeName: string;
  /** `source.component` and `reportingComponent` (default `kubelet`) */
  component?: string;
  /** Events waiting to be sent; more are dropped (default 256) */
  maxQueued?: number;
}

/** How long a repeat counts as the same Event (client-go's `maxIntervalInSeconds`). */
const CORRELATE_MS = 10 * 60 * 1000;
/** How many recent Events are remembered for correlation (client-go's LRU size). */
const MAX_REMEMBERED = 4096;
const KUBELET = "kubelet";

interface Recorded {
  event: KubeObject & { count: number; lastTimestamp: string };
  lastMs: number;
  created: boolean;
}

function timestamp(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function eventsPath(namespace: string): string {
  return `/api/v1/namespaces/${namespace}/events`;
}

/** See the module documentation. */
export class EventRecorder {
  readonly #options: EventRecorderOptions;
  readonly #maxQueued: number;
  /** correlation key → the Event as last recorded, oldest use first */
  readonly #recorded = new Map<string, Recorded>();
  /** keys whose latest occurrence is not yet sent */
  readonly #queue = new Set<string>();
  #sending: Promise<void> | undefined;
  #seq = 0;
  #closed = false;

  constructor(options: EventRecorderOptions) {
    if (options.maxQueued !== undefined && !(options.maxQueued >= 1)) {
      throw new Error(`Cannot create an EventRecorder: maxQueued ${options.maxQueued} is not >= 1`);
    }
    this.#options = options;
    this.#maxQueued = options.maxQueued ?? 256;
  }

  /** Events waiting to be sent. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Record one occurrence; see the module documentation. Never throws. */
  readonly record: RecordEvent = (pod, reason, type, message, fieldPath) => {
    if (this.#closed) return;
    const uid = pod.metadata.uid ?? "";
    const key = JSON.stringify([uid, reason, message]);
    if (!this.#queue.has(key) && this.#queue.size >= this.#maxQueued) return;
    const nowMs = this.#options.clock.now();
    const now = timestamp(nowMs);
    let entry = this.#recorded.get(key);
    this.#recorded.delete(key);
    if (entry && nowMs - entry.lastMs <= CORRELATE_MS) {
      entry.event.count++;
      entry.event.lastTimestamp = now;
      entry.lastMs = nowMs;
    } else {
      const event = this.#newEvent(pod, reason, type, message, fieldPath, now);
      entry = { event, lastMs: nowMs, created: false };
    }
    this.#recorded.set(key, entry);
    if (this.#recorded.size > MAX_REMEMBERED) {
      const oldest = this.#recorded.keys().next().value;
      if (oldest !== undefined) this.#recorded.delete(oldest);
    }
    this.#queue.add(key);
    this.#sending ??= this.#send().finally(() => this.#sending = undefined);
  };

  /** Resolve once everything queued so far was sent or dropped. */
  async flush(): Promise<void> {
    while (this.#sending) await this.#sending;
  }

  /** Drop what is queued and record nothing more. */
  close(): void {
    this.#closed = true;
    this.#queue.clear();
  }

  #newEvent(
    pod: KubeObject,
    reason: string,
    type: EventType,
    message: string,
    fieldPath: string | undefined,
    now: string,
  ): Recorded["event"] {
    const namespace = pod.metadata.namespace ?? "default";
    const component = this.#options.component ?? KUBELET;
    const nanos = BigInt(this.#options.clock.now()) * 1_000_000n + BigInt(this.#seq++ % 1_000_000);
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${pod.metadata.name}.${nanos.toString(16)}`, namespace },
      involvedObject: {
        apiVersion: pod.apiVersion || "v1",
        kind: pod.kind || "Pod",
        name: pod.metadata.name,
        namespace,
        uid: pod.metadata.uid,
        resourceVersion: pod.metadata.resourceVersion,
        ...(fieldPath ? { fieldPath } : {}),
      },
      reason,
      message,
      type,
      source: { component, host: this.#options.nodeName },
      reportingComponent: component,
      reportingInstance: this.#options.nodeName,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
  }

  async #send(): Promise<void> {
    while (!this.#closed) {
      const key = this.#queue.values().next().value;
      if (key === undefined) return;
      this.#queue.delete(key);
      const entry = this.#recorded.get(key);
      if (!entry) continue;
      try {
        await this.#write(entry);
      } catch {
        // Best effort: the control plane is unreachable or refused it. A repeat tries again.
      }
    }
  }

  async #write(entry: Recorded): Promise<void> {
    const { client } = this.#options;
    const event = entry.event;
    const namespace = event.metadata.namespace ?? "default";
    if (entry.created) {
      try {
        await client.patch(`${eventsPath(namespace)}/${event.metadata.name}`, {
          count: event.count,
          lastTimestamp: event.lastTimestamp,
        });
        return;
      } catch (e) {
        if (!(e instanceof ApiError && e.reason === "NotFound")) throw e;
      }
    }
    await client.create(eventsPath(namespace), structuredClone(event));
    entry.created = true;
  }
}
