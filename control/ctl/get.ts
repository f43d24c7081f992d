/**
 * `ctl get`: tables from the server's Table output (default and `-o wide`), `-o yaml|json|name`,
 * and `-w` to follow changes, printed as kubectl prints them.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import { toYaml } from "../../storage/yaml.ts";
import {
  CtlError,
  errorMessage,
  type StatusBody,
  StatusError,
  TABLE_ACCEPT,
  type WatchEvent,
} from "./_client.ts";
import type { CommandContext } from "./_context.ts";
import { sortKeys } from "./_format.ts";
import {
  apiVersion,
  categoryTypes,
  kindWord,
  resolveOrThrow,
  type ResourceInfo,
  resourcePath,
} from "./_resources.ts";
import {
  columnWidths,
  fallbackRow,
  fallbackTable,
  formatLine,
  formatLines,
  headerCells,
  isTable,
  type Row,
  rowCells,
  type Table,
  type TableOptions,
} from "./_table.ts";
import { UsageError } from "./_args.ts";

/** Options of `ctl get`. */
export interface GetOptions {
  allNamespaces: boolean;
  labelSelector?: string;
  fieldSelector?: string;
  /** "", "wide", "yaml", "json" or "name" */
  output: string;
  watch: boolean;
  showLabels: boolean;
  noHeaders: boolean;
}

/** Resource types and the names asked for of each (none: list them all). */
export interface ResourceRequest {
  rt: ResourceInfo;
  names: string[];
}

/** How the positionals named resources, for kubectl's single-object rule. */
export interface ParsedRequests {
  requests: ResourceRequest[];
  /** `get all` or several types: names get the kind prefix */
  multipleTypes: boolean;
  /** exactly one type and one name: `-o yaml` prints the object, not a List */
  singleItem: boolean;
}

const OUTPUTS = ["", "wide", "yaml", "json", "name"];

/**
 * Parse `TYPE[,TYPE…] [NAME…]` or `TYPE/NAME…` into requests; `all` expands to the "all"
 * category.
 */
export function parseResourceArgs(ctx: CommandContext, args: string[]): ParsedRequests {
  if (args.length === 0) {
    throw new UsageError("You must specify the type of resource to get.");
  }
  if (args.some((a) => a.includes("/"))) {
    const requests: ResourceRequest[] = [];
    for (const arg of args) {
      const slash = arg.indexOf("/");
      if (slash <= 0 || slash === arg.length - 1) {
        throw new UsageError(
          `there is no need to specify a resource type as a separate argument when passing arguments in resource/name form (e.g. 'ctl get resource/<resource_name>' instead of 'ctl get resource resource/<resource_name>'`,
        );
      }
      const rt = resolveOrThrow(ctx.resources, arg.slice(0, slash));
      const existing = requests.find((r) => r.rt === rt);
      if (existing) existing.names.push(arg.slice(slash + 1));
      else requests.push({ rt, names: [arg.slice(slash + 1)] });
    }
    return {
      requests,
      multipleTypes: requests.length > 1,
      singleItem: args.length === 1,
    };
  }
  const [types, ...names] = args as [string, ...string[]];
  const words = types.split(",").filter((w) => w !== "");
  const rts: ResourceInfo[] = [];
  for (const word of words) {
    const expanded = word.toLowerCase() === "all"
      ? categoryTypes(ctx.resources, "all")
      : [resolveOrThrow(ctx.resources, word)];
    for (const rt of expanded) if (!rts.includes(rt)) rts.push(rt);
  }
  return {
    requests: rts.map((rt) => ({ rt, names: [...names] })),
    multipleTypes: words.length > 1 || words.some((w) => w.toLowerCase() === "all"),
    singleItem: words.length === 1 && rts.length === 1 && names.length === 1,
  };
}

/** Run `ctl get`; returns the exit code. */
export async function get(ctx: CommandContext, args: string[], opts: GetOptions): Promise<number> {
  if (!OUTPUTS.includes(opts.output)) {
    throw new CtlError(
      `unable to match a printer suitable for the output format "${opts.output}", allowed formats are: json,name,wide,yaml`,
    );
  }
  const parsed = parseResourceArgs(ctx, args);
  if (opts.allNamespaces && parsed.requests.some((r) => r.names.length > 0)) {
    throw new CtlError("a resource cannot be retrieved by name across all namespaces");
  }
  if (opts.watch) {
    if (parsed.requests.length !== 1) {
      throw new CtlError("you may only specify a single resource type");
    }
    return await watch(ctx, parsed.requests[0]!, opts);
  }
  return opts.output === "" || opts.output === "wide"
    ? await printTables(ctx, parsed, opts)
    : await printObjects(ctx, parsed, opts);
}

function namespaceOf(ctx: CommandContext, rt: ResourceInfo, opts: GetOptions): string | undefined {
  return rt.namespaced && !opts.allNamespaces ? ctx.access.namespace : undefined;
}

