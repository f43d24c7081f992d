/**
 * Column alignment exactly like Go's `text/tabwriter`, which kubectl uses for tables
 * (padding 3) and `describe` (padding 2).
 *
 * Text is split into lines and tab-terminated cells. A column is aligned over each block of
 * adjacent lines that have a cell in it; the last cell of a line is never padded, so no line
 * ends in spaces.
 *
 * @module
 */

/** Align tab-separated `text` the way Go's `tabwriter.NewWriter(w, 0, 8, padding, ' ', 0)` does. */
export function alignTabs(text: string, padding: number): string {
  const lines = text.split("\n").map((line) => line.split("\t"));
  const out: string[] = [];
  format(lines, 0, lines.length, [], padding, out);
  return out.join("\n");
}

/** Display width of a cell: its number of code points, as Go's `utf8.RuneCountInString`. */
export function cellWidth(cell: string): number {
  return [...cell].length;
}

function format(
  lines: string[][],
  line0: number,
  line1: number,
  widths: number[],
  padding: number,
  out: string[],
): void {
  const column = widths.length;
  let start = line0;
  for (let i = line0; i < line1; i++) {
    if (column >= lines[i]!.length - 1) continue;
    writeLines(lines, start, i, widths, out);
    start = i;
    let width = 0;
    for (; i < line1; i++) {
      const line = lines[i]!;
      if (column >= line.length - 1) break;
      width = Math.max(width, cellWidth(line[column]!) + padding);
    }
    format(lines, start, i, [...widths, width], padding, out);
    start = i;
    // the outer loop's i++ would skip line i, which is not part of this block
    i--;
  }
  writeLines(lines, start, line1, widths, out);
}

function writeLines(
  lines: string[][],
  line0: number,
  line1: number,
  widths: number[],
  out: string[],
): void {
  for (let i = line0; i < line1; i++) {
    const cells = lines[i]!;
    let text = "";
    cells.forEach((cell, j) => {
      const width = widths[j];
      text += j < cells.length - 1 && width !== undefined
        ? cell + " ".repeat(Math.max(0, width - cellWidth(cell)))
        : cell;
    });
    out.push(text);
  }
}
