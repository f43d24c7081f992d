/**
 * Server-side printing: `meta.k8s.io` `Table` responses for `kubectl get`.
 *
 * kubectl asks for a Table in its `Accept` header
 * (`application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`);
 * {@linkcode negotiateTable} reads it and {@linkcode toTable} renders a list (or a single
 * object, as a one-row table) with the kind's {@linkcode ResourceType.columns}.
 *
 * @example
 * ```ts
 * const t = negotiateTable(c.req.header("accept"));
 * if (t.table) {
 *   const table = toTable(rt, list.items, {
 *     now: new Date(),
 *     includeObject: parseIncludeObject(c.req.query("includeObject")),
 *     resourceVersion: list.metadata.resourceVersion,
 *     version: t.version,
 *   });
 *   return c.body(JSON.stringify(table), 200, { "content-type": t.contentType });
 * }
 * ```
 *
 * @module
 */

import type { KubeObject, ObjectMeta } from "../storage/object.ts";
import type { ResourceType } from "../storage/resource.ts";
import { ApiError } from "../storage/status.ts";
import { parseAccept } from "./discovery.ts";

/** What each row carries besides its cells (the `includeObject` query parameter). */
export type IncludeObject = "None" | "Metadata" | "Object";

/** metav1.TableColumnDefinition */
export interface TableColumnDefinition {
  name: string;
  type: string;
  format: string;
  description: string;
  priority: number;
}

/** metav1.PartialObjectMetadata: an object reduced to its metadata. */
export interface PartialObjectMetadata {
  kind: "PartialObjectMetadata";
  apiVersion: string;
  metadata: ObjectMeta;
}

/** metav1.TableRow */
export interface TableRow {
  cells: (string | number | boolean | null)[];
  /** absent when `includeObject=None` */
  object?: PartialObjectMetadata | KubeObject;
}

/** metav1.Table */
export interface Table {
  kind: "Table";
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  columnDefinitions: TableColumnDefinition[];
  rows: TableRow[];
}

/** Options of {@linkcode toTable}. */
export interface TableOptions {
  /** the request time, for Age-style cells */
  now: Date;
  /** `Metadata` is what Kubernetes defaults to */
  includeObject: IncludeObject;
  /** the list's resourceVersion (the object's for a single-object table) */
  resourceVersion: string;
  continue?: string;
  remainingItemCount?: number;
  /** the negotiated Table version; `v1` unless the client only accepts `v1beta1` */
  version?: "v1" | "v1beta1";
}

/**
 * The `includeObject` query parameter as an {@linkcode IncludeObject}; absent means
 * `Metadata`. Throws a BadRequest {@linkcode ApiError} on anything else, naming the bad value.
 */
export function parseIncludeObject(value: string | undefined): IncludeObject {
  if (value === undefined || value === "") return "Metadata";
  if (value === "None" || value === "Metadata" || value === "Object") return value;
  throw ApiError.badRequest(
    `Cannot render a Table: includeObject '${value}' is not one of None, Metadata, Object`,
  );
}

/** Renders `objects` as a `meta.k8s.io` Table with `rt`'s columns. */
export function toTable(rt: ResourceType, objects: KubeObject[], options: TableOptions): Table {
  const apiVersion = `meta.k8s.io/${options.version ?? "v1"}`;
  const rowObject = (obj: KubeObject): TableRow["object"] => {
    switch (options.includeObject) {
      case "None":
        return undefined;
      case "Object":
        return obj;
      case "Metadata":
        return { kind: "PartialObjectMetadata", apiVersion, metadata: obj.metadata };
    }
  };
  return {
    kind: "Table",
    apiVersion,
    metadata: {
      resourceVersion: options.resourceVersion,
      ...(options.continue ? { continue: options.continue } : {}),
      ...(options.remainingItemCount !== undefined
        ? { remainingItemCount: options.remainingItemCount }
        : {}),
    },
    columnDefinitions: rt.columns.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.description ?? "",
      priority: c.priority,
    })),
    rows: objects.map((obj) => {
      const object = rowObject(obj);
      const cells = rt.columns.map((c) => c.cell(obj, options.now));
      return object === undefined ? { cells } : { cells, object };
    }),
  };
}

/**
 * Whether the client wants a Table, and which version. A Table is served when the first
 * media range kubectl lists that names `as=Table;g=meta.k8s.io` has `v=v1` or `v=v1beta1`.
 * The reply's `Content-Type` is `contentType` (plain JSON; the body's apiVersion says Table).
 */
export function negotiateTable(
  accept: string | undefined,
): { table: boolean; version: "v1" | "v1beta1"; contentType: string } {
  for (const range of parseAccept(accept)) {
    const { as, g, v } = range.params;
    if (range.type !== "application/json" || as !== "Table" || g !== "meta.k8s.io") continue;
    if (v === "v1" || v === "v1beta1") {
      return { table: true, version: v, contentType: "application/json" };
    }
  }
  return { table: false, version: "v1", contentType: "application/json" };
}
