/**
 * core/v1 ServiceAccount (minimal): identity for pods, with optional secrets and pull secrets.
 *
 * @module
 */

import { z } from "zod";
import type { ResourceType } from "../resource.ts";
import { LocalObjectReference, ObjectReference, objects } from "./_common.ts";
import { ageColumn, column, nameColumn, objectSchema } from "./_meta.ts";

/** The full ServiceAccount object. */
export const ServiceAccountSchema = objectSchema({
  secrets: z.array(ObjectReference).optional(),
  imagePullSecrets: z.array(LocalObjectReference).optional(),
  automountServiceAccountToken: z.boolean().optional(),
});

/** A ServiceAccount as stored. */
export type ServiceAccount = z.output<typeof ServiceAccountSchema>;

/** core/v1 serviceaccounts */
export const serviceAccounts: ResourceType = {
  group: "",
  version: "v1",
  kind: "ServiceAccount",
  plural: "serviceaccounts",
  singular: "serviceaccount",
  namespaced: true,
  nameRule: "dns1123-subdomain",
  shortNames: ["sa"],
  categories: [],
  subresources: [],
  schema: ServiceAccountSchema,
  statusFields: [],
  tracksGeneration: false,
  columns: [
    nameColumn,
    column(
      "Secrets",
      "string",
      0,
      "Secrets is a list of the secrets in the same namespace that pods running using this ServiceAccount are allowed to use.",
      (o) => objects(o, "secrets").length,
    ),
    ageColumn,
  ],
  fieldSelectors: {},
};
