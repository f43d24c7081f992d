/**
 * core/v1 Namespace: cluster-scoped, named as a DNS-1123 label; `spec.finalizers` defaults to
 * `["kubernetes"]` and `status.phase` to `Active`.
 *
 * @module
 */

import { z } from "zod";
import type { ResourceType } from "../resource.ts";
import { Condition, fieldGetter, str } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";

/** The full Namespace object. */
export const NamespaceSchema = objectSchema({
  spec: z.strictObject({ finalizers: z.array(z.string()).default(["kubernetes"]) }).prefault({}),
  status: z
    .strictObject({
      phase: z.enum(["Active", "Terminating"]).default("Active"),
      conditions: z.array(Condition).optional(),
    })
    .prefault({}),
});

/** A Namespace as stored. */
export type Namespace = z.output<typeof NamespaceSchema>;

/** core/v1 namespaces */
export const namespaces: ResourceType = {
  group: "",
  version: "v1",
  kind: "Namespace",
  plural: "namespaces",
  singular: "namespace",
  namespaced: false,
  nameRule: "dns1123-label",
  shortNames: ["ns"],
  categories: [],
  subresources: ["status"],
  schema: NamespaceSchema,
  statusFields: ["status"],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column("Status", "string", 0, "The status of the namespace", (o) => str(o, "status", "phase")),
    ageColumn,
  ],
  fieldSelectors: { "status.phase": fieldGetter("status", "phase") },
};
