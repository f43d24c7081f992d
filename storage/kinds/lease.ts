/**
 * coordination.k8s.io/v1 Lease: leader election and node heartbeats. No defaults.
 *
 * @module
 */

import { z } from "zod";
import type { ResourceType } from "../resource.ts";
import { str } from "./_common.ts";
import { ageColumn, column, MicroTime, nameColumn, objectSchema } from "./_meta.ts";

/** The full Lease object. */
export const LeaseSchema = objectSchema({
  spec: z
    .strictObject({
      holderIdentity: z.string().optional(),
      leaseDurationSeconds: z.int32().optional(),
      acquireTime: MicroTime.optional(),
      renewTime: MicroTime.optional(),
      leaseTransitions: z.int32().optional(),
      strategy: z.string().optional(),
      preferredHolder: z.string().optional(),
    })
    .optional(),
});

/** A Lease as stored. */
export type Lease = z.output<typeof LeaseSchema>;

/** coordination.k8s.io/v1 leases */
export const leases: ResourceType = {
  group: "coordination.k8s.io",
  version: "v1",
  kind: "Lease",
  plural: "leases",
  singular: "lease",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: [],
  categories: [],
  subresources: [],
  schema: LeaseSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Holder",
      "string",
      0,
      "holderIdentity contains the identity of the holder of a current lease.",
      (o) => str(o, "spec", "holderIdentity"),
    ),
    ageColumn,
  ],
  fieldSelectors: {},
};