function selectors(opts: GetOptions): Record<string, string | undefined> {
  return { labelSelector: opts.labelSelector, fieldSelector: opts.fieldSelector };
}

/** `No resources found in default namespace.` (or without the namespace). */
function noResources(ctx: CommandContext, requests: ResourceRequest[], opts: GetOptions): string {
  const namespaced = requests.some((r) => r.rt.namespaced);
  return namespaced && !opts.allNamespaces
    ? `No resources found in ${ctx.access.namespace} namespace.\n`
    : "No resources found\n";
}

async function fetchTable(
  ctx: CommandContext,
  rt: ResourceInfo,
  opts: GetOptions,
  name?: string,
): Promise<Table> {
  const path = resourcePath(rt, namespaceOf(ctx, rt, opts), name);
  const body = await ctx.client.request("GET", path, {
    accept: TABLE_ACCEPT,
    query: name === undefined ? selectors(opts) : {},
  });
  return isTable(body) ? body : fallbackTable(body, ctx.now());
}

async function printTables(
  ctx: CommandContext,
  parsed: ParsedRequests,
  opts: GetOptions,
): Promise<number> {
  const errors: unknown[] = [];
  let printed = false;
  for (const { rt, names } of parsed.requests) {
    let table: Table | undefined;
    const tables: Table[] = [];
    if (names.length === 0) tables.push(await fetchTable(ctx, rt, opts));
    for (const name of names) {
      try {
        tables.push(await fetchTable(ctx, rt, opts, name));
      } catch (err) {
        errors.push(err);
      }
    }
    for (const t of tables) {
      table = table ? { ...table, rows: [...table.rows, ...t.rows] } : t;
    }
    if (!table || table.rows.length === 0) continue;
    const tableOpts = tableOptions(rt, opts, parsed.multipleTypes);
    const lines = table.rows.map((row) => rowCells(table, row, tableOpts));
    if (!opts.noHeaders) lines.unshift(headerCells(table, tableOpts));
    if (printed) ctx.out("\n");
    ctx.out(formatLines(lines));
    printed = true;
  }
  if (!printed && errors.length === 0) ctx.err(noResources(ctx, parsed.requests, opts));
  for (const err of errors) ctx.err(`${errorMessage(err)}\n`);
  return errors.length > 0 ? 1 : 0;
}

function tableOptions(rt: ResourceInfo, opts: GetOptions, multipleTypes: boolean): TableOptions {
  const tableOpts: TableOptions = {
    wide: opts.output === "wide",
    withNamespace: opts.allNamespaces && rt.namespaced,
    showLabels: opts.showLabels,
  };
  if (multipleTypes) tableOpts.kindPrefix = kindWord(rt);
  return tableOpts;
}

async function fetchObjects(
  ctx: CommandContext,
  rt: ResourceInfo,
  names: string[],
  opts: GetOptions,
  errors: unknown[],
): Promise<Record<string, unknown>[]> {
  const namespace = namespaceOf(ctx, rt, opts);
  if (names.length === 0) {
    const list = await ctx.client.request("GET", resourcePath(rt, namespace), {
      query: selectors(opts),
    });
    const items = Array.isArray(list.items) ? list.items.filter(isPlainObject) : [];
    return items.map((item) => ({ apiVersion: apiVersion(rt), kind: rt.kind, ...item }));
  }
  const out: Record<string, unknown>[] = [];
  for (const name of names) {
    try {
      out.push(await ctx.client.request("GET", resourcePath(rt, namespace, name)));
    } catch (err) {
      errors.push(err);
    }
  }
  return out;
}

async function printObjects(
  ctx: CommandContext,
  parsed: ParsedRequests,
  opts: GetOptions,
): Promise<number> {
  const errors: unknown[] = [];
  const objects: { rt: ResourceInfo; obj: Record<string, unknown> }[] = [];
  for (const { rt, names } of parsed.requests) {
    for (const obj of await fetchObjects(ctx, rt, names, opts, errors)) objects.push({ rt, obj });
  }
  if (opts.output === "name") {
    for (const { rt, obj } of objects) ctx.out(`${objectName(rt, obj)}\n`);
    if (objects.length === 0 && errors.length === 0) {
      ctx.err(noResources(ctx, parsed.requests, opts));
    }
  } else if (parsed.singleItem && objects.length === 1) {
    ctx.out(renderObject(objects[0]!.obj, opts.output));
  } else if (!(parsed.singleItem && errors.length > 0)) {
    const list = {
      apiVersion: "v1",
      items: objects.map((o) => o.obj),
      kind: "List",
      metadata: { resourceVersion: "" },
    };
    ctx.out(renderObject(list, opts.output));
  }
  for (const err of errors) ctx.err(`${errorMessage(err)}\n`);
  return errors.length > 0 ? 1 : 0;
}

