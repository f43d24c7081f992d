/**
 * kubectl's human-readable printer over server-side `meta.k8s.io/v1` Tables: upper-cased
 * headers, left-aligned columns padded by 3 spaces, NAMESPACE first with `-A`, LABELS last
 * with `--show-labels`, priority-1 columns only with `-o wide`.
 *
 * @module
 */

import { isPlainObject } from "../../storage/object.ts";
import { age, formatLabels } from "./_format.ts";
import { cellWidth } from "./_tabwriter.ts";

/** metav1.TableColumnDefinition, as much as ctl reads. */
export interface ColumnDefinition {
  name: string;
  type?: string;
  priority?: number;
}

/** metav1.TableRow, as much as ctl reads. */
export interface Row {
  cells: unknown[];
  object?: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string> } };
}

/** metav1.Table, as much as ctl reads. */
export interface Table {
  columnDefinitions: ColumnDefinition[];
  rows: Row[];
  metadata?: { resourceVersion?: string };
}

/** How to print a table. */
export interface TableOptions {
  wide: boolean;
  /** add a NAMESPACE column first (`-A`) */
  withNamespace: boolean;
  showLabels: boolean;
  /** prefix names with the kind word (`configmap/app`) when several kinds are printed */
  kindPrefix?: string;
}

/** True when `value` looks like a `meta.k8s.io` Table. */
export function isTable(value: unknown): value is Table {
  return isPlainObject(value) && value.kind === "Table" && Array.isArray(value.columnDefinitions) &&
    Array.isArray(value.rows);
}

/**
 * The table kubectl prints for a kind without server-side columns: NAME and AGE, from a list
 * (or single object) in plain JSON.
 */
export function fallbackTable(value: unknown, now: Date): Table {
  const items = isPlainObject(value) && Array.isArray(value.items) ? value.items : [value];
  const metadata = isPlainObject(value) && isPlainObject(value.metadata) ? value.metadata : {};
  return {
    columnDefinitions: [{ name: "Name", type: "string" }, { name: "Age", type: "string" }],
    rows: items.filter(isPlainObject).map((item) => fallbackRow(item, now)),
    metadata: { resourceVersion: String(metadata.resourceVersion ?? "") },
  };
}

/** The NAME/AGE row of one plain object. */
export function fallbackRow(item: Record<string, unknown>, now: Date): Row {
  const meta = isPlainObject(item.metadata) ? item.metadata : {};
  return {
    cells: [meta.name ?? "", age(meta.creationTimestamp, now)],
    object: { metadata: meta as NonNullable<Row["object"]>["metadata"] },
  };
}

/** The header cells of `table` under `opts`. */
export function headerCells(table: Table, opts: TableOptions): string[] {
  const cells = table.columnDefinitions.filter((c) => visible(c, opts)).map((c) =>
    c.name.toUpperCase()
  );
  if (opts.withNamespace) cells.unshift("NAMESPACE");
  if (opts.showLabels) cells.push("LABELS");
  return cells;
}

/** The printed cells of one row of `table` under `opts`. */
export function rowCells(table: Table, row: Row, opts: TableOptions): string[] {
  const cells: string[] = [];
  table.columnDefinitions.forEach((column, i) => {
    if (!visible(column, opts)) return;
    const text = cellText(row.cells[i]);
    cells.push(i === 0 && opts.kindPrefix ? `${opts.kindPrefix}/${text}` : text);
  });
  const meta = row.object?.metadata;
  if (opts.withNamespace) cells.unshift(meta?.namespace ?? "");
  if (opts.showLabels) cells.push(formatLabels(meta?.labels));
  return cells;
}

function visible(column: ColumnDefinition, opts: TableOptions): boolean {
  return (column.priority ?? 0) === 0 || opts.wide;
}

function cellText(cell: unknown): string {
  if (cell === null || cell === undefined) return "<none>";
  if (typeof cell === "object") return JSON.stringify(cell);
  return String(cell);
}

/** Column widths (cell width + 3) over `lines`; the last column is never padded. */
export function columnWidths(lines: string[][], widths: number[] = []): number[] {
  const out = [...widths];
  for (const line of lines) {
    line.forEach((cell, i) => {
      out[i] = Math.max(out[i] ?? 0, cellWidth(cell) + 3);
    });
  }
  return out;
}

/** One printed line: every cell but the last padded to its column's width. */
export function formatLine(cells: string[], widths: number[]): string {
  return cells.map((cell, i) =>
    i === cells.length - 1
      ? cell
      : cell + " ".repeat(Math.max(0, (widths[i] ?? 0) - cellWidth(cell)))
  ).join("");
}

/** Print `lines` as an aligned block, one line each. */
export function formatLines(lines: string[][]): string {
  const widths = columnWidths(lines);
  return lines.map((line) => formatLine(line, widths) + "\n").join("");
}
