/**
 * core/v1 Endpoints: the addresses behind a Service (written by the endpoints controller).
 *
 * @module
 */

import { z } from "zod";
import type { KubeObject } from "../object.ts";
import type { ResourceType } from "../resource.ts";
import { invalidValue, type StatusCause } from "../status.ts";
import { portNumberErrors } from "../validation.ts";
import { ObjectReference, objects, str } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";

const EndpointAddress = z.strictObject({
  ip: z.string(),
  hostname: z.string().optional(),
  nodeName: z.string().optional(),
  targetRef: ObjectReference.optional(),
});

const EndpointPort = z.strictObject({
  name: z.string().optional(),
  port: z.int32(),
  protocol: z.enum(["TCP", "UDP", "SCTP"]).default("TCP"),
  appProtocol: z.string().optional(),
});

/** The full Endpoints object. */
export const EndpointsSchema = objectSchema({
  subsets: z
    .array(
      z.strictObject({
        addresses: z.array(EndpointAddress).optional(),
        notReadyAddresses: z.array(EndpointAddress).optional(),
        ports: z.array(EndpointPort).optional(),
      }),
    )
    .optional(),
});

/** An Endpoints object as stored. */
export type Endpoints = z.output<typeof EndpointsSchema>;

/** `ip:port` of the first 3 ready endpoints, then ` + N more...` (`formatEndpoints`). */
export function formatEndpoints(obj: KubeObject): string {
  const subsets = objects(obj, "subsets");
  if (subsets.length === 0) return "<none>";
  const max = 3;
  const list: string[] = [];
  let more = false;
  let count = 0;
  for (const ss of subsets) {
    const addresses = objects(ss, "addresses");
    const ports = objects(ss, "ports");
    if (ports.length === 0) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        list.push(str(a, "ip"));
      }
      continue;
    }
    for (const p of ports) {
      count += addresses.length;
      for (const a of addresses) {
        if (list.length === max) {
          more = true;
          break;
        }
        const ip = str(a, "ip");
        const host = ip.includes(":") ? `[${ip}]` : ip;
        list.push(`${host}:${typeof p.port === "number" ? p.port : 0}`);
      }
    }
  }
  const ret = list.join(",");
  return more ? `${ret} + ${count - max} more...` : ret;
}

function validateEndpoints(obj: KubeObject): StatusCause[] {
  const causes: StatusCause[] = [];
  for (const [i, ss] of objects(obj, "subsets").entries()) {
    for (const [j, p] of objects(ss, "ports").entries()) {
      const port = typeof p.port === "number" ? p.port : 0;
      for (const m of portNumberErrors(port)) {
        causes.push(invalidValue(`subsets[${i}].ports[${j}].port`, port, m));
      }
    }
  }
  return causes;
}

/** core/v1 endpoints */
export const endpoints: ResourceType = {
  group: "",
  version: "v1",
  kind: "Endpoints",
  plural: "endpoints",
  singular: "endpoints",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["ep"],
  categories: [],
  subresources: [],
  schema: EndpointsSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Endpoints",
      "string",
      0,
      "The set of all endpoints is the union of all subsets.",
      formatEndpoints,
    ),
    ageColumn,
  ],
  fieldSelectors: {},
  validate: validateEndpoints,
};