function objectName(rt: ResourceInfo, obj: Record<string, unknown>): string {
  const meta = isPlainObject(obj.metadata) ? obj.metadata : {};
  return `${kindWord(rt)}/${String(meta.name ?? "")}`;
}

/** An object as `-o yaml` (keys sorted, like kubectl) or `-o json` (4-space indent) prints it. */
export function renderObject(obj: unknown, output: string): string {
  const sorted = sortKeys(obj);
  return output === "json" ? `${JSON.stringify(sorted, null, 4)}\n` : toYaml(sorted);
}

async function watch(ctx: CommandContext, request: ResourceRequest, opts: GetOptions) {
  const { rt, names } = request;
  const human = opts.output === "" || opts.output === "wide";
  const tableOpts = tableOptions(rt, opts, false);
  const namespace = namespaceOf(ctx, rt, opts);
  const query = selectors(opts);
  if (names.length > 1) {
    throw new CtlError(
      "watch is only supported on individual resources and resource collections, but 2 resources were found",
    );
  }
  if (names.length === 1) {
    query.fieldSelector = [`metadata.name=${names[0]}`, opts.fieldSelector].filter(Boolean).join(
      ",",
    );
  }

  const initial = await ctx.client.request("GET", resourcePath(rt, namespace), {
    accept: human ? TABLE_ACCEPT : "application/json",
    query,
  });
  const resourceVersion = String(
    isPlainObject(initial.metadata) ? initial.metadata.resourceVersion ?? "" : "",
  );
  let table: Table | undefined;
  let widths: number[] = [];
  let headerPrinted = false;
  const lastRows = new Map<string, Row>();
  const printRows = (rows: Row[]) => {
    if (!table || rows.length === 0) return;
    const lines = rows.map((row) => rowCells(table!, row, tableOpts));
    if (!headerPrinted && !opts.noHeaders) lines.unshift(headerCells(table, tableOpts));
    headerPrinted = true;
    widths = columnWidths(lines, widths);
    for (const line of lines) ctx.out(`${formatLine(line, widths)}\n`);
  };

  if (human) {
    table = isTable(initial) ? initial : fallbackTable(initial, ctx.now());
    for (const row of table.rows) lastRows.set(rowKey(row.object?.metadata), row);
    printRows(table.rows);
  } else {
    const items = Array.isArray(initial.items) ? initial.items.filter(isPlainObject) : [];
    for (const item of items) {
      printWatchedObject(ctx, rt, { apiVersion: apiVersion(rt), kind: rt.kind, ...item }, opts);
    }
  }

  const events = ctx.client.watch(resourcePath(rt, namespace), {
    accept: human ? TABLE_ACCEPT : "application/json",
    query: { ...query, resourceVersion },
    ...(ctx.signal ? { signal: ctx.signal } : {}),
  });
  try {
    for await (const event of events) {
      if (event.type === "BOOKMARK") continue;
      if (event.type === "ERROR") throw new StatusError(event.object as unknown as StatusBody);
      if (!human) {
        printWatchedObject(ctx, rt, event.object, opts);
        continue;
      }
      const rows = await eventRows(ctx, rt, opts, event, lastRows, table!);
      for (const row of rows) lastRows.set(rowKey(row.object?.metadata), row);
      printRows(rows);
    }
  } catch (err) {
    if (ctx.signal?.aborted) return 0;
    throw err;
  }
  return 0;
}

function rowKey(meta: { namespace?: string; name?: string } | undefined): string {
  return `${meta?.namespace ?? ""}/${meta?.name ?? ""}`;
}

/** The rows one watch event prints: its Table rows, or a row rebuilt for a plain object. */
async function eventRows(
  ctx: CommandContext,
  rt: ResourceInfo,
  opts: GetOptions,
  event: WatchEvent,
  lastRows: Map<string, Row>,
  table: Table,
): Promise<Row[]> {
  if (isTable(event.object)) return event.object.rows;
  const meta = isPlainObject(event.object.metadata) ? event.object.metadata : {};
  if (
    table.columnDefinitions.length === 2 && table.columnDefinitions[0]?.name === "Name" &&
    table.columnDefinitions[1]?.name === "Age"
  ) {
    return [fallbackRow(event.object, ctx.now())];
  }
  const known = lastRows.get(rowKey(meta as { namespace?: string; name?: string }));
  if (event.type === "DELETED") return known ? [known] : [];
  try {
    const fresh = await fetchTable(ctx, rt, opts, String(meta.name ?? ""));
    return fresh.rows;
  } catch {
    return known ? [known] : [];
  }
}

function printWatchedObject(
  ctx: CommandContext,
  rt: ResourceInfo,
  obj: Record<string, unknown>,
  opts: GetOptions,
): void {
  if (opts.output === "name") ctx.out(`${objectName(rt, obj)}\n`);
  else if (opts.output === "yaml") ctx.out(`---\n${renderObject(obj, "yaml")}`);
  else ctx.out(renderObject(obj, "json"));
}
