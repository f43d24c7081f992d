import assert from "node:assert/strict";
import type { KubeObject } from "../object.ts";
import { validateObject } from "../validation.ts";
import { events } from "./event.ts";

Deno.test("events columns reproduce kubectl get events", () => {
  const now = new Date("2024-05-01T12:00:00Z");
  const { object } = validateObject(events, {
    metadata: { name: "web.17a", namespace: "default" },
    involvedObject: {
      kind: "Pod",
      name: "web",
      namespace: "default",
      fieldPath: "spec.containers{web}",
    },
    reason: "Pulled",
    message: "  Container image pulled  ",
    source: { component: "kubelet", host: "edge-1" },
    firstTimestamp: "2024-05-01T11:00:00Z",
    lastTimestamp: "2024-05-01T11:58:00Z",
    count: 3,
    type: "Normal",
  }, { fieldValidation: "Strict" });
  assert.deepEqual(
    events.columns.map((c) => [c.name, c.cell(object, now)]),
    [
      ["Last Seen", "2m"],
      ["Type", "Normal"],
      ["Reason", "Pulled"],
      ["Object", "pod/web"],
      ["Subobject", "spec.containers{web}"],
      ["Source", "kubelet, edge-1"],
      ["Message", "Container image pulled"],
      ["First Seen", "60m"],
      ["Count", 3],
      ["Name", "web.17a"],
    ],
  );
  const series: KubeObject = {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: "e" },
    eventTime: "2024-05-01T11:50:00.000000Z",
    series: { count: 7, lastObservedTime: "2024-05-01T11:59:00.000000Z" },
    reportingComponent: "scheduler",
  };
  const cells = Object.fromEntries(events.columns.map((c) => [c.name, c.cell(series, now)]));
  assert.equal(cells["Last Seen"], "60s");
  assert.equal(cells["First Seen"], "10m");
  assert.equal(cells["Count"], 7);
  assert.equal(cells["Source"], "scheduler");
});
