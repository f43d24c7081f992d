/**
 * Small helpers for the benchmark: percentiles, number formatting, and the markdown table.
 *
 * @module
 */

/** The `p`-th percentile (0–100) of `samples` by the nearest-rank method; NaN when empty. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0) return NaN;
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] ?? NaN;
}

/** A duration in milliseconds for the table, e.g. `0.84 ms`, `12.3 ms`, `1 204 ms`. */
export function formatMs(ms: number): string {
  if (Number.isNaN(ms)) return "n/a";
  if (ms < 10) return `${ms.toFixed(2)} ms`;
  if (ms < 100) return `${ms.toFixed(1)} ms`;
  return `${Math.round(ms)} ms`;
}

/** One row of the result table. */
export interface Row {
  benchmark: string;
  setting: string;
  result: string;
  p50: string;
  p99: string;
}

/** Renders rows as one markdown table. */
export function markdownTable(rows: readonly Row[]): string {
  const header: Row = {
    benchmark: "benchmark",
    setting: "setting",
    result: "result",
    p50: "p50",
    p99: "p99",
  };
  const columns = ["benchmark", "setting", "result", "p50", "p99"] as const;
  const all = [header, ...rows];
  const width = (c: (typeof columns)[number]) => Math.max(3, ...all.map((r) => r[c].length));
  const line = (r: Row) => `| ${columns.map((c) => r[c].padEnd(width(c))).join(" | ")} |`;
  const rule = `| ${columns.map((c) => "-".repeat(width(c))).join(" | ")} |`;
  return [line(header), rule, ...rows.map(line)].join("\n");
}
