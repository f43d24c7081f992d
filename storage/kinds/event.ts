/**
 * core/v1 Event: a report of something that happened to an object (`kubectl get events`).
 *
 * @module
 */

import { z } from "zod";
import { timestampSince } from "../duration.ts";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { at, fieldGetter, num, ObjectReference, str } from "./_common.ts";
import { column, MicroTime, nameColumn, objectSchema, Time } from "./_meta.ts";

/** The full Event object. */
export const EventSchema = objectSchema({
  involvedObject: ObjectReference.prefault({}),
  reason: z.string().optional(),
  message: z.string().optional(),
  source: z
    .strictObject({ component: z.string().optional(), host: z.string().optional() })
    .optional(),
  firstTimestamp: Time.optional(),
  lastTimestamp: Time.optional(),
  count: z.int32().optional(),
  type: z.string().optional(),
  eventTime: MicroTime.optional(),
  series: z
    .strictObject({ count: z.int32().optional(), lastObservedTime: MicroTime.optional() })
    .optional(),
  action: z.string().optional(),
  related: ObjectReference.optional(),
  reportingComponent: z.string().optional(),
  reportingInstance: z.string().optional(),
});

/** An Event as stored. */
export type Event = z.output<typeof EventSchema>;

function firstSeen(o: KubeObject, now: Date): string {
  return o.firstTimestamp
    ? timestampSince(o.firstTimestamp, now)
    : timestampSince(o.eventTime, now);
}

function lastSeen(o: KubeObject, now: Date): string {
  if (at(o, "series") !== undefined) {
    return timestampSince(at(o, "series", "lastObservedTime"), now);
  }
  return o.lastTimestamp ? timestampSince(o.lastTimestamp, now) : firstSeen(o, now);
}

function count(o: KubeObject): number {
  if (at(o, "series") !== undefined) return num(o, "series", "count");
  const c = num(o, "count");
  return c === 0 ? 1 : c;
}

/** `kind/name` of the involved object, kind lower-cased (the Object column). */
function target(o: KubeObject): string {
  const kind = str(o, "involvedObject", "kind").toLowerCase();
  const name = str(o, "involvedObject", "name");
  return name ? `${kind}/${name}` : kind;
}

/** `component, host` with the reporting fields as fallbacks (the Source column). */
function source(o: KubeObject): string {
  const component = str(o, "source", "component") || str(o, "reportingComponent");
  const instance = str(o, "source", "host") || str(o, "reportingInstance");
  return instance ? `${component}, ${instance}` : component;
}

/** core/v1 events */
export const events: ResourceType = {
  group: "",
  version: "v1",
  kind: "Event",
  plural: "events",
  singular: "event",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["ev"],
  categories: [],
  subresources: [],
  schema: EventSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    column(
      "Last Seen",
      "string",
      0,
      "The time at which the most recent occurrence of this event was recorded.",
      lastSeen,
    ),
    column(
      "Type",
      "string",
      0,
      "Type of this event (Normal, Warning), new types could be added in the future",
      (o) => str(o, "type"),
    ),
    column(
      "Reason",
      "string",
      0,
      "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
      (o) => str(o, "reason"),
    ),
    column("Object", "string", 0, "The object that this event is about.", target),
    column(
      "Subobject",
      "string",
      1,
      "If referring to a piece of an object instead of an entire object, this string should contain a valid JSON/Go field access statement, such as desiredState.manifest.containers[2].",
      (o) => str(o, "involvedObject", "fieldPath"),
    ),
    column(
      "Source",
      "string",
      1,
      "The component reporting this event. Should be a short machine understandable string.",
      source,
    ),
    column(
      "Message",
      "string",
      0,
      "A human-readable description of the status of this operation.",
      (o) => str(o, "message").trim(),
    ),
    column(
      "First Seen",
      "string",
      1,
      "The time at which the event was first recorded. (Time of server receipt is in TypeMeta.)",
      firstSeen,
    ),
    column("Count", "string", 1, "The number of times this event has occurred.", count),
    { ...nameColumn, priority: 1 },
  ],
  fieldSelectors: {
    "involvedObject.kind": fieldGetter("involvedObject", "kind"),
    "involvedObject.namespace": fieldGetter("involvedObject", "namespace"),
    "involvedObject.name": fieldGetter("involvedObject", "name"),
    "involvedObject.uid": fieldGetter("involvedObject", "uid"),
    "involvedObject.apiVersion": fieldGetter("involvedObject", "apiVersion"),
    "involvedObject.resourceVersion": fieldGetter("involvedObject", "resourceVersion"),
    "involvedObject.fieldPath": fieldGetter("involvedObject", "fieldPath"),
    reason: fieldGetter("reason"),
    reportingComponent: fieldGetter("reportingComponent"),
    source: fieldGetter("source", "component"),
    type: fieldGetter("type"),
  },
};
